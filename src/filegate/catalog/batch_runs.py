"""Batches filegate runs itself: who runs each one now (a lease), and its finished lines."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from anyio import to_thread
from sqlalchemy.dialects import postgresql, sqlite

from filegate.catalog.copies import insert_file
from filegate.catalog.hot import compile_for, sqlite_errors
from filegate.catalog.rows import READY, state_values
from filegate.catalog.runner import Runner
from filegate.catalog.schema import batch_run_lines, batch_runs, batches
from filegate.records import BatchState, FileRecord

# (line number, whether it failed, the output or error file's line)
Line = tuple[int, bool, str]
_T = TypeVar("_T")


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _held(conn: sa.Connection, batch_id: str, holder: str) -> bool:
    """Whether ``holder`` still has the batch (locking its row until the commit)."""
    stmt = sa.select(batch_runs.c.holder).where(
        batch_runs.c.batch_id == batch_id, batch_runs.c.done.is_(False)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return conn.execute(stmt).scalar() == holder


def _add_lines(conn: sa.Connection, batch_id: str, holder: str, lines: Sequence[Line]) -> bool:
    if not _held(conn, batch_id, holder):
        return False
    if lines:
        # executemany: one statement, compiled (and cached) once whatever the number of
        # lines; PostgreSQL's driver sends them as one insert.
        conn.execute(
            _insert(conn, batch_run_lines).on_conflict_do_nothing(),
            [{"batch_id": batch_id, "line_no": n, "failed": f, "result": r} for n, f, r in lines],
        )
    return True


def _change(
    conn: sa.Connection, batch_id: str, change: Callable[[BatchState], BatchState]
) -> BatchState:
    stmt = sa.select(batches.c.snapshot).where(batches.c.id == batch_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    state = change(BatchState.from_dict(orjson.loads(conn.execute(stmt).scalar_one())))
    conn.execute(batches.update().where(batches.c.id == batch_id).values(**_state_columns(state)))
    return state


def _state_columns(state: BatchState) -> dict[str, Any]:
    values = state_values(state, 0)
    values.pop("fetched_at")
    return values


_STATE_COLUMNS = tuple(_state_columns(BatchState(status="validating")))


class SQLiteLineCommits:
    """The runner's commits on SQLite, straight on the driver and on the event loop.

    A running batch commits its finished lines every few milliseconds, and a line's
    concurrency slot waits for that commit, so the commit's latency is the runner's
    throughput. Through ``SQLiteRunner.write`` one costs a thread hop, SQLAlchemy's
    per-statement work (a multi-row INSERT is compiled anew for each row count) and an
    fsync; on a busy two-core machine that was 15-50 ms a commit. Here the same
    statements (the catalog's own, compiled once) run on one sqlite3 connection kept
    for them, inline, in one ``BEGIN IMMEDIATE ... COMMIT``:

    - ``synchronous=NORMAL`` on this connection only. In WAL mode a NORMAL commit is
      in the WAL file (the OS's page cache) when COMMIT returns, so it survives the
      process being killed (kill -9, an OOM kill, a crash): what the runner's promise
      is about. Only a power cut or an OS crash can lose the last such commits
      (the WAL is fsynced at each checkpoint and by every other connection's FULL
      commit); the database stays consistent, and the lines lost are simply sent
      again on resume, their outputs still written once (the lines are the record).
      Everything else in the catalog keeps ``synchronous=FULL``.
    - The write lock is tried, not waited for (``busy_timeout=0``): if another
      writer holds it, the commit is done again in a worker thread that may wait,
      so the event loop never blocks behind another transaction.
    - A checkpoint (this connection's autocheckpoint, each ~4 MB of WAL) runs inline:
      two fsyncs every few thousand lines.
    """

    def __init__(self, engine: sa.Engine) -> None:
        # A pooled connection, so it has the catalog's pragmas; kept for good.
        self._fairy = engine.raw_connection()
        db = self._fairy.driver_connection
        assert isinstance(db, sqlite3.Connection)
        self._db = db
        db.execute("PRAGMA synchronous=NORMAL")
        (self._wait_ms,) = db.execute("PRAGMA busy_timeout").fetchone()
        db.execute("PRAGMA busy_timeout=0")
        # One user of the connection at a time (batches commit from several tasks).
        self._lock = asyncio.Lock()
        run = batch_runs.c
        dialect = engine.dialect
        self._held = compile_for(
            sa.select(run.holder).where(run.batch_id == sa.bindparam("b"), run.done.is_(False)),
            dialect,
        ).sql
        self._insert = compile_for(
            sqlite.insert(batch_run_lines)
            .values(
                batch_id=sa.bindparam("b"),
                line_no=sa.bindparam("n"),
                failed=sa.bindparam("f"),
                result=sa.bindparam("r"),
            )
            .on_conflict_do_nothing(),
            dialect,
        )
        self._renew = compile_for(
            batch_runs.update()
            .where(run.batch_id == sa.bindparam("b"))
            .values(lease_until=sa.bindparam("u")),
            dialect,
        )
        self._snapshot = compile_for(
            sa.select(batches.c.snapshot).where(batches.c.id == sa.bindparam("b")), dialect
        ).sql
        self._update = compile_for(
            batches.update()
            .where(batches.c.id == sa.bindparam("b"))
            .values({name: sa.bindparam(f"v_{name}") for name in _STATE_COLUMNS}),
            dialect,
        )

    async def commit(
        self,
        batch_id: str,
        holder: str,
        lines: Sequence[Line],
        until: int,
        change: Callable[[BatchState], BatchState],
    ) -> BatchState | None:
        return await self._write(lambda: self._commit(batch_id, holder, lines, until, change))

    async def add_lines(self, batch_id: str, holder: str, lines: Sequence[Line]) -> bool:
        def go() -> bool:
            with self._transaction():
                return self._add(batch_id, holder, lines)

        return await self._write(go)

    async def _write(self, go: Callable[[], _T]) -> _T:
        async with self._lock:
            with sqlite_errors("written"):
                try:
                    return go()
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorname != "SQLITE_BUSY":
                        raise
                # Another writer has the database: wait for it off the event loop.
                self._db.execute(f"PRAGMA busy_timeout={int(self._wait_ms)}")
                try:
                    return await to_thread.run_sync(go)
                finally:
                    self._db.execute("PRAGMA busy_timeout=0")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _add(self, batch_id: str, holder: str, lines: Sequence[Line]) -> bool:
        """In a transaction: whether ``holder`` has the batch; if so, its lines are in."""
        db = self._db
        row = db.execute(self._held, (batch_id,)).fetchone()
        if row is None or row[0] != holder:
            return False
        if lines:
            insert = self._insert
            db.executemany(
                insert.sql,
                [insert.args({"b": batch_id, "n": n, "f": f, "r": r}) for n, f, r in lines],
            )
        return True

    def _commit(
        self,
        batch_id: str,
        holder: str,
        lines: Sequence[Line],
        until: int,
        change: Callable[[BatchState], BatchState],
    ) -> BatchState | None:
        db = self._db
        with self._transaction():
            if not self._add(batch_id, holder, lines):
                return None
            db.execute(self._renew.sql, self._renew.args({"b": batch_id, "u": until}))
            (snapshot,) = db.execute(self._snapshot, (batch_id,)).fetchone()
            state = change(BatchState.from_dict(orjson.loads(snapshot)))
            values = {f"v_{k}": v for k, v in _state_columns(state).items()}
            db.execute(self._update.sql, self._update.args({"b": batch_id, **values}))
        return state

    def close(self) -> None:
        self._fairy.close()


class SQLBatchRunStore:
    def __init__(self, runner: Runner, fast: SQLiteLineCommits | None = None) -> None:
        self._run = runner
        # SQLite: the runner's frequent commits go straight to the driver (above).
        self._fast = fast

    async def runnable(self, deployments: Sequence[str], now: int, limit: int) -> list[str]:
        """Unfinished batches at these deployments that no live process holds."""
        run = batch_runs.c
        stmt = (
            sa.select(batches.c.id)
            .select_from(batches.outerjoin(batch_runs, run.batch_id == batches.c.id))
            .where(
                batches.c.deployment.in_(list(deployments)),
                batches.c.state == READY,
                batches.c.terminal.is_(False),
                sa.or_(
                    run.batch_id.is_(None),
                    sa.and_(
                        run.done.is_(False), sa.or_(run.holder.is_(None), run.lease_until < now)
                    ),
                ),
            )
            .order_by(batches.c.id)
            .limit(limit)
        )
        rows = await self._run.read(lambda conn: conn.execute(stmt).all())
        return [r[0] for r in rows]

    async def claim(
        self, batch_id: str, deployment: str, holder: str, now: int, until: int
    ) -> bool:
        """Hold the batch until ``until`` if no live process does; whether it is ours."""
        run = batch_runs.c
        take = (
            batch_runs.update()
            .where(
                run.batch_id == batch_id,
                run.done.is_(False),
                sa.or_(run.holder.is_(None), run.holder == holder, run.lease_until < now),
            )
            .values(holder=holder, lease_until=until)
        )

        def go(conn: sa.Connection) -> bool:
            conn.execute(
                _insert(conn, batch_runs)
                .values(
                    batch_id=batch_id, deployment=deployment, holder=None, lease_until=0, done=False
                )
                .on_conflict_do_nothing()
            )
            return bool(conn.execute(take).rowcount)

        return await self._run.write(go)

    async def release(self, batch_id: str, holder: str) -> None:
        """Give the batch up (this process stops) so another may take it at once."""
        stmt = (
            batch_runs.update()
            .where(batch_runs.c.batch_id == batch_id, batch_runs.c.holder == holder)
            .values(holder=None, lease_until=0)
        )
        await self._run.write(lambda conn: conn.execute(stmt))

    async def done_lines(self, batch_id: str) -> tuple[set[int], int]:
        """The lines already finished, and how many of them failed."""
        lines = batch_run_lines.c
        stmt = sa.select(lines.line_no, lines.failed).where(lines.batch_id == batch_id)
        rows = await self._run.read(lambda conn: conn.execute(stmt).all())
        return {r[0] for r in rows}, sum(1 for r in rows if r[1])

    async def commit(
        self,
        batch_id: str,
        holder: str,
        lines: Sequence[Line],
        until: int,
        change: Callable[[BatchState], BatchState],
    ) -> BatchState | None:
        """Record finished lines and the batch's new state, and renew the lease, at once.

        None: the lease was lost (another process runs the batch now); nothing is written.
        """
        if self._fast is not None:
            return await self._fast.commit(batch_id, holder, lines, until, change)

        def go(conn: sa.Connection) -> BatchState | None:
            if not _add_lines(conn, batch_id, holder, lines):
                return None
            conn.execute(
                batch_runs.update()
                .where(batch_runs.c.batch_id == batch_id)
                .values(lease_until=until)
            )
            return _change(conn, batch_id, change)

        return await self._run.write(go)

    async def add_lines(self, batch_id: str, holder: str, lines: Sequence[Line]) -> bool:
        """Record finished lines only (``commit`` without the state and the lease): the
        runner's usual commit, cheaper by the two rows it does not write. False: the
        lease was lost; nothing is written."""
        if self._fast is not None:
            return await self._fast.add_lines(batch_id, holder, lines)
        return await self._run.write(lambda conn: _add_lines(conn, batch_id, holder, lines))

    async def results(
        self, batch_id: str, failed: bool, after: int, limit: int
    ) -> list[tuple[int, str]]:
        """One page of the output (or error) file's lines, in input order."""
        lines = batch_run_lines.c
        stmt = (
            sa.select(lines.line_no, lines.result)
            .where(lines.batch_id == batch_id, lines.failed.is_(failed), lines.line_no > after)
            .order_by(lines.line_no)
            .limit(limit)
        )
        rows = await self._run.read(lambda conn: conn.execute(stmt).all())
        return [(r[0], r[1]) for r in rows]

    async def finish(
        self,
        batch_id: str,
        holder: str,
        outputs: Sequence[tuple[str, FileRecord]],
        change: Callable[[BatchState], BatchState],
    ) -> BatchState | None:
        """End the run: the output files become the owner's, the final state is written,
        and the finished lines are dropped. None: the lease was lost first."""

        def go(conn: sa.Connection) -> BatchState | None:
            if not _held(conn, batch_id, holder):
                return None
            for kind, file in outputs:
                column = "output_file_id" if kind == "output" else "error_file_id"
                insert_file(conn, file)
                conn.execute(
                    batches.update().where(batches.c.id == batch_id).values({column: file.id})
                )
            conn.execute(batch_run_lines.delete().where(batch_run_lines.c.batch_id == batch_id))
            conn.execute(
                batch_runs.update()
                .where(batch_runs.c.batch_id == batch_id)
                .values(done=True, holder=None, lease_until=0)
            )
            return _change(conn, batch_id, change)

        return await self._run.write(go)

    async def request_cancel(
        self, batch_id: str, change: Callable[[BatchState], BatchState]
    ) -> BatchState:
        """Mark the batch cancelling; its runner sees it at its next commit."""
        return await self._run.write(lambda conn: _change(conn, batch_id, change))
