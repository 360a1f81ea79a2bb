"""What several stores' rows share: who may see a row, and a job's last known state.

Uploads, batches and fine-tuning jobs carry the same ``owner`` and ``team`` columns and
follow the files' visibility rule; batches and jobs keep the provider's last answer the
same way (``status``, ``terminal``, a JSON ``snapshot`` and when it was fetched).
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
import sqlalchemy as sa

from filegate.records import Scope


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
