"""The fake upstream's state: stored files, uploads, faults, config settings, request log.

The fake's user manual is the docstring of ``tests/fakes/upstream.py``. Everything a surface
keeps between requests lives in one :class:`UpstreamState`; each feature adds its own stores
and a reset hook.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import secrets
import shutil
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar

from starlette.requests import Request

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


def keep_bytes(src: Path, dest: Path) -> Path:
    """What a batch or job was made from, kept whatever later happens to the file: a hard link
    (no copy) where the file system allows it."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
    return dest


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
    def duration(self, keys: dict[str, str], status: str) -> float | None:
        """Seconds the ``status`` lasts, from its config key in ``keys``; None: held, or a
        status that does not move by time."""
        key = keys.get(status)
        value = None if key is None else self.config[key]
        return None if value is None else float(value)

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
