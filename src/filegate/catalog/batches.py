"""Batches in the catalog database, and the file records their output becomes."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from filegate.catalog.copies import add_copy, insert_file
from filegate.catalog.rows import CREATING, READY, room, state_values, unfinished, visible_to
from filegate.catalog.runner import Runner
from filegate.catalog.schema import batches
from filegate.records import (
    BatchPage,
    BatchQuery,
    BatchRecord,
    BatchState,
    FileRecord,
    Location,
    Scope,
)


def _record(row: sa.Row[Any]) -> BatchRecord:
    m = row._mapping
    return BatchRecord(
        id=m["id"],
        created_at=m["created_at"],
        deployment=m["deployment"],
        provider=m["provider"],
        provider_batch_id=m["provider_batch_id"] or "",
        input_file_id=m["input_file_id"],
        endpoint=m["endpoint"],
        completion_window=m["completion_window"],
        metadata=orjson.loads(m["metadata"]) if m["metadata"] is not None else None,
        owner=m["owner"],
        team=m["team"],
        output_file_id=m["output_file_id"],
        error_file_id=m["error_file_id"],
        state=BatchState.from_dict(orjson.loads(m["snapshot"])),
        fetched_at=m["fetched_at"] / 1000,
    )


_IN_PROGRESS = (
    sa.select(sa.func.count())
    .select_from(batches)
    .where(batches.c.terminal.is_(False), batches.c.state == READY)
)


class SQLBatchStore:
    def __init__(self, runner: Runner) -> None:
        self._run = runner

    async def reserve(
        self,
        record: BatchRecord,
        *,
        now: int,
        lease_until: int,
        key_cap: int | None,
        team_cap: int | None,
    ) -> str | None:
        """Hold a place for a batch about to be made; None, or why there is no room.

        The place is invisible, and counts against the caps until published, dropped,
        or its lease ends (a process that died while the provider was being asked).
        """
        values = {
            "id": record.id,
            "owner": record.owner,
            "team": record.team,
            "state": CREATING,
            "lease_until": lease_until,
            "deployment": record.deployment,
            "provider": record.provider,
            "provider_batch_id": None,
            "input_file_id": record.input_file_id,
            "endpoint": record.endpoint,
            "completion_window": record.completion_window,
            "metadata": orjson.dumps(record.metadata).decode()
            if record.metadata is not None
            else None,
            "created_at": record.created_at,
            **state_values(record.state, 0),
        }

        def run(conn: sa.Connection) -> str | None:
            refused = room(
                conn,
                batches,
                owner=record.owner,
                team=record.team,
                now=now,
                caps=(key_cap, team_cap),
                kind="batches",
                lock="batch",
            )
            if refused is None:
                conn.execute(batches.insert().values(**values))
            return refused

        return await self._run.write(run)

    async def publish(self, record: BatchRecord) -> None:
        """Make a reserved batch visible, with the provider's id and first answer."""
        stmt = (
            batches.update()
            .where(batches.c.id == record.id)
            .values(
                state=READY,
                lease_until=None,
                provider_batch_id=record.provider_batch_id,
                **state_values(record.state, record.fetched_at),
            )
        )
        await self._run.write(lambda conn: conn.execute(stmt))

    async def drop(self, batch_id: str) -> None:
        stmt = batches.delete().where(batches.c.id == batch_id, batches.c.state == CREATING)
        await self._run.write(lambda conn: conn.execute(stmt))

    async def get(self, batch_id: str, scope: Scope) -> BatchRecord | None:
        stmt = sa.select(batches).where(
            batches.c.id == batch_id, batches.c.state == READY, visible_to(batches, scope)
        )
        row = await self._run.read(lambda conn: conn.execute(stmt).first())
        return _record(row) if row is not None else None

    async def page(self, scope: Scope, query: BatchQuery) -> BatchPage:
        clause = sa.and_(batches.c.state == READY, visible_to(batches, scope))
        if query.after is not None:
            clause = sa.and_(clause, batches.c.id < query.after)
        if query.provider is not None:
            clause = sa.and_(clause, batches.c.provider == query.provider)
        # One extra row tells whether another page exists.
        stmt = sa.select(batches).where(clause).order_by(batches.c.id.desc()).limit(query.limit + 1)
        rows = await self._run.read(lambda conn: conn.execute(stmt).all())
        records = [_record(r) for r in rows]
        return BatchPage(data=records[: query.limit], has_more=len(records) > query.limit)

    async def in_progress(self) -> int:
        # ix_batches_active leads with ``terminal``: only unfinished batches are read.
        return int(await self._run.scan(lambda conn: conn.execute(_IN_PROGRESS).scalar_one()))

    async def active(self, owner: str | None, team: str | None, limit: int) -> list[BatchRecord]:
        """Unfinished visible batches of an owner or a team (to refresh before refusing)."""
        stmt = unfinished(batches, owner, team, limit)
        rows = await self._run.read(lambda conn: conn.execute(stmt).all())
        return [_record(r) for r in rows]

    async def save_state(self, batch_id: str, state: BatchState, fetched_at: float) -> None:
        # A terminal state is final: a slower refresh that read an older answer
        # must not write it back over the newer one.
        stmt = (
            batches.update()
            .where(batches.c.id == batch_id, batches.c.terminal.is_(False))
            .values(**state_values(state, fetched_at))
        )
        await self._run.write(lambda conn: conn.execute(stmt))

    async def attach_file(self, batch_id: str, kind: str, file: FileRecord) -> str:
        """Make ``file`` the batch's output (``kind`` "output") or error file, once.

        Returns the id that is the batch's file now: ``file.id``, or the one another
        request (or gateway) attached first, in which case ``file`` is not stored.
        """
        column = batches.c.output_file_id if kind == "output" else batches.c.error_file_id
        claim = (
            batches.update()
            .where(batches.c.id == batch_id, column.is_(None))
            .values({column.name: file.id})
        )

        def run(conn: sa.Connection) -> str:
            if conn.execute(claim).rowcount:
                insert_file(conn, file)
                return file.id
            winner = conn.execute(sa.select(column).where(batches.c.id == batch_id)).scalar_one()
            return str(winner)

        return await self._run.write(run)

    async def add_copy(self, file_id: str, location: Location) -> Location:
        """Record a copy of a file made for a batch, unless one at that deployment already
        is (made by a concurrent request); the copy that is recorded is returned."""
        return await add_copy(self._run, file_id, location)
