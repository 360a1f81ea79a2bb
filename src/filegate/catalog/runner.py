"""How catalog SQL runs: written once over a ``Connection``, run per dialect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncEngine


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


class Runner(Protocol):
    """Runs a function over a SQLAlchemy ``Connection`` for the async catalog."""

    async def read(self, fn: Callable[[sa.Connection], T]) -> T: ...
    async def write(self, fn: Callable[[sa.Connection], T]) -> T: ...
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
        with self.engine.connect() as conn:
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

        return await to_thread.run_sync(run)

    async def dispose(self) -> None:
        self.engine.dispose()


class AsyncRunner:
    """Native async drivers (asyncpg): the same functions run through greenlets."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def read(self, fn: Callable[[sa.Connection], T]) -> T:
        async with self.engine.connect() as conn:
            return await conn.run_sync(fn)

    async def write(self, fn: Callable[[sa.Connection], T]) -> T:
        async with self.engine.begin() as conn:
            return await conn.run_sync(fn)

    async def dispose(self) -> None:
        await self.engine.dispose()
