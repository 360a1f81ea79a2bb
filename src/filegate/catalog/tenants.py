"""Keys, teams, the audit trail and rate windows, in the catalog database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from filegate.catalog.runner import Runner
from filegate.catalog.schema import api_keys, audit_events, rate_windows, teams
from filegate.errors import Conflict
from filegate.records import ApiKey, AuditEvent, Limits, Team


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()


def _key(row: sa.Row[Any]) -> ApiKey:
    m = row._mapping
    return ApiKey(
        id=m["id"],
        token_hash=m["token_hash"],
        preview=m["preview"],
        created_at=m["created_at"],
        key_alias=m["key_alias"],
        user_id=m["user_id"],
        team_id=m["team_id"],
        team_access=bool(m["team_access"]),
        expires_at=m["expires_at"],
        metadata=orjson.loads(m["metadata"]),
        limits=Limits.from_dict(orjson.loads(m["limits"])),
    )


def _key_values(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "token_hash": key.token_hash,
        "preview": key.preview,
        "key_alias": key.key_alias,
        "user_id": key.user_id,
        "team_id": key.team_id,
        "team_access": key.team_access,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "metadata": _json(key.metadata),
        "limits": _json(key.limits.to_dict()),
    }


def _team(row: sa.Row[Any]) -> Team:
    m = row._mapping
    return Team(
        team_id=m["team_id"],
        created_at=m["created_at"],
        uid=m["uid"],
        team_alias=m["team_alias"],
        metadata=orjson.loads(m["metadata"]),
        limits=Limits.from_dict(orjson.loads(m["limits"])),
    )


def _team_values(team: Team) -> dict[str, Any]:
    return {
        "team_id": team.team_id,
        "uid": team.uid,
        "team_alias": team.team_alias,
        "created_at": team.created_at,
        "metadata": _json(team.metadata),
        "limits": _json(team.limits.to_dict()),
    }


def _event(row: sa.Row[Any]) -> AuditEvent:
    m = row._mapping
    return AuditEvent(
        id=m["id"],
        ts=m["ts"],
        actor=m["actor"],
        action=m["action"],
        subject=m["subject"],
        bytes=m["bytes"],
        detail=orjson.loads(m["detail"]),
    )


_BY_HASH = sa.select(api_keys).where(api_keys.c.token_hash == sa.bindparam("token_hash"))


class SQLTenantStore:
    def __init__(self, runner: Runner) -> None:
        self._run = runner

    # keys
    async def add_key(self, key: ApiKey) -> None:
        stmt = api_keys.insert().values(**_key_values(key))
        try:
            await self._run.write(lambda conn: conn.execute(stmt))
        except IntegrityError:
            raise Conflict(
                f"A key with the alias {key.key_alias!r} exists already.", param="key_alias"
            ) from None

    async def key_by_hash(self, token_hash: str) -> ApiKey | None:
        row = await self._run.read(
            lambda conn: conn.execute(_BY_HASH, {"token_hash": token_hash}).first()
        )
        return _key(row) if row is not None else None

    async def keys_where(self, **match: str | None) -> list[ApiKey]:
        stmt = sa.select(api_keys).order_by(api_keys.c.id)
        for column, value in match.items():
            if value is not None:
                stmt = stmt.where(api_keys.c[column] == value)
        rows = await self._run.read(lambda conn: conn.execute(stmt).all())
        return [_key(r) for r in rows]

    async def save_key(self, key: ApiKey) -> None:
        stmt = api_keys.update().where(api_keys.c.id == key.id).values(**_key_values(key))
        try:
            await self._run.write(lambda conn: conn.execute(stmt))
        except IntegrityError:
            raise Conflict(
                f"A key with the alias {key.key_alias!r} exists already.", param="key_alias"
            ) from None

    async def delete_keys(self, ids: Sequence[str]) -> int:
        stmt = api_keys.delete().where(api_keys.c.id.in_(list(ids)))
        result = await self._run.write(lambda conn: conn.execute(stmt))
        return int(result.rowcount)

    # teams
    async def add_team(self, team: Team) -> None:
        stmt = teams.insert().values(**_team_values(team))
        try:
            await self._run.write(lambda conn: conn.execute(stmt))
        except IntegrityError:
            raise Conflict(f"The team {team.team_id!r} exists already.", param="team_id") from None

    async def team(self, team_id: str) -> Team | None:
        stmt = sa.select(teams).where(teams.c.team_id == team_id)
        row = await self._run.read(lambda conn: conn.execute(stmt).first())
        return _team(row) if row is not None else None

    async def all_teams(self) -> list[Team]:
        stmt = sa.select(teams).order_by(teams.c.team_id)
        return [_team(r) for r in await self._run.read(lambda conn: conn.execute(stmt).all())]

    async def save_team(self, team: Team) -> None:
        stmt = teams.update().where(teams.c.team_id == team.team_id).values(**_team_values(team))
        await self._run.write(lambda conn: conn.execute(stmt))

    async def delete_team(self, team_id: str) -> int:
        stmt = teams.delete().where(teams.c.team_id == team_id)
        result = await self._run.write(lambda conn: conn.execute(stmt))
        return int(result.rowcount)

    # audit
    async def record(self, event: AuditEvent) -> None:
        stmt = audit_events.insert().values(
            id=event.id,
            ts=event.ts,
            actor=event.actor,
            action=event.action,
            subject=event.subject,
            bytes=event.bytes,
            detail=_json(event.detail),
        )
        await self._run.write(lambda conn: conn.execute(stmt))

    async def events(
        self,
        *,
        limit: int,
        after: str | None,
        actor: str | None,
        action: str | None,
        subject: str | None,
    ) -> tuple[list[AuditEvent], bool]:
        stmt = sa.select(audit_events).order_by(audit_events.c.id.desc()).limit(limit + 1)
        if after:
            stmt = stmt.where(audit_events.c.id < after)
        for column, value in (("actor", actor), ("action", action), ("subject", subject)):
            if value:
                stmt = stmt.where(audit_events.c[column] == value)
        rows = await self._run.read(lambda conn: conn.execute(stmt).all())
        return [_event(r) for r in rows[:limit]], len(rows) > limit

    # rates
    async def hit(self, subject: str, kind: str, window: int) -> int:
        """Count one more request in ``subject``'s window and return the count so far.

        One atomic upsert, so counts are exact across processes sharing the database.
        """
        values = {"subject": subject, "kind": kind, "window": window, "count": 1}

        def run(conn: sa.Connection) -> int:
            insert: Any
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            stmt = insert(rate_windows).values(**values)
            stmt = stmt.on_conflict_do_update(
                index_elements=["subject", "kind", "window"],
                set_={"count": rate_windows.c.count + 1},
            ).returning(rate_windows.c.count)
            count = conn.execute(stmt).scalar_one()
            # Old windows are dead weight; drop them now and then.
            if count == 1:
                conn.execute(
                    rate_windows.delete().where(
                        rate_windows.c.subject == subject, rate_windows.c.window < window - 1
                    )
                )
            return int(count)

        return await self._run.write(run)
