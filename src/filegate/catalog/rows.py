"""What several stores' rows share: who may see a row, a job's last known state, and the
count of a tenant's jobs in progress.

Uploads, batches and fine-tuning jobs carry the same ``owner`` and ``team`` columns and
follow the files' visibility rule; batches and jobs keep the provider's last answer the
same way (``status``, ``terminal``, a JSON ``snapshot`` and when it was fetched), and a
job being made holds an invisible place (``state`` 'creating' until ``lease_until``)
that counts against the in-progress caps as a job does.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
import sqlalchemy as sa

from filegate.records import Scope

CREATING, READY = "creating", "ready"


class JobState(Protocol):
    status: str

    @property
    def terminal(self) -> bool: ...

    def to_dict(self) -> dict[str, Any]: ...


def visible_to(table: sa.Table, scope: Scope) -> sa.ColumnElement[bool]:
    """The rows of ``table`` that ``scope`` may see: all for the master key, else its own,
    and its team's when the key has team access."""
    if scope.is_admin:
        return sa.true()
    owned = table.c.owner == scope.owner
    return sa.or_(owned, table.c.team == scope.team) if scope.sees_team else owned


def state_values(state: JobState, fetched_at: float) -> dict[str, Any]:
    """A job's last known state as its row's columns (``fetched_at`` in milliseconds)."""
    return {
        "status": state.status,
        "terminal": state.terminal,
        "snapshot": orjson.dumps(state.to_dict()).decode(),
        "fetched_at": int(fetched_at * 1000),
    }


def in_progress(table: sa.Table, now: int) -> sa.ColumnElement[bool]:
    """The jobs of ``table`` that count as in progress: not finished, or still being made
    (a place whose lease has run out was left by a process that died while making it)."""
    return sa.and_(
        table.c.terminal.is_(False),
        sa.or_(
            table.c.state == READY,
            sa.and_(table.c.state == CREATING, table.c.lease_until > now),
        ),
    )


def room(
    conn: sa.Connection,
    table: sa.Table,
    *,
    owner: str | None,
    team: str | None,
    now: int,
    caps: tuple[int | None, int | None],
    kind: str,
    lock: str,
) -> str | None:
    """Check, in the transaction that will insert a new job's place, that the owner (key)
    and the team each have fewer than their cap (``caps``: the key's, the team's) of jobs
    in progress; None, or why there is no room (``kind`` names the jobs, plural).

    Clears the owner's places left by dead processes on the way."""
    # Counting and inserting must not interleave across processes (SQLite's writers
    # already hold its write lock); ``lock`` keeps each table's locks apart.
    if conn.dialect.name == "postgresql":
        for subject in sorted({s for s in (owner, team) if s}):
            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"{lock}:{subject}"}
            )
    count = sa.select(sa.func.count()).select_from(table).where(in_progress(table, now))
    key_cap, team_cap = caps
    checks = (
        (key_cap, table.c.owner == owner, "this key"),
        (team_cap, table.c.team == team, "this team"),
    )
    for cap, who, what in checks:
        if cap is not None and conn.execute(count.where(who)).scalar_one() >= cap:
            return f"At most {cap} {kind} may be in progress at once for {what}."
    if owner is not None:
        conn.execute(
            table.delete().where(
                table.c.owner == owner, table.c.state == CREATING, table.c.lease_until <= now
            )
        )
    return None


def unfinished(table: sa.Table, owner: str | None, team: str | None, limit: int) -> sa.Select[Any]:
    """Up to ``limit`` visible unfinished jobs of an owner or a team, oldest first: those
    to ask their provider about before refusing a new one for want of room."""
    who = [table.c.owner == owner] if owner is not None else []
    if team is not None:
        who.append(table.c.team == team)
    return (
        sa.select(table)
        .where(table.c.state == READY, table.c.terminal.is_(False), sa.or_(*who))
        .order_by(table.c.id)
        .limit(limit)
    )
