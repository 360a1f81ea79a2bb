"""How catalog SQL runs: written once over a ``Connection``, run per dialect."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncEngine

from filegate.errors import StorageUnavailable


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Transactions are begun by us (see sqlite_begin), not by pysqlite's guesses.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the one writer; FULL makes each commit durable.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def sqlite_begin(conn: sa.Connection) -> None:
    # Writers take the write lock up front: a check-then-insert (quotas) is
    # then exact, and a transaction never fails half-way on a stale snapshot.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("writer") else "BEGIN")


T = TypeVar("T")

# SQLSTATE classes that say the database, not the statement, is the trouble:
# connection (08), insufficient resources such as a full disk (53), operator
# intervention (57), system errors (58), and a read-only transaction (25006).
_UNAVAILABLE_STATES = ("08", "53", "57", "58", "25006")


def _unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the catalog cannot be used now (a full disk, a
    read-only file, a lost connection), rather than a mistake in a statement."""
    if isinstance(exc, OSError | sa.exc.OperationalError | sa.exc.InterfaceError):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        # asyncpg's errors come wrapped, with the SQLSTATE on the original.
        orig = exc.orig
        state = getattr(orig, "sqlstate", None) or getattr(
            getattr(orig, "__cause__", None), "sqlstate", None
        )
        return isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES)
    return False


def unavailable_state(exc: BaseException) -> bool:
    """``_unavailable`` for an error straight from asyncpg (the hot reads)."""
    if isinstance(exc, OSError):
        return True
    import asyncpg  # type: ignore[import-untyped]

    # A closed or broken connection; asyncpg's errors from the server carry a SQLSTATE.
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.PostgresConnectionError):
        return True
    state = getattr(exc, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES)


@contextlib.contextmanager
def _storage_errors(what: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if not _unavailable(exc):
            raise
        # The cause stays out of the message (it may name paths and hosts); the
        # server logs it with the request, as the driver says it ("database or
        # disk is full").
        cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc
        raise StorageUnavailable(
            f"The catalog database cannot be {what} right now; try again later."
        ) from cause


class Runner(Protocol):
    """Runs a function over a SQLAlchemy ``Connection`` for the async catalog.

    A database that cannot be used now (full, read-only, unreachable) raises
    ``StorageUnavailable``; every other error comes through as it is.
    """

    async def read(self, fn: Callable[[sa.Connection], T]) -> T: ...
    async def write(self, fn: Callable[[sa.Connection], T]) -> T: ...
    async def scan(self, fn: Callable[[sa.Connection], T]) -> T:
        """A read that walks many rows (the gauges' totals): never on the event loop."""
        ...

    async def dispose(self) -> None: ...


class SQLiteRunner:
    """SQLite without thread hops on the read path.

    A thread hop costs 200-300 µs on a small machine, aiosqlite about 1 ms a
    query, while a primary-key read from SQLite takes under 20 µs: reads run
    inline on the event loop (WAL readers never wait for the writer); writes,
    which fsync and may wait for the write lock, run in a worker thread.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    async def read(self, fn: Callable[[sa.Connection], T]) -> T:
        with _storage_errors("read"), self.engine.connect() as conn:
            return fn(conn)

    async def write(self, fn: Callable[[sa.Connection], T]) -> T:
        def run() -> T:
            with self.engine.connect() as conn:
                conn.info["writer"] = True
                try:
                    with conn.begin():
                        return fn(conn)
                finally:
                    conn.info.pop("writer", None)

        with _storage_errors("written"):
            return await to_thread.run_sync(run)

    async def scan(self, fn: Callable[[sa.Connection], T]) -> T:
        # An index walk over a million rows takes SQLite ~100 ms: long enough to stall
        # every request if it ran inline, as reads do. sqlite3 lets go of the GIL while
        # it steps, so a worker thread keeps the loop free.
        def run() -> T:
            with self.engine.connect() as conn:
                return fn(conn)

        with _storage_errors("read"):
            return await to_thread.run_sync(run)

    async def dispose(self) -> None:
        self.engine.dispose()


class AsyncRunner:
    """Native async drivers (asyncpg): the same functions run through greenlets."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def read(self, fn: Callable[[sa.Connection], T]) -> T:
        with _storage_errors("read"):
            async with self.engine.connect() as conn:
                return await conn.run_sync(fn)

    async def scan(self, fn: Callable[[sa.Connection], T]) -> T:
        # asyncpg waits on the socket, not the loop: a long read is an ordinary read.
        return await self.read(fn)

    async def write(self, fn: Callable[[sa.Connection], T]) -> T:
        with _storage_errors("written"):
            async with self.engine.begin() as conn:
                return await conn.run_sync(fn)

    async def dispose(self) -> None:
        await self.engine.dispose()
