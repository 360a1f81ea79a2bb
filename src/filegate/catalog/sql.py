"""The catalog on SQLAlchemy Core (async): SQLite by default, PostgreSQL too."""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from filegate.catalog.batch_runs import SQLBatchRunStore, SQLiteLineCommits
from filegate.catalog.batches import SQLBatchStore
from filegate.catalog.fine_tuning import SQLFineTuningStore
from filegate.catalog.hot import RECORD_COLUMNS, HotReads, PostgresHotReads, SQLiteHotReads
from filegate.catalog.runner import (
    AsyncRunner,
    Runner,
    SQLiteRunner,
    sqlite_begin,
    sqlite_pragmas,
    unavailable_state,
)
from filegate.catalog.schema import file_locations, files
from filegate.catalog.tenants import SQLTenantStore
from filegate.catalog.uploads import SQLUploadStore
from filegate.errors import ConfigError, QuotaExceeded, RateLimited, StorageUnavailable
from filegate.records import (
    EMBEDDED,
    FilePage,
    FileRecord,
    FileState,
    FileTotals,
    ListQuery,
    Location,
    Quota,
    Scope,
)

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
        "sqlite": "sqlite+pysqlite",
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


def _reach(scope: Scope) -> str:
    return "all" if scope.is_admin else "team" if scope.sees_team else "own"


def _visible(reach: str) -> sa.ColumnElement[bool]:
    """READY and unexpired at ``:now``, and within the caller's reach.

    ``own``: made by ``:scope_owner``; ``team``: that, or of team ``:scope_team``.
    """
    clause = sa.and_(
        files.c.state == FileState.READY.value,
        sa.or_(files.c.expires_at.is_(None), files.c.expires_at > sa.bindparam("now")),
    )
    owned = files.c.owner == sa.bindparam("scope_owner")
    teams = files.c.team == sa.bindparam("scope_team")
    if reach in ("own", "own_only"):
        clause = sa.and_(clause, owned)
    elif reach == "team":
        clause = sa.and_(clause, sa.or_(owned, teams))
    elif reach == "team_only":
        clause = sa.and_(clause, teams)
    return clause


def _scope_params(scope: Scope, now: int) -> dict[str, Any]:
    return {"now": now, "scope_owner": scope.owner, "scope_team": scope.team}


# Statements are built once per shape: building the expression tree costs more
# than running the query on SQLite.
@functools.cache
def _get_stmt(reach: str) -> sa.Select[Any]:
    return sa.select(*RECORD_COLUMNS).where(files.c.id == sa.bindparam("file_id"), _visible(reach))


@functools.cache
def _page_stmt(
    reach: str, ascending: bool, after: bool, purpose: bool, provider: str | None
) -> sa.Select[Any]:
    # One extra row tells whether another page exists.
    limit: sa.BindParameter[int] = sa.bindparam("limit")
    if reach == "team":
        # A key's own files or its team's: each side is a range of its own index
        # ((owner, id), (team, id)), cut at the page size, then merged. As one
        # query with ``owner = ? OR team = ?`` every page read and sorted all of
        # the team's files.
        sides = [
            _page_select(_visible("own_only"), ascending, after, purpose, provider)
            .limit(limit)
            .subquery(),
            _page_select(_visible("team_only"), ascending, after, purpose, provider)
            .limit(limit)
            .subquery(),
        ]
        both = sa.union(*(sa.select(side) for side in sides)).subquery()
        order = both.c.id.asc() if ascending else both.c.id.desc()
        return sa.select(both).order_by(order).limit(limit)
    return _page_select(_visible(reach), ascending, after, purpose, provider).limit(limit)


def _page_select(
    clause: sa.ColumnElement[bool],
    ascending: bool,
    after: bool,
    purpose: bool,
    provider: str | None,
) -> sa.Select[Any]:
    if provider == EMBEDDED:
        clause = sa.and_(clause, files.c.blob_key.is_not(None))
    elif provider is not None:
        at_provider = sa.select(file_locations.c.file_id).where(
            file_locations.c.provider == sa.bindparam("provider_filter")
        )
        clause = sa.and_(clause, files.c.id.in_(at_provider))
    if purpose:
        clause = sa.and_(clause, files.c.purpose == sa.bindparam("purpose_filter"))
    if after:
        cursor: sa.BindParameter[str] = sa.bindparam("after")
        clause = sa.and_(clause, files.c.id > cursor if ascending else files.c.id < cursor)
    order_by = files.c.id.asc() if ascending else files.c.id.desc()
    return sa.select(*RECORD_COLUMNS).where(clause).order_by(order_by)


@functools.cache
def _hide_stmt(reach: str) -> sa.Update:
    return (
        files.update()
        .where(files.c.id == sa.bindparam("file_id"), _visible(reach))
        .values(state=FileState.DELETING.value, lease_until=sa.bindparam("lease"))
        .returning(*files.c)
    )


def _doomed() -> sa.ColumnElement[bool]:
    """Files whose bytes must go at ``:now``: expired, or a write or delete whose lease ran out."""
    now: sa.BindParameter[int] = sa.bindparam("now")
    return sa.or_(
        sa.and_(files.c.state == FileState.READY.value, files.c.expires_at <= now),
        sa.and_(
            files.c.state.in_([FileState.WRITING.value, FileState.DELETING.value]),
            files.c.lease_until < now,
        ),
    )


# Visible files and their bytes: a walk of ix_files_bytes_state alone (it holds both
# columns), never the table's rows.
_STORED = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(files.c.bytes), 0)).where(
    files.c.state == FileState.READY.value
)
# Writes in flight hold a lease: ix_files_leased holds only those rows.
_WRITING = sa.select(sa.func.count()).where(
    files.c.lease_until.is_not(None), files.c.state == FileState.WRITING.value
)


@functools.cache
def _doomed_ids(limit: int) -> sa.Select[Any]:
    return sa.select(files.c.id).where(_doomed()).limit(limit)


_LOCATIONS_OF_ONE = sa.select(file_locations).where(
    file_locations.c.file_id == sa.bindparam("file_id")
)


def _with_locations(conn: sa.Connection, rows: Sequence[sa.Row[Any]]) -> list[FileRecord]:
    """Records for ``rows``, with the copies of those that live at providers.

    Files in the embedded store have a blob key and no copies, so the common
    case costs no second query.
    """
    records = [_row_to_record(r) for r in rows]
    remote = {r.id: r for r in records if r.blob_key is None}
    if remote:
        # One file (a retrieve) takes the prebuilt statement: building an IN
        # clause per request cost more than the query itself.
        found = (
            conn.execute(_LOCATIONS_OF_ONE, {"file_id": next(iter(remote))})
            if len(remote) == 1
            else conn.execute(
                sa.select(file_locations).where(file_locations.c.file_id.in_(list(remote)))
            )
        )
        for loc in found.all():
            m = loc._mapping
            remote[m["file_id"]].locations.append(
                Location(
                    deployment=m["deployment"],
                    provider=m["provider"],
                    provider_file_id=m["provider_file_id"],
                    status=m["status"],
                    status_details=m["status_details"],
                )
            )
    return records


def _location_values(file_id: str, loc: Location) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "deployment": loc.deployment,
        "provider": loc.provider,
        "provider_file_id": loc.provider_file_id,
        "status": loc.status,
        "status_details": loc.status_details,
    }


def _lock_key(name: str) -> int:
    # A stable signed 64-bit key per name, the same in every process.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _lock_owners(conn: sa.Connection, record: FileRecord) -> None:
    """Serialise quota checks per owner and team across processes.

    SQLite writers already hold the database's write lock (BEGIN IMMEDIATE);
    PostgreSQL needs a lock per subject, held to the end of the transaction.
    """
    if conn.dialect.name != "postgresql":
        return
    for subject in sorted({s for s in (record.owner, record.team) if s}):
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": subject})


def _live(now: int) -> sa.ColumnElement[bool]:
    return sa.and_(
        files.c.state.in_([FileState.WRITING.value, FileState.READY.value]),
        sa.or_(files.c.expires_at.is_(None), files.c.expires_at > now),
    )


def _check_admission(conn: sa.Connection, record: FileRecord, quota: Quota, now: int) -> None:
    """Count files (those being written included) against the caps, then admit one more."""
    count = sa.select(sa.func.count()).select_from(files)
    checks = [
        (quota.max_files, files.c.owner == record.owner, "files for this key"),
        (quota.team_max_files, files.c.team == record.team, "files for this team"),
    ]
    for cap, who, what in checks:
        if cap is not None and conn.execute(count.where(who, _live(now))).scalar_one() >= cap:
            raise QuotaExceeded(
                f"The limit of {cap} {what} is reached; delete some first.", param="file"
            )
    cap = quota.max_concurrent_uploads
    if cap is not None:
        writing = sa.and_(files.c.owner == record.owner, files.c.state == FileState.WRITING.value)
        if conn.execute(count.where(writing)).scalar_one() >= cap:
            raise RateLimited(
                f"At most {cap} uploads may run at once for this key.",
                code="too_many_concurrent_uploads",
                headers={"Retry-After": "1"},
            )


def _check_bytes(conn: sa.Connection, record: FileRecord, quota: Quota) -> None:
    stored = sa.select(sa.func.coalesce(sa.func.sum(files.c.bytes), 0)).where(
        files.c.state == FileState.READY.value
    )
    checks = [
        (quota.max_stored_bytes, files.c.owner == record.owner, "this key"),
        (quota.team_max_stored_bytes, files.c.team == record.team, "this team"),
    ]
    for cap, who, what in checks:
        if cap is not None and conn.execute(stored.where(who)).scalar_one() + record.bytes > cap:
            raise QuotaExceeded(
                f"Storing this file would pass the {cap}-byte limit of {what}.", param="file"
            )


class SQLCatalog:
    def __init__(self, runner: Runner, dialect: str, hot: HotReads | None = None) -> None:
        self._run = runner
        self.dialect = dialect
        # Retrieve and list run here, on the driver itself (see hot.py).
        self._hot = hot
        self.tenants = SQLTenantStore(runner)
        self.uploads = SQLUploadStore(runner)
        self.batches = SQLBatchStore(runner)
        self.batch_runs = SQLBatchRunStore(runner)
        self._line_commits: SQLiteLineCommits | None = None
        self.fine_tuning = SQLFineTuningStore(runner)

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> SQLCatalog:
        sa_url = make_url(async_url(url))
        runner: Runner
        sync_engine: sa.Engine | None = None
        if sa_url.get_backend_name() == "sqlite":
            db_path = sa_url.database
            if db_path and db_path != ":memory:":
                # Once, at start-up, before any request is served.
                Path(db_path).expanduser().parent.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
            engine = sa.create_engine(
                sa_url.set(drivername="sqlite+pysqlite"),
                connect_args={"check_same_thread": False},
            )
            event.listen(engine, "connect", sqlite_pragmas)
            event.listen(engine, "begin", sqlite_begin)
            runner = SQLiteRunner(engine)
            sync_engine = engine
        else:
            async_engine = create_async_engine(sa_url)
            runner = AsyncRunner(async_engine)
        catalog = cls(runner, sa_url.get_backend_name())
        if migrate:
            await catalog.migrate()
        try:
            if sync_engine is not None:
                catalog._hot = SQLiteHotReads(sync_engine)
                catalog._line_commits = SQLiteLineCommits(sync_engine)
                catalog.batch_runs = SQLBatchRunStore(runner, catalog._line_commits)
            else:
                catalog._hot = await PostgresHotReads.open(sa_url, async_engine.dialect)
        except (SQLAlchemyError, OSError) as exc:
            await runner.dispose()
            raise StorageUnavailable(f"cannot open the catalog database: {exc}") from exc
        except Exception as exc:
            await runner.dispose()
            if unavailable_state(exc):
                raise StorageUnavailable(f"cannot open the catalog database: {exc}") from exc
            raise
        return catalog

    async def migrate(self) -> None:
        """Bring the schema to the newest revision; safe when many processes start at once."""

        def upgrade(conn: sa.Connection) -> None:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
            _upgrade(conn)

        try:
            await self._run.write(upgrade)
        except StorageUnavailable as exc:
            raise StorageUnavailable(f"cannot open the catalog database: {exc.__cause__}") from exc
        except (SQLAlchemyError, OSError) as exc:
            raise StorageUnavailable(f"cannot open the catalog database: {exc}") from exc

    async def insert(self, record: FileRecord, quota: Quota | None = None) -> None:
        now = record.created_at

        def run(conn: sa.Connection) -> None:
            if quota is not None:
                _lock_owners(conn, record)
                _check_admission(conn, record, quota, now)
            conn.execute(files.insert().values(**_record_values(record)))
            for loc in record.locations:
                conn.execute(file_locations.insert().values(**_location_values(record.id, loc)))

        await self._run.write(run)

    async def add_location(self, file_id: str, location: Location) -> None:
        stmt = file_locations.insert().values(**_location_values(file_id, location))
        await self._run.write(lambda conn: conn.execute(stmt))

    async def remove_location(self, file_id: str, deployment: str) -> None:
        loc = file_locations.c
        stmt = file_locations.delete().where(loc.file_id == file_id, loc.deployment == deployment)
        await self._run.write(lambda conn: conn.execute(stmt))

    async def set_status(
        self,
        file_id: str,
        deployment: str,
        status: str,
        status_details: str | None,
        file_status: str,
        file_status_details: str | None,
    ) -> None:
        loc = file_locations.c
        stmts = [
            file_locations.update()
            .where(loc.file_id == file_id, loc.deployment == deployment)
            .values(status=status, status_details=status_details),
            files.update()
            .where(files.c.id == file_id)
            .values(status=file_status, status_details=file_status_details),
        ]

        def run(conn: sa.Connection) -> None:
            for stmt in stmts:
                conn.execute(stmt)

        await self._run.write(run)

    async def renew_lease(self, file_id: str, lease_until: int) -> None:
        stmt = files.update().where(files.c.id == file_id).values(lease_until=lease_until)
        await self._run.write(lambda conn: conn.execute(stmt))

    async def publish(self, record: FileRecord, quota: Quota | None = None) -> bool:
        values = _record_values(record)
        values.update(state=FileState.READY.value, lease_until=None)
        stmt = (
            files.update()
            .where(files.c.id == record.id, files.c.state == FileState.WRITING.value)
            .values(**values)
        )

        def run(conn: sa.Connection) -> bool:
            if quota is not None:
                _lock_owners(conn, record)
                _check_bytes(conn, record, quota)
            return bool(conn.execute(stmt).rowcount)

        return await self._run.write(run)

    async def get(self, file_id: str, scope: Scope, now: int) -> FileRecord | None:
        stmt = _get_stmt(_reach(scope))
        params = {"file_id": file_id, **_scope_params(scope, now)}
        if self._hot is not None:
            found = await self._hot.records(stmt, params)
        else:
            found = await self._run.read(
                lambda conn: _with_locations(conn, conn.execute(stmt, params).all())
            )
        return found[0] if found else None

    async def page(self, query: ListQuery, now: int) -> FilePage:
        stmt = _page_stmt(
            _reach(query.scope),
            query.order == "asc",
            query.after is not None,
            query.purpose is not None,
            None
            if query.provider is None
            else EMBEDDED
            if query.provider == EMBEDDED
            else "provider",
        )
        params = {
            **_scope_params(query.scope, now),
            "limit": query.limit + 1,
            "after": query.after,
            "purpose_filter": query.purpose,
            "provider_filter": query.provider,
        }
        if self._hot is not None:
            records = await self._hot.records(stmt, params)
        else:
            records = await self._run.read(
                lambda conn: _with_locations(conn, conn.execute(stmt, params).all())
            )
        return FilePage(data=records[: query.limit], has_more=len(records) > query.limit)

    async def hide(
        self, file_id: str, scope: Scope, now: int, lease_until: int
    ) -> FileRecord | None:
        stmt = _hide_stmt(_reach(scope))
        params = {"file_id": file_id, "lease": lease_until, **_scope_params(scope, now)}
        found = await self._run.write(
            lambda conn: _with_locations(conn, conn.execute(stmt, params).all())
        )
        return found[0] if found else None

    async def remove(self, file_id: str) -> None:
        def run(conn: sa.Connection) -> None:
            conn.execute(file_locations.delete().where(file_locations.c.file_id == file_id))
            conn.execute(files.delete().where(files.c.id == file_id))

        await self._run.write(run)

    async def remove_many(self, file_ids: Sequence[str]) -> None:
        if not file_ids:
            return
        ids = list(file_ids)

        def run(conn: sa.Connection) -> None:
            # One statement per table and one commit for the whole batch: a
            # sweep of 100,000 files is 200 commits, not 100,000.
            conn.execute(file_locations.delete().where(file_locations.c.file_id.in_(ids)))
            conn.execute(files.delete().where(files.c.id.in_(ids)))

        await self._run.write(run)

    async def totals(self) -> FileTotals:
        def run(conn: sa.Connection) -> FileTotals:
            count, size = conn.execute(_STORED).one()
            return FileTotals(int(count), int(size), int(conn.execute(_WRITING).scalar_one()))

        return await self._run.scan(run)

    async def claim_doomed(self, now: int, lease_until: int, limit: int) -> list[FileRecord]:
        find = _doomed_ids(limit)

        def run(conn: sa.Connection) -> list[FileRecord]:
            # The ids first, then the update by primary key: as one statement
            # (``id IN (SELECT ... LIMIT n)``) PostgreSQL, whose statistics had
            # not yet seen 100,000 files expire at once, ran the subquery again
            # for every row and a sweep never ended. The update checks again, so
            # a file another sweeper claimed in between is left to it.
            ids = list(conn.execute(find, {"now": now}).scalars())
            if not ids:
                return []
            stmt = (
                files.update()
                .where(files.c.id.in_(ids), _doomed())
                .values(state=FileState.DELETING.value, lease_until=lease_until)
                .returning(*files.c)
            )
            return _with_locations(conn, conn.execute(stmt, {"now": now}).all())

        return await self._run.write(run)

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """Whether this process may do fleet-wide work (a sweep) now.

        On PostgreSQL a session advisory lock makes it one process at a time
        across every gateway; SQLite serves one machine, where each sweep step
        is an atomic claim anyway, so it always may.
        """
        if not isinstance(self._run, AsyncRunner):
            yield True
            return
        key = _lock_key(name)
        async with self._run.engine.connect() as conn:
            got = bool(await conn.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))
            await conn.commit()
            try:
                yield got
            finally:
                if got:
                    await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    await conn.commit()

    async def check(self) -> None:
        try:
            await self._run.read(lambda conn: conn.execute(sa.text("SELECT 1")).scalar())
        except (StorageUnavailable, SQLAlchemyError, OSError) as exc:
            raise StorageUnavailable("the catalog database is unreachable") from exc

    async def aclose(self) -> None:
        if self._hot is not None:
            await self._hot.aclose()
            self._hot = None
        if self._line_commits is not None:
            self._line_commits.close()
            self._line_commits = None
        await self._run.dispose()


def _upgrade(sync_conn: sa.Connection) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")
