"""Migrations that rewrite data, checked on a catalog made at the revision before them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from filegate.catalog.sql import _MIGRATIONS, SQLCatalog
from filegate.core.ids import is_filegate_id
from tests.postgres import postgres_url  # noqa: F401 - a fixture


def _alembic(conn: sa.Connection, action: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    getattr(command, action)(cfg, revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/catalog.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def catalog_at_0005(catalog_url: str) -> AsyncIterator[SQLCatalog]:
    """An empty catalog at revision 0005 (before team uids)."""
    url = catalog_url
    catalog = await SQLCatalog.open(url, migrate=False)
    await catalog._run.write(lambda conn: _alembic(conn, "upgrade", "0005"))
    yield catalog
    # Leave PostgreSQL's database empty again for whoever uses it next.
    await catalog._run.write(lambda conn: _alembic(conn, "downgrade", "base"))
    await catalog.aclose()


def _file(file_id: str, team: str | None) -> dict[str, Any]:
    return {
        "id": file_id,
        "owner": "key-gone",
        "team": team,
        "filename": "f",
        "purpose": "user_data",
        "bytes": 1,
        "content_type": "text/plain",
        "created_at": 1,
        "status": "processed",
        "state": "ready",
    }


async def test_0006_gives_teams_uids_and_their_files_follow(
    catalog_at_0005: SQLCatalog,
) -> None:
    catalog = catalog_at_0005
    meta = sa.MetaData()

    def seed(conn: sa.Connection) -> None:
        meta.reflect(conn, only=["teams", "files", "uploads"])
        team = {"created_at": 1, "metadata": "{}", "limits": "{}"}
        conn.execute(meta.tables["teams"].insert(), [{"team_id": "research", **team}])
        conn.execute(
            meta.tables["files"].insert(),
            [_file("file-1", "research"), _file("file-2", "deleted-team"), _file("file-3", None)],
        )
        conn.execute(
            meta.tables["uploads"].insert(),
            {
                "id": "upload_1",
                "team": "research",
                "filename": "u",
                "purpose": "user_data",
                "bytes": 1,
                "mime_type": "text/plain",
                "created_at": 1,
                "expires_at": 2,
                "status": "pending",
                "targets": "[]",
            },
        )

    await catalog._run.write(seed)
    await catalog.migrate()

    def teams_of(conn: sa.Connection, table: str) -> dict[str, str | None]:
        rows = conn.execute(sa.text(f"SELECT id, team FROM {table} ORDER BY id")).all()
        return {r[0]: r[1] for r in rows}

    (uid,) = await catalog._run.read(
        lambda conn: conn.execute(sa.text("SELECT uid FROM teams")).scalars().all()
    )
    assert is_filegate_id(uid, "team-")
    files = await catalog._run.read(lambda conn: teams_of(conn, "files"))
    # A team already gone leaves its files to no team (their key and the master key).
    assert files == {"file-1": uid, "file-2": None, "file-3": None}
    assert await catalog._run.read(lambda conn: teams_of(conn, "uploads")) == {"upload_1": uid}
    team = await catalog.tenants.team("research")
    assert team is not None and team.uid == uid

    await catalog._run.write(lambda conn: _alembic(conn, "downgrade", "0005"))
    files = await catalog._run.read(lambda conn: teams_of(conn, "files"))
    assert files == {"file-1": "research", "file-2": None, "file-3": None}
    await catalog.migrate()  # and up again, for the fixture's clean-up
