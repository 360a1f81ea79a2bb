"""Vertex AI: a file is an object in Google Cloud Storage, reached through GCS's JSON API.

Vertex has no Files API; batch prediction reads ``gs://`` objects in its own
JSONL format. So a ``batch`` upload is written twice: as Vertex lines (the
object whose ``gs://`` id the catalog keeps and a batch job reads) and as the
client's bytes, untouched, in a sibling object named in the first one's
metadata. Content of such a file streams that original, byte for byte. A
``fine-tune`` upload is kept the same way, its object holding Vertex's supervised-tuning
examples (``contents``), which a tuning job reads. Reading a Vertex batch-prediction
output object turns each line into OpenAI's batch output line on the fly. Batches are
Vertex batch-prediction jobs (``batches``), whose output files are ids ``batch_output``
mints and serves.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx2
import orjson
from ulid import ULID

from filegate.errors import ConfigError, FilegateError, FileNotFound, InvalidRequest
from filegate.google.gcs_client import GCSClient
from filegate.google.tokens import GoogleTokens
from filegate.providers.base import ProviderContent, ProviderFile, ProviderPage, UploadSource
from filegate.providers.ranges import slice_stream
from filegate.providers.vertex_ai import batch_lines as vertex_batch
from filegate.providers.vertex_ai import output_lines as vertex_output
from filegate.providers.vertex_ai.batch_output import is_output_id
from filegate.providers.vertex_ai.batches import VertexBatches
from filegate.providers.vertex_ai.credentials import VertexTokenErrors, load_credentials
from filegate.providers.vertex_ai.fine_tuning import TUNING_ROLE, VertexFineTuning
from filegate.providers.vertex_ai.objects import ORIGINAL, ORIGINAL_BYTES, ROLE, parse_gs_id
from filegate.providers.vertex_ai.tuning_lines import openai_to_tuning
from filegate.records import EXPIRES_MAX, EXPIRES_MIN, PURPOSES, ByteRange, ExpiresAfter
from filegate.upstream.meter import BoundMeter

# How much of an unmarked .jsonl object is read to tell Vertex output from other JSONL.
SNIFF_BYTES = 8 * 1024 * 1024
LIST_PAGE_MAX = 1000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Purposes whose files Vertex reads in its own format: the object's role and the
# line converter (a batch's requests; a fine-tune file's supervised-tuning examples).
CONVERTED = {
    "batch": ("vertex_batch", vertex_batch.openai_to_vertex),
    "fine-tune": (TUNING_ROLE, openai_to_tuning),
}


async def _chain(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for chunk in rest:
        yield chunk


class VertexAIProvider(VertexBatches, VertexFineTuning):
    name = "vertex_ai"
    # GCS stores any bytes; only batch and fine-tune files are rewritten (into Vertex's
    # formats).
    purposes: tuple[str, ...] = PURPOSES

    def __init__(
        self,
        *,
        vertex_project: str | None = None,
        vertex_location: str | None = None,
        vertex_credentials: str | Mapping[str, Any] | None = None,
        gcs_bucket_name: str | None = None,
        gcs_prefix: str | None = None,
        storage_endpoint: str | None = None,
        vertex_api_base: str | None = None,
        token_uri: str | None = None,
        timeout: float = 600.0,
        max_retries: int = 2,
        extra_headers: dict[str, str] | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        meter: BoundMeter | None = None,
    ) -> None:
        if not gcs_bucket_name:
            raise ConfigError("vertex_ai: gcs_bucket_name is required (or set GCS_BUCKET_NAME)")
        # LiteLLM accepts "bucket/prefix" in the bucket name.
        bucket, _, inline_prefix = gcs_bucket_name.strip("/").partition("/")
        prefix = (gcs_prefix if gcs_prefix is not None else inline_prefix).strip("/")
        self.bucket, self.prefix = bucket, f"{prefix}/" if prefix else ""
        self.vertex_project, self.vertex_location = vertex_project, vertex_location
        # An emulator without credentials is spoken to anonymously.
        tokens = None
        if vertex_credentials is not None or storage_endpoint is None:
            tokens = GoogleTokens(
                None
                if vertex_credentials is None
                else load_credentials(vertex_credentials, token_uri=token_uri),
                errors=VertexTokenErrors(),
                timeout=min(timeout, 60),
            )
        self.gcs = GCSClient(
            self.name,
            endpoint=storage_endpoint,
            tokens=tokens,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            transport=transport,
            meter=meter,
        )
        self._init_batches(
            vertex_api_base=vertex_api_base,
            vertex_project=vertex_project,
            vertex_location=vertex_location,
            credentials=vertex_credentials,
            token_uri=token_uri,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            transport=transport,
            meter=meter,
        )

    # -- checks ------------------------------------------------------------------------------

    def check_purpose(self, purpose: str) -> None:
        if purpose not in self.purposes:
            raise InvalidRequest(
                f"{self.name} does not accept purpose {purpose!r}; "
                f"it accepts: {', '.join(self.purposes)}.",
                param="purpose",
                code="unsupported_purpose",
            )

    def check_expires_after(self, expires_after: ExpiresAfter) -> None:
        # GCS has no per-object expiry: the gateway's sweep deletes expired files,
        # and the object's customTime lets a bucket lifecycle rule do the same.
        if not EXPIRES_MIN <= expires_after.seconds <= EXPIRES_MAX:
            raise InvalidRequest(
                f"{self.name} accepts 'expires_after[seconds]' between "
                f"{EXPIRES_MIN} and {EXPIRES_MAX}.",
                param="expires_after[seconds]",
                code="invalid_value",
            )

    # -- paths and objects -------------------------------------------------------------------

    def _file(self, doc: dict[str, Any]) -> ProviderFile:
        name, bucket = str(doc.get("name") or ""), str(doc.get("bucket") or self.bucket)
        meta = doc.get("metadata") or {}
        base = name.rsplit("/", 1)[-1]
        default = "batch_output" if base.startswith("predictions") else "user_data"
        expires = meta.get("expires_at")
        pf = ProviderFile(
            id=f"gs://{bucket}/{name}",
            bytes=int(meta.get(ORIGINAL_BYTES) or doc.get("size") or 0),
            created_at=vertex_output.rfc3339_epoch(doc.get("timeCreated")),
            filename=str(meta.get("filename") or base),
            purpose=str(meta.get("purpose") or default),
            expires_at=int(expires) if isinstance(expires, str) and expires.isdigit() else None,
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
        if pf.expires_at is not None:
            pf.raw["expires_at"] = pf.expires_at
        return pf

    async def _metadata(self, bucket: str, name: str) -> dict[str, Any]:
        return await self.gcs.metadata(bucket, name)

    # -- create ------------------------------------------------------------------------------

    async def create_file(
        self,
        source: UploadSource,
        *,
        filename: str,
        purpose: str,
        content_type: str,
        expires_after: ExpiresAfter | None,
    ) -> ProviderFile:
        self.check_purpose(purpose)
        safe = _UNSAFE.sub("_", filename)[-100:].strip("._") or "file"
        stem = f"{self.prefix}{ULID()}"
        name = f"{stem}/{safe}"
        meta = {"filename": filename, "purpose": purpose}
        custom_time = None
        if expires_after is not None:
            self.check_expires_after(expires_after)
            expires_at = int(time.time()) + expires_after.seconds
            meta["expires_at"] = str(expires_at)
            custom_time = datetime.fromtimestamp(expires_at, UTC).isoformat()
        converted = CONVERTED.get(purpose)
        if converted is None:
            doc = await self._upload(
                name, source.chunks(), content_type, {**meta, ROLE: "file"}, custom_time
            )
            return self._file(doc)
        role, transform = converted
        original = f"{stem}/openai/{safe}"
        lines = vertex_batch.transform_lines(source.chunks(), transform)
        vertex_meta = {
            **meta,
            ROLE: role,
            ORIGINAL: original,
            ORIGINAL_BYTES: str(source.size),
        }
        doc = await self._upload(name, lines, "application/jsonl", vertex_meta, custom_time)
        try:
            original_meta = {**meta, ROLE: "original"}
            await self._upload(original, source.chunks(), content_type, original_meta, custom_time)
        except Exception:
            with contextlib.suppress(FilegateError):
                await self.gcs.delete(self.bucket, name)
            raise
        return self._file(doc)

    async def _upload(
        self,
        name: str,
        chunks: AsyncIterator[bytes],
        content_type: str,
        metadata: dict[str, str],
        custom_time: str | None,
    ) -> dict[str, Any]:
        resource: dict[str, Any] = {"name": name, "contentType": content_type}
        resource["metadata"] = metadata
        if custom_time is not None:
            resource["customTime"] = custom_time
        return await self.gcs.upload(self.bucket, resource, chunks)

    # -- read, list, delete ------------------------------------------------------------------

    async def retrieve_file(self, file_id: str) -> ProviderFile:
        if is_output_id(file_id):
            return await self.batch_outputs.retrieve(file_id)
        return self._file(await self._metadata(*parse_gs_id(file_id)))

    async def list_files(
        self, *, purpose: str | None, limit: int | None, order: str | None, after: str | None
    ) -> ProviderPage:
        """The bucket prefix in name order (our objects' names start time-sortable)."""
        if order not in (None, "asc"):
            raise InvalidRequest(
                f"{self.name} lists objects in name order only; use order=asc.",
                param="order",
                code="unsupported_parameter",
            )
        start = None
        if after is not None:
            bucket, start = parse_gs_id(after)
            if bucket != self.bucket:
                raise InvalidRequest(f"'after' is not in bucket {self.bucket}.", param="after")
        want = limit or 10_000
        found: list[ProviderFile] = []
        token = None
        while True:
            doc = await self.gcs.list_page(
                self.bucket,
                prefix=self.prefix or None,
                startOffset=start,
                pageToken=token,
                maxResults=min(want + 1 - len(found), LIST_PAGE_MAX),
            )
            for item in doc.get("items") or []:
                meta = item.get("metadata") or {}
                # 'after' is exclusive; originals are part of their Vertex object.
                if item.get("name") == start or meta.get(ROLE) == "original":
                    continue
                pf = self._file(item)
                if purpose is None or pf.purpose == purpose:
                    found.append(pf)
            token = doc.get("nextPageToken")
            if len(found) > want or not token:
                return ProviderPage(data=found[:want], has_more=len(found) > want)

    async def delete_file(self, file_id: str) -> None:
        if is_output_id(file_id):
            return await self.batch_outputs.delete(file_id)
        bucket, name = parse_gs_id(file_id)
        meta = (await self._metadata(bucket, name)).get("metadata") or {}
        if isinstance(meta.get(ORIGINAL), str):
            # The original first: should the second delete fail, a retry still finds
            # the Vertex object (and skips the gone original); the other order could
            # leave the original behind with nothing pointing at it.
            with contextlib.suppress(FileNotFound):
                await self.gcs.delete(bucket, meta[ORIGINAL])
        await self.gcs.delete(bucket, name)

    async def file_content(
        self, file_id: str, byte_range: ByteRange | None = None
    ) -> ProviderContent:
        if is_output_id(file_id):
            return await self.batch_outputs.content(file_id, byte_range)
        bucket, name = parse_gs_id(file_id)
        meta = (await self._metadata(bucket, name)).get("metadata") or {}
        if isinstance(meta.get(ORIGINAL), str):
            return await self._download(bucket, meta[ORIGINAL], byte_range)
        if ROLE not in meta and name.endswith(".jsonl"):
            return await self._maybe_output(bucket, name, byte_range)
        return await self._download(bucket, name, byte_range)

    async def _download(
        self, bucket: str, name: str, byte_range: ByteRange | None
    ) -> ProviderContent:
        response = await self.gcs.open(bucket, name, byte_range)
        return self._content(response, response.aiter_raw(), byte_range)

    @staticmethod
    def _content(
        response: httpx2.Response, stream: AsyncIterator[bytes], byte_range: ByteRange | None
    ) -> ProviderContent:
        status = response.status_code
        kept = {
            k: v
            for k, v in response.headers.items()
            if k.lower() in ("content-type", "content-length", "content-range", "etag")
        }
        if byte_range is not None and status == 200:
            # The server ignored the Range header: cut the range out here.
            stream, status = slice_stream(stream, byte_range), 206
            kept.pop("content-length", None)
        return ProviderContent(status, kept, stream, response.aclose)

    async def _maybe_output(
        self, bucket: str, name: str, byte_range: ByteRange | None
    ) -> ProviderContent:
        """An object we did not write: Vertex output lines become OpenAI's, else bytes as is."""
        response = await self.gcs.open(bucket, name, None)
        stream = response.aiter_raw()
        head = bytearray()
        try:
            async for chunk in stream:
                head += chunk
                if b"\n" in chunk or len(head) >= SNIFF_BYTES:
                    break
        except BaseException:
            await response.aclose()
            raise
        try:
            first = orjson.loads(bytes(head).split(b"\n", 1)[0])
        except orjson.JSONDecodeError:
            first = None
        if not vertex_output.is_vertex_output(first):
            if byte_range is None:
                return self._content(response, _chain(bytes(head), stream), None)
            await response.aclose()
            return await self._download(bucket, name, byte_range)
        lines = vertex_batch.transform_lines(
            _chain(bytes(head), stream), vertex_output.vertex_to_openai
        )
        headers = {"content-type": "application/jsonl"}
        if byte_range is None:
            return ProviderContent(200, headers, lines, response.aclose)
        # The rewritten lines' total length is unknown until they have all been made.
        headers["content-range"] = f"bytes {byte_range.start}-{byte_range.end}/*"
        return ProviderContent(206, headers, slice_stream(lines, byte_range), response.aclose)

    async def aclose(self) -> None:
        await self._aclose_batches()
        await self.gcs.aclose()
