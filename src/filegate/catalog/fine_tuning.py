"""Fine-tuning jobs in the catalog database, and the file records their results become."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa

from filegate.catalog.copies import add_copy, insert_file
from filegate.catalog.rows import CREATING, READY, room, state_values, unfinished, visible_to
from filegate.catalog.runner import Runner
from filegate.catalog.schema import fine_tuning_jobs as jobs
from filegate.catalog.schema import fine_tuning_metadata as pairs
from filegate.records import (
    FileRecord,
    FineTuningPage,
    FineTuningQuery,
    FineTuningRecord,
    FineTuningState,
    Location,
    Scope,
)


def _record(row: sa.Row[Any]) -> FineTuningRecord:
    m = row._mapping
    results = m["result_files"]
    return FineTuningRecord(
        id=m["id"],
        created_at=m["created_at"],
        deployment=m["deployment"],
        provider=m["provider"],
        provider_job_id=m["provider_job_id"] or "",
        training_file=m["training_file"],
        validation_file=m["validation_file"],
        model=m["model"],
        metadata=orjson.loads(m["metadata"]) if m["metadata"] is not None else None,
        owner=m["owner"],
        team=m["team"],
        result_files=orjson.loads(results) if results is not None else None,
        state=FineTuningState.from_dict(orjson.loads(m["snapshot"])),
        fetched_at=m["fetched_at"] / 1000,
    )


class SQLFineTuningStore:
    def __init__(self, runner: Runner) -> None:
        self._run = runner

    async def reserve(
        self,
        record: FineTuningRecord,
        *,
        now: int,
        lease_until: int,
        key_cap: int | None,
        team_cap: int | None,
    ) -> str | None:
        """Hold a place for a job about to be made; None, or why there is no room.

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
            "provider_job_id": None,
            "training_file": record.training_file,
            "validation_file": record.validation_file,
            "model": record.model,
            "metadata": orjson.dumps(record.metadata).decode()
            if record.metadata is not None
            else None,
            "created_at": record.created_at,
            "result_files": None,
            **state_values(record.state, 0),
        }

        def run(conn: sa.Connection) -> str | None:
            refused = room(
                conn,
                jobs,
                owner=record.owner,
                team=record.team,
                now=now,
                caps=(key_cap, team_cap),
                kind="fine-tuning jobs",
                lock="ftjob",
            )
            if refused is not None:
                return refused
            conn.execute(jobs.insert().values(**values))
            for key, value in (record.metadata or {}).items():
                conn.execute(pairs.insert().values(job_id=record.id, key=key, value=value))
            return None

        return await self._run.write(run)

    async def publish(self, record: FineTuningRecord) -> None:
        """Make a reserved job visible, with the provider's id and first answer."""
        stmt = (
            jobs.update()
            .where(jobs.c.id == record.id)
            .values(
                state=READY,
                lease_until=None,
                provider_job_id=record.provider_job_id,
                **state_values(record.state, record.fetched_at),
            )
        )
        await self._run.write(lambda conn: conn.execute(stmt))

    async def drop(self, job_id: str) -> None:
        def run(conn: sa.Connection) -> None:
            if conn.execute(
                jobs.delete().where(jobs.c.id == job_id, jobs.c.state == CREATING)
            ).rowcount:
                conn.execute(pairs.delete().where(pairs.c.job_id == job_id))

        await self._run.write(run)

    async def get(self, job_id: str, scope: Scope) -> FineTuningRecord | None:
        stmt = sa.select(jobs).where(
            jobs.c.id == job_id, jobs.c.state == READY, visible_to(jobs, scope)
        )
        row = await self._run.read(lambda conn: conn.execute(stmt).first())
        return _record(row) if row is not None else None

    async def page(self, scope: Scope, query: FineTuningQuery) -> FineTuningPage:
        clause = sa.and_(jobs.c.state == READY, visible_to(jobs, scope))
        if query.after is not None:
            clause = sa.and_(clause, jobs.c.id < query.after)
        if query.provider is not None:
            clause = sa.and_(clause, jobs.c.provider == query.provider)
        for key, value in query.metadata:
            has = sa.exists().where(
                pairs.c.job_id == jobs.c.id, pairs.c.key == key, pairs.c.value == value
            )
            clause = sa.and_(clause, has)
        if query.no_metadata:
            clause = sa.and_(clause, jobs.c.metadata.is_(None))
        # One extra row tells whether another page exists.
        stmt = sa.select(jobs).where(clause).order_by(jobs.c.id.desc()).limit(query.limit + 1)
        rows = await self._run.read(lambda conn: conn.execute(stmt).all())
        records = [_record(r) for r in rows]
        return FineTuningPage(data=records[: query.limit], has_more=len(records) > query.limit)

    async def active(
        self, owner: str | None, team: str | None, limit: int
    ) -> list[FineTuningRecord]:
        """Unfinished visible jobs of an owner or a team (to refresh before refusing)."""
        stmt = unfinished(jobs, owner, team, limit)
        rows = await self._run.read(lambda conn: conn.execute(stmt).all())
        return [_record(r) for r in rows]

    async def save_state(self, job_id: str, state: FineTuningState, fetched_at: float) -> None:
        # A terminal state is final: a slower refresh that read an older answer
        # must not write it back over the newer one.
        stmt = (
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.terminal.is_(False))
            .values(**state_values(state, fetched_at))
        )
        await self._run.write(lambda conn: conn.execute(stmt))

    async def attach_results(self, job_id: str, files: list[FileRecord]) -> list[str]:
        """Make ``files`` the job's result files, once.

        Returns the ids that are the job's result files now: those of ``files``, or the
        ones another request (or gateway) attached first, in which case ``files`` are
        not stored.
        """
        ids = orjson.dumps([f.id for f in files]).decode()
        claim = (
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.result_files.is_(None))
            .values(result_files=ids)
        )

        def run(conn: sa.Connection) -> list[str]:
            if conn.execute(claim).rowcount:
                for file in files:
                    insert_file(conn, file)
                return [f.id for f in files]
            kept = conn.execute(sa.select(jobs.c.result_files).where(jobs.c.id == job_id))
            winner = kept.scalar_one()
            return list(orjson.loads(winner)) if winner else []

        return await self._run.write(run)

    async def add_copy(self, file_id: str, location: Location) -> Location:
        """Record a copy of a file made for a job, unless one at that deployment already is;
        the copy that is recorded is returned."""
        return await add_copy(self._run, file_id, location)
