"""Batches filegate runs itself: who runs each one now (a lease), and its finished lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from filegate.catalog.copies import insert_file
from filegate.catalog.rows import READY, state_values
from filegate.catalog.runner import Runner
from filegate.catalog.schema import batch_run_lines, batch_runs, batches
from filegate.records import BatchState, FileRecord

# (line number, whether it failed, the output or error file's line)
Line = tuple[int, bool, str]


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


def _change(
    conn: sa.Connection, batch_id: str, change: Callable[[BatchState], BatchState]
) -> BatchState:
    stmt = sa.select(batches.c.snapshot).where(batches.c.id == batch_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    state = change(BatchState.from_dict(orjson.loads(conn.execute(stmt).scalar_one())))
    values = state_values(state, 0)
    values.pop("fetched_at")
    conn.execute(batches.update().where(batches.c.id == batch_id).values(**values))
    return state


class SQLBatchRunStore:
    def __init__(self, runner: Runner) -> None:
        self._run = runner

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

        def go(conn: sa.Connection) -> BatchState | None:
            if not _held(conn, batch_id, holder):
                return None
            if lines:
                conn.execute(
                    _insert(conn, batch_run_lines)
                    .values(
                        [
                            {"batch_id": batch_id, "line_no": n, "failed": f, "result": r}
                            for n, f, r in lines
                        ]
                    )
                    .on_conflict_do_nothing()
                )
            conn.execute(
                batch_runs.update()
                .where(batch_runs.c.batch_id == batch_id)
                .values(lease_until=until)
            )
            return _change(conn, batch_id, change)

        return await self._run.write(go)

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
