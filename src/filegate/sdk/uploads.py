"""OpenAI's Uploads API from the SDK: a large file sent in parts, then completed.

``acreate_upload`` opens an upload of a stated size; ``aadd_upload_part`` sends one
part (at most 64 MiB; parts may go side by side); ``acomplete_upload`` names the
parts in file order and returns the upload with its file; ``acancel_upload`` drops
it. Each has a sync twin. They speak to a filegate gateway or any OpenAI-compatible
server: ``api_base`` / ``FILEGATE_API_BASE``, ``api_key`` / ``FILEGATE_API_KEY``.

A part's ``data`` is anything ``acreate_file`` takes as ``file`` (a path, bytes, a
binary file object), read in chunks; a seekable file object is read from its
position to its end, so a window over a larger file sends just that window. A part
is retried (``max_retries``) only when the server cannot have kept it: a failure to
connect, 429 or 5xx.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from filegate.errors import InvalidRequest, UpstreamError
from filegate.sdk.connection import Connection
from filegate.sdk.portal import sync_twin
from filegate.sdk.sources import FileInput, open_upload
from filegate.sdk.types import FileObject
from filegate.upstream.client import WireClient, multipart_body

__all__ = [
    "UploadObject",
    "UploadPartObject",
    "aadd_upload_part",
    "acancel_upload",
    "acomplete_upload",
    "acreate_upload",
    "add_upload_part",
    "cancel_upload",
    "complete_upload",
    "create_upload",
]

_JSON = {"Content-Type": "application/json"}


class UploadObject(BaseModel):
    """An upload, as OpenAI's Uploads API describes it; ``file`` once completed."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    object: Literal["upload"] = "upload"
    bytes: int
    created_at: int
    expires_at: int | None = None
    filename: str
    purpose: str
    status: str
    file: FileObject | None = None


class UploadPartObject(BaseModel):
    """One part received: its id is what ``acomplete_upload`` names."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    object: Literal["upload.part"] = "upload.part"
    created_at: int
    upload_id: str


def _body(doc: Mapping[str, Any]) -> Any:
    data = orjson.dumps(doc)

    async def body() -> Any:
        yield data

    return body


async def _post_json(wire: WireClient, path: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    return await wire.json("POST", path, body=_body(doc), retry_unsafe=False, headers=_JSON)


def _upload(doc: dict[str, Any]) -> UploadObject:
    try:
        return UploadObject.model_validate(doc)
    except ValueError:
        raise UpstreamError("filegate: the server answered with no upload object.") from None


def _upload_id(upload_id: object) -> str:
    if not isinstance(upload_id, str) or not upload_id or "/" in upload_id:
        raise InvalidRequest("upload_id must be a non-empty string.", param="upload_id")
    return upload_id


async def acreate_upload(
    *,
    filename: str,
    purpose: str,
    bytes: int,
    mime_type: str,
    expires_after: Mapping[str, Any] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> UploadObject:
    """Open an upload of ``bytes`` bytes. ``extra_body`` carries a gateway's routing
    fields (``custom_llm_provider``, ``model``, ``target_model_names``)."""
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    doc: dict[str, Any] = {
        **(extra_body or {}),
        "filename": filename,
        "purpose": purpose,
        "bytes": bytes,
        "mime_type": mime_type,
    }
    if expires_after is not None:
        doc["expires_after"] = dict(expires_after)
    async with conn.wire() as wire:
        return _upload(await _post_json(wire, "/uploads", doc))


async def aadd_upload_part(
    upload_id: str,
    data: FileInput,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> UploadPartObject:
    """Send one part of an upload; its bytes are streamed, never held whole."""
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    path = f"/uploads/{_upload_id(upload_id)}/parts"
    async with open_upload(data) as upload, conn.wire() as wire:
        ctype, length, body = multipart_body(
            [], "blob", "application/octet-stream", upload.source, field="data"
        )
        doc = await wire.json(
            "POST",
            path,
            body=body,
            retry_unsafe=False,
            headers={"Content-Type": ctype, "Content-Length": str(length)},
        )
    try:
        return UploadPartObject.model_validate(doc)
    except ValueError:
        raise UpstreamError("filegate: the server answered with no upload part.") from None


async def acomplete_upload(
    upload_id: str,
    part_ids: Sequence[str],
    md5: str | None = None,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> UploadObject:
    """Complete an upload with its parts in file order; the upload carries its file."""
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    doc: dict[str, Any] = {"part_ids": list(part_ids)}
    if md5 is not None:
        doc["md5"] = md5
    async with conn.wire() as wire:
        return _upload(await _post_json(wire, f"/uploads/{_upload_id(upload_id)}/complete", doc))


async def acancel_upload(
    upload_id: str,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> UploadObject:
    """Cancel an upload; its parts are dropped."""
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    async with conn.wire() as wire:
        return _upload(await _post_json(wire, f"/uploads/{_upload_id(upload_id)}/cancel", {}))


create_upload = sync_twin(acreate_upload, "create_upload")
add_upload_part = sync_twin(aadd_upload_part, "add_upload_part")
complete_upload = sync_twin(acomplete_upload, "complete_upload")
cancel_upload = sync_twin(acancel_upload, "cancel_upload")
