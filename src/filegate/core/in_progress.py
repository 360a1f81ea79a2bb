"""Caps on jobs in progress (``max_batches_in_progress``, ``max_fine_tuning_jobs_in_progress``).

Batches and fine-tuning jobs hold a place the same way: the catalog counts and reserves in
one statement, so gateways sharing it cannot overshoot a cap between them; a refusal is
checked once more after asking the provider about the jobs the catalog still counts, since
some of them may have ended since they were last seen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from filegate.errors import RateLimited

# A create holds its place this long at most; a process that dies while asking the
# provider gives it back when it runs out.
CREATE_LEASE_SECONDS = 900


class Owned(Protocol):
    @property
    def owner(self) -> str | None: ...
    @property
    def team(self) -> str | None: ...


R = TypeVar("R", bound=Owned)


class Reserving(Protocol[R]):
    async def reserve(
        self, record: R, *, now: int, lease_until: int, key_cap: int | None, team_cap: int | None
    ) -> str | None:
        """Insert ``record`` unless a cap is reached; the refusal's message if one is."""
        ...

    async def active(self, owner: str | None, team: str | None, limit: int) -> list[R]: ...


async def reserve(
    store: Reserving[R],
    record: R,
    *,
    clock: Callable[[], float],
    key_cap: int | None,
    team_cap: int | None,
    refresh: Callable[[list[R]], Awaitable[None]],
    param: str,
    code: str,
) -> None:
    """Record ``record`` as in progress, or raise ``RateLimited`` naming ``param``."""

    async def hold() -> str | None:
        now = int(clock())
        return await store.reserve(
            record,
            now=now,
            lease_until=now + CREATE_LEASE_SECONDS,
            key_cap=key_cap,
            team_cap=team_cap,
        )

    refused = await hold()
    if refused is None:
        return
    caps = [c for c in (key_cap, team_cap) if c is not None]
    stale = await store.active(
        record.owner, record.team if team_cap is not None else None, max(caps) + 1
    )
    await refresh(stale)
    refused = await hold()
    if refused is not None:
        raise RateLimited(refused, param=param, code=code)
