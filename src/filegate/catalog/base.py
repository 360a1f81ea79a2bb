"""What the core asks of the catalog: one protocol per store, and the catalog that holds them.

``catalog/sql.py`` implements them on SQLAlchemy (SQLite or PostgreSQL); nothing outside
this folder and the composition root (``filegate/gateway.py``) imports it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Protocol

from filegate.records import (
    ApiKey,
    AuditEvent,
    BatchPage,
    BatchQuery,
    BatchRecord,
    BatchState,
    FilePage,
    FileRecord,
    FileTotals,
    FineTuningPage,
    FineTuningQuery,
    FineTuningRecord,
    FineTuningState,
    ListQuery,
    Location,
    Quota,
    Scope,
    Team,
    Upload,
    UploadPart,
)


class FineTuningStore(Protocol):
    async def reserve(
        self,
        record: FineTuningRecord,
        *,
        now: int,
        lease_until: int,
        key_cap: int | None,
        team_cap: int | None,
    ) -> str | None:
        """Hold an invisible place for a job being made, within the in-progress caps;
        None, or the reason there is no room."""
        ...

    async def publish(self, record: FineTuningRecord) -> None: ...
    async def drop(self, job_id: str) -> None: ...
    async def get(self, job_id: str, scope: Scope) -> FineTuningRecord | None: ...
    async def page(self, scope: Scope, query: FineTuningQuery) -> FineTuningPage: ...
    async def active(
        self, owner: str | None, team: str | None, limit: int
    ) -> list[FineTuningRecord]: ...
    async def save_state(self, job_id: str, state: FineTuningState, fetched_at: float) -> None: ...
    async def attach_results(self, job_id: str, files: list[FileRecord]) -> list[str]:
        """Make ``files`` the job's result files once; the ids that won."""
        ...

    async def add_copy(self, file_id: str, location: Location) -> Location: ...


class TenantStore(Protocol):
    async def add_key(self, key: ApiKey) -> None: ...
    async def key_by_hash(self, token_hash: str) -> ApiKey | None: ...
    async def keys_where(self, **match: str | None) -> list[ApiKey]: ...
    async def save_key(self, key: ApiKey) -> None: ...
    async def delete_keys(self, ids: list[str]) -> int: ...
    async def add_team(self, team: Team) -> None: ...
    async def team(self, team_id: str) -> Team | None: ...
    async def all_teams(self) -> list[Team]: ...
    async def save_team(self, team: Team) -> None: ...
    async def delete_team(self, team_id: str) -> int: ...
    async def record(self, event: AuditEvent) -> None: ...
    async def events(
        self,
        *,
        limit: int,
        after: str | None,
        actor: str | None,
        action: str | None,
        subject: str | None,
    ) -> tuple[list[AuditEvent], bool]: ...
    async def hit(self, subject: str, kind: str, window: int) -> int: ...


class UploadStore(Protocol):
    async def add(self, upload: Upload) -> None: ...
    async def get(self, upload_id: str, scope: Scope) -> Upload | None: ...
    async def add_part(self, part: UploadPart, now: int, max_total: int) -> bool | str: ...
    async def parts(self, upload_id: str, ids: Sequence[str] | None = None) -> list[UploadPart]: ...
    async def transition(
        self,
        upload_id: str,
        from_status: str,
        to_status: str,
        *,
        now: int | None = None,
        file_id: str | None = None,
    ) -> bool: ...
    async def drop_parts(self, upload_id: str, ids: Sequence[str] | None = None) -> None: ...
    async def stale(self, now: int, grace: int, limit: int) -> list[Upload]: ...
    async def in_progress(self) -> int:
        """Uploads still taking parts, fleet-wide (the gauges' count, not a page)."""
        ...


# (line number, whether it failed, the output or error file's line)
RunLine = tuple[int, bool, str]


class BatchRunStore(Protocol):
    """Batches filegate runs itself: a lease per batch, and each finished line."""

    async def runnable(self, deployments: Sequence[str], now: int, limit: int) -> list[str]: ...
    async def claim(
        self, batch_id: str, deployment: str, holder: str, now: int, until: int
    ) -> bool: ...
    async def release(self, batch_id: str, holder: str) -> None: ...
    async def done_lines(self, batch_id: str) -> tuple[set[int], int]: ...
    async def commit(
        self,
        batch_id: str,
        holder: str,
        lines: Sequence[RunLine],
        until: int,
        change: Callable[[BatchState], BatchState],
    ) -> BatchState | None: ...
    async def add_lines(self, batch_id: str, holder: str, lines: Sequence[RunLine]) -> bool: ...
    async def results(
        self, batch_id: str, failed: bool, after: int, limit: int
    ) -> list[tuple[int, str]]: ...
    async def finish(
        self,
        batch_id: str,
        holder: str,
        outputs: Sequence[tuple[str, FileRecord]],
        change: Callable[[BatchState], BatchState],
    ) -> BatchState | None: ...
    async def request_cancel(
        self, batch_id: str, change: Callable[[BatchState], BatchState]
    ) -> BatchState: ...


class BatchStore(Protocol):
    async def reserve(
        self,
        record: BatchRecord,
        *,
        now: int,
        lease_until: int,
        key_cap: int | None,
        team_cap: int | None,
    ) -> str | None:
        """Hold an invisible place for a batch being made, within the in-progress caps;
        None, or the reason there is no room."""
        ...

    async def publish(self, record: BatchRecord) -> None: ...
    async def drop(self, batch_id: str) -> None: ...
    async def get(self, batch_id: str, scope: Scope) -> BatchRecord | None: ...
    async def page(self, scope: Scope, query: BatchQuery) -> BatchPage: ...
    async def active(
        self, owner: str | None, team: str | None, limit: int
    ) -> list[BatchRecord]: ...
    async def in_progress(self) -> int:
        """Batches not yet in a final status as last seen, fleet-wide (for the gauges)."""
        ...

    async def save_state(self, batch_id: str, state: BatchState, fetched_at: float) -> None: ...
    async def attach_file(self, batch_id: str, kind: str, file: FileRecord) -> str:
        """Make ``file`` the batch's output or error file once; the id that won."""
        ...

    async def add_copy(self, file_id: str, location: Location) -> Location:
        """Record a copy made for a batch, or return the one recorded first."""
        ...


class Catalog(Protocol):
    async def insert(self, record: FileRecord, quota: Quota | None = None) -> None:
        """Add a record (normally in state WRITING, invisible to readers).

        With a ``quota``, file-count and concurrency caps are checked in the
        same transaction, exactly, also across processes.
        """
        ...

    async def add_location(self, file_id: str, location: Location) -> None:
        """Record a provider copy as soon as it exists, so a crash cannot orphan it."""
        ...

    async def remove_location(self, file_id: str, deployment: str) -> None: ...

    async def set_status(
        self,
        file_id: str,
        deployment: str,
        status: str,
        status_details: str | None,
        file_status: str,
        file_status_details: str | None,
    ) -> None:
        """Store a copy's status as its provider reports it, and the file's combined one."""
        ...

    async def renew_lease(self, file_id: str, lease_until: int) -> None: ...

    async def publish(self, record: FileRecord, quota: Quota | None = None) -> bool:
        """Store the final fields of a WRITING record and make it READY.

        With a ``quota``, the stored-bytes caps are checked in the same transaction.

        Returns False when the record is gone (swept because its lease ran out).
        """
        ...

    async def get(self, file_id: str, scope: Scope, now: int) -> FileRecord | None:
        """A READY, unexpired record the scope may see, else None."""
        ...

    async def page(self, query: ListQuery, now: int) -> FilePage: ...

    async def hide(
        self, file_id: str, scope: Scope, now: int, lease_until: int
    ) -> FileRecord | None:
        """Move a visible record to DELETING and return it, or None if not visible."""
        ...

    async def remove(self, file_id: str) -> None:
        """Drop a record for good (after its bytes are gone)."""
        ...

    async def remove_many(self, file_ids: Sequence[str]) -> None:
        """Drop records for good, in one transaction (a sweep's batch)."""
        ...

    async def totals(self) -> FileTotals:
        """Files stored and their bytes, and files being written, fleet-wide.

        For the gauges, once per sweep interval: an index walk (no table rows), kept
        off the event loop, about 100 ms at a million files on SQLite.
        """
        ...

    async def claim_doomed(self, now: int, lease_until: int, limit: int) -> list[FileRecord]:
        """Claim records whose bytes must go: expired files, dead writes, unfinished deletes.

        Claimed records are DELETING with a fresh lease, so two sweepers do not
        work on the same record at once.
        """
        ...

    @property
    def tenants(self) -> TenantStore: ...

    @property
    def uploads(self) -> UploadStore: ...

    @property
    def batches(self) -> BatchStore: ...

    @property
    def batch_runs(self) -> BatchRunStore: ...

    @property
    def fine_tuning(self) -> FineTuningStore: ...

    def exclusive(self, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """Whether this process may do fleet-wide work (a sweep) now."""
        ...

    async def check(self) -> None:
        """Raise if the database cannot be reached."""
        ...

    async def aclose(self) -> None: ...
