"""OpenAI's Files API (and any server that speaks it, such as another filegate)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx2
import orjson

from filegate.errors import InvalidRequest, UpstreamError
from filegate.providers.base import ProviderContent, ProviderFile, ProviderPage, UploadSource
from filegate.providers.openai.batches import OpenAIBatches
from filegate.providers.openai.fine_tuning import OpenAIFineTuning
from filegate.providers.openai.parts import Parts
from filegate.providers.ranges import slice_stream
from filegate.records import EXPIRES_MAX, EXPIRES_MIN, ByteRange, ExpiresAfter
from filegate.upstream.client import WireClient, multipart_body
from filegate.upstream.meter import BoundMeter

OPENAI_API_BASE = "https://api.openai.com/v1"
# OpenAI's limits: the Files API takes files up to 512 MB; larger ones go
# through the Uploads API (up to 8 GB), in parts of at most 64 MB.
FILES_API_MAX_BYTES = 512 * 1024 * 1024
UPLOAD_PART_BYTES = 64 * 1024 * 1024


class OpenAIProvider(OpenAIBatches, OpenAIFineTuning):
    name = "openai"
    purposes: tuple[str, ...] = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
    expires_range: tuple[int, int] | None = (EXPIRES_MIN, EXPIRES_MAX)

    def __init__(
        self,
        *,
        api_key: str | None,
        api_base: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: float = 600.0,
        max_retries: int = 2,
        extra_headers: dict[str, str] | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        files_api_max_bytes: int = FILES_API_MAX_BYTES,
        upload_part_bytes: int = UPLOAD_PART_BYTES,
        meter: BoundMeter | None = None,
    ) -> None:
        self.files_api_max_bytes = files_api_max_bytes
        self.upload_part_bytes = upload_part_bytes
        headers = {"Accept": "application/json", **(extra_headers or {})}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        self.wire = WireClient(
            self.name,
            base_url=api_base or OPENAI_API_BASE,
            headers=headers,
            timeout=timeout,
            max_retries=max_retries,
            transport=transport,
            meter=meter,
        )

    def _path(self, *parts: str) -> str:
        return "/".join(("/files", *parts))

    def _upload_path(self, *parts: str) -> str:
        return "/".join(("/uploads", *parts))

    def check_purpose(self, purpose: str) -> None:
        if purpose not in self.purposes:
            raise InvalidRequest(
                f"{self.name} does not accept purpose {purpose!r}; "
                f"it accepts: {', '.join(self.purposes)}.",
                param="purpose",
                code="unsupported_purpose",
            )

    def check_expires_after(self, expires_after: ExpiresAfter) -> None:
        if self.expires_range is None:
            raise InvalidRequest(
                f"{self.name} cannot expire files; 'expires_after' cannot be honoured here.",
                param="expires_after[seconds]",
                code="unsupported_parameter",
            )
        low, high = self.expires_range
        if not low <= expires_after.seconds <= high:
            raise InvalidRequest(
                f"{self.name} accepts 'expires_after[seconds]' between {low} and {high}.",
                param="expires_after[seconds]",
                code="invalid_value",
            )

    def _file(self, doc: dict[str, Any]) -> ProviderFile:
        if "id" not in doc:
            raise UpstreamError(f"{self.name}: the upstream answered without a file id.")
        return ProviderFile.from_openai(doc)

    async def create_file(
        self,
        source: UploadSource,
        *,
        filename: str,
        purpose: str,
        content_type: str,
        expires_after: ExpiresAfter | None,
        extra_fields: Sequence[tuple[str, str]] = (),
    ) -> ProviderFile:
        """Upload; ``extra_fields`` are sent as further form fields for the upstream to judge."""
        self.check_purpose(purpose)
        fields = [("purpose", purpose)]
        if expires_after is not None:
            self.check_expires_after(expires_after)
            fields += [
                ("expires_after[anchor]", expires_after.anchor),
                ("expires_after[seconds]", str(expires_after.seconds)),
            ]
        fields += extra_fields
        if source.size > self.files_api_max_bytes and not extra_fields:
            return await self._create_in_parts(
                source,
                filename=filename,
                purpose=purpose,
                content_type=content_type,
                expires_after=expires_after,
            )
        ctype, length, body = multipart_body(fields, filename, content_type, source)
        doc = await self.wire.json(
            "POST",
            self._path(),
            body=body,
            retry_unsafe=False,
            headers={"Content-Type": ctype, "Content-Length": str(length)},
        )
        return self._file(doc)

    async def _create_in_parts(
        self,
        source: UploadSource,
        *,
        filename: str,
        purpose: str,
        content_type: str,
        expires_after: ExpiresAfter | None,
    ) -> ProviderFile:
        """A file too large for the Files API, through the Uploads API; the bytes are read once."""
        if not self.supports_uploads:
            raise InvalidRequest(
                f"File is larger than the {self.files_api_max_bytes:,} bytes {self.name}'s "
                "Files API takes, and this deployment's API version has no Uploads API.",
                param="file",
            )
        upload_id = await self.create_upload(
            filename=filename,
            purpose=purpose,
            nbytes=source.size,
            mime_type=content_type,
            expires_after=expires_after,
        )
        parts = Parts(source, self.upload_part_bytes)
        try:
            part_ids = [await self.add_upload_part(upload_id, part) for part in parts]
            return await self.complete_upload(upload_id, part_ids, None)
        except BaseException:
            # Best effort: an upload left open expires upstream after an hour.
            with contextlib.suppress(Exception):
                await self.cancel_upload(upload_id)
            raise
        finally:
            await parts.aclose()

    async def list_files(
        self, *, purpose: str | None, limit: int | None, order: str | None, after: str | None
    ) -> ProviderPage:
        doc = await self.wire.json(
            "GET",
            self._path(),
            params={"purpose": purpose, "limit": limit, "order": order, "after": after},
        )
        data = [self._file(d) for d in doc.get("data") or [] if isinstance(d, dict)]
        # Without has_more an SDK's auto-pagination never ends; an upstream
        # that omits it is taken to have no more when the page is short.
        has_more = doc.get("has_more")
        if not isinstance(has_more, bool):
            has_more = bool(data) and limit is not None and len(data) >= limit
        return ProviderPage(data=data, has_more=has_more)

    async def retrieve_file(self, file_id: str) -> ProviderFile:
        return self._file(await self.wire.json("GET", self._path(file_id)))

    async def delete_file(self, file_id: str) -> None:
        await self.wire.json("DELETE", self._path(file_id))

    async def file_content(
        self, file_id: str, byte_range: ByteRange | None = None
    ) -> ProviderContent:
        # OpenAI's spec types the body as application/json (a string) and a strict
        # upstream answers 406 to any other Accept; the bytes come raw either way.
        headers = {"Accept": "application/json, */*", "Accept-Encoding": "identity"}
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range.start}-{byte_range.end}"
        response = await self.wire.request(
            "GET", self._path(file_id, "content"), headers=headers, stream=True
        )
        stream: AsyncIterator[bytes] = response.aiter_raw()
        status = response.status_code
        if byte_range is not None and status == 200:
            # The upstream ignored the Range header: cut the range out ourselves.
            stream = slice_stream(stream, byte_range)
            status = 206
        kept = {
            k: v
            for k, v in response.headers.items()
            if k.lower() in ("content-type", "content-length", "content-range", "etag")
        }
        if byte_range is not None and response.status_code == 200:
            kept.pop("content-length", None)
        return ProviderContent(status, kept, stream, response.aclose)

    # -- the Uploads API (UploadingProvider) --------------------------------------------------

    @property
    def supports_uploads(self) -> bool:
        return True

    async def create_upload(
        self,
        *,
        filename: str,
        purpose: str,
        nbytes: int,
        mime_type: str,
        expires_after: ExpiresAfter | None,
    ) -> str:
        self.check_purpose(purpose)
        body: dict[str, Any] = {
            "filename": filename,
            "purpose": purpose,
            "bytes": nbytes,
            "mime_type": mime_type,
        }
        if expires_after is not None:
            self.check_expires_after(expires_after)
            body["expires_after"] = {
                "anchor": expires_after.anchor,
                "seconds": expires_after.seconds,
            }
        doc = await self.wire.json(
            "POST", self._upload_path(), body=_json_body(body), retry_unsafe=False, headers=_JSON
        )
        return self._id(doc, "upload")

    async def add_upload_part(self, upload_id: str, source: UploadSource) -> str:
        ctype, length, body = multipart_body(
            [], "blob", "application/octet-stream", source, field="data"
        )
        doc = await self.wire.json(
            "POST",
            self._upload_path(upload_id, "parts"),
            body=body,
            retry_unsafe=False,
            headers={"Content-Type": ctype, "Content-Length": str(length)},
        )
        return self._id(doc, "upload part")

    async def complete_upload(
        self, upload_id: str, part_ids: Sequence[str], md5: str | None
    ) -> ProviderFile:
        body: dict[str, Any] = {"part_ids": list(part_ids)}
        if md5:
            body["md5"] = md5
        doc = await self.wire.json(
            "POST",
            self._upload_path(upload_id, "complete"),
            body=_json_body(body),
            retry_unsafe=False,
            headers=_JSON,
        )
        file = doc.get("file")
        if not isinstance(file, dict):
            raise UpstreamError(f"{self.name}: the completed upload carries no file.")
        return self._file(file)

    async def cancel_upload(self, upload_id: str) -> None:
        await self.wire.json(
            "POST", self._upload_path(upload_id, "cancel"), body=_json_body({}), headers=_JSON
        )

    def _id(self, doc: dict[str, Any], what: str) -> str:
        value = doc.get("id")
        if not isinstance(value, str) or not value:
            raise UpstreamError(f"{self.name}: the upstream answered without an {what} id.")
        return value

    async def aclose(self) -> None:
        await self.wire.aclose()


_JSON = {"Content-Type": "application/json"}


def _json_body(doc: dict[str, Any]) -> Callable[[], AsyncIterator[bytes]]:
    data = orjson.dumps(doc)

    async def body() -> AsyncIterator[bytes]:
        yield data

    return body
