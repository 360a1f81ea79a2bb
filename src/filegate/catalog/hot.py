"""The hot reads (a file by id, a page of files) below SQLAlchemy's ``Connection``.

Retrieve and list are what every client polls, and through a ``Connection`` one
primary-key read costs several times the query: autobegin, an execution context,
event dispatch and a rollback per request. The statements stay the catalog's
own, built once with SQLAlchemy Core in ``sql.py``; here each is compiled once
for the dialect and run straight on the driver, its rows mapped by position to
records:

- SQLite: one sqlite3 connection kept for these reads, used inline on the event
  loop (a read of a WAL database never waits for the writer); each read is one
  ``BEGIN ... COMMIT``, so a file and its provider copies come from one snapshot,
  as through SQLAlchemy;
- PostgreSQL: an asyncpg pool of its own, whose connections prepare each
  statement once and run it in one round trip, without the ``BEGIN`` and
  ``ROLLBACK`` a pooled SQLAlchemy connection sends around it (each statement
  sees the committed data of its moment, as at READ COMMITTED before).

Nothing is cached: a record can change (deleted, expired) in another process at
any moment, so every read asks the database.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

from filegate.catalog.runner import unavailable_state
from filegate.catalog.schema import file_locations, files
from filegate.errors import StorageUnavailable
from filegate.records import FileRecord, FileState, Location

_NO_DEFAULT = object()


@dataclass(frozen=True, slots=True)
class Compiled:
    """A statement's SQL for one dialect and the order its parameters go in."""

    sql: str
    # (name, default) per positional parameter; a default is a value the
    # statement itself holds (``state = 'ready'``), else _NO_DEFAULT.
    binds: tuple[tuple[str, Any], ...]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        # A list comprehension, not tuple() over a generator: half the cost per call.
        return [params[name] if default is _NO_DEFAULT else default for name, default in self.binds]


def compile_for(stmt: sa.ClauseElement, dialect: sa.Dialect) -> Compiled:
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    assert isinstance(compiled, SQLCompiler)
    names = compiled.positiontup
    if names is None:
        raise ValueError(f"{dialect.name}: not a positional paramstyle")
    binds = []
    for name in names:
        bind = compiled.binds.get(name)
        # A value the statement holds itself (``state = 'ready'``, SQLite's
        # ``OFFSET 0``); every other parameter is the caller's, by name (an
        # expanded IN list's too: ids_1, ids_2, ...).
        fixed = bind is not None and not bind.required and bind.callable is None
        binds.append((name, bind.value if fixed and bind is not None else _NO_DEFAULT))
    return Compiled(str(compiled), tuple(binds))


# A hot read selects a file's columns in the order of FileRecord's fields, so that a
# row becomes a record positionally: a third of the cost of naming 15 keywords
# (0.49 vs 1.42 us a row, measured), which a 21-row list page pays 21 times.
RECORD_COLUMNS = tuple(files.c[f.name] for f in fields(FileRecord) if f.name != "locations")
_STATE = [c.name for c in RECORD_COLUMNS].index("state")
_LOCATION_COLUMNS = tuple(c.name for c in file_locations.c)


def _indexer(columns: Sequence[str], names: Iterable[str]) -> tuple[int, ...]:
    return tuple(columns.index(n) for n in names)


_L_FILE, _L_DEPLOYMENT, _L_PROVIDER, _L_PFID, _L_STATUS, _L_DETAILS = _indexer(
    _LOCATION_COLUMNS,
    ("file_id", "deployment", "provider", "provider_file_id", "status", "status_details"),
)
_STATES = {s.value: s for s in FileState}


def record_of(row: Sequence[Any]) -> FileRecord:
    """A row of ``RECORD_COLUMNS`` as a record."""
    record = FileRecord(*row)
    record.state = _STATES[row[_STATE]]
    return record


def _add_locations(remote: dict[str, FileRecord], rows: Iterable[Sequence[Any]]) -> None:
    for row in rows:
        remote[row[_L_FILE]].locations.append(
            Location(
                deployment=row[_L_DEPLOYMENT],
                provider=row[_L_PROVIDER],
                provider_file_id=row[_L_PFID],
                status=row[_L_STATUS],
                status_details=row[_L_DETAILS],
            )
        )


@functools.cache
def _locations_stmt(count: int) -> sa.Select[Any]:
    # One IN list per count: a page holds at most a few distinct counts.
    ids: sa.BindParameter[list[str]] = sa.bindparam("ids", value=[""] * count, expanding=True)
    return sa.select(file_locations).where(file_locations.c.file_id.in_(ids))


class HotReads(Protocol):
    async def records(self, stmt: sa.Select[Any], params: Mapping[str, Any]) -> list[FileRecord]:
        """The records ``stmt`` (a select of ``RECORD_COLUMNS``) finds, with their copies."""
        ...

    async def aclose(self) -> None: ...


class _Statements:
    """Statements compiled once per dialect, by the identity of the built statement."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self.dialect = dialect
        self._compiled: dict[int, tuple[sa.ClauseElement, Compiled]] = {}

    def __call__(self, stmt: sa.ClauseElement) -> Compiled:
        found = self._compiled.get(id(stmt))
        # The statement is held beside its compiled form, so its id is never re-used.
        if found is None or found[0] is not stmt:
            found = (stmt, compile_for(stmt, self.dialect))
            self._compiled[id(stmt)] = found
        return found[1]

    def locations(self, ids: Sequence[str]) -> tuple[Compiled, dict[str, Any]]:
        compiled = self(_locations_stmt(len(ids)))
        return compiled, {f"ids_{i}": v for i, v in enumerate(ids, 1)}


_SQLITE_ERRORS = (sqlite3.OperationalError, sqlite3.InterfaceError, OSError)


def _unreadable() -> StorageUnavailable:
    # As through SQLAlchemy: the cause goes to the log, not to the client.
    return StorageUnavailable("The catalog database cannot be read right now; try again later.")


@contextmanager
def sqlite_errors(what: str = "read") -> Iterator[None]:
    try:
        yield
    except _SQLITE_ERRORS as exc:
        # As through SQLAlchemy: the cause goes to the log, not to the client.
        raise StorageUnavailable(
            f"The catalog database cannot be {what} right now; try again later."
        ) from exc


class SQLiteHotReads:
    def __init__(self, engine: sa.Engine) -> None:
        # A pooled connection, so it has the catalog's pragmas; kept for good.
        self._fairy = engine.raw_connection()
        db = self._fairy.driver_connection
        assert isinstance(db, sqlite3.Connection)
        self._db = db
        self._compile = _Statements(engine.dialect)

    async def records(self, stmt: sa.Select[Any], params: Mapping[str, Any]) -> list[FileRecord]:
        compiled = self._compile(stmt)
        db = self._db
        args = compiled.args(params)
        # A plain try, not a context manager: this runs on every retrieve and list.
        try:
            # One statement, in its own implicit read transaction: an explicit BEGIN and
            # COMMIT around it cost two more statements (a read transaction's start is
            # most of a retrieve's query time under load).
            records = [record_of(r) for r in db.execute(compiled.sql, args)]
            # A loop, not any() over a generator: on a one-row retrieve the generator
            # alone cost 2 us.
            remote_rows = False
            for r in records:
                if r.blob_key is None:
                    remote_rows = True
                    break
            if remote_rows:
                # Files kept at providers need their locations, read in the same snapshot
                # as their rows: read both again, in one transaction.
                db.execute("BEGIN")
                try:
                    records = [record_of(r) for r in db.execute(compiled.sql, args)]
                    remote = {r.id: r for r in records if r.blob_key is None}
                    if remote:
                        loc, loc_params = self._compile.locations(list(remote))
                        _add_locations(remote, db.execute(loc.sql, loc.args(loc_params)))
                finally:
                    db.execute("COMMIT")
        except _SQLITE_ERRORS as exc:
            raise _unreadable() from exc
        return records

    async def aclose(self) -> None:
        self._fairy.close()


class PostgresHotReads:
    def __init__(self, pool: Any, dialect: sa.Dialect) -> None:
        self._pool = pool
        self._compile = _Statements(dialect)

    @classmethod
    async def open(cls, url: sa.URL, dialect: sa.Dialect) -> PostgresHotReads:
        import asyncpg  # type: ignore[import-untyped]

        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)

        async def no_reset(conn: Any) -> None:
            # These connections run single SELECTs in autocommit and change no
            # session state, so there is nothing to reset between uses.
            return None

        # 16 connections at most, as the bare asyncpg floor has 15: with 10, 32 clients
        # listing waited for one (p99 41-56 ms, against 12-18 ms with 16, one run).
        # Opened as needed, from one.
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=16, reset=no_reset)
        return cls(pool, dialect)

    async def records(self, stmt: sa.Select[Any], params: Mapping[str, Any]) -> list[FileRecord]:
        compiled = self._compile(stmt)
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(compiled.sql, *compiled.args(params))
                records = [record_of(r) for r in rows]
                remote = {r.id: r for r in records if r.blob_key is None}
                if remote:
                    loc, loc_params = self._compile.locations(list(remote))
                    _add_locations(remote, await conn.fetch(loc.sql, *loc.args(loc_params)))
        except Exception as exc:
            if not unavailable_state(exc):
                raise
            raise StorageUnavailable(
                "The catalog database cannot be read right now; try again later."
            ) from exc
        return records

    async def aclose(self) -> None:
        await self._pool.close()
