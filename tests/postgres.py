"""A throwaway PostgreSQL database for tests, on the machine's server.

FILEGATE_TEST_POSTGRES_URL names the server (default: the local one with
trust auth). Where it cannot be reached the tests that need it are skipped,
saying why; CI starts the server first (.ci/run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

ADMIN_URL = os.environ.get(
    "FILEGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _run(sql: str) -> None:
    import asyncio

    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, empty database, dropped after the session."""
    name = f"filegate_test_{uuid.uuid4().hex[:10]}"
    try:
        _run(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        pytest.skip(f"PostgreSQL is not reachable at {ADMIN_URL}: {exc}")
    base = ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    _run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
