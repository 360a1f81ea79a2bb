"""The catalog on SQLAlchemy Core (async): SQLite by default, PostgreSQL too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from filegate.catalog.schema import files
from filegate.errors import ConfigError, StorageUnavailable
from filegate.records import FilePage, FileRecord, FileState, ListQuery, Scope

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every gateway process.
_MIGRATION_LOCK_ID = 0x46494C45


def async_url(url: str) -> str:
    """Map plain database URLs to their async drivers."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database_url: not a database URL: {url!r}") from exc
    drivers = {
        "sqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
    }
    name = parsed.drivername
    if name in drivers:
        parsed = parsed.set(drivername=drivers[name])
    elif name not in drivers.values():
        raise ConfigError(
            f"database_url: unsupported database {name!r} (use sqlite:/// or postgresql://)"
        )
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the one writer; FULL makes each commit durable.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _row_to_record(row: sa.Row[Any]) -> FileRecord:
    m = row._mapping
    return FileRecord(
        id=m["id"],
        filename=m["filename"],
        purpose=m["purpose"],
        created_at=m["created_at"],
        bytes=m["bytes"],
        content_type=m["content_type"],
        sha256=m["sha256"],
        expires_at=m["expires_at"],
        status=m["status"],
        status_details=m["status_details"],
        owner=m["owner"],
        team=m["team"],
        state=FileState(m["state"]),
        lease_until=m["lease_until"],
        blob_key=m["blob_key"],
    )


def _record_values(r: FileRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "owner": r.owner,
        "team": r.team,
        "filename": r.filename,
        "purpose": r.purpose,
        "bytes": r.bytes,
        "content_type": r.content_type,
        "sha256": r.sha256,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "status": r.status,
        "status_details": r.status_details,
        "state": r.state.value,
        "lease_until": r.lease_until,
        "blob_key": r.blob_key,
    }


def _visible(scope: Scope, now: int) -> sa.ColumnElement[bool]:
    clause = sa.and_(
        files.c.state == FileState.READY.value,
        sa.or_(files.c.expires_at.is_(None), files.c.expires_at > now),
    )
    if not scope.is_admin:
        clause = sa.and_(clause, files.c.owner == scope.owner)
    return clause


class SQLCatalog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> SQLCatalog:
        engine = create_async_engine(async_url(url), pool_pre_ping=False)
        if engine.dialect.name == "sqlite":
            db_path = engine.url.database
            if db_path and db_path != ":memory:":
                # Once, at start-up, before any request is served.
                Path(db_path).expanduser().parent.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        catalog = cls(engine)
        if migrate:
            await catalog.migrate()
        return catalog

    async def migrate(self) -> None:
        """Bring the schema to the newest revision; safe when many processes start at once."""
        try:
            async with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID}
                    )
                await conn.run_sync(_upgrade)
        except (SQLAlchemyError, OSError) as exc:
            raise StorageUnavailable(f"cannot open the catalog database: {exc}") from exc

    async def insert(self, record: FileRecord) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(files.insert().values(**_record_values(record)))

    async def renew_lease(self, file_id: str, lease_until: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                files.update().where(files.c.id == file_id).values(lease_until=lease_until)
            )

    async def publish(self, record: FileRecord) -> bool:
        values = _record_values(record)
        values.update(state=FileState.READY.value, lease_until=None)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                files.update()
                .where(files.c.id == record.id, files.c.state == FileState.WRITING.value)
                .values(**values)
            )
        return bool(result.rowcount)

    async def get(self, file_id: str, scope: Scope, now: int) -> FileRecord | None:
        query = sa.select(files).where(files.c.id == file_id, _visible(scope, now))
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _row_to_record(row) if row is not None else None

    async def page(self, query: ListQuery, now: int) -> FilePage:
        clause = _visible(query.scope, now)
        if query.purpose is not None:
            clause = sa.and_(clause, files.c.purpose == query.purpose)
        if query.order == "asc":
            if query.after is not None:
                clause = sa.and_(clause, files.c.id > query.after)
            order_by = files.c.id.asc()
        else:
            if query.after is not None:
                clause = sa.and_(clause, files.c.id < query.after)
            order_by = files.c.id.desc()
        # One extra row tells whether another page exists.
        stmt = sa.select(files).where(clause).order_by(order_by).limit(query.limit + 1)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        records = [_row_to_record(r) for r in rows[: query.limit]]
        return FilePage(data=records, has_more=len(rows) > query.limit)

    async def hide(
        self, file_id: str, scope: Scope, now: int, lease_until: int
    ) -> FileRecord | None:
        stmt = (
            files.update()
            .where(files.c.id == file_id, _visible(scope, now))
            .values(state=FileState.DELETING.value, lease_until=lease_until)
            .returning(*files.c)
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(stmt)).first()
        return _row_to_record(row) if row is not None else None

    async def remove(self, file_id: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(files.delete().where(files.c.id == file_id))

    async def claim_doomed(self, now: int, lease_until: int, limit: int) -> list[FileRecord]:
        doomed = sa.or_(
            sa.and_(files.c.state == FileState.READY.value, files.c.expires_at <= now),
            sa.and_(
                files.c.state.in_([FileState.WRITING.value, FileState.DELETING.value]),
                files.c.lease_until < now,
            ),
        )
        ids = sa.select(files.c.id).where(doomed).limit(limit).scalar_subquery()
        stmt = (
            files.update()
            .where(files.c.id.in_(ids), doomed)
            .values(state=FileState.DELETING.value, lease_until=lease_until)
            .returning(*files.c)
        )
        async with self.engine.begin() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_row_to_record(r) for r in rows]

    async def check(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            raise StorageUnavailable("the catalog database is unreachable") from exc

    async def aclose(self) -> None:
        await self.engine.dispose()


def _upgrade(sync_conn: sa.Connection) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")
