"""Sending a local file: in one request, or through the Uploads API in parts.

Files up to ``PART_BYTES`` (64 MiB, the Uploads API's part size) go in one Files
API request. Larger ones are cut into 64 MiB parts, ``CONCURRENCY`` in flight at
a time, each retried on failures after which the server cannot have kept it
(connection failures, timeouts, 429, 5xx). Each accepted part's id is written to
the upload's state file (see ``state``) as it comes back, so ``--resume`` sends
only the parts still missing and completes the same upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import mimetypes
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from anyio import to_thread

from filegate import (
    FileNotFound,
    FileObject,
    InvalidRequest,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    aadd_upload_part,
    acancel_upload,
    acomplete_upload,
    acreate_file,
    acreate_upload,
)
from filegate.cli.options import Client, UsageProblem
from filegate.cli.progress import Transfer
from filegate.cli.state import StateFile
from filegate.upstream.retry import retry_delay

__all__ = ["PART_BYTES", "upload_file"]

PART_BYTES = 64 * 1024 * 1024
CONCURRENCY = 4
PART_ATTEMPTS = 5
JSONL_PURPOSES = ("batch", "fine-tune", "evals")
RETRYABLE = (UpstreamError, UpstreamTimeout, RateLimited)


class Window(io.RawIOBase):
    """``size`` bytes of a file from ``offset``, as a seekable file of its own, that
    counts what is read. Seeking back (a retry reads the part again) takes back what
    was counted, so the progress bar never runs ahead of the bytes sent."""

    def __init__(self, path: Path, offset: int, size: int, advance: Callable[[int], None]) -> None:
        super().__init__()
        self._fh = path.open("rb")
        self._offset, self._size, self._pos = offset, size, 0
        self._advance = advance
        self._counted = 0
        self.name = path.name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = min(max(base + pos, 0), self._size)
        if self._counted:
            self._advance(-self._counted)
            self._counted = 0
        return self._pos

    def read(self, size: int = -1) -> bytes:
        left = self._size - self._pos
        n = left if size is None or size < 0 else min(size, left)
        if n <= 0:
            return b""
        self._fh.seek(self._offset + self._pos)
        data = self._fh.read(n)
        self._pos += len(data)
        self._counted += len(data)
        self._advance(len(data))
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


def mime_type(path: Path, purpose: str) -> str:
    if path.suffix.lower() in (".jsonl", ".ndjson") or purpose in JSONL_PURPOSES:
        return "application/jsonl"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


@dataclass(frozen=True, slots=True)
class LocalFile:
    path: Path
    resolved: Path
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> LocalFile:
        try:
            st = path.stat()
        except OSError as exc:
            raise UsageProblem(f"{path}: {exc.strerror}") from None
        if not stat.S_ISREG(st.st_mode):
            raise UsageProblem(f"{path}: not a regular file")
        return cls(path, path.resolve(), st.st_size, st.st_mtime_ns)


async def upload_file(
    client: Client,
    path: Path,
    *,
    purpose: str,
    expires_after: int | None,
    routing: Mapping[str, str],
    resume: bool,
    concurrency: int = CONCURRENCY,
) -> FileObject:
    local = await to_thread.run_sync(LocalFile.of, path)
    expiry = {"anchor": "created_at", "seconds": expires_after} if expires_after else None
    with Transfer(f"upload {path.name}", local.size) as bar:
        if local.size <= PART_BYTES:
            return await _upload_whole(client, path, local.size, purpose, expiry, routing, bar)
        state = StateFile("uploads", client.base_url, local.resolved, local.size, local.mtime_ns)
        return await _upload_parts(
            client, local, purpose, expiry, routing, bar, state, resume, concurrency
        )


async def _upload_whole(
    client: Client,
    path: Path,
    size: int,
    purpose: str,
    expiry: dict[str, Any] | None,
    routing: Mapping[str, str],
    bar: Transfer,
) -> FileObject:
    window = Window(path, 0, size, bar.advance)
    try:
        return await acreate_file(
            (path.name, cast(IO[bytes], window), mime_type(path, purpose)),
            purpose,
            expires_after=expiry,
            extra_body=dict(routing) or None,
            **client.files_sdk,
        )
    finally:
        window.close()


async def _upload_parts(
    client: Client,
    local: LocalFile,
    purpose: str,
    expiry: dict[str, Any] | None,
    routing: Mapping[str, str],
    bar: Transfer,
    state: StateFile,
    resume: bool,
    concurrency: int,
) -> FileObject:
    path, size = local.path, local.size
    doc = state.load()
    if doc is not None and not resume:
        client.out.note(
            f"note: an earlier upload of {path.name} ({doc['upload_id']}) was interrupted; "
            "starting afresh (--resume continues it)"
        )
        await _cancel_quietly(client, doc["upload_id"])
        doc = None
    if doc is not None and doc.get("part_bytes") != PART_BYTES:
        doc = None
    if doc is None:
        if resume:
            client.out.note(f"note: no interrupted upload of {path} to resume; starting afresh")
        upload = await acreate_upload(
            filename=path.name,
            purpose=purpose,
            bytes=size,
            mime_type=mime_type(path, purpose),
            expires_after=expiry,
            extra_body=dict(routing) or None,
            **client.sdk,
        )
        doc = {
            "upload_id": upload.id,
            "path": str(local.resolved),
            "bytes": size,
            "part_bytes": PART_BYTES,
            "parts": {},
            "created_at": int(time.time()),
        }
        state.save(doc)
    upload_id: str = doc["upload_id"]
    count = -(-size // PART_BYTES)
    parts: dict[str, str] = dict(doc["parts"])
    if parts:
        client.out.note(f"resuming {upload_id}: {len(parts)} of {count} parts already accepted")
    bar.advance(sum(min(PART_BYTES, size - int(i) * PART_BYTES) for i in parts))
    todo: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        if str(index) not in parts:
            todo.put_nowait(index)

    async def worker() -> None:
        while not todo.empty():
            index = todo.get_nowait()
            offset = index * PART_BYTES
            part_id = await _send_part(
                client, upload_id, path, offset, min(PART_BYTES, size - offset), bar
            )
            parts[str(index)] = part_id
            state.save({**doc, "parts": parts})

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, max(todo.qsize(), 1))):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        # The first failure stands for all: the others share its cause or were cancelled.
        raise _forget_if_over(state, _first(failed)) from None
    try:
        done = await acomplete_upload(
            upload_id, [parts[str(i)] for i in range(count)], **client.sdk
        )
    except Exception as exc:
        raise _forget_if_over(state, exc) from None
    state.remove()
    if done.file is None:
        raise UpstreamError("filegate: the completed upload carries no file.")
    return done.file


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first failure of a group (the others are the same cause, or cancellations)."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _forget_if_over(state: StateFile, exc: BaseException) -> BaseException:
    """``exc``; when it says the upload is gone (expired, cancelled, completed, or not
    this key's), there is nothing left to resume, so the state goes too."""
    over = (isinstance(exc, FileNotFound) and exc.param == "upload_id") or (
        isinstance(exc, InvalidRequest) and (exc.code or "").startswith("upload_")
    )
    if over:
        state.remove()
    return exc


async def _send_part(
    client: Client, upload_id: str, path: Path, offset: int, size: int, bar: Transfer
) -> str:
    for attempt in range(PART_ATTEMPTS):
        window = Window(path, offset, size, bar.advance)
        try:
            part = await aadd_upload_part(
                upload_id, (path.name, cast(IO[bytes], window)), max_retries=0, **client.sdk
            )
            return part.id
        except RETRYABLE:
            window.seek(0)  # takes this attempt's bytes off the bar
            if attempt == PART_ATTEMPTS - 1:
                raise
            await asyncio.sleep(retry_delay(attempt))
        except BaseException:
            window.seek(0)
            raise
        finally:
            window.close()
    raise AssertionError("unreachable")


async def _cancel_quietly(client: Client, upload_id: str) -> None:
    # Best effort: an upload left open expires on its own within the hour.
    with contextlib.suppress(Exception):
        await acancel_upload(upload_id, max_retries=0, **client.sdk)
