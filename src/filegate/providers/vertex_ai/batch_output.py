"""A Vertex AI batch job's output as two OpenAI files: the answered lines and the failed ones.

A job writes ``predictions*.jsonl`` shards under its ``outputInfo.gcsOutputDirectory`` (a
directory it picks below the prefix it was sent), each line holding the request, and a
``response`` or a non-empty ``status``. Neither OpenAI file exists as an object: each is the
shards read in name order, every line converted to OpenAI's output format on the fly and
kept or skipped by whether its request succeeded.

Their sizes are known only once everything has been converted, so the first look makes one
streamed pass and keeps both sizes in the first shard's metadata, where every gateway finds
them (a shard added, removed or rewritten invalidates them). With the size known, a Range is
answered exactly, though reaching its start still means converting from the beginning.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from filegate.errors import FileNotFound, RangeNotSatisfiable
from filegate.google.gcs_client import GCSClient
from filegate.providers.base import ProviderContent, ProviderFile
from filegate.providers.ranges import slice_stream
from filegate.providers.vertex_ai.batch_lines import transform_lines
from filegate.providers.vertex_ai.output_lines import convert_line, rfc3339_epoch
from filegate.records import ByteRange

OUTPUT, ERROR = "output", "error"
_PREFIX = "vertex_batch_"
_ID = re.compile(r"vertex_batch_(output|error):(\d{1,30}):gs://([^/]+)/(.+)")
_SHARD = re.compile(r"predictions[^/]*\.jsonl")
LIST_PAGE_MAX = 1000
# First-shard metadata: the halves' sizes, what they were computed from, and deletes.
# Bump CONVERTER when output_lines changes what it writes: old sizes are then recomputed.
CONVERTER = "1"
_CONVERTER, _SOURCE = "filegate_converter", "filegate_shards"
_SIZE = {OUTPUT: "filegate_output_bytes", ERROR: "filegate_error_bytes"}
_DELETED = {OUTPUT: "filegate_output_deleted", ERROR: "filegate_error_deleted"}


def output_file_id(half: str, job_id: str, directory: str) -> str:
    """The provider file id of one half of a job's output (``gs://`` directory)."""
    return f"{_PREFIX}{half}:{job_id}:{directory.rstrip('/')}"


def is_output_id(file_id: str) -> bool:
    return file_id.startswith(_PREFIX)


@dataclass(frozen=True, slots=True)
class _Ref:
    id: str
    half: str
    job_id: str
    directory: str  # the object-name prefix, without the trailing slash


@dataclass(slots=True)
class _Shards:
    items: list[dict[str, Any]]
    sizes: dict[str, int] | None  # the halves' sizes, when already known

    @property
    def fingerprint(self) -> str:
        """Changes when a shard is added, removed or rewritten (a new generation)."""
        h = hashlib.blake2b(digest_size=16)
        for s in self.items:
            h.update(f"{s.get('name')}\0{s.get('generation')}\0{s.get('size')}\n".encode())
        return h.hexdigest()

    @property
    def first(self) -> dict[str, Any]:
        return self.items[0]

    def deleted(self, half: str) -> bool:
        return (self.first.get("metadata") or {}).get(_DELETED[half]) == "1"


class BatchOutputs:
    """The two output files of every job whose output is under ``bucket``/``prefix``."""

    def __init__(self, gcs: GCSClient, bucket: str, prefix: str) -> None:
        self.gcs, self.bucket, self.prefix = gcs, bucket, prefix

    def _ref(self, file_id: str) -> _Ref:
        m = _ID.fullmatch(file_id)
        # Only our own bucket and prefix: an id is never a way to read another bucket.
        if m is None or m.group(3) != self.bucket or not m.group(4).startswith(self.prefix):
            raise FileNotFound(f"No such File object: {file_id[:128]}", param="file_id")
        return _Ref(file_id, m.group(1), m.group(2), m.group(4).rstrip("/"))

    def _gone(self, ref: _Ref) -> FileNotFound:
        return FileNotFound(f"No such File object: {ref.id[:128]}", param="file_id")

    async def _shards(self, ref: _Ref) -> _Shards:
        """The job's prediction shards in name order; FileNotFound when there are none."""
        items: list[dict[str, Any]] = []
        token = None
        while True:
            doc = await self.gcs.list_page(
                self.bucket,
                prefix=f"{ref.directory}/",
                pageToken=token,
                maxResults=LIST_PAGE_MAX,
            )
            for item in doc.get("items") or []:
                base = str(item.get("name") or "").removeprefix(f"{ref.directory}/")
                if _SHARD.fullmatch(base):
                    items.append(item)
            token = doc.get("nextPageToken")
            if not token:
                break
        if not items:
            raise self._gone(ref)
        items.sort(key=lambda s: str(s["name"]))
        shards = _Shards(items, None)
        meta = shards.first.get("metadata") or {}
        if meta.get(_CONVERTER) == CONVERTER and meta.get(_SOURCE) == shards.fingerprint:
            try:
                shards.sizes = {half: int(meta[key]) for half, key in _SIZE.items()}
            except (KeyError, ValueError):
                shards.sizes = None
        if shards.deleted(ref.half):
            raise self._gone(ref)
        return shards

    async def _lines(
        self, ref: _Ref, shards: _Shards, half: str | None
    ) -> AsyncGenerator[bytes, None]:
        """The converted lines of ``half`` (both when None), shard after shard."""

        def pick(line: bytes, number: int) -> bytes | None:
            converted = convert_line(line, number)
            if converted is None or (half is not None and converted[1] is not (half == OUTPUT)):
                return None
            return converted[0]

        for shard in shards.items:
            response = await self.gcs.open(self.bucket, str(shard["name"]), None)
            try:
                async for chunk in transform_lines(response.aiter_raw(), pick):
                    yield chunk
            finally:
                await response.aclose()

    async def _sizes(self, ref: _Ref, shards: _Shards) -> dict[str, int]:
        """Both halves' sizes: kept ones, else one streamed pass, then kept."""
        if shards.sizes is not None:
            return shards.sizes
        sizes = {OUTPUT: 0, ERROR: 0}

        def count(line: bytes, number: int) -> None:
            converted = convert_line(line, number)
            if converted is not None:
                sizes[OUTPUT if converted[1] else ERROR] += len(converted[0]) + 1

        for shard in shards.items:
            response = await self.gcs.open(self.bucket, str(shard["name"]), None)
            try:
                async for _ in transform_lines(response.aiter_raw(), count):
                    pass
            finally:
                await response.aclose()
        marks = {key: str(sizes[half]) for half, key in _SIZE.items()}
        marks.update({_CONVERTER: CONVERTER, _SOURCE: shards.fingerprint})
        await self._mark(shards, marks)
        shards.sizes = sizes
        return sizes

    async def _mark(self, shards: _Shards, marks: dict[str, str]) -> None:
        # The whole map, not only the new keys: the result is the same whether the
        # store merges metadata on PATCH (GCS) or replaces it.
        first = shards.first
        merged = {**(first.get("metadata") or {}), **marks}
        first["metadata"] = merged
        await self.gcs.patch_metadata(self.bucket, str(first["name"]), merged)

    async def retrieve(self, file_id: str) -> ProviderFile:
        ref = self._ref(file_id)
        shards = await self._shards(ref)
        sizes = await self._sizes(ref, shards)
        created = max(rfc3339_epoch(s.get("timeCreated")) for s in shards.items)
        pf = ProviderFile(
            id=ref.id,
            bytes=sizes[ref.half],
            created_at=created,
            filename=f"batch_{ref.job_id}_{ref.half}.jsonl",
            purpose="batch_output",
        )
        pf.raw = {
            "id": pf.id,
            "object": "file",
            "bytes": pf.bytes,
            "created_at": pf.created_at,
            "filename": pf.filename,
            "purpose": pf.purpose,
            "status": pf.status,
        }
        return pf

    async def content(self, file_id: str, byte_range: ByteRange | None) -> ProviderContent:
        ref = self._ref(file_id)
        shards = await self._shards(ref)
        headers = {"content-type": "application/jsonl"}
        if byte_range is None:
            if shards.sizes is not None:
                headers["content-length"] = str(shards.sizes[ref.half])
            lines = self._lines(ref, shards, ref.half)
            return ProviderContent(200, headers, lines, lines.aclose)
        total = (await self._sizes(ref, shards))[ref.half]
        if byte_range.start >= total:
            raise RangeNotSatisfiable(
                f"The range starts past the end of the file ({total} bytes).",
                param="range",
                headers={"Content-Range": f"bytes */{total}"},
            )
        cut = ByteRange(byte_range.start, min(byte_range.end, total - 1))
        headers["content-range"] = f"bytes {cut.start}-{cut.end}/{total}"
        headers["content-length"] = str(cut.length)
        lines = self._lines(ref, shards, ref.half)
        return ProviderContent(206, headers, slice_stream(lines, cut), lines.aclose)

    async def delete(self, file_id: str) -> None:
        """Forget one half; the shards go once neither half is left."""
        ref = self._ref(file_id)
        shards = await self._shards(ref)
        sizes = await self._sizes(ref, shards)
        other = ERROR if ref.half == OUTPUT else OUTPUT
        if sizes[other] and not shards.deleted(other):
            await self._mark(shards, {_DELETED[ref.half]: "1"})
            return
        # The marked first shard last: should a delete fail, a retry still finds the job.
        for shard in reversed(shards.items):
            with contextlib.suppress(FileNotFound):
                await self.gcs.delete(self.bucket, str(shard["name"]))
