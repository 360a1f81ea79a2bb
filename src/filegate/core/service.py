"""The file lifecycle: create, list, retrieve, delete, content, expiry.

Knows the catalog and blob-store interfaces, nothing of HTTP or SQL.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from types import TracebackType

from filegate.blobstores.base import BlobStore
from filegate.catalog.base import Catalog
from filegate.core import jsonl
from filegate.core.ids import new_id
from filegate.core.params import BATCH_DEFAULT_EXPIRY, ExpiresAfter
from filegate.errors import FileNotFound, PayloadTooLarge, StorageUnavailable
from filegate.records import ByteRange, FilePage, FileRecord, FileState, ListQuery, Scope

log = logging.getLogger("filegate")

# A write in progress holds its record for this long and renews it while bytes
# flow; a record whose lease ran out belongs to a dead process and is swept.
LEASE_SECONDS = 300
SWEEP_BATCH = 100


def not_found(file_id: str) -> FileNotFound:
    return FileNotFound(f"No such File object: {file_id[:128]}", param="file_id")


class FileService:
    def __init__(
        self,
        catalog: Catalog,
        blobs: BlobStore,
        *,
        max_file_size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalog = catalog
        self.blobs = blobs
        self.max_file_size = max_file_size
        self.clock = clock

    def now(self) -> int:
        return int(self.clock())

    def upload(
        self,
        scope: Scope,
        *,
        filename: str,
        content_type: str | None,
        purpose: str | None,
    ) -> PendingUpload:
        """Start a file; use as ``async with service.upload(...) as up``.

        ``purpose`` may be None when the client sent the file part before the
        purpose field; it is then given to ``finish`` and checked from storage.
        """
        return PendingUpload(
            self, scope, filename, content_type or "application/octet-stream", purpose
        )

    async def get(self, scope: Scope, file_id: str) -> FileRecord:
        record = await self.catalog.get(file_id, scope, self.now())
        if record is None:
            raise not_found(file_id)
        return record

    async def page(self, query: ListQuery) -> FilePage:
        return await self.catalog.page(query, self.now())

    async def delete(self, scope: Scope, file_id: str) -> FileRecord:
        now = self.now()
        record = await self.catalog.hide(file_id, scope, now, now + LEASE_SECONDS)
        if record is None:
            raise not_found(file_id)
        await self._drop(record)
        return record

    async def open(
        self, record: FileRecord, byte_range: ByteRange | None = None
    ) -> AsyncIterator[bytes]:
        """Stream a visible file's bytes (all, or one range)."""
        try:
            return await self.blobs.get(record.blob_key or record.id, byte_range)
        except FileNotFoundError:
            # The bytes went away under us (a concurrent delete); the file is
            # no longer there for this caller either.
            raise not_found(record.id) from None

    async def sweep(self) -> int:
        """Remove expired files, dead writes and unfinished deletes; return how many."""
        removed = 0
        while True:
            now = self.now()
            batch = await self.catalog.claim_doomed(now, now + LEASE_SECONDS, SWEEP_BATCH)
            for record in batch:
                await self._drop(record)
            removed += len(batch)
            if len(batch) < SWEEP_BATCH:
                break
        await self.blobs.sweep_incomplete(older_than=2 * LEASE_SECONDS)
        return removed

    async def _drop(self, record: FileRecord) -> None:
        try:
            await self.blobs.delete(record.blob_key or record.id)
        except Exception:
            # The record stays DELETING; the sweep retries once its lease ends.
            log.exception("could not delete bytes of %s; the sweep will retry", record.id)
            return
        await self.catalog.remove(record.id)


class PendingUpload:
    """One file being written: a WRITING record plus bytes on their way in."""

    def __init__(
        self,
        service: FileService,
        scope: Scope,
        filename: str,
        content_type: str,
        purpose: str | None,
    ) -> None:
        self.service = service
        self.purpose = purpose
        file_id, created_at = new_id()
        self.record = FileRecord(
            id=file_id,
            filename=filename,
            purpose=purpose or "",
            created_at=created_at,
            content_type=content_type,
            owner=scope.owner,
            team=scope.team,
            state=FileState.WRITING,
            blob_key=file_id,
        )
        self._written = False
        self._validated = False

    async def __aenter__(self) -> PendingUpload:
        self.record.lease_until = self.service.now() + LEASE_SECONDS
        await self.service.catalog.insert(self.record)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and self.record.state is not FileState.READY:
            await self.abort()

    async def write(self, chunks: AsyncIterable[bytes]) -> None:
        validator = jsonl.validator_for(self.purpose) if self.purpose else None
        hasher = hashlib.sha256()
        size = await self.service.blobs.put(
            self.record.id, self._metered(chunks, hasher, validator)
        )
        self.record.bytes = size
        self.record.sha256 = hasher.hexdigest()
        self._written = True
        self._validated = validator is not None

    async def _metered(
        self,
        chunks: AsyncIterable[bytes],
        hasher: hashlib._Hash,
        validator: jsonl.JsonlValidator | None,
    ) -> AsyncIterator[bytes]:
        limit = self.service.max_file_size
        size = 0
        renew_at = self.service.clock() + LEASE_SECONDS / 3
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"File is larger than the {limit}-byte limit.", param="file")
            hasher.update(chunk)
            if validator is not None:
                validator.feed(chunk)
            if self.service.clock() > renew_at:
                renew_at = self.service.clock() + LEASE_SECONDS / 3
                await self.service.catalog.renew_lease(
                    self.record.id, self.service.now() + LEASE_SECONDS
                )
            yield chunk
        if validator is not None:
            validator.finish()

    async def finish(self, purpose: str, expires_after: ExpiresAfter | None) -> FileRecord:
        """Check what could not be checked in flight, then make the file visible."""
        record = self.record
        record.purpose = purpose
        if not self._validated:
            validator = jsonl.validator_for(purpose)
            if validator is not None:
                # The purpose came after the bytes: validate from storage.
                async for chunk in await self.service.blobs.get(record.id):
                    validator.feed(chunk)
                validator.finish()
        if expires_after is not None:
            record.expires_at = record.created_at + expires_after.seconds
        elif purpose == "batch":
            record.expires_at = record.created_at + BATCH_DEFAULT_EXPIRY
        record.status = "processed"
        if not await self.service.catalog.publish(record):
            raise StorageUnavailable("The upload took too long and was discarded; try again.")
        record.state = FileState.READY
        record.lease_until = None
        return record

    async def abort(self) -> None:
        """Remove the bytes and the record of a write that will not finish."""
        try:
            if self._written:
                await self.service.blobs.delete(self.record.id)
            await self.service.catalog.remove(self.record.id)
        except Exception:
            # Leave it to the sweep: the lease runs out and the record goes.
            log.exception("could not clean up failed upload %s", self.record.id)
