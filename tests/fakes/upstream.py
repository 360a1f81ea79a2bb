"""A fake OpenAI / Azure OpenAI Files upstream for filegate's integration tests.

It speaks the Files wire formats of both providers closely enough that the gateway's provider
code (and the official ``openai`` SDK) cannot tell it from the real thing, and it adds test
controls under ``/__admin``.

Run it as a process::

    python tests/fakes/upstream.py --port 8901 --state-dir /tmp/fake-upstream

or build the ASGI app in-process with :func:`create_app`.

Surfaces
--------
* OpenAI, prefix ``/v1``: ``POST/GET /v1/files``, ``GET/DELETE /v1/files/{id}``,
  ``GET /v1/files/{id}/content``. ``Authorization: Bearer <openai_key>``. Files are
  ``processed`` at once. Ids are ``file-`` + 24 alphanumerics.
* Azure classic data plane: ``/openai/files`` (+ ``/{id}``, ``/{id}/content``) with a required,
  dated ``api-version`` query parameter (``2024-10-21`` ...). Create answers ``201`` with a
  ``Location`` header and ``status: "pending"``; retrieves move the file through the configured
  steps (default ``running`` then ``processed``). List answers ``{"object": "list", "data": [...]}``
  honouring ``purpose`` only, as the 2024-10-21 spec declares (switchable, see ``/__admin/config``).
* Azure v1: ``/openai/v1/files...``, ``api-version`` optional (``v1`` or ``preview``). Create
  answers ``200`` (as the v1 spec declares), list paginates (``limit``, ``order``, ``after``,
  ``has_more``). Error bodies carry ``param``, ``type`` and ``inner_error``.
* Uploads API, on ``/v1``, ``/openai/v1`` and (dated preview versions from ``2024-08-01-preview``
  on; 404 on GA versions such as ``2024-10-21``) ``/openai``: ``POST /uploads`` (JSON ``{filename,
  purpose, bytes, mime_type, expires_after?}``; ids ``upload_`` + 24 alphanumerics),
  ``POST /uploads/{id}/parts`` (multipart field ``data``, at most 64 MiB, kept on disk; ids
  ``part_`` + 24 alphanumerics), ``POST /uploads/{id}/complete`` (JSON ``{part_ids, md5?}``: the
  parts must be this upload's, their bytes must sum to ``bytes`` and the md5, when given, must
  match; a refused complete leaves the upload pending; a completed one makes an ordinary file of
  that surface), ``POST /uploads/{id}/cancel``. Ops ``upload_create``, ``upload_part``,
  ``upload_complete``, ``upload_cancel`` (log entries carry ``upload_id``). ``GET
  /__admin/uploads`` -> ``{"data": [upload objects + surface, parts: [{id, bytes}]]}``.
* Azure auth: ``api-key: <azure_key>`` or ``Authorization: Bearer <azure_ad_token>``; the v1
  surface also takes ``Authorization: Bearer <azure_key>`` (its ``ApiKeyAuth_`` scheme).
  Azure files live in one store shared by both Azure surfaces.

Admin (no auth, JSON in and out, never recorded in the request log)
-------------------------------------------------------------------
``GET /__admin/health`` -> ``{"ok": true}``.

``POST /__admin/reset`` -> ``{"ok": true}``: forgets files (and blobs), request log, faults, config.

``GET /__admin/requests[?surface=&api=&op=]`` -> ``{"requests": [entry, ...]}``, oldest first.
An entry: ``seq, time, surface ("openai"|"azure"), api ("openai"|"azure-classic"|"azure-v1"),
op, file_id, method, path, query (raw), query_params, headers`` (lower-case names, repeats joined
with ", "), ``openai_organization, openai_project, content_length`` (declared or null),
``transfer_encoding, body_bytes`` (actually received), ``body_complete, multipart`` (null, or
``{fields: [names in wire order], values: {name: text}, file: {field, filename, content_type,
size, sha256}, other_files: [...]}``), ``fault`` (the fault applied), ``status`` (null when
dropped), ``dropped, client_disconnected``. ``DELETE /__admin/requests`` clears the log only.

``POST /__admin/faults`` with one spec or a list -> ``{"faults": [spec + id, used]}``. A spec:
``{"op": "create"|"list"|"retrieve"|"delete"|"content"|"upload_create"|"upload_part"|
"upload_complete"|"upload_cancel"|"any" (default any), "surface":
"openai"|"azure"|"any" (default any), "status": 500, "body": {...}, "headers": {...},
"delay": 0.0, "times": 1 (null = unlimited), "after_bytes": null, "drop": false,
"drop_mode": "reset"|"close"}``. Faults match in order, after the auth and api-version checks.
Without ``after_bytes``: sleep ``delay``, then drop, or answer ``status`` with ``body`` (default:
that provider's own error body for the status) and ``headers``, or carry on. A create reads (and
discards) the whole upload first, except with ``drop``, which hangs up before reading the body.
``after_bytes`` on create and upload_part: read exactly that many body bytes, sleep ``delay``,
then drop, or drain the rest and answer ``status``, or carry on (a stall). On content: send
that many bytes of the file, sleep ``delay``, then drop or carry on. ``drop_mode`` reset = RST
(``SO_LINGER 0``), close = FIN. ``GET /__admin/faults`` lists pending faults, ``DELETE`` clears
them.

``GET|POST /__admin/config`` (POST a partial object) -> ``{"config": {...}}``; keys:
``azure_initial_status`` ("pending"), ``azure_status_steps`` (["running", "processed"]: the status
each retrieve after create moves to, the last one sticks), ``azure_classic_list`` ("spec": purpose
filter only and ``{object, data}``; "paginated": v1-style), ``azure_v1_create_status`` (200),
``azure_validate_filename`` (true: fine-tune uploads need a ``.jsonl`` name),
``azure_extra_api_versions`` ([]: more dated versions to accept).

``POST /__admin/azure-status`` ``{"id", "status", "status_details"?, "steps"?: []}`` -> the admin
view of the file: sets its status now and replaces its pending steps (works on any file).

``POST /__admin/seed`` ``{"surface": "openai"|"azure", "purpose", "filename", "content" |
"content_b64" | "size", "status" ("processed"), "status_details", "created_at" (now - 3600),
"expires_at", "id", "count" (1)}`` -> ``{"data": [file objects]}``: files "made outside the
gateway"; with ``count`` each gets ``created_at + i`` and a ``-i`` filename suffix.

``GET /__admin/files`` -> ``{"data": [file object + surface, sha256, path, content_type,
organization, project, origin ("api"|"seed"|"upload"), pending_steps]}``.

Uploads are parsed with python-multipart's streaming parser and written straight into
``state_dir/tmp`` (then renamed into ``state_dir/blobs``), so memory stays flat for any size;
content is served from disk in 64 KiB chunks.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import socket
import string
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast

import uvicorn
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

Surface = Literal["openai", "azure"]
Api = Literal["openai", "azure-classic", "azure-v1"]
Op = Literal[
    "create",
    "list",
    "retrieve",
    "delete",
    "content",
    "upload_create",
    "upload_part",
    "upload_complete",
    "upload_cancel",
]

OPS: tuple[str, ...] = (
    "create",
    "list",
    "retrieve",
    "delete",
    "content",
    "upload_create",
    "upload_part",
    "upload_complete",
    "upload_cancel",
)
UPLOAD_OPS = frozenset({"upload_create", "upload_part", "upload_complete", "upload_cancel"})
CHUNK = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024

# --- OpenAI facts (shared/specs/openai-openapi.yaml, CreateFileRequest / listFiles) ------------
OPENAI_CREATE_PURPOSES: tuple[str, ...] = (
    "assistants",
    "batch",
    "fine-tune",
    "vision",
    "user_data",
    "evals",
)
OPENAI_CREATE_FIELDS = frozenset(
    {"purpose", "file", "expires_after[anchor]", "expires_after[seconds]"}
)
OPENAI_EXPIRES_MIN = 3600
OPENAI_EXPIRES_MAX = 2_592_000
OPENAI_BATCH_DEFAULT_TTL = 2_592_000  # "purpose=batch files expire after 30 days" by default
OPENAI_LIST_MAX = 10_000
OPENAI_500_MESSAGE = "The server had an error while processing your request. Sorry about that!"
# Uploads (shared/specs/openai-files-contract.md): 8 GB in all, parts of 64 MB, an hour to live.
UPLOAD_MAX_BYTES = 8 * 1024**3
UPLOAD_PART_MAX = 64 * 1024**2
UPLOAD_TTL = 3600
UPLOAD_CREATE_FIELDS = frozenset({"filename", "purpose", "bytes", "mime_type", "expires_after"})
# Azure's dated data plane has /openai/uploads from this preview version on (none on GA versions).
AZURE_UPLOADS_SINCE = "2024-08-01"

# --- Azure facts --------------------------------------------------------------------------------
# Classic purposes: authoring/stable/2024-10-21/azureopenai.json, Files_Upload formData enum.
AZURE_CLASSIC_PURPOSES: tuple[str, ...] = (
    "fine-tune",
    "fine-tune-results",
    "assistants",
    "assistants_output",
    "batch",
)
# v1 purposes: OpenAI.v1 azure-v1-v1-generated.yaml, AzureCreateFileRequestMultiPart.
AZURE_V1_PURPOSES: tuple[str, ...] = ("assistants", "batch", "fine-tune", "evals")
AZURE_STATUSES: tuple[str, ...] = (
    "uploaded",
    "pending",
    "running",
    "processed",
    "error",
    "deleting",
    "deleted",
)
AZURE_V1_API_VERSIONS = frozenset({"v1", "preview"})
AZURE_CLASSIC_API_VERSIONS = frozenset(
    {
        "2022-12-01",
        "2023-05-15",
        "2024-02-01",
        "2024-06-01",
        "2024-10-21",
        "2023-03-15-preview",
        "2023-06-01-preview",
        "2023-07-01-preview",
        "2023-08-01-preview",
        "2023-09-01-preview",
        "2023-10-01-preview",
        "2023-12-01-preview",
        "2024-02-15-preview",
        "2024-03-01-preview",
        "2024-04-01-preview",
        "2024-05-01-preview",
        "2024-07-01-preview",
        "2024-08-01-preview",
        "2024-09-01-preview",
        "2024-10-01-preview",
        "2024-12-01-preview",
        "2025-01-01-preview",
        "2025-02-01-preview",
        "2025-03-01-preview",
        "2025-04-01-preview",
    }
)
# expires_after on Azure files: documented from api-version 2025-03-01-preview (and v1),
# "a number between 1209600-2592000. This is equivalent to 14-30 days".
AZURE_EXPIRES_SINCE = "2025-03-01"
AZURE_EXPIRES_MIN = 1_209_600
AZURE_EXPIRES_MAX = 2_592_000
AZURE_401_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)
# Status -> (code, message) for injected faults without a body; codes from the ErrorCode enum.
AZURE_FAULT_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("invalidPayload", "The request data is invalid for this operation."),
    401: ("401", AZURE_401_MESSAGE),
    403: ("forbidden", "The operation is forbidden for the current user/api key."),
    404: ("404", "Resource not found"),
    409: ("conflict", "The requested operation conflicts with the current resource state."),
    429: ("429", "Requests to the Files API have exceeded the rate limit. Please retry after 1 s."),
    500: ("internalFailure", "Internal error. Please retry."),
    503: ("serviceUnavailable", "The service is currently not available."),
}

_ALNUM = string.ascii_letters + string.digits


def _rand_alnum(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def new_openai_file_id() -> str:
    return "file-" + _rand_alnum(24)


def new_azure_file_id(purpose: str) -> str:
    # Azure: "file-" + 32 hex (e.g. file-181a1cbdcdcf4677ada87f63a0928099); assistants uploads
    # get "assistant-" + 24 alphanumerics (e.g. assistant-1YGVTvNzc2JXajI5JU9F0HMD).
    if purpose == "assistants":
        return "assistant-" + _rand_alnum(24)
    return "file-" + uuid.uuid4().hex


# =================================================================================================
# State
# =================================================================================================


@dataclass
class StoredFile:
    id: str
    surface: Surface
    purpose: str
    filename: str
    bytes: int
    created_at: int
    seq: int
    path: Path
    sha256: str
    status: str
    status_details: str | None = None
    expires_at: int | None = None
    steps: list[str] = field(default_factory=list)
    content_type: str | None = None
    organization: str | None = None
    project: str | None = None
    origin: str = "api"

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def wire(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "object": "file",
            "id": self.id,
            "purpose": self.purpose,
            "filename": self.filename,
            "bytes": self.bytes,
            "created_at": self.created_at,
        }
        if self.expires_at is not None:
            obj["expires_at"] = self.expires_at
        obj["status"] = self.status
        if self.status_details is not None:
            obj["status_details"] = self.status_details
        return obj

    def admin(self) -> dict[str, Any]:
        return {
            **self.wire(),
            "surface": self.surface,
            "sha256": self.sha256,
            "path": str(self.path),
            "content_type": self.content_type,
            "organization": self.organization,
            "project": self.project,
            "origin": self.origin,
            "pending_steps": list(self.steps),
        }


@dataclass
class StoredUpload:
    id: str
    surface: Surface
    filename: str
    purpose: str
    bytes: int
    mime_type: str
    created_at: int
    expires_at: int
    file_expires_after: int | None = None
    status: str = "pending"
    parts: dict[str, tuple[Path, int]] = field(default_factory=dict)
    file: StoredFile | None = None

    def wire(self) -> dict[str, Any]:
        status = self.status
        if status == "pending" and self.expires_at <= time.time():
            status = "expired"
        return {
            "id": self.id,
            "object": "upload",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": status,
            "file": self.file.wire() if self.file is not None else None,
        }

    def admin(self) -> dict[str, Any]:
        return {
            **self.wire(),
            "surface": self.surface,
            "parts": [{"id": k, "bytes": v[1]} for k, v in self.parts.items()],
        }


@dataclass
class Fault:
    id: int
    op: str
    surface: str
    status: int | None
    body: Any
    headers: dict[str, str]
    delay: float
    times: int | None
    after_bytes: int | None
    drop: bool
    drop_mode: str
    used: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "op": self.op,
            "surface": self.surface,
            "status": self.status,
            "body": self.body,
            "headers": dict(self.headers),
            "delay": self.delay,
            "times": self.times,
            "after_bytes": self.after_bytes,
            "drop": self.drop,
            "drop_mode": self.drop_mode,
            "used": self.used,
        }


class AdminError(Exception):
    """A bad admin request; answered with 400 ``{"error": message}``."""


def _default_config() -> dict[str, Any]:
    return {
        "azure_initial_status": "pending",
        "azure_status_steps": ["running", "processed"],
        "azure_classic_list": "spec",
        "azure_v1_create_status": 200,
        "azure_validate_filename": True,
        "azure_extra_api_versions": [],
    }


class UpstreamState:
    def __init__(self, state_dir: Path, *, openai_key: str, azure_key: str, azure_ad_token: str):
        self.state_dir = state_dir
        self.blob_dir = state_dir / "blobs"
        self.tmp_dir = state_dir / "tmp"
        self.openai_key = openai_key
        self.azure_key = azure_key
        self.azure_ad_token = azure_ad_token
        self.files: dict[str, StoredFile] = {}
        self.uploads: dict[str, StoredUpload] = {}
        self.log: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.config: dict[str, Any] = _default_config()
        self._seq = 0
        self._log_seq = 0
        self._fault_seq = 0
        self.reset()

    def reset(self) -> None:
        for d in (self.blob_dir, self.tmp_dir):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True, exist_ok=True)
        self.files.clear()
        self.uploads.clear()
        self.log.clear()
        self.faults.clear()
        self.config = _default_config()

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # -- files -----------------------------------------------------------------------------------
    def get(self, surface: Surface, file_id: str) -> StoredFile | None:
        f = self.files.get(file_id)
        if f is None or f.surface != surface:
            return None
        if f.expired(time.time()):
            self.remove(f)
            return None
        return f

    def listing(self, surface: Surface, purpose: str | None) -> list[StoredFile]:
        now = time.time()
        for f in [f for f in self.files.values() if f.expired(now)]:
            self.remove(f)
        out = [f for f in self.files.values() if f.surface == surface]
        if purpose:
            out = [f for f in out if f.purpose == purpose]
        out.sort(key=lambda f: (f.created_at, f.seq))
        return out

    def remove(self, f: StoredFile) -> None:
        self.files.pop(f.id, None)
        with contextlib.suppress(FileNotFoundError):
            f.path.unlink()

    def new_tmp_path(self) -> Path:
        return self.tmp_dir / f"{uuid.uuid4().hex}.part"

    # -- faults ----------------------------------------------------------------------------------
    def add_fault(self, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise AdminError("fault must be a JSON object")
        op = spec.get("op", "any")
        if op not in (*OPS, "any"):
            raise AdminError(f"op must be one of {[*OPS, 'any']}")
        surface = spec.get("surface", "any")
        if surface not in ("openai", "azure", "any"):
            raise AdminError("surface must be openai, azure or any")
        status = spec.get("status")
        if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
            raise AdminError("status must be an HTTP status code")
        headers = spec.get("headers") or {}
        if not isinstance(headers, dict):
            raise AdminError("headers must be an object")
        delay = spec.get("delay", 0.0) or 0.0
        if not isinstance(delay, int | float) or delay < 0:
            raise AdminError("delay must be a number >= 0")
        times = spec.get("times", 1)
        if times is not None and (not isinstance(times, int) or times < 1):
            raise AdminError("times must be an integer >= 1, or null for unlimited")
        after_bytes = spec.get("after_bytes")
        if after_bytes is not None and (not isinstance(after_bytes, int) or after_bytes < 0):
            raise AdminError("after_bytes must be an integer >= 0")
        if after_bytes is not None and op not in ("create", "content", "upload_part"):
            raise AdminError("after_bytes applies to op create, upload_part or content only")
        drop = bool(spec.get("drop", False))
        drop_mode = spec.get("drop_mode", "reset")
        if drop_mode not in ("reset", "close"):
            raise AdminError("drop_mode must be reset or close")
        if status is None and not drop and not delay:
            raise AdminError("a fault needs status, drop or delay")
        self._fault_seq += 1
        fault = Fault(
            id=self._fault_seq,
            op=op,
            surface=surface,
            status=status,
            body=spec.get("body"),
            headers={str(k): str(v) for k, v in headers.items()},
            delay=float(delay),
            times=times,
            after_bytes=after_bytes,
            drop=drop,
            drop_mode=drop_mode,
        )
        self.faults.append(fault)
        return fault

    def take_fault(self, op: str, surface: Surface) -> Fault | None:
        for fault in self.faults:
            if fault.op in (op, "any") and fault.surface in (surface, "any"):
                fault.used += 1
                if fault.times is not None and fault.used >= fault.times:
                    self.faults.remove(fault)
                return fault
        return None

    # -- config ----------------------------------------------------------------------------------
    def update_config(self, spec: Any) -> None:
        if not isinstance(spec, dict):
            raise AdminError("config must be a JSON object")
        new = dict(self.config)
        for key, value in spec.items():
            if key not in new:
                raise AdminError(f"unknown config key {key!r}; known: {sorted(new)}")
            if key == "azure_initial_status" and value not in AZURE_STATUSES:
                raise AdminError(f"azure_initial_status must be one of {AZURE_STATUSES}")
            if key == "azure_status_steps" and (
                not isinstance(value, list) or any(v not in AZURE_STATUSES for v in value)
            ):
                raise AdminError(f"azure_status_steps must be a list of {AZURE_STATUSES}")
            if key == "azure_classic_list" and value not in ("spec", "paginated"):
                raise AdminError("azure_classic_list must be spec or paginated")
            if key == "azure_v1_create_status" and value not in (200, 201):
                raise AdminError("azure_v1_create_status must be 200 or 201")
            if key == "azure_validate_filename" and not isinstance(value, bool):
                raise AdminError("azure_validate_filename must be a boolean")
            if key == "azure_extra_api_versions" and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                raise AdminError("azure_extra_api_versions must be a list of strings")
            new[key] = value
        self.config = new

    # -- request log -----------------------------------------------------------------------------
    def log_request(
        self, request: Request, surface: Surface, api: Api, op: Op, file_id: str | None
    ) -> dict[str, Any]:
        self._log_seq += 1
        headers: dict[str, str] = {}
        for k, v in request.headers.items():
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        cl = headers.get("content-length")
        entry: dict[str, Any] = {
            "seq": self._log_seq,
            "time": time.time(),
            "surface": surface,
            "api": api,
            "op": op,
            "file_id": file_id,
            "upload_id": request.path_params.get("upload_id"),
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "query_params": _query_dict(request),
            "headers": headers,
            "openai_organization": headers.get("openai-organization"),
            "openai_project": headers.get("openai-project"),
            "content_length": int(cl) if cl is not None and cl.isdigit() else None,
            "transfer_encoding": headers.get("transfer-encoding"),
            "body_bytes": 0,
            "body_complete": False,
            "multipart": None,
            "fault": None,
            "status": None,
            "dropped": False,
            "client_disconnected": False,
        }
        self.log.append(entry)
        return entry


def _query_dict(request: Request) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for k, v in request.query_params.multi_items():
        prev = out.get(k)
        if prev is None:
            out[k] = v
        elif isinstance(prev, list):
            prev.append(v)
        else:
            out[k] = [prev, v]
    return out


# =================================================================================================
# Responses and connection drops
# =================================================================================================


class NoResponse(Response):
    """Returned after a connection drop: sends nothing at all."""

    def __init__(self) -> None:
        super().__init__(status_code=599)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


async def drop_connection(request: Request, mode: str = "reset") -> bool:
    """Close the client's TCP connection without sending an HTTP response.

    uvicorn hands the app ``receive``/``send`` bound methods of its per-request
    ``RequestResponseCycle``, which holds the asyncio transport; Starlette passes ``receive``
    through unwrapped. We abort that transport (``SO_LINGER 0`` first for mode ``reset``, so the
    peer gets an RST) and wait until uvicorn has marked the cycle disconnected; the handler then
    returns :class:`NoResponse`, and uvicorn, seeing a disconnected cycle with no response
    started, sends nothing (see ``run_asgi`` in uvicorn's protocol implementations).
    Returns False when the server does not expose its transport this way.
    """
    cycle = getattr(request.receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    if mode == "reset":
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError, TypeError, ValueError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    for _ in range(400):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0.005)
    return True


class StreamedFile(Response):
    """Serve a stored file in chunks; optionally stall and/or drop after ``cut`` bytes."""

    def __init__(
        self,
        path: Path,
        size: int,
        headers: dict[str, str],
        *,
        cut: int | None,
        delay: float,
        on_cut: Callable[[], Awaitable[bool]] | None,
    ) -> None:
        super().__init__(status_code=200, headers=headers, media_type="application/octet-stream")
        self.path = path
        self.size = size
        self.cut = cut
        self.delay = delay
        self.on_cut = on_cut

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.headers["content-length"] = str(self.size)
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        with _open_blob(self.path) as fh:
            if self.cut is not None:
                sent = 0
                while sent < self.cut:
                    data = fh.read(min(CHUNK, self.cut - sent))
                    if not data:
                        break
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                    sent += len(data)
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self.on_cut is not None and await self.on_cut():
                    return
            while data := fh.read(CHUNK):
                await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _open_blob(path: Path) -> BinaryIO:
    return path.open("rb")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def openai_error_body(
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _mask_key(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


# =================================================================================================
# Multipart sink
# =================================================================================================


@dataclass
class FilePart:
    field: str
    filename: str
    content_type: str | None
    tmp_path: Path | None
    size: int = 0
    sha256: str = ""


class MultipartSink:
    """Receives python-multipart callbacks; the ``file`` part goes straight to disk."""

    def __init__(self, tmp_path: Path, file_field: str = "file") -> None:
        self.tmp_path = tmp_path
        self.file_field = file_field
        self.order: list[str] = []
        self.values: dict[str, str] = {}
        self.file: FilePart | None = None
        self.other_files: list[FilePart] = []
        self.received = 0
        self.ended = False
        self._headers: dict[str, str] = {}
        self._hname = bytearray()
        self._hvalue = bytearray()
        self._name = ""
        self._part: FilePart | None = None
        self._buf = bytearray()
        self._fh: Any = None
        self._hasher: Any = None
        self._cur_size = 0

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }

    def _on_part_begin(self) -> None:
        self._headers = {}
        self._part = None
        self._buf = bytearray()
        self._cur_size = 0

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._hname.decode("latin-1").lower()] = self._hvalue.decode(
            "utf-8", "replace"
        )
        self._hname = bytearray()
        self._hvalue = bytearray()

    def _on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        self.order.append(self._name)
        raw_filename = params.get(b"filename")
        if raw_filename is None:
            return
        ctype = self._headers.get("content-type") or None
        is_main = self._name == self.file_field and self.file is None
        part = FilePart(
            field=self._name,
            filename=raw_filename.decode("utf-8", "replace"),
            content_type=ctype,
            tmp_path=self.tmp_path if is_main else None,
        )
        self._part = part
        self._hasher = hashlib.sha256()
        if is_main:
            self.file = part
            self._fh = self.tmp_path.open("wb")
        else:
            self.other_files.append(part)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = memoryview(data)[start:end]
        if self._part is not None:
            self._cur_size += len(chunk)
            self._hasher.update(chunk)
            if self._fh is not None:
                self._fh.write(chunk)
        elif len(self._buf) < MAX_FIELD_BYTES:
            self._buf += chunk[: MAX_FIELD_BYTES - len(self._buf)]

    def _on_part_end(self) -> None:
        if self._part is not None:
            self._part.size = self._cur_size
            self._part.sha256 = self._hasher.hexdigest()
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            self._part = None
        else:
            self.values.setdefault(self._name, self._buf.decode("utf-8", "replace"))

    def _on_end(self) -> None:
        self.ended = True

    def snapshot(self) -> dict[str, Any]:
        def part(p: FilePart) -> dict[str, Any]:
            size = p.size
            sha = p.sha256
            if p is self._part:  # still streaming (dropped mid-part)
                size = self._cur_size
                sha = ""
            return {
                "field": p.field,
                "filename": p.filename,
                "content_type": p.content_type,
                "size": size,
                "sha256": sha,
            }

        return {
            "fields": list(self.order),
            "values": dict(self.values),
            "file": part(self.file) if self.file else None,
            "other_files": [part(p) for p in self.other_files],
        }

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with contextlib.suppress(FileNotFoundError):
            self.tmp_path.unlink()


# =================================================================================================
# One API request
# =================================================================================================


class Call:
    """Per-request context: where it came in, its log entry, and response helpers."""

    def __init__(
        self,
        state: UpstreamState,
        request: Request,
        api: Api,
        op: Op,
        file_id: str | None,
    ) -> None:
        self.state = state
        self.request = request
        self.api: Api = api
        self.surface: Surface = "openai" if api == "openai" else "azure"
        self.op: Op = op
        self.file_id = file_id
        self.entry = state.log_request(request, self.surface, api, op, file_id)
        self.api_version = request.query_params.get("api-version")

    # -- body ------------------------------------------------------------------------------------
    async def drain(self) -> None:
        try:
            async for chunk in self.request.stream():
                self.entry["body_bytes"] += len(chunk)
        except ClientDisconnect:
            self.entry["client_disconnected"] = True
            return
        self.entry["body_complete"] = True

    async def read_body(self, limit: int = 1024 * 1024) -> bytes:
        """A small (JSON) body, counted like any other; past ``limit`` it is discarded."""
        buf = bytearray()
        try:
            async for chunk in self.request.stream():
                self.entry["body_bytes"] += len(chunk)
                if len(buf) < limit:
                    buf += chunk
        except ClientDisconnect:
            self.entry["client_disconnected"] = True
            raise
        self.entry["body_complete"] = True
        return bytes(buf)

    # -- responses -------------------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        if self.surface == "openai":
            h = {
                "x-request-id": "req_" + uuid.uuid4().hex,
                "openai-version": "2020-10-01",
                "openai-processing-ms": "1",
            }
            org = self.request.headers.get("openai-organization")
            if org:
                h["openai-organization"] = org
            return h
        return {"apim-request-id": str(uuid.uuid4())}

    def finish(self, response: Response) -> Response:
        self.entry["status"] = response.status_code
        return response

    def json(self, status: int, body: Any, extra: dict[str, str] | None = None) -> Response:
        return self.finish(_json(status, body, {**self.headers(), **(extra or {})}))

    def openai_error(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> Response:
        return self.json(status, openai_error_body(message, type_=type_, param=param, code=code))

    def azure_error(
        self, status: int, code: str, message: str, *, param: str | None = None
    ) -> Response:
        """Azure error body: classic data plane ``{code, message}`` (as observed on
        ``/openai/files``); v1 adds ``param``, ``type`` and ``inner_error`` (AzureErrorResponse)."""
        err: dict[str, Any] = {"code": code, "message": message}
        if self.api == "azure-v1":
            err.update(
                {"param": param, "type": "invalid_request_error", "inner_error": {"code": code}}
            )
        return self.json(status, {"error": err})

    def invalid(
        self, message: str, *, param: str | None = None, code: str | None = None
    ) -> Response:
        """A 400 validation error in this surface's shape."""
        if self.surface == "openai":
            return self.openai_error(400, message, param=param, code=code)
        return self.azure_error(400, "invalidPayload", message, param=param)

    def not_found(self, file_id: str) -> Response:
        if self.surface == "openai":
            return self.openai_error(404, f"No such File object: {file_id}", param="id")
        return self.azure_error(404, "notFound", f"File with id '{file_id}' not found.", param="id")

    def fault_response(self, fault: Fault) -> Response:
        status = cast(int, fault.status)
        body = fault.body
        if body is None:
            if self.surface == "openai":
                if status >= 500:
                    body = openai_error_body(OPENAI_500_MESSAGE, type_="server_error")
                elif status == 429:
                    body = openai_error_body(
                        "Rate limit reached for requests. Please try again in 1s.",
                        type_="requests",
                        code="rate_limit_exceeded",
                    )
                else:
                    body = openai_error_body(f"Injected fault: HTTP {status}")
            else:
                code, message = AZURE_FAULT_DEFAULTS.get(
                    status, (str(status), f"Injected fault: HTTP {status}")
                )
                body = {"error": {"code": code, "message": message}}
        return self.json(status, body, fault.headers)

    async def drop(self, fault: Fault) -> Response:
        self.entry["dropped"] = True
        if await drop_connection(self.request, fault.drop_mode):
            return NoResponse()
        self.entry["dropped"] = False  # not under uvicorn: fall back to an error response
        return self.json(500, {"error": "fake upstream could not drop this connection"})


# =================================================================================================
# The application
# =================================================================================================


class FakeUpstream:
    def __init__(self, state: UpstreamState) -> None:
        self.state = state

    # -- entry point for every provider request -------------------------------------------------
    async def handle(self, request: Request, api: Api, op: Op) -> Response:
        file_id = request.path_params.get("file_id")
        call = Call(self.state, request, api, op, file_id)
        try:
            problem = self.check_auth(call) or self.check_api_version(call)
            if problem is not None:
                await call.drain()
                return problem
            if op in UPLOAD_OPS and not self.uploads_supported(call):
                await call.drain()
                return call.json(404, {"error": {"code": "404", "message": "Resource not found"}})
            fault = self.state.take_fault(op, call.surface)
            if fault is not None:
                call.entry["fault"] = fault.describe()
            if op == "create":
                return await self.create(call, fault)
            if op == "upload_part":
                return await self.create(call, fault, part=True)
            if op in UPLOAD_OPS:
                return await self.upload_op(call, fault)
            await call.drain()
            if fault is not None:
                mid_download = op == "content" and fault.after_bytes is not None
                if fault.delay and not mid_download:
                    await asyncio.sleep(fault.delay)
                if fault.drop and not mid_download:
                    return await call.drop(fault)
                if fault.status is not None:
                    return call.fault_response(fault)
            if op == "list":
                return self.list(call)
            assert file_id is not None
            f = self.state.get(call.surface, file_id)
            if f is None:
                return call.not_found(file_id)
            if op == "retrieve":
                return self.retrieve(call, f)
            if op == "delete":
                self.state.remove(f)
                return call.json(200, {"id": f.id, "object": "file", "deleted": True})
            return self.content(call, f, fault)
        except ClientDisconnect:
            call.entry["client_disconnected"] = True
            return NoResponse()

    # -- auth and versions -----------------------------------------------------------------------
    def check_auth(self, call: Call) -> Response | None:
        h = call.request.headers
        auth = h.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if call.surface == "openai":
            if not auth:
                return call.openai_error(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                    "or as the password field (with blank username) if you're accessing the API "
                    "from your browser and are prompted for a username. You can obtain an API key "
                    "from https://platform.openai.com/account/api-keys.",
                )
            if bearer != self.state.openai_key:
                return call.openai_error(
                    401,
                    f"Incorrect API key provided: {_mask_key(bearer or auth)}. You can find your "
                    "API key at https://platform.openai.com/account/api-keys.",
                    code="invalid_api_key",
                )
            return None
        ok = h.get("api-key") == self.state.azure_key
        ok = ok or (bearer is not None and bearer == self.state.azure_ad_token)
        ok = ok or (call.api == "azure-v1" and bearer == self.state.azure_key)
        if ok:
            return None
        return call.json(401, {"error": {"code": "401", "message": AZURE_401_MESSAGE}})

    def check_api_version(self, call: Call) -> Response | None:
        if call.surface == "openai":
            return None
        version = call.api_version
        if call.api == "azure-v1":
            if version is None or version in AZURE_V1_API_VERSIONS:
                return None
        else:
            if version is None:
                return call.json(404, {"error": {"code": "404", "message": "Resource not found"}})
            known = AZURE_CLASSIC_API_VERSIONS | set(self.state.config["azure_extra_api_versions"])
            if version in known:
                return None
        return call.json(
            400, {"error": {"code": "BadRequest", "message": "API version not supported"}}
        )

    def azure_expires_supported(self, call: Call) -> bool:
        if call.api == "azure-v1":
            return True
        return (call.api_version or "")[:10] >= AZURE_EXPIRES_SINCE

    # -- create ----------------------------------------------------------------------------------
    async def create(self, call: Call, fault: Fault | None, *, part: bool = False) -> Response:
        """A file create, or (``part``) an upload part in field ``data``."""
        if part:
            upload = self.open_upload(call)
            if isinstance(upload, Response):
                await call.drain()
                return upload
        if fault is not None and fault.drop and fault.after_bytes is None:
            return await call.drop(fault)
        mime, params = parse_options_header(call.request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if mime != b"multipart/form-data" or not boundary:
            await call.drain()
            shown = mime.decode("latin-1") or "none"
            if call.surface == "openai":
                return call.openai_error(
                    400,
                    f"Invalid Content-Type header ({shown}), expected multipart/form-data. (HINT: "
                    "If you're using curl, you can pass -H 'Content-Type: multipart/form-data')",
                )
            return call.azure_error(
                400, "invalidPayload", "The request content type must be multipart/form-data."
            )
        sink = MultipartSink(self.state.new_tmp_path(), "data" if part else "file")
        try:
            return await self._receive_and_create(call, fault, sink, boundary)
        finally:
            call.entry["multipart"] = sink.snapshot()
            sink.discard()  # no-op once the file was moved into blobs/

    async def _receive_and_create(
        self, call: Call, fault: Fault | None, sink: MultipartSink, boundary: bytes
    ) -> Response:
        parser = MultipartParser(boundary, callbacks=cast(Any, sink.callbacks()))
        mid = fault is not None and fault.after_bytes is not None
        fired = False
        malformed: str | None = None

        def feed(data: bytes) -> None:
            nonlocal malformed
            sink.received += len(data)
            call.entry["body_bytes"] = sink.received
            if malformed is None and data:
                try:
                    parser.write(data)
                except Exception as exc:  # python-multipart raises several error types
                    malformed = str(exc) or type(exc).__name__

        try:
            async for chunk in call.request.stream():
                if mid and not fired:
                    assert fault is not None and fault.after_bytes is not None
                    room = fault.after_bytes - sink.received
                    if len(chunk) >= room:
                        feed(chunk[:room])
                        chunk = chunk[room:]
                        fired = True
                        early = await self._fire_mid_upload(call, fault, len(chunk))
                        if early is not None:
                            return early
                feed(chunk)
        except ClientDisconnect:
            call.entry["client_disconnected"] = True
            return NoResponse()
        call.entry["body_complete"] = True
        if malformed is None:
            try:
                parser.finalize()
            except Exception as exc:
                malformed = str(exc) or type(exc).__name__
        if malformed is None and not sink.ended:
            malformed = "the multipart body ended before its closing boundary"

        if fault is not None and not fired:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.drop:
                return await call.drop(fault)
            if fault.status is not None:
                return call.fault_response(fault)

        if malformed is not None:
            return call.invalid(f"Could not parse multipart form: {malformed}")
        if call.op == "upload_part":
            return self._add_part(call, sink)
        if call.surface == "openai":
            return self._create_openai(call, sink)
        return self._create_azure(call, sink)

    async def _fire_mid_upload(self, call: Call, fault: Fault, leftover: int) -> Response | None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            return await call.drop(fault)
        if fault.status is not None:
            call.entry["body_bytes"] += leftover  # the rest of the current chunk, unparsed
            await call.drain()  # read the rest so the client reliably sees the status
            return call.fault_response(fault)
        return None

    def _store(self, sink: MultipartSink, file_id: str) -> Path:
        dest = self.state.blob_dir / file_id
        os.replace(sink.tmp_path, dest)
        return dest

    def _create_openai(self, call: Call, sink: MultipartSink) -> Response:
        for name in sink.order:
            if name not in OPENAI_CREATE_FIELDS:
                return call.invalid(
                    f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
                )
        purpose = sink.values.get("purpose")
        if purpose is None:
            return call.invalid(
                "Missing required parameter: 'purpose'.",
                param="purpose",
                code="missing_required_parameter",
            )
        if purpose not in OPENAI_CREATE_PURPOSES:
            return call.invalid(
                f"Invalid value: '{purpose}'. Supported values are: "
                + _oxford(OPENAI_CREATE_PURPOSES)
                + ".",
                param="purpose",
                code="invalid_value",
            )
        if sink.file is None:
            if "file" in sink.values:
                return call.invalid(
                    "Invalid type for 'file': expected a file, but got a string instead.",
                    param="file",
                    code="invalid_type",
                )
            return call.invalid(
                "Missing required parameter: 'file'.",
                param="file",
                code="missing_required_parameter",
            )
        expires = _parse_expires(
            call, sink.values, OPENAI_EXPIRES_MIN, OPENAI_EXPIRES_MAX, openai_style=True
        )
        if isinstance(expires, Response):
            return expires
        now = int(time.time())
        if expires is None and purpose == "batch":
            expires = OPENAI_BATCH_DEFAULT_TTL
        file_id = new_openai_file_id()
        f = StoredFile(
            id=file_id,
            surface="openai",
            purpose=purpose,
            filename=sink.file.filename,
            bytes=sink.file.size,
            created_at=now,
            seq=self.state.next_seq(),
            path=self._store(sink, file_id),
            sha256=sink.file.sha256,
            status="processed",
            expires_at=now + expires if expires is not None else None,
            content_type=sink.file.content_type,
            organization=call.request.headers.get("openai-organization"),
            project=call.request.headers.get("openai-project"),
        )
        self.state.files[file_id] = f
        call.entry["file_id"] = file_id
        return call.json(200, f.wire())

    def _create_azure(self, call: Call, sink: MultipartSink) -> Response:
        purposes = AZURE_V1_PURPOSES if call.api == "azure-v1" else AZURE_CLASSIC_PURPOSES
        purpose = sink.values.get("purpose")
        if purpose is None:
            return call.invalid("The purpose field is required.", param="purpose")
        if purpose not in purposes:
            return call.invalid("Invalid value for purpose.", param="purpose")
        if sink.file is None:
            return call.invalid("The file field is required.", param="file")
        if not sink.file.content_type:
            return call.invalid("The file has no or an empty content type specified.", param="file")
        if (
            self.state.config["azure_validate_filename"]
            and purpose == "fine-tune"
            and not sink.file.filename.lower().endswith(".jsonl")
        ):
            return call.invalid(
                "fileName contains an invalid filename: wrong suffix.", param="file"
            )
        expires: int | None = None
        if self.azure_expires_supported(call):
            parsed = _parse_expires(
                call, sink.values, AZURE_EXPIRES_MIN, AZURE_EXPIRES_MAX, openai_style=False
            )
            if isinstance(parsed, Response):
                return parsed
            expires = parsed
        now = int(time.time())
        file_id = new_azure_file_id(purpose)
        f = StoredFile(
            id=file_id,
            surface="azure",
            purpose=purpose,
            filename=sink.file.filename,
            bytes=sink.file.size,
            created_at=now,
            seq=self.state.next_seq(),
            path=self._store(sink, file_id),
            sha256=sink.file.sha256,
            status=self.state.config["azure_initial_status"],
            steps=list(self.state.config["azure_status_steps"]),
            expires_at=now + expires if expires is not None else None,
            content_type=sink.file.content_type,
        )
        self.state.files[file_id] = f
        call.entry["file_id"] = file_id
        if call.api == "azure-v1":
            return call.json(self.state.config["azure_v1_create_status"], f.wire())
        location = f"{str(call.request.base_url).rstrip('/')}/openai/files/{file_id}"
        return call.json(201, f.wire(), {"location": location})

    # -- uploads ---------------------------------------------------------------------------------
    def uploads_supported(self, call: Call) -> bool:
        if call.api != "azure-classic":
            return True
        version = call.api_version or ""
        return version.endswith("-preview") and version[:10] >= AZURE_UPLOADS_SINCE

    def open_upload(self, call: Call) -> StoredUpload | Response:
        """The upload named in the path, if it still takes parts and completes."""
        upload_id = call.request.path_params["upload_id"]
        upload = self.state.uploads.get(upload_id)
        if upload is None or upload.surface != call.surface:
            if call.surface == "openai":
                return call.openai_error(
                    404, f"No such Upload object: {upload_id}", param="upload_id"
                )
            return call.azure_error(
                404, "notFound", f"Upload with id '{upload_id}' not found.", param="upload_id"
            )
        status = upload.wire()["status"]
        if status != "pending":
            return call.invalid(
                f"Upload {upload_id} is {status}; it takes no more changes.",
                param="upload_id",
                code=f"upload_{status}",
            )
        return upload

    def _add_part(self, call: Call, sink: MultipartSink) -> Response:
        upload = self.open_upload(call)  # again: it may have closed while the part came in
        if isinstance(upload, Response):
            return upload
        for name in sink.order:
            if name != "data":
                return call.invalid(
                    f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
                )
        if sink.file is None:
            return call.invalid(
                "Missing required parameter: 'data'.",
                param="data",
                code="missing_required_parameter",
            )
        if sink.file.size > UPLOAD_PART_MAX:
            return call.invalid(f"A part can hold at most {UPLOAD_PART_MAX} bytes.", param="data")
        part_id = "part_" + _rand_alnum(24)
        dest = self.state.blob_dir / part_id
        os.replace(sink.tmp_path, dest)
        upload.parts[part_id] = (dest, sink.file.size)
        return call.json(
            200,
            {
                "id": part_id,
                "object": "upload.part",
                "created_at": int(time.time()),
                "upload_id": upload.id,
            },
        )

    async def upload_op(self, call: Call, fault: Fault | None) -> Response:
        raw = await call.read_body()
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.drop:
                return await call.drop(fault)
            if fault.status is not None:
                return call.fault_response(fault)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return call.invalid("We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return call.invalid("The JSON body must be an object.")
        if call.op == "upload_create":
            return self._create_upload(call, body)
        upload = self.open_upload(call)
        if isinstance(upload, Response):
            return upload
        if call.op == "upload_cancel":
            upload.status = "cancelled"
            self._drop_upload_parts(upload)
            return call.json(200, upload.wire())
        return self._complete_upload(call, upload, body)

    def _create_upload(self, call: Call, body: dict[str, Any]) -> Response:
        for name in body:
            if name not in UPLOAD_CREATE_FIELDS:
                return call.invalid(
                    f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
                )
        for name in ("filename", "purpose", "bytes", "mime_type"):
            if name not in body:
                return call.invalid(
                    f"Missing required parameter: '{name}'.",
                    param=name,
                    code="missing_required_parameter",
                )
        purposes = {
            "openai": OPENAI_CREATE_PURPOSES,
            "azure-v1": AZURE_V1_PURPOSES,
            "azure-classic": AZURE_CLASSIC_PURPOSES,
        }[call.api]
        if body["purpose"] not in purposes:
            return call.invalid(
                f"Invalid value: '{body['purpose']}'. Supported values are: "
                + _oxford(purposes)
                + ".",
                param="purpose",
                code="invalid_value",
            )
        nbytes = body["bytes"]
        if not isinstance(nbytes, int) or not 0 <= nbytes <= UPLOAD_MAX_BYTES:
            return call.invalid(
                f"'bytes' must be an integer from 0 to {UPLOAD_MAX_BYTES}.",
                param="bytes",
                code="invalid_value",
            )
        expires_after = None
        spec = body.get("expires_after")
        if isinstance(spec, dict):
            parsed = _parse_expires(
                call,
                {
                    "expires_after[anchor]": str(spec.get("anchor")),
                    "expires_after[seconds]": str(spec.get("seconds")),
                },
                OPENAI_EXPIRES_MIN if call.api != "azure-classic" else AZURE_EXPIRES_MIN,
                OPENAI_EXPIRES_MAX,
                openai_style=call.surface == "openai",
            )
            if isinstance(parsed, Response):
                return parsed
            expires_after = parsed
        now = int(time.time())
        upload = StoredUpload(
            id="upload_" + _rand_alnum(24),
            surface=call.surface,
            filename=str(body["filename"]),
            purpose=str(body["purpose"]),
            bytes=nbytes,
            mime_type=str(body["mime_type"]),
            created_at=now,
            expires_at=now + UPLOAD_TTL,
            file_expires_after=expires_after,
        )
        self.state.uploads[upload.id] = upload
        call.entry["upload_id"] = upload.id
        return call.json(200, upload.wire())

    def _complete_upload(self, call: Call, upload: StoredUpload, body: dict[str, Any]) -> Response:
        part_ids = body.get("part_ids")
        if not isinstance(part_ids, list) or not all(isinstance(p, str) for p in part_ids):
            return call.invalid(
                "Missing required parameter: 'part_ids'.",
                param="part_ids",
                code="missing_required_parameter",
            )
        if len(set(part_ids)) != len(part_ids):
            return call.invalid("'part_ids' names a part twice.", param="part_ids")
        for part_id in part_ids:
            if part_id not in upload.parts:
                return call.invalid(f"No part {part_id} in upload {upload.id}.", param="part_ids")
        total = sum(upload.parts[p][1] for p in part_ids)
        if total != upload.bytes:
            return call.invalid(
                f"The number of bytes uploaded ({total}) does not match the number of bytes "
                f"declared at creation ({upload.bytes}).",
                param="part_ids",
                code="bytes_mismatch",
            )
        tmp = self.state.new_tmp_path()
        sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        with tmp.open("wb") as out:
            for part_id in part_ids:
                with _open_blob(upload.parts[part_id][0]) as fh:
                    while data := fh.read(CHUNK):
                        sha.update(data)
                        md5.update(data)
                        out.write(data)
        wanted = body.get("md5")
        if wanted and str(wanted).lower() != md5.hexdigest():
            tmp.unlink()
            return call.invalid(
                f"The md5 checksum ({wanted}) does not match the parts ({md5.hexdigest()}).",
                param="md5",
                code="md5_mismatch",
            )
        now = int(time.time())
        if call.surface == "openai":
            file_id = new_openai_file_id()
            status, steps = "processed", []
            expires = upload.file_expires_after
            if expires is None and upload.purpose == "batch":
                expires = OPENAI_BATCH_DEFAULT_TTL
        else:
            file_id = new_azure_file_id(upload.purpose)
            status = self.state.config["azure_initial_status"]
            steps = list(self.state.config["azure_status_steps"])
            expires = upload.file_expires_after
        dest = self.state.blob_dir / file_id
        os.replace(tmp, dest)
        f = StoredFile(
            id=file_id,
            surface=call.surface,
            purpose=upload.purpose,
            filename=upload.filename,
            bytes=total,
            created_at=now,
            seq=self.state.next_seq(),
            path=dest,
            sha256=sha.hexdigest(),
            status=status,
            steps=steps,
            expires_at=now + expires if expires is not None else None,
            content_type=upload.mime_type,
            origin="upload",
        )
        self.state.files[file_id] = f
        call.entry["file_id"] = file_id
        upload.file = f
        upload.status = "completed"
        self._drop_upload_parts(upload)
        return call.json(200, upload.wire())

    def _drop_upload_parts(self, upload: StoredUpload) -> None:
        for path, _ in upload.parts.values():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        upload.parts.clear()

    # -- list / retrieve / content ---------------------------------------------------------------
    def list(self, call: Call) -> Response:
        q = call.request.query_params
        purpose = q.get("purpose")
        files = self.state.listing(call.surface, purpose)
        if call.api == "azure-classic" and self.state.config["azure_classic_list"] == "spec":
            # 2024-10-21 Files_List: only `purpose`; FileList is {object, data}.
            return call.json(200, {"object": "list", "data": [f.wire() for f in reversed(files)]})
        limit_raw = q.get("limit")
        limit = OPENAI_LIST_MAX
        if limit_raw is not None:
            try:
                limit = int(limit_raw)
            except ValueError:
                return call.invalid(
                    "Invalid type for 'limit': expected an integer, but got a string instead.",
                    param="limit",
                    code="invalid_type",
                )
            if limit < 1:
                return call.invalid(
                    "Invalid 'limit': integer below minimum value. Expected a value >= 1, but "
                    f"got {limit} instead.",
                    param="limit",
                    code="integer_below_min_value",
                )
            if limit > OPENAI_LIST_MAX:
                return call.invalid(
                    f"Invalid 'limit': integer above maximum value. Expected a value <= "
                    f"{OPENAI_LIST_MAX}, but got {limit} instead.",
                    param="limit",
                    code="integer_above_max_value",
                )
        order = q.get("order", "desc")
        if order not in ("asc", "desc"):
            return call.invalid(
                f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
                param="order",
                code="invalid_value",
            )
        if order == "desc":
            files.reverse()
        after = q.get("after")
        if after is not None:
            ids = [f.id for f in files]
            files = files[ids.index(after) + 1 :] if after in ids else []
        page = files[:limit]
        return call.json(
            200,
            {
                "object": "list",
                "data": [f.wire() for f in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": len(files) > len(page),
            },
        )

    def retrieve(self, call: Call, f: StoredFile) -> Response:
        if f.surface == "azure" and f.steps:
            f.status = f.steps.pop(0)
        return call.json(200, f.wire())

    def content(self, call: Call, f: StoredFile, fault: Fault | None) -> Response:
        headers = call.headers()
        if fault is not None and fault.after_bytes is not None:
            call.entry["status"] = 200
            request = call.request
            chosen = fault

            async def on_cut() -> bool:
                if not chosen.drop:
                    return False
                call.entry["dropped"] = True
                return await drop_connection(request, chosen.drop_mode)

            return StreamedFile(
                f.path, f.bytes, headers, cut=fault.after_bytes, delay=fault.delay, on_cut=on_cut
            )
        return call.finish(
            FileResponse(f.path, media_type="application/octet-stream", headers=headers)
        )

    # -- admin -----------------------------------------------------------------------------------
    async def admin(self, request: Request) -> Response:
        action = request.path_params["action"]
        try:
            return await self._admin(request, action)
        except AdminError as exc:
            return _json(400, {"error": str(exc)})

    async def _admin(self, request: Request, action: str) -> Response:
        st = self.state
        method = request.method
        if action == "health" and method == "GET":
            return _json(200, {"ok": True})
        if action == "reset" and method == "POST":
            st.reset()
            return _json(200, {"ok": True})
        if action == "requests":
            if method == "DELETE":
                st.log.clear()
                return _json(200, {"ok": True})
            q = request.query_params
            entries = [
                e
                for e in st.log
                if all(q.get(k) in (None, e.get(k)) for k in ("surface", "api", "op"))
            ]
            return _json(200, {"requests": entries})
        if action == "faults":
            if method == "POST":
                body = await _admin_json(request)
                specs = body if isinstance(body, list) else [body]
                added = [st.add_fault(s).describe() for s in specs]
                return _json(200, {"faults": added})
            if method == "DELETE":
                st.faults.clear()
                return _json(200, {"ok": True})
            return _json(200, {"faults": [f.describe() for f in st.faults]})
        if action == "config":
            if method == "POST":
                st.update_config(await _admin_json(request))
            return _json(200, {"config": st.config})
        if action == "files" and method == "GET":
            return _json(200, {"data": [f.admin() for f in st.files.values()]})
        if action == "uploads" and method == "GET":
            return _json(200, {"data": [u.admin() for u in st.uploads.values()]})
        if action == "azure-status" and method == "POST":
            return self._force_status(await _admin_json(request))
        if action == "seed" and method == "POST":
            return self._seed(await _admin_json(request))
        return _json(404, {"error": f"unknown admin call {method} /__admin/{action}"})

    def _force_status(self, body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise AdminError("body must be {id, status, status_details?, steps?}")
        f = self.state.files.get(body["id"])
        if f is None:
            return _json(404, {"error": f"no file {body['id']}"})
        status = body.get("status", f.status)
        if status not in AZURE_STATUSES:
            raise AdminError(f"status must be one of {AZURE_STATUSES}")
        steps = body.get("steps", [])
        if not isinstance(steps, list) or any(s not in AZURE_STATUSES for s in steps):
            raise AdminError(f"steps must be a list of {AZURE_STATUSES}")
        f.status = status
        f.steps = list(steps)
        if "status_details" in body:
            f.status_details = body["status_details"]
        return _json(200, f.admin())

    def _seed(self, body: Any) -> Response:
        if not isinstance(body, dict):
            raise AdminError("seed body must be a JSON object")
        surface = body.get("surface", "openai")
        if surface not in ("openai", "azure"):
            raise AdminError("surface must be openai or azure")
        count = body.get("count", 1)
        if not isinstance(count, int) or not 1 <= count <= 10_000:
            raise AdminError("count must be 1..10000")
        purpose = body.get("purpose", "batch" if surface == "openai" else "fine-tune")
        filename = body.get("filename", "seeded.jsonl")
        status = body.get("status", "processed")
        if status not in AZURE_STATUSES:
            raise AdminError(f"status must be one of {AZURE_STATUSES}")
        if "content_b64" in body:
            content = base64.b64decode(body["content_b64"])
        elif "content" in body:
            content = str(body["content"]).encode()
        else:
            size = int(body.get("size", 64))
            content = (b'{"seeded": true}\n' * (size // 17 + 1))[:size]
        base_created = int(body.get("created_at", time.time() - 3600))
        expires_at = body.get("expires_at")
        made: list[dict[str, Any]] = []
        for i in range(count):
            if "id" in body and count == 1:
                file_id = str(body["id"])
            elif surface == "openai":
                file_id = new_openai_file_id()
            else:
                file_id = new_azure_file_id(purpose)
            path = self.state.blob_dir / file_id
            path.write_bytes(content)
            name = filename
            if count > 1:
                stem, dot, ext = filename.rpartition(".")
                name = f"{stem}-{i}.{ext}" if dot else f"{filename}-{i}"
            f = StoredFile(
                id=file_id,
                surface=surface,
                purpose=purpose,
                filename=name,
                bytes=len(content),
                created_at=base_created + i,
                seq=self.state.next_seq(),
                path=path,
                sha256=hashlib.sha256(content).hexdigest(),
                status=status,
                status_details=body.get("status_details"),
                expires_at=int(expires_at) if expires_at is not None else None,
                origin="seed",
            )
            self.state.files[file_id] = f
            made.append(f.wire())
        return _json(200, {"data": made})

    # -- fallbacks -------------------------------------------------------------------------------
    async def openai_unknown(self, request: Request) -> Response:
        return _json(
            404,
            openai_error_body(f"Invalid URL ({request.method} {request.url.path})"),
        )

    async def azure_unknown(self, request: Request) -> Response:
        return _json(404, {"error": {"code": "404", "message": "Resource not found"}})


def _oxford(values: Iterable[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def _parse_expires(
    call: Call, values: dict[str, str], lo: int, hi: int, *, openai_style: bool
) -> int | Response | None:
    anchor = values.get("expires_after[anchor]")
    seconds_raw = values.get("expires_after[seconds]")
    if anchor is None and seconds_raw is None:
        return None
    for name, value in (("anchor", anchor), ("seconds", seconds_raw)):
        if value is None:
            return call.invalid(
                f"Missing required parameter: 'expires_after.{name}'.",
                param=f"expires_after.{name}",
                code="missing_required_parameter" if openai_style else None,
            )
    if anchor != "created_at":
        return call.invalid(
            f"Invalid value: '{anchor}'. Supported values are: 'created_at'.",
            param="expires_after.anchor",
            code="invalid_value" if openai_style else None,
        )
    try:
        seconds = int(cast(str, seconds_raw))
    except ValueError:
        return call.invalid(
            "Invalid type for 'expires_after.seconds': expected an integer, but got a string "
            "instead.",
            param="expires_after.seconds",
            code="invalid_type" if openai_style else None,
        )
    if seconds < lo:
        return call.invalid(
            "Invalid 'expires_after.seconds': integer below minimum value. Expected a value >= "
            f"{lo}, but got {seconds} instead.",
            param="expires_after.seconds",
            code="integer_below_min_value" if openai_style else None,
        )
    if seconds > hi:
        return call.invalid(
            "Invalid 'expires_after.seconds': integer above maximum value. Expected a value <= "
            f"{hi}, but got {seconds} instead.",
            param="expires_after.seconds",
            code="integer_above_max_value" if openai_style else None,
        )
    return seconds


async def _admin_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise AdminError(f"invalid JSON: {exc}") from exc


def create_app(
    state_dir: Path,
    *,
    openai_key: str = "sk-upstream",
    azure_key: str = "azure-key",
    azure_ad_token: str = "aad-token",
) -> Starlette:
    """Build the fake upstream. Uploaded files are kept under ``state_dir`` (wiped on reset)."""
    state = UpstreamState(
        Path(state_dir), openai_key=openai_key, azure_key=azure_key, azure_ad_token=azure_ad_token
    )
    fake = FakeUpstream(state)

    def endpoint(api: Api, op_by_method: dict[str, Op]) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            op = op_by_method.get(request.method) or op_by_method["GET"]  # HEAD acts as GET
            return await fake.handle(request, api, op)

        return handler

    routes: list[BaseRoute] = [
        Route(
            "/__admin/{action}",
            fake.admin,
            methods=["GET", "POST", "DELETE"],
        )
    ]
    surfaces: list[tuple[str, Api]] = [
        ("/v1", "openai"),
        ("/openai/v1", "azure-v1"),
        ("/openai", "azure-classic"),
    ]
    for prefix, a in surfaces:
        routes += [
            Route(
                f"{prefix}/files",
                endpoint(a, {"GET": "list", "POST": "create"}),
                methods=["GET", "POST"],
            ),
            Route(
                f"{prefix}/files/{{file_id}}",
                endpoint(a, {"GET": "retrieve", "DELETE": "delete"}),
                methods=["GET", "DELETE"],
            ),
            Route(
                f"{prefix}/files/{{file_id}}/content",
                endpoint(a, {"GET": "content"}),
                methods=["GET"],
            ),
            Route(f"{prefix}/uploads", endpoint(a, {"POST": "upload_create"}), methods=["POST"]),
        ]
        for action, op in (
            ("parts", "upload_part"),
            ("complete", "upload_complete"),
            ("cancel", "upload_cancel"),
        ):
            routes.append(
                Route(
                    f"{prefix}/uploads/{{upload_id}}/{action}",
                    endpoint(a, {"POST": cast(Op, op)}),
                    methods=["POST"],
                )
            )
    all_methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes += [
        Route("/v1/{rest:path}", fake.openai_unknown, methods=all_methods),
        Route("/openai/{rest:path}", fake.azure_unknown, methods=all_methods),
    ]
    app = Starlette(routes=routes)
    app.state.upstream = state
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI / Azure OpenAI Files upstream.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--openai-key", default="sk-upstream")
    parser.add_argument("--azure-key", default="azure-key")
    parser.add_argument("--azure-ad-token", default="aad-token")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    app = create_app(
        args.state_dir,
        openai_key=args.openai_key,
        azure_key=args.azure_key,
        azure_ad_token=args.azure_ad_token,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
