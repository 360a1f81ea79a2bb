"""The catalog interface: file records in a database."""

from __future__ import annotations

from typing import Protocol

from filegate.records import FilePage, FileRecord, ListQuery, Location, Quota, Scope


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

    async def claim_doomed(self, now: int, lease_until: int, limit: int) -> list[FileRecord]:
        """Claim records whose bytes must go: expired files, dead writes, unfinished deletes.

        Claimed records are DELETING with a fresh lease, so two sweepers do not
        work on the same record at once.
        """
        ...

    async def check(self) -> None:
        """Raise if the database cannot be reached."""
        ...

    async def aclose(self) -> None: ...
