"""What every surface of the fake upstream shares: state, request log, faults, config, auth, errors.

The fake's user manual is the docstring of ``tests/fakes/upstream.py``; this module holds the
machinery its Files, Uploads, Batches and Fine-tuning handlers are built on, so that each of
them logs, authenticates, versions and injects faults in one way.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar, cast

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

Surface = Literal["openai", "azure"]
Api = Literal["openai", "azure-classic", "azure-v1"]
Op = str
T = TypeVar("T")

FILE_OPS: tuple[str, ...] = ("create", "list", "retrieve", "delete", "content")
UPLOAD_OPS: tuple[str, ...] = ("upload_create", "upload_part", "upload_complete", "upload_cancel")
BATCH_OPS: tuple[str, ...] = ("batch_create", "batch_list", "batch_retrieve", "batch_cancel")
FT_OPS: tuple[str, ...] = (
    "ft_create",
    "ft_list",
    "ft_retrieve",
    "ft_cancel",
    "ft_events",
    "ft_checkpoints",
    "ft_pause",
    "ft_resume",
    "ft_delete",
)
OPS: tuple[str, ...] = (*FILE_OPS, *UPLOAD_OPS, *BATCH_OPS, *FT_OPS)
CHUNK = 64 * 1024

# --- OpenAI facts -------------------------------------------------------------------------------
# expires_after on files, and BatchFileExpirationAfter on batch outputs: 1 hour to 30 days.
OPENAI_EXPIRES_MIN = 3600
OPENAI_EXPIRES_MAX = 2_592_000
OPENAI_500_MESSAGE = "The server had an error while processing your request. Sorry about that!"

# --- Azure facts --------------------------------------------------------------------------------
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
# expires_after on Azure files (and output_expires_after on batches): documented from api-version
# 2025-03-01-preview (and v1), "a number between 1209600-2592000. This is equivalent to 14-30 days".
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
AZURE_RESOURCE_NOT_FOUND = {"error": {"code": "404", "message": "Resource not found"}}
METADATA_MAX_PAIRS = 16
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 512

_ALNUM = string.ascii_letters + string.digits


def rand_alnum(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def new_openai_file_id() -> str:
    return "file-" + rand_alnum(24)


def new_azure_file_id(purpose: str) -> str:
    # Azure: "file-" + 32 hex (e.g. file-181a1cbdcdcf4677ada87f63a0928099); assistants uploads
    # get "assistant-" + 24 alphanumerics (e.g. assistant-1YGVTvNzc2JXajI5JU9F0HMD).
    if purpose == "assistants":
        return "assistant-" + rand_alnum(24)
    return "file-" + uuid.uuid4().hex


def azure_version_at_least(call: Call, dated: str) -> bool:
    """True on the v1 surface, or on a dated api-version from ``dated`` (``YYYY-MM-DD``) on."""
    if call.api == "azure-v1":
        return True
    return (call.api_version or "")[:10] >= dated


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


@dataclass(frozen=True)
class Setting:
    """One ``/__admin/config`` key: its default and the rule a new value must keep."""

    default: Any
    check: Callable[[Any], bool]
    rule: str


def is_duration(value: Any) -> bool:
    """A step duration: seconds >= 0, or null (hold until an admin call moves it on)."""
    return value is None or (
        isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    )


def is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


CORE_SETTINGS: dict[str, Setting] = {
    "azure_extra_api_versions": Setting([], is_str_list, "a list of strings"),
    # Azure refuses a batch or fine-tuning job on a file it has not finished processing.
    "azure_require_processed_files": Setting(True, lambda v: isinstance(v, bool), "a boolean"),
}


class UpstreamState:
    def __init__(
        self,
        state_dir: Path,
        *,
        openai_key: str,
        azure_key: str,
        azure_ad_token: str,
        settings: dict[str, Setting],
    ) -> None:
        self.state_dir = state_dir
        self.blob_dir = state_dir / "blobs"
        self.tmp_dir = state_dir / "tmp"
        self.openai_key = openai_key
        self.azure_key = azure_key
        self.azure_ad_token = azure_ad_token
        self.settings = settings
        self.files: dict[str, StoredFile] = {}
        self.uploads: dict[str, StoredUpload] = {}
        self.log: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.config: dict[str, Any] = {}
        self.reset_hooks: list[Callable[[], None]] = []
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
        self.config = {k: copy.deepcopy(s.default) for k, s in self.settings.items()}
        for hook in self.reset_hooks:
            hook()

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
            setting = self.settings.get(key)
            if setting is None:
                raise AdminError(f"unknown config key {key!r}; known: {sorted(new)}")
            if not setting.check(value):
                raise AdminError(f"{key} must be {setting.rule}")
            new[key] = value
        self.config = new

    # -- request log -----------------------------------------------------------------------------
    def log_request(self, request: Request, surface: Surface, api: Api, op: Op) -> dict[str, Any]:
        self._log_seq += 1
        headers: dict[str, str] = {}
        for k, v in request.headers.items():
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        cl = headers.get("content-length")
        params = request.path_params
        entry: dict[str, Any] = {
            "seq": self._log_seq,
            "time": time.time(),
            "surface": surface,
            "api": api,
            "op": op,
            "file_id": params.get("file_id"),
            "upload_id": params.get("upload_id"),
            "batch_id": params.get("batch_id"),
            "job_id": params.get("job_id"),
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "query_params": query_dict(request),
            "headers": headers,
            "openai_organization": headers.get("openai-organization"),
            "openai_project": headers.get("openai-project"),
            "content_length": int(cl) if cl is not None and cl.isdigit() else None,
            "transfer_encoding": headers.get("transfer-encoding"),
            "body_bytes": 0,
            "body_complete": False,
            "multipart": None,
            "json": None,
            "fault": None,
            "status": None,
            "dropped": False,
            "client_disconnected": False,
        }
        self.log.append(entry)
        return entry


def query_dict(request: Request) -> dict[str, str | list[str]]:
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


class BlobWriter:
    """Writes a file the fake itself produces (batch output, fine-tune results) line by line,
    straight to ``state_dir/tmp``, hashing as it goes; :meth:`commit` makes it a stored file."""

    def __init__(self, state: UpstreamState) -> None:
        self.state = state
        self.tmp_path = state.new_tmp_path()
        self._fh: BinaryIO | None = self.tmp_path.open("wb")
        self._sha = hashlib.sha256()
        self.size = 0
        self.lines = 0

    def write(self, data: bytes) -> None:
        assert self._fh is not None, "writer already closed"
        self._fh.write(data)
        self._sha.update(data)
        self.size += len(data)
        self.lines += 1

    def commit(
        self,
        *,
        file_id: str,
        surface: Surface,
        purpose: str,
        filename: str,
        content_type: str,
        created_at: int,
        expires_after: int | None,
    ) -> StoredFile:
        self.close()
        dest = self.state.blob_dir / file_id
        os.replace(self.tmp_path, dest)
        f = StoredFile(
            id=file_id,
            surface=surface,
            purpose=purpose,
            filename=filename,
            bytes=self.size,
            created_at=created_at,
            seq=self.state.next_seq(),
            path=dest,
            sha256=self._sha.hexdigest(),
            status="processed",
            expires_at=created_at + expires_after if expires_after is not None else None,
            content_type=content_type,
            origin="generated",
        )
        self.state.files[file_id] = f
        return f

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def discard(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp_path.unlink()


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


def open_blob(path: Path) -> BinaryIO:
    return path.open("rb")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def openai_error_body(
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def mask_key(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


# =================================================================================================
# One API request
# =================================================================================================


class Call:
    """Per-request context: where it came in, its log entry, and response helpers."""

    def __init__(self, state: UpstreamState, request: Request, api: Api, op: Op) -> None:
        self.state = state
        self.request = request
        self.api: Api = api
        self.surface: Surface = "openai" if api == "openai" else "azure"
        self.op: Op = op
        self.file_id: str | None = request.path_params.get("file_id")
        self.entry = state.log_request(request, self.surface, api, op)
        self.api_version = request.query_params.get("api-version")

    # -- auth and versions -----------------------------------------------------------------------
    def check_auth(self) -> Response | None:
        h = self.request.headers
        auth = h.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if self.surface == "openai":
            if not auth:
                return self.openai_error(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                    "or as the password field (with blank username) if you're accessing the API "
                    "from your browser and are prompted for a username. You can obtain an API key "
                    "from https://platform.openai.com/account/api-keys.",
                )
            if bearer != self.state.openai_key:
                return self.openai_error(
                    401,
                    f"Incorrect API key provided: {mask_key(bearer or auth)}. You can find your "
                    "API key at https://platform.openai.com/account/api-keys.",
                    code="invalid_api_key",
                )
            return None
        ok = h.get("api-key") == self.state.azure_key
        ok = ok or (bearer is not None and bearer == self.state.azure_ad_token)
        ok = ok or (self.api == "azure-v1" and bearer == self.state.azure_key)
        if ok:
            return None
        return self.json(401, {"error": {"code": "401", "message": AZURE_401_MESSAGE}})

    def check_api_version(self) -> Response | None:
        if self.surface == "openai":
            return None
        version = self.api_version
        if self.api == "azure-v1":
            if version is None or version in AZURE_V1_API_VERSIONS:
                return None
        else:
            if version is None:
                return self.json(404, AZURE_RESOURCE_NOT_FOUND)
            known = AZURE_CLASSIC_API_VERSIONS | set(self.state.config["azure_extra_api_versions"])
            if version in known:
                return None
        return self.json(
            400, {"error": {"code": "BadRequest", "message": "API version not supported"}}
        )

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
        return self.finish(json_response(status, body, {**self.headers(), **(extra or {})}))

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

    def not_found(self, file_id: str, *, param: str = "id") -> Response:
        if self.surface == "openai":
            return self.openai_error(404, f"No such File object: {file_id}", param=param)
        return self.azure_error(
            404, "notFound", f"File with id '{file_id}' not found.", param=param
        )

    def resource_not_found(self) -> Response:
        """What a surface answers for a route it does not have (Azure: by api-version)."""
        if self.surface == "openai":
            path = self.request.url.path
            return self.openai_error(404, f"Invalid URL ({self.request.method} {path})")
        return self.json(404, AZURE_RESOURCE_NOT_FOUND)

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
# JSON endpoints (batches, fine-tuning)
# =================================================================================================

JsonHandler = Callable[["JsonCall"], Awaitable[Response]]


class JsonCall(Call):
    """A call whose (small) body, if any, has been read and parsed: ``body`` is the JSON object,
    or None for a request without one; ``bad_body`` says why a body could not be parsed."""

    body: dict[str, Any] | None = None
    bad_body: str | None = None

    def parse_body(self, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            parsed = json.loads(raw)
        except ValueError:
            self.bad_body = "We could not parse the JSON body of your request."
            return
        if not isinstance(parsed, dict):
            self.bad_body = "The JSON body must be an object."
            return
        self.body = parsed
        self.entry["json"] = parsed


def json_endpoint(
    state: UpstreamState,
    api: Api,
    op: Op,
    handler: JsonHandler,
    *,
    available: Callable[[Call], bool] | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint for a JSON operation, gated like every other provider request:
    logged, authenticated, version-checked (``available`` says whether this api-version has the
    route at all), then the first matching fault (delay, drop, or status) is applied."""

    async def endpoint(request: Request) -> Response:
        call = JsonCall(state, request, api, op)
        try:
            problem = call.check_auth() or call.check_api_version()
            if problem is None and available is not None and not available(call):
                problem = call.resource_not_found()
            if problem is not None:
                await call.drain()
                return problem
            fault = state.take_fault(op, call.surface)
            if fault is not None:
                call.entry["fault"] = fault.describe()
                if fault.drop and fault.delay == 0:
                    return await call.drop(fault)  # hang up before reading the body
            call.parse_body(await call.read_body())
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.drop:
                    return await call.drop(fault)
                if fault.status is not None:
                    return call.fault_response(fault)
            if call.bad_body is not None:
                return call.invalid(call.bad_body)
            return await handler(call)
        except ClientDisconnect:
            call.entry["client_disconnected"] = True
            return NoResponse()

    return endpoint


# =================================================================================================
# Shared validation and pagination
# =================================================================================================


def oxford(values: Iterable[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def parse_expires(
    call: Call,
    values: dict[str, str],
    lo: int,
    hi: int,
    *,
    openai_style: bool,
    name: str = "expires_after",
) -> int | Response | None:
    """``expires_after[anchor]``/``[seconds]`` (as form fields); errors name the field ``name``."""
    anchor = values.get("expires_after[anchor]")
    seconds_raw = values.get("expires_after[seconds]")
    if anchor is None and seconds_raw is None:
        return None
    for part, value in (("anchor", anchor), ("seconds", seconds_raw)):
        if value is None:
            return call.invalid(
                f"Missing required parameter: '{name}.{part}'.",
                param=f"{name}.{part}",
                code="missing_required_parameter" if openai_style else None,
            )
    if anchor != "created_at":
        return call.invalid(
            f"Invalid value: '{anchor}'. Supported values are: 'created_at'.",
            param=f"{name}.anchor",
            code="invalid_value" if openai_style else None,
        )
    try:
        seconds = int(cast(str, seconds_raw))
    except ValueError:
        return call.invalid(
            f"Invalid type for '{name}.seconds': expected an integer, but got a string instead.",
            param=f"{name}.seconds",
            code="invalid_type" if openai_style else None,
        )
    if seconds < lo:
        return call.invalid(
            f"Invalid '{name}.seconds': integer below minimum value. Expected a value >= "
            f"{lo}, but got {seconds} instead.",
            param=f"{name}.seconds",
            code="integer_below_min_value" if openai_style else None,
        )
    if seconds > hi:
        return call.invalid(
            f"Invalid '{name}.seconds': integer above maximum value. Expected a value <= "
            f"{hi}, but got {seconds} instead.",
            param=f"{name}.seconds",
            code="integer_above_max_value" if openai_style else None,
        )
    return seconds


def json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def bad_type(call: Call, param: str, expected: str, value: Any) -> Response:
    return call.invalid(
        f"Invalid type for '{param}': expected {expected}, but got {json_type_name(value)} "
        "instead.",
        param=param,
        code="invalid_type",
    )


def unknown_fields(call: Call, body: dict[str, Any], known: Iterable[str]) -> Response | None:
    allowed = set(known)
    for name in body:
        if name not in allowed:
            return call.invalid(
                f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
            )
    return None


def missing_fields(call: Call, body: dict[str, Any], required: Sequence[str]) -> Response | None:
    for name in required:
        if body.get(name) is None:
            return call.invalid(
                f"Missing required parameter: '{name}'.",
                param=name,
                code="missing_required_parameter",
            )
    return None


def check_metadata(call: Call, value: Any) -> dict[str, str] | Response | None:
    """OpenAI's Metadata: up to 16 string pairs, keys up to 64 and values up to 512 chars."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return bad_type(call, "metadata", "an object", value)
    if len(value) > METADATA_MAX_PAIRS:
        return call.invalid(
            "Invalid 'metadata': too many properties. Expected an object with at most "
            f"{METADATA_MAX_PAIRS} properties, but got an object with {len(value)} properties "
            "instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for k, v in value.items():
        if len(k) > METADATA_KEY_MAX:
            return call.invalid(
                f"Invalid 'metadata': string too long. Expected a key with maximum length "
                f"{METADATA_KEY_MAX}, but got a key with length {len(k)} instead.",
                param="metadata",
                code="string_above_max_length",
            )
        if not isinstance(v, str):
            return bad_type(call, f"metadata.{k}", "a string", v)
        if len(v) > METADATA_VALUE_MAX:
            return call.invalid(
                f"Invalid 'metadata.{k}': string too long. Expected a string with maximum "
                f"length {METADATA_VALUE_MAX}, but got a string with length {len(v)} instead.",
                param=f"metadata.{k}",
                code="string_above_max_length",
            )
    return dict(value)


def parse_limit(call: Call, default: int, maximum: int) -> int | Response:
    raw = call.request.query_params.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        return call.invalid(
            "Invalid type for 'limit': expected an integer, but got a string instead.",
            param="limit",
            code="invalid_type",
        )
    if limit < 1:
        return call.invalid(
            "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got "
            f"{limit} instead.",
            param="limit",
            code="integer_below_min_value",
        )
    if limit > maximum:
        return call.invalid(
            f"Invalid 'limit': integer above maximum value. Expected a value <= {maximum}, but "
            f"got {limit} instead.",
            param="limit",
            code="integer_above_max_value",
        )
    return limit


def after_cursor(items: list[T], ids: list[str], after: str | None) -> list[T]:
    """The items after ``after`` (by id); an id not in the list gives nothing, as on OpenAI."""
    if after is None:
        return items
    return items[ids.index(after) + 1 :] if after in ids else []


async def admin_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise AdminError(f"invalid JSON: {exc}") from exc
