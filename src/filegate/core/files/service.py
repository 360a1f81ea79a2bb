"""The file lifecycle: create, list, retrieve, delete, content, expiry.

Knows the catalog, blob-store and provider interfaces, nothing of HTTP or SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

from filegate.blobstores.base import BlobStore
from filegate.catalog.base import Catalog
from filegate.core import jsonl
from filegate.core.files.relay import Relay
from filegate.core.files.requests import CreateFile, FileChoice
from filegate.core.ids import is_filegate_id, new_id
from filegate.core.params import BATCH_DEFAULT_EXPIRY
from filegate.core.targets import Target
from filegate.errors import FilegateError, FileNotFound, PayloadTooLarge, StorageUnavailable
from filegate.providers.base import (
    TERMINAL_STATUSES,
    Provider,
    ProviderContent,
    ProviderFile,
    ProviderPage,
    UploadSource,
)
from filegate.records import (
    ByteRange,
    ExpiresAfter,
    FilePage,
    FileRecord,
    FileState,
    ListQuery,
    Location,
    Quota,
    Scope,
)

log = logging.getLogger("filegate")

# A write in progress holds its record for this long and renews it while bytes
# flow; a record whose lease ran out belongs to a dead process and is swept.
LEASE_SECONDS = 300
# Records claimed, freed of their bytes and dropped per round of a sweep: each
# round is two transactions, however many files expire at once. Each round's rows
# are handled on the event loop in one go: with 500, retrieve's p99 on PostgreSQL
# while 100,000 files were swept was 55 ms (2.6x of without); with 100, 25 ms (1.9x),
# the sweep taking 246 s instead of 147 (one run each, 32 clients).
SWEEP_BATCH = 100
# Byte deletions a sweep has in flight at once.
SWEEP_DELETES_AT_ONCE = 16
# A partial file no live writer holds is swept once it is this old (the blob
# store tells which are held; the age only covers the moment a writer makes one).
PARTIAL_GRACE_SECONDS = 60


def not_found(file_id: str) -> FileNotFound:
    return FileNotFound(f"No such File object: {file_id[:128]}", param="file_id")


def combined_status(locations: list[Location]) -> tuple[str, str | None]:
    """One status for a file kept at several deployments."""
    for loc in locations:
        if loc.status == "error":
            return "error", loc.status_details
    for loc in locations:
        if loc.status not in TERMINAL_STATUSES:
            return loc.status, loc.status_details
    return "processed", None


@dataclass(slots=True)
class Opened:
    """An open download: the bytes, and how long they are (None: unknown)."""

    stream: AsyncIterator[bytes]
    length: int | None
    content_range: str | None


class BlobSource:
    """Stored bytes as an upload source: re-readable, of known size."""

    def __init__(self, store: BlobStore, key: str, size: int) -> None:
        self.store, self.key, self.size = store, key, size

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in await self.store.get(self.key):
            yield chunk


class FileService:
    def __init__(
        self,
        catalog: Catalog,
        blobs: BlobStore,
        *,
        max_file_size: int,
        spool: BlobStore | None = None,
        providers: Mapping[str, Provider] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalog = catalog
        self.blobs = blobs
        # Bytes bound for providers wait here, so retries and several targets
        # read them again without asking the client twice.
        self.spool = spool or blobs
        self.providers = dict(providers or {})
        self.max_file_size = max_file_size
        self.clock = clock

    def now(self) -> int:
        return int(self.clock())

    def provider(self, deployment: str) -> Provider:
        try:
            return self.providers[deployment]
        except KeyError:
            raise StorageUnavailable(
                f"Deployment {deployment!r} is no longer configured."
            ) from None

    def check_targets(
        self, targets: list[Target], purpose: str | None, expires_after: ExpiresAfter | None
    ) -> None:
        """Refuse what a target cannot honour before any byte is read."""
        for target in targets:
            if target.embedded:
                continue
            provider = self.provider(target.deployment)
            if purpose is not None:
                provider.check_purpose(purpose)
            if expires_after is not None:
                provider.check_expires_after(expires_after)

    async def create(
        self,
        request: CreateFile,
        content: AsyncIterable[bytes],
        *,
        size_hint: Callable[[], int | None] | None = None,
        rest: Callable[[], Awaitable[FileChoice]],
    ) -> FileRecord:
        """Make one file from a resolved request and its bytes, as they stream in.

        ``request.choice`` is what was known when the bytes started; ``rest`` is
        awaited once ``content`` is spent and gives the whole choice (the fields
        sent after the file). The targets are checked against the first before a
        byte is read, and against the whole only if the later fields changed it.
        """
        head = request.choice
        self.check_targets(list(head.targets), head.purpose, head.expires_after)
        async with self.upload(
            request.scope,
            filename=request.filename,
            content_type=request.content_type,
            purpose=head.purpose,
            targets=list(head.targets),
            max_size=request.max_size,
            quota=request.quota,
        ) as upload:
            await upload.write(content, size_hint=size_hint, expires_after=head.expires_after)
            final = await rest()
            if final.purpose is None:
                raise TypeError("rest() must settle the purpose")
            targets = list(final.targets)
            if final != head:
                self.check_targets(targets, final.purpose, final.expires_after)
            return await upload.finish(final.purpose, final.expires_after, targets)

    def upload(
        self,
        scope: Scope,
        *,
        filename: str,
        content_type: str | None,
        purpose: str | None,
        targets: list[Target],
        max_size: int | None = None,
        quota: Quota | None = None,
    ) -> PendingUpload:
        """Start a file; use as ``async with service.upload(...) as up``.

        ``purpose`` may be None when the client sent the file part before the
        purpose field; it is then given to ``finish`` and checked from storage.
        ``targets`` is where the bytes are staged; ``finish`` may still move them.
        ``max_size`` replaces the gateway's size limit (a key's tighter one, or an
        Uploads-API file's declared size); ``quota`` caps the
        caller's stored files and bytes (checked atomically by the catalog).
        """
        return PendingUpload(
            self,
            scope,
            filename,
            content_type or "application/octet-stream",
            purpose,
            targets,
            self.max_file_size if max_size is None else max_size,
            quota,
        )

    async def get(self, scope: Scope, file_id: str) -> FileRecord:
        record = await self.catalog.get(file_id, scope, self.now())
        if record is None:
            raise not_found(file_id)
        if record.locations and record.status not in TERMINAL_STATUSES:
            await self._refresh(record)
        return record

    async def _refresh(self, record: FileRecord) -> None:
        """Ask the providers about copies still being processed."""
        for loc in record.locations:
            if loc.status in TERMINAL_STATUSES:
                continue
            try:
                remote = await self.provider(loc.deployment).retrieve_file(loc.provider_file_id)
            except FilegateError as exc:
                log.warning("could not refresh %s at %s: %s", record.id, loc.deployment, exc)
                return
            loc.status, loc.status_details = remote.status, remote.status_details
            if remote.bytes and not record.bytes:
                record.bytes = remote.bytes
        status, details = combined_status(record.locations)
        for loc in record.locations:
            await self.catalog.set_status(
                record.id, loc.deployment, loc.status, loc.status_details, status, details
            )
        record.status, record.status_details = status, details

    async def page(self, query: ListQuery) -> FilePage:
        return await self.catalog.page(query, self.now())

    async def delete(self, scope: Scope, file_id: str) -> FileRecord:
        now = self.now()
        record = await self.catalog.hide(file_id, scope, now, now + LEASE_SECONDS)
        if record is None:
            raise not_found(file_id)
        await self._drop(record)
        return record

    async def open(self, record: FileRecord, byte_range: ByteRange | None = None) -> Opened:
        """Stream a visible file's bytes (all, or one range)."""
        if record.blob_key is None and record.locations:
            loc = next(
                (c for c in record.locations if c.status == "processed"), record.locations[0]
            )
            content = await self.provider(loc.deployment).file_content(
                loc.provider_file_id, byte_range
            )
            # The provider's own framing wins: its bytes are what will be sent.
            length = content.headers.get("content-length")
            return Opened(
                content.chunks(),
                int(length) if length and length.isdigit() else None,
                content.headers.get("content-range"),
            )
        try:
            stream = await self.blobs.get(record.blob_key or record.id, byte_range)
        except FileNotFoundError:
            # The bytes went away under us (a concurrent delete); the file is
            # no longer there for this caller either.
            raise not_found(record.id) from None
        if byte_range is None:
            return Opened(stream, record.bytes, None)
        return Opened(
            stream,
            byte_range.length,
            f"bytes {byte_range.start}-{byte_range.end}/{record.bytes}",
        )

    # Files made outside filegate: reachable only with the master key, by the
    # provider's own id; the caller checks who is asking.
    async def raw_list(
        self,
        target: Target,
        *,
        purpose: str | None,
        limit: int | None,
        order: str | None,
        after: str | None,
    ) -> ProviderPage:
        return await self.provider(target.deployment).list_files(
            purpose=purpose, limit=limit, order=order, after=after
        )

    async def raw_retrieve(self, target: Target, provider_file_id: str) -> ProviderFile:
        return await self.provider(target.deployment).retrieve_file(provider_file_id)

    async def raw_delete(self, target: Target, provider_file_id: str) -> None:
        await self.provider(target.deployment).delete_file(provider_file_id)

    async def raw_content(
        self, target: Target, provider_file_id: str, byte_range: ByteRange | None
    ) -> ProviderContent:
        return await self.provider(target.deployment).file_content(provider_file_id, byte_range)

    @staticmethod
    def is_own_id(file_id: str) -> bool:
        return is_filegate_id(file_id)

    async def sweep(self) -> int:
        """Remove expired files, dead writes and unfinished deletes; return how many.

        In bounded batches: a batch is claimed in one transaction, its bytes are
        deleted a few at a time, its records dropped in one more transaction,
        and requests waiting on the event loop go first before the next batch.
        """
        removed = 0
        while True:
            now = self.now()
            batch = await self.catalog.claim_doomed(now, now + LEASE_SECONDS, SWEEP_BATCH)
            gone = await self._drop_bytes_of(batch)
            await self.catalog.remove_many(gone)
            removed += len(gone)
            if len(batch) < SWEEP_BATCH:
                break
            await asyncio.sleep(0)
        for store in {id(self.blobs): self.blobs, id(self.spool): self.spool}.values():
            await store.sweep_incomplete(older_than=PARTIAL_GRACE_SECONDS)
        return removed

    async def _drop_bytes_of(self, records: list[FileRecord]) -> list[str]:
        """The ids of ``records`` whose bytes are gone now (the others stay DELETING)."""
        limit = asyncio.Semaphore(SWEEP_DELETES_AT_ONCE)

        async def drop(record: FileRecord) -> bool:
            async with limit:
                return await self._drop_bytes(record)

        done = await asyncio.gather(*(drop(r) for r in records))
        return [r.id for r, ok in zip(records, done, strict=True) if ok]

    async def _drop(self, record: FileRecord) -> None:
        if await self._drop_bytes(record):
            await self.catalog.remove(record.id)

    async def _drop_bytes(self, record: FileRecord) -> bool:
        try:
            for loc in record.locations:
                await self._delete_copy(loc)
            await self.blobs.delete(record.blob_key or record.id)
            await self.spool.delete(record.id)
        except Exception:
            # The record stays DELETING; the sweep retries once its lease ends.
            log.exception("could not delete the bytes of %s; the sweep will retry", record.id)
            return False
        return True

    async def _delete_copy(self, loc: Location) -> None:
        # Already gone upstream is what we wanted.
        with contextlib.suppress(FileNotFound):
            await self.provider(loc.deployment).delete_file(loc.provider_file_id)


class PendingUpload:
    """One file being written: a WRITING record plus bytes on their way in."""

    def __init__(
        self,
        service: FileService,
        scope: Scope,
        filename: str,
        content_type: str,
        purpose: str | None,
        targets: list[Target],
        max_size: int,
        quota: Quota | None,
    ) -> None:
        self.service = service
        self.purpose = purpose
        self.targets = targets
        self.max_size = max_size
        self.quota = quota
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
        )
        # Where the bytes wait: the blob store for the embedded target, else the spool.
        self._staged: BlobStore | None = None
        self._validated = False
        self._copies: list[Location] = []
        self._relay: Relay | None = None

    @property
    def _stage(self) -> BlobStore:
        embedded = any(t.embedded for t in self.targets)
        return self.service.blobs if embedded else self.service.spool

    async def __aenter__(self) -> PendingUpload:
        self.record.lease_until = self.service.now() + LEASE_SECONDS
        await self.service.catalog.insert(self.record, self.quota)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and self.record.state is not FileState.READY:
            await self.abort()

    async def write(
        self,
        chunks: AsyncIterable[bytes],
        *,
        size_hint: Callable[[], int | None] | None = None,
        expires_after: ExpiresAfter | None = None,
    ) -> None:
        """Take the file's bytes.

        With ``size_hint`` (the file's size as the client's framing predicts
        it) and provider targets, the copies start at once and run alongside.
        """
        validator = jsonl.validator_for(self.purpose) if self.purpose else None
        store = self._stage
        self._staged = store
        stream = self._metered(chunks, validator)
        remote = [t for t in self.targets if not t.embedded]
        if size_hint is not None and remote and self.purpose and store is self.service.spool:
            self._relay = Relay(remote, size_hint, expires_after, self._copy_one)
            stream = self._relay.tee(stream)
        stored = await store.put(self.record.id, stream)
        self.record.bytes = stored.size
        self.record.sha256 = stored.sha256
        self._validated = validator is not None
        if self._relay is not None:
            await self._relay.spooled(BlobSource(store, self.record.id, stored.size))

    async def _metered(
        self, chunks: AsyncIterable[bytes], validator: jsonl.JsonlValidator | None
    ) -> AsyncIterator[bytes]:
        limit = self.max_size
        size = 0
        renew_at = self.service.clock() + LEASE_SECONDS / 3
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"File is larger than the {limit}-byte limit.", param="file")
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

    async def finish(
        self, purpose: str, expires_after: ExpiresAfter | None, targets: list[Target] | None = None
    ) -> FileRecord:
        """Check the bytes where that could not be done in flight, place them, make
        the file visible. The caller has checked ``targets`` (``check_targets``).

        ``targets`` replaces the staging guess when routing fields came after the file.
        """
        record = self.record
        record.purpose = purpose
        self.targets = targets or self.targets
        staged = self._staged
        if staged is None:
            raise StorageUnavailable("finish() before write()")
        if not self._validated:
            validator = jsonl.validator_for(purpose)
            if validator is not None:
                # The purpose came after the bytes: validate from storage.
                async for chunk in await staged.get(record.id):
                    validator.feed(chunk)
                validator.finish()
        if expires_after is not None:
            record.expires_at = record.created_at + expires_after.seconds
        elif purpose == "batch":
            record.expires_at = record.created_at + BATCH_DEFAULT_EXPIRY
        if any(t.embedded for t in self.targets):
            if staged is not self.service.blobs:
                stored = await self.service.blobs.put(
                    record.id, BlobSource(staged, record.id, record.bytes).chunks()
                )
                record.sha256 = stored.sha256
            record.blob_key = record.id
        remote = [t for t in self.targets if not t.embedded]
        if remote:
            if self._relay is not None and self._relay.matches(remote, expires_after):
                await self._relay.wait()
            else:
                await self._drop_relay()
                await self._copy_to(
                    remote, BlobSource(staged, record.id, record.bytes), expires_after
                )
            record.locations = list(self._copies)
            record.status, record.status_details = combined_status(record.locations)
        else:
            record.status = "processed"
        if staged is not self.service.blobs:
            await staged.delete(record.id)
        if not await self.service.catalog.publish(record, self.quota):
            raise StorageUnavailable("The upload took too long and was discarded; try again.")
        record.state = FileState.READY
        record.lease_until = None
        return record

    async def _copy_to(
        self, targets: list[Target], source: BlobSource, expires_after: ExpiresAfter | None
    ) -> None:
        """Upload one staged copy to every target at once; all or none."""
        results = await asyncio.gather(
            *(self._copy_one(t, source, expires_after) for t in targets), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def _copy_one(
        self, target: Target, source: UploadSource, expires_after: ExpiresAfter | None
    ) -> None:
        record = self.record
        remote = await self.service.provider(target.deployment).create_file(
            source,
            filename=record.filename,
            purpose=record.purpose,
            content_type=record.content_type,
            expires_after=expires_after,
        )
        loc = Location(
            target.deployment, target.provider, remote.id, remote.status, remote.status_details
        )
        self._copies.append(loc)
        # Recorded at once: if this process dies now, the sweep still
        # finds the copy through the WRITING record and deletes it.
        await self.service.catalog.add_location(record.id, loc)
        if remote.expires_at and expires_after is None and record.expires_at is None:
            record.expires_at = int(remote.expires_at)

    async def _drop_relay(self) -> None:
        """Stop copies made on a guess that turned out wrong, and remove any made."""
        if self._relay is None:
            return
        await self._relay.cancel()
        self._relay = None
        made, self._copies = self._copies, []
        for loc in made:
            await self.service._delete_copy(loc)
            await self.service.catalog.remove_location(self.record.id, loc.deployment)

    async def abort(self) -> None:
        """Remove the bytes, copies and record of a write that will not finish."""
        if self._relay is not None:
            await self._relay.cancel()
        try:
            for loc in self._copies:
                try:
                    await self.service._delete_copy(loc)
                except FilegateError as exc:
                    log.warning(
                        "could not delete copy %s at %s: %s",
                        loc.provider_file_id,
                        loc.deployment,
                        exc,
                    )
                    raise
            for store in (self.service.blobs, self.service.spool):
                await store.delete(self.record.id)
            await self.service.catalog.remove(self.record.id)
        except Exception:
            # Leave it to the sweep: the lease runs out and the record goes,
            # with every copy it lists.
            log.exception("could not clean up failed upload %s", self.record.id)
