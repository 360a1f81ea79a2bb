"""OpenAI's Uploads API: a file of up to 8 GB sent in parts of up to 64 MB.

Parts are stored as blobs in the shared blob store and recorded in the
catalog, so any gateway process can take any part. Completing streams the
named parts, in order, into an ordinary file (through FileService, with its
size, hashing, JSONL checks, quotas and provider copies), then drops them.

Forwarding: an upload with exactly one target, a provider deployment with its
own Uploads API (OpenAI, Azure v1 or a dated preview version), is mirrored
there instead. The provider upload is created with ours; each part is spooled
to a temporary local file only while it is sent upstream (so the upstream
request has an exact Content-Length and can be retried), then the spool is
dropped and the provider's part id is kept behind ours; complete maps the part
ids in order and completes upstream (the provider checks the md5 and bytes),
and the file is recorded with a Location only, no blob. Cancel and the expiry
sweep cancel upstream too. Several targets, the embedded store, Vertex and
Azure's GA dated versions keep the assemble-and-create path.

Batch and fine-tune uploads are never forwarded: their JSONL is validated on
complete, with line numbers, and parts (which may split lines, arrive out of
order and at different processes) cannot be validated one by one; nor can the
file be read back and checked after an upstream complete, since a refused file
would leave the upload completed upstream and impossible to complete again.
So they keep their parts here and take the assembled path (OpenAI takes batch
input files only up to 200 MB, well inside its 512 MB Files-API limit).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator, Sequence

from filegate.catalog.base import UploadStore
from filegate.core import jsonl
from filegate.core.files.service import LEASE_SECONDS, BlobSource, FileService, combined_status
from filegate.core.ids import is_filegate_id, new_id
from filegate.core.params import BATCH_DEFAULT_EXPIRY
from filegate.core.targets import Target
from filegate.errors import FilegateError, FileNotFound, InvalidRequest, PayloadTooLarge
from filegate.providers.base import UploadingProvider, uploading
from filegate.records import (
    ExpiresAfter,
    FileRecord,
    FileState,
    Location,
    Quota,
    Scope,
    Upload,
    UploadPart,
)

log = logging.getLogger("filegate")

MAX_UPLOAD_BYTES = 8 * 1024**3
MAX_PART_BYTES = 64 * 1024**2
UPLOAD_TTL = 3600
UPLOAD_PREFIX = "upload_"
# A complete that died half-way holds its upload this long past expiry.
COMPLETING_GRACE = 3600
MAX_MIME_TYPE = 255
_MIME = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$")
_JSONL_TYPES = frozenset(
    {
        "application/jsonl",
        "application/x-jsonl",
        "application/json",
        "application/x-ndjson",
        "text/jsonl",
        "text/plain",
    }
)
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_TYPES_FOR = {
    "batch": _JSONL_TYPES,
    "fine-tune": _JSONL_TYPES,
    "evals": _JSONL_TYPES,
    "vision": _IMAGE_TYPES,
}


def check_mime_type(purpose: str, mime_type: str) -> str:
    mime = mime_type.split(";", 1)[0].strip().lower()
    # The catalog keeps at most MAX_MIME_TYPE characters of it.
    if len(mime_type) > MAX_MIME_TYPE or not _MIME.match(mime):
        raise InvalidRequest(
            f"Invalid mime_type {mime_type[:64]!r}.", param="mime_type", code="invalid_value"
        )
    allowed = _TYPES_FOR.get(purpose)
    if allowed is not None and mime not in allowed:
        raise InvalidRequest(
            f"mime_type {mime!r} does not suit purpose {purpose!r}; use one of: "
            f"{', '.join(sorted(allowed))}.",
            param="mime_type",
            code="unsupported_mime_type",
        )
    return mime


def _not_found(upload_id: str) -> FileNotFound:
    return FileNotFound(f"No such Upload object: {upload_id[:128]}", param="upload_id")


def _not_open(upload: Upload) -> InvalidRequest:
    status = "pending" if upload.status == "completing" else upload.status
    what = "is being completed" if upload.status == "completing" else f"is {status}"
    return InvalidRequest(
        f"Upload {upload.id} {what}; it takes no more changes.",
        param="upload_id",
        code=f"upload_{upload.status}",
    )


class UploadService:
    def __init__(self, store: UploadStore, files: FileService) -> None:
        self.store = store
        self.files = files

    def now(self) -> int:
        return self.files.now()

    async def create(
        self,
        scope: Scope,
        *,
        filename: str,
        purpose: str,
        nbytes: int,
        mime_type: str,
        expires_after: ExpiresAfter | None,
        targets: list[Target],
        max_size: int,
    ) -> Upload:
        mime = check_mime_type(purpose, mime_type)
        if nbytes < 0:
            raise InvalidRequest(
                "'bytes' must not be negative.", param="bytes", code="invalid_value"
            )
        cap = min(max_size, MAX_UPLOAD_BYTES)
        if nbytes > cap:
            raise PayloadTooLarge(f"An upload can hold at most {cap} bytes.", param="bytes")
        if not filename or len(filename.encode()) > 1024:
            raise InvalidRequest(
                "'filename' must be 1 to 1024 bytes long.", param="filename", code="invalid_value"
            )
        self.files.check_targets(targets, purpose, expires_after)
        remote = self._forwarding(purpose, targets)
        provider_upload_id = None
        if remote is not None:
            provider_upload_id = await remote.create_upload(
                filename=filename,
                purpose=purpose,
                nbytes=nbytes,
                mime_type=mime,
                expires_after=expires_after,
            )
        upload_id, created = new_id(UPLOAD_PREFIX)
        upload = Upload(
            id=upload_id,
            filename=filename,
            purpose=purpose,
            bytes=nbytes,
            mime_type=mime,
            created_at=created,
            expires_at=created + UPLOAD_TTL,
            owner=scope.owner,
            team=scope.team,
            file_expires_after=expires_after.seconds if expires_after else None,
            targets=[t.deployment for t in targets],
            provider_upload_id=provider_upload_id,
        )
        try:
            await self.store.add(upload)
        except BaseException:
            if remote is not None and provider_upload_id is not None:
                await self._cancel_upstream(remote, provider_upload_id)
            raise
        return upload

    def _forwarding(self, purpose: str, targets: list[Target]) -> UploadingProvider | None:
        """The provider to forward an upload to, or None for the assembled path."""
        if len(targets) != 1 or targets[0].embedded:
            return None
        if jsonl.validator_for(purpose) is not None:
            return None  # validated on complete: see the module docstring
        return uploading(self.files.provider(targets[0].deployment))

    def _remote(self, upload: Upload) -> tuple[UploadingProvider, str] | None:
        """The provider holding a forwarded upload, and its id there."""
        if upload.provider_upload_id is None:
            return None
        remote = uploading(self.files.provider(upload.targets[0]))
        if remote is None:
            raise InvalidRequest(
                f"Deployment {upload.targets[0]!r} no longer takes uploads.",
                code="unknown_deployment",
            )
        return remote, upload.provider_upload_id

    async def _cancel_upstream(self, remote: UploadingProvider, provider_upload_id: str) -> None:
        try:
            await remote.cancel_upload(provider_upload_id)
        except FilegateError as exc:
            # It expires upstream on its own (OpenAI: an hour after it was made).
            log.warning("could not cancel upstream upload %s: %s", provider_upload_id, exc)

    async def get(self, scope: Scope, upload_id: str) -> Upload:
        # Anything but an upload id names no upload (and never reaches the catalog,
        # which may not hold every string: PostgreSQL refuses NUL).
        if not is_filegate_id(upload_id, UPLOAD_PREFIX):
            raise _not_found(upload_id)
        upload = await self.store.get(upload_id, scope)
        if upload is None:
            raise _not_found(upload_id)
        if upload.status == "pending" and upload.expires_at <= self.now():
            upload.status = "expired"
        return upload

    async def add_part(
        self, scope: Scope, upload_id: str, chunks: AsyncIterable[bytes]
    ) -> UploadPart:
        upload = await self.get(scope, upload_id)
        if upload.status != "pending":
            raise _not_open(upload)
        part_id, created = new_id("part_")
        remote = self._remote(upload)
        if remote is not None:
            part = await self._forward_part(upload, part_id, created, chunks, *remote)
            added = await self.store.add_part(
                part, self.now(), max_total=2 * upload.bytes + MAX_PART_BYTES
            )
            if added is not True:
                # The part upstream is never named on complete; nothing to undo.
                self._refuse_part(upload, added)
                raise _not_open(await self.get(scope, upload_id))
            return part
        stored = await self.files.blobs.put(part_id, _capped(chunks, MAX_PART_BYTES))
        part = UploadPart(id=part_id, upload_id=upload.id, created_at=created, bytes=stored.size)
        # Parts beyond what any completion could use are refused: a client may
        # resend parts, but not park unbounded bytes in the store.
        added = await self.store.add_part(
            part, self.now(), max_total=2 * upload.bytes + MAX_PART_BYTES
        )
        if added is not True:
            await self.files.blobs.delete(part.blob_key)
            self._refuse_part(upload, added)
            # Completed, cancelled or expired while this part streamed in.
            raise _not_open(await self.get(scope, upload_id))
        return part

    @staticmethod
    def _refuse_part(upload: Upload, added: bool | str) -> None:
        if added == "full":
            raise InvalidRequest(
                f"Upload {upload.id} already holds more parts than its {upload.bytes} "
                "bytes can use.",
                param="data",
                code="upload_parts_exceeded",
            )

    async def _forward_part(
        self,
        upload: Upload,
        part_id: str,
        created: int,
        chunks: AsyncIterable[bytes],
        remote: UploadingProvider,
        provider_upload_id: str,
    ) -> UploadPart:
        """Send a part upstream as it arrives; keep only the provider's part id.

        The part waits in the spool (never in the blob store) while it is sent:
        the upstream request needs its exact length before the first byte, and
        a retry after a 5xx or a dropped connection must read it again. The
        spool copy goes as soon as the upstream has answered.
        """
        spool = self.files.spool
        key = f"upload-part-{part_id}"
        try:
            stored = await spool.put(key, _capped(chunks, MAX_PART_BYTES))
            provider_part_id = await remote.add_upload_part(
                provider_upload_id, BlobSource(spool, key, stored.size)
            )
        finally:
            await spool.delete(key)
        return UploadPart(
            id=part_id,
            upload_id=upload.id,
            created_at=created,
            bytes=stored.size,
            provider_part_id=provider_part_id,
        )

    async def complete(
        self,
        scope: Scope,
        upload_id: str,
        part_ids: Sequence[str],
        md5: str | None,
        *,
        targets: list[Target],
        quota: Quota | None,
    ) -> tuple[Upload, FileRecord]:
        upload = await self.get(scope, upload_id)
        if upload.status != "pending":
            raise _not_open(upload)
        parts = await self._named_parts(upload, part_ids)
        total = sum(p.bytes for p in parts)
        if total != upload.bytes:
            raise InvalidRequest(
                f"The parts hold {total} bytes but the upload was created for {upload.bytes}.",
                param="part_ids",
                code="bytes_mismatch",
            )
        # One completion at a time; a second one meanwhile is refused.
        if not await self.store.transition(upload.id, "pending", "completing", now=self.now()):
            raise _not_open(await self.get(scope, upload_id))
        try:
            remote = self._remote(upload)
            if remote is not None:
                record = await self._complete_upstream(upload, parts, md5, targets, quota, *remote)
            else:
                record = await self._assemble(scope, upload, parts, md5, targets, quota)
        except BaseException:
            await self.store.transition(upload.id, "completing", "pending")
            raise
        await self.store.transition(upload.id, "completing", "completed", file_id=record.id)
        await self._drop_parts(upload)
        upload.status, upload.file_id = "completed", record.id
        return upload, record

    async def _named_parts(self, upload: Upload, part_ids: Sequence[str]) -> list[UploadPart]:
        if not part_ids and upload.bytes == 0:
            return []  # an empty file has nothing to send (the SDK sends no part)
        if not part_ids:
            raise InvalidRequest(
                "'part_ids' must name at least one part.", param="part_ids", code="invalid_value"
            )
        if len(set(part_ids)) != len(part_ids):
            raise InvalidRequest(
                "'part_ids' names a part twice.", param="part_ids", code="invalid_value"
            )
        found = {p.id: p for p in await self.store.parts(upload.id, part_ids)}
        for part_id in part_ids:
            if part_id not in found:
                # Another upload's part is unknown here, exactly like a made-up id.
                raise InvalidRequest(
                    f"No part {part_id[:64]!r} in upload {upload.id}.",
                    param="part_ids",
                    code="unknown_part",
                )
        return [found[p] for p in part_ids]

    async def _assemble(
        self,
        scope: Scope,
        upload: Upload,
        parts: list[UploadPart],
        md5: str | None,
        targets: list[Target],
        quota: Quota | None,
    ) -> FileRecord:
        digest = hashlib.md5(usedforsecurity=False) if md5 else None
        expires = (
            ExpiresAfter(upload.file_expires_after)
            if upload.file_expires_after is not None
            else None
        )

        async def joined() -> AsyncIterator[bytes]:
            for part in parts:
                async for chunk in await self.files.blobs.get(part.blob_key):
                    if digest is not None:
                        digest.update(chunk)
                    yield chunk

        # The file belongs to whoever made the upload, whoever completes it
        # (the master key, a team mate).
        pending = self.files.upload(
            Scope(owner=upload.owner, team=upload.team),
            filename=upload.filename,
            content_type=upload.mime_type,
            purpose=upload.purpose,
            targets=targets,
            max_size=upload.bytes,
            quota=quota,
        )
        async with pending:
            await pending.write(joined())
            if digest is not None and md5 is not None and digest.hexdigest() != md5.lower():
                raise InvalidRequest(
                    f"md5 mismatch: the parts hash to {digest.hexdigest()}, not {md5[:64]}.",
                    param="md5",
                    code="md5_mismatch",
                )
            self.files.check_targets(targets, upload.purpose, expires)
            return await pending.finish(upload.purpose, expires, targets)

    async def _complete_upstream(
        self,
        upload: Upload,
        parts: list[UploadPart],
        md5: str | None,
        targets: list[Target],
        quota: Quota | None,
        remote: UploadingProvider,
        provider_upload_id: str,
    ) -> FileRecord:
        """Complete a forwarded upload upstream and record its file (a Location, no blob)."""
        service, catalog = self.files, self.files.catalog
        file_id, created = new_id()
        record = FileRecord(
            id=file_id,
            filename=upload.filename,
            purpose=upload.purpose,
            created_at=created,
            bytes=upload.bytes,
            content_type=upload.mime_type,
            owner=upload.owner,
            team=upload.team,
            state=FileState.WRITING,
            lease_until=service.now() + LEASE_SECONDS,
        )
        # Inserted first: quotas are checked before anything is made upstream,
        # and if this process dies after the upstream complete, the sweep finds
        # the copy through the WRITING record and deletes it.
        await catalog.insert(record, quota)
        loc: Location | None = None
        try:
            part_ids = [p.provider_part_id or "" for p in parts]
            remote_file = await remote.complete_upload(provider_upload_id, part_ids, md5)
            (target,) = targets
            loc = Location(
                target.deployment,
                target.provider,
                remote_file.id,
                remote_file.status,
                remote_file.status_details,
            )
            await catalog.add_location(record.id, loc)
            if remote_file.bytes and remote_file.bytes != upload.bytes:
                raise InvalidRequest(
                    f"The upstream made a file of {remote_file.bytes} bytes, not {upload.bytes}.",
                    code="bytes_mismatch",
                )
            record.locations = [loc]
            record.status, record.status_details = combined_status(record.locations)
            if upload.file_expires_after is not None:
                record.expires_at = record.created_at + upload.file_expires_after
            elif remote_file.expires_at:
                record.expires_at = int(remote_file.expires_at)
            elif upload.purpose == "batch":
                record.expires_at = record.created_at + BATCH_DEFAULT_EXPIRY
            if not await catalog.publish(record, quota):
                raise InvalidRequest(
                    "The upload took too long to complete and was discarded.",
                    code="upload_timeout",
                )
        except BaseException:
            try:
                if loc is not None:
                    await service._delete_copy(loc)
                await catalog.remove(record.id)
            except Exception:
                log.exception("could not undo file %s; the sweep will", record.id)
            raise
        record.state = FileState.READY
        record.lease_until = None
        return record

    async def cancel(self, scope: Scope, upload_id: str) -> Upload:
        upload = await self.get(scope, upload_id)
        if upload.status != "pending" or not await self.store.transition(
            upload.id, "pending", "cancelled", now=self.now()
        ):
            raise _not_open(await self.get(scope, upload_id))
        await self._drop_parts(upload)
        remote = self._remote(upload)
        if remote is not None:
            await self._cancel_upstream(*remote)
        upload.status = "cancelled"
        return upload

    async def _drop_parts(self, upload: Upload) -> None:
        for part in await self.store.parts(upload.id):
            if part.provider_part_id is None:
                await self.files.blobs.delete(part.blob_key)
            await self.store.drop_parts(upload.id, [part.id])

    async def sweep(self, batch: int = 100) -> int:
        """Expire old uploads and remove parts nobody will use; return uploads handled."""
        now = self.now()
        handled = 0
        for upload in await self.store.stale(now, COMPLETING_GRACE, batch):
            if upload.status in ("pending", "completing") and await self.store.transition(
                upload.id, upload.status, "expired"
            ):
                with contextlib.suppress(FilegateError):
                    remote = self._remote(upload)
                    if remote is not None:
                        await self._cancel_upstream(*remote)
            try:
                await self._drop_parts(upload)
            except Exception:
                log.exception("could not remove the parts of %s; the sweep will retry", upload.id)
                continue
            handled += 1
        return handled


async def _capped(chunks: AsyncIterable[bytes], limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"A part can hold at most {limit} bytes.", param="data")
        yield chunk
