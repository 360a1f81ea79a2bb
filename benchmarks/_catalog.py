"""Catalogs for the small-request benchmarks: made fast, with bulk SQL.

A catalog of N files is written straight into the database filegate has just
migrated (one transaction of ``executemany`` on SQLite, ``COPY`` on PostgreSQL):
uploading a million files through the API would take hours and measure the
uploads, not the reads. The rows are what filegate itself writes for a small
file in its embedded store (READY, a blob key, no provider copies), with ids
that are real ULIDs in creation order, so keyset pages and plans are as in life.

The files belong to 100 tenants. The benchmark's own key owns every tenth file
(100 of 1,000, 100,000 of 1,000,000: a ``limit=20`` page is full either way),
spread through the id range like any tenant's; the other 99 tenants share the
rest. Files to expire together (the sweep) are another owner's.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

TENANTS = 100
PURPOSES = ("batch", "user_data", "fine-tune", "assistants")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_COLUMNS = (
    "id",
    "owner",
    "team",
    "filename",
    "purpose",
    "bytes",
    "content_type",
    "sha256",
    "created_at",
    "expires_at",
    "status",
    "status_details",
    "state",
    "lease_until",
    "blob_key",
)
# A million rows in slices, so neither side holds them all at once.
_SLICE = 50_000
ADMIN_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def ulid(ms: int, rand: int) -> str:
    value = (ms << 80) | rand
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


@dataclass
class Filled:
    """What a fill wrote: how many rows, how long it took, the bench tenant's ids."""

    files: int
    seconds: float
    start_ms: int
    # The benchmark key's files, oldest first.
    own_ids: list[str] = field(default_factory=list)
    # Files written to expire together (the sweep phase), oldest first.
    doomed_ids: list[str] = field(default_factory=list)


def _rows(
    n: int, owner: str, start_ms: int, seed: int, *, doomed: bool = False
) -> Iterator[tuple[Any, ...]]:
    """``n`` READY rows: every tenth ``owner``'s, the rest the other tenants'.

    ``doomed`` rows are all ``owner``'s and expire far in the future, until the
    sweep phase moves their expiry to now.
    """
    rng = random.Random(seed)
    others = [f"key-bench-tenant-{t:02d}" for t in range(1, TENANTS)]
    digest = hashlib.sha256(b"bench").hexdigest()
    for i in range(n):
        file_id = "file-" + ulid(start_ms + i, rng.getrandbits(80))
        if doomed:
            who, expires, name = owner, 2**40, f"doomed-{i}.txt"
        else:
            who = owner if i % 10 == 0 else others[i % (TENANTS - 1)]
            expires, name = None, f"bench-{i}.jsonl"
        yield (
            file_id,
            who,
            None,
            name,
            PURPOSES[i % len(PURPOSES)],
            64,
            "text/plain",
            digest,
            (start_ms + i) // 1000,
            expires,
            "processed",
            None,
            "ready",
            None,
            file_id,
        )


def _slices(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == _SLICE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _collect(chunk: Sequence[tuple[Any, ...]], owner: str, filled: Filled, doomed: bool) -> None:
    for row in chunk:
        if doomed:
            filled.doomed_ids.append(row[0])
        elif row[1] == owner:
            filled.own_ids.append(row[0])


def fill_sqlite(
    path: str, n: int, owner: str, *, doomed: bool = False, start_ms: int | None = None
) -> Filled:
    """Write ``n`` files into the SQLite catalog at ``path`` (filegate may be running)."""
    t0 = time.perf_counter()
    start = start_ms if start_ms is not None else int(time.time() * 1000) - n - 60_000
    filled = Filled(files=n, seconds=0.0, start_ms=start)
    db = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        db.execute("PRAGMA busy_timeout=60000")
        db.execute("BEGIN IMMEDIATE")
        sql = f"INSERT INTO files ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
        for chunk in _slices(_rows(n, owner, start, seed=n, doomed=doomed)):
            db.executemany(sql, chunk)
            _collect(chunk, owner, filled, doomed)
        db.execute("COMMIT")
        db.execute("ANALYZE")
    finally:
        db.close()
    filled.seconds = time.perf_counter() - t0
    return filled


def fill_postgres(
    url: str, n: int, owner: str, *, doomed: bool = False, start_ms: int | None = None
) -> Filled:
    """Write ``n`` files into the PostgreSQL catalog at ``url`` with ``COPY``."""
    import asyncpg

    t0 = time.perf_counter()
    start = start_ms if start_ms is not None else int(time.time() * 1000) - n - 60_000
    filled = Filled(files=n, seconds=0.0, start_ms=start)

    async def go() -> None:
        conn = await asyncpg.connect(url)
        try:
            async with conn.transaction():
                for chunk in _slices(_rows(n, owner, start, seed=n, doomed=doomed)):
                    await conn.copy_records_to_table("files", records=chunk, columns=_COLUMNS)
                    _collect(chunk, owner, filled, doomed)
            await conn.execute("ANALYZE files")
        finally:
            await conn.close()

    asyncio.run(go())
    filled.seconds = time.perf_counter() - t0
    return filled


def expire_now_sqlite(path: str, owner: str) -> int:
    """Make every file of ``owner`` expire at once; return how many."""
    db = sqlite3.connect(path, isolation_level=None, timeout=60)
    try:
        db.execute("PRAGMA busy_timeout=60000")
        cur = db.execute(
            "UPDATE files SET expires_at = ? WHERE owner = ?", (int(time.time()), owner)
        )
        return int(cur.rowcount)
    finally:
        db.close()


def expire_now_postgres(url: str, owner: str) -> int:
    import asyncpg

    async def go() -> int:
        conn = await asyncpg.connect(url)
        try:
            status = await conn.execute(
                "UPDATE files SET expires_at = $1 WHERE owner = $2", int(time.time()), owner
            )
            return int(status.split()[-1])
        finally:
            await conn.close()

    return asyncio.run(go())


def count_owner_sqlite(path: str, owner: str) -> int:
    db = sqlite3.connect(path, timeout=60)
    try:
        row = db.execute("SELECT count(*) FROM files WHERE owner = ?", (owner,)).fetchone()
        return int(row[0])
    finally:
        db.close()


def count_owner_postgres(url: str, owner: str) -> int:
    import asyncpg

    async def go() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM files WHERE owner = $1", owner))
        finally:
            await conn.close()

    return asyncio.run(go())


def _admin(sql: str, admin_url: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def create_postgres_db(admin_url: str = ADMIN_POSTGRES) -> str:
    """A fresh, empty database; its URL."""
    name = f"filegate_bench_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"', admin_url)
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def drop_postgres_db(url: str, admin_url: str = ADMIN_POSTGRES) -> None:
    name = url.rsplit("/", 1)[1]
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url)
