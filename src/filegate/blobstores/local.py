"""Blobs on local disk: write to a temp file, fsync, rename into place."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

from anyio import to_thread

from filegate.blobstores._writer import (
    FileWriter,
    discard,
    hold_while_writing,
    is_abandoned,
    write_batch,
)
from filegate.errors import StorageUnavailable
from filegate.records import ByteRange, Stored

# Disk I/O runs in threads; batching chunks to this size keeps the number of
# hand-overs small without holding much memory.
WRITE_BATCH = 1024 * 1024
READ_CHUNK = 1024 * 1024

# The readiness probe's files; one a crash left mid-probe is swept like a partial file.
PROBE_PREFIX = ".probe."
_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class LocalBlobStore:
    def __init__(self, root: str | Path, *, durable: bool = True, hashing: bool = True) -> None:
        self.root = Path(root)
        # A scratch store (the upload spool) skips fsync: its files never
        # outlive the request that wrote them. It skips the SHA-256 too, the
        # largest CPU cost of a write, since the bytes it holds are served by
        # the provider they are bound for, never by filegate.
        self.durable = durable
        self.hashing = hashing
        self._blobs = self.root / "blobs"
        self._tmp = self.root / "tmp"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        # Keys come from filegate, but a path is built from them, so refuse
        # anything that could climb out of the store.
        if not _SAFE_KEY.match(key) or ".." in key:
            raise ValueError(f"unsafe blob key {key!r}")
        return self._blobs / key[-2:] / key

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> Stored:
        final = self._path(key)
        tmp = self._tmp / f"{key}.{secrets.token_hex(4)}.part"
        hasher = hashlib.sha256() if self.hashing else None
        total = 0
        writer: FileWriter | None = None
        try:
            # Chunks are handed over as they are, not joined: joining would copy
            # every byte once more on the event loop.
            batch: list[bytes] = []
            pending = 0
            async for chunk in chunks:
                batch.append(chunk)
                pending += len(chunk)
                if pending >= WRITE_BATCH:
                    if writer is None:
                        writer = FileWriter(tmp, hasher)
                    await writer.write(batch)
                    total += pending
                    batch, pending = [], 0
            total += pending
            if writer is None:
                # A small file: open, write and commit in one trip to a thread.
                await to_thread.run_sync(_write_whole, tmp, final, hasher, batch, self.durable)
            else:
                if batch:
                    await writer.write(batch)
                durable = self.durable
                await writer.finish(lambda fh: _commit(fh, tmp, final, durable))
        except BaseException:
            if writer is not None:
                await writer.abort()
            raise
        return Stored(total, hasher.hexdigest() if hasher is not None else None)

    async def get(self, key: str, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        fh = await to_thread.run_sync(_open_read, path)
        start, remaining = (0, -1) if byte_range is None else (byte_range.start, byte_range.length)
        if start:
            await to_thread.run_sync(fh.seek, start)
        return _read_chunks(fh, remaining)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def check(self) -> None:
        def probe() -> None:
            probe_path = self._tmp / f"{PROBE_PREFIX}{secrets.token_hex(4)}"
            try:
                probe_path.write_bytes(b"ok")
            finally:
                # On a full disk the file is made and the write fails: remove it either way.
                probe_path.unlink(missing_ok=True)

        try:
            await to_thread.run_sync(probe)
        except OSError as exc:
            raise StorageUnavailable(f"local storage is not writable: {exc.strerror}") from exc

    async def sweep_incomplete(self, older_than: float) -> int:
        """Remove partial files no live writer holds (and stray probe files), once
        they are ``older_than`` seconds old: a writer holds its file from the moment
        it makes it, so the age only covers that moment."""

        def sweep() -> int:
            cutoff = time.time() - older_than
            removed = 0
            for entry in os.scandir(self._tmp):
                name = entry.name
                try:
                    if not (name.endswith(".part") or name.startswith(PROBE_PREFIX)):
                        continue
                    if entry.stat().st_mtime < cutoff and is_abandoned(entry.path):
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    continue
            return removed

        return await to_thread.run_sync(sweep)

    async def aclose(self) -> None:
        return None


def _open_new(path: Path) -> BinaryIO:
    try:
        fh = open(path, "xb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise StorageUnavailable(f"cannot write to local storage: {exc.strerror}") from exc
    hold_while_writing(fh)
    return fh


def _open_read(path: Path) -> BinaryIO:
    return open(path, "rb")


def _commit(fh: BinaryIO, tmp: Path, final: Path, durable: bool) -> None:
    try:
        fh.flush()
        if durable:
            os.fsync(fh.fileno())
        fh.close()
        final.parent.mkdir(exist_ok=True)
        os.replace(tmp, final)
        if durable:
            _fsync_dir(final.parent)
    except OSError as exc:
        raise StorageUnavailable(f"cannot write to local storage: {exc.strerror}") from exc


def _write_whole(
    tmp: Path, final: Path, hasher: hashlib._Hash | None, batch: list[bytes], durable: bool
) -> None:
    fh = _open_new(tmp)
    try:
        try:
            write_batch(fh, hasher, batch)
        except OSError as exc:
            raise StorageUnavailable(f"cannot write to local storage: {exc.strerror}") from exc
        _commit(fh, tmp, final, durable)
    except BaseException:
        discard(fh, tmp)
        raise


def _fsync_dir(path: Path) -> None:
    # The rename is only durable once the directory entry itself is on disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _read_chunks(fh: BinaryIO, remaining: int) -> AsyncIterator[bytes]:
    """Read ahead by one chunk, so the disk read overlaps with sending the last one."""

    def read_next() -> asyncio.Future[bytes]:
        size = READ_CHUNK if remaining < 0 else min(READ_CHUNK, remaining)
        return asyncio.ensure_future(to_thread.run_sync(fh.read, size))

    pending: asyncio.Future[bytes] | None = read_next() if remaining != 0 else None
    try:
        while pending is not None:
            chunk = await pending
            pending = None
            if not chunk:
                break
            if remaining > 0:
                remaining -= len(chunk)
            if remaining != 0:
                pending = read_next()
            yield chunk
    finally:
        if pending is not None and not pending.done():
            # A read is still running in its thread: close the file after it.
            pending.add_done_callback(lambda _: fh.close())
        else:
            fh.close()
