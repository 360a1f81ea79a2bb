"""A file written by a thread of its own, fed batches without waiting for each.

A round trip to a worker thread (hand over, wake it, get the result back to the
event loop) cost about 0.3 ms of CPU on the machines filegate was measured on;
at one per MiB that was a tenth of the CPU of a large upload. Here the event
loop only puts each batch on a queue: the thread writes (and hashes) the
batches in order, and the loop waits for it only when it falls more than
``MAX_PENDING`` batches behind, and once at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from anyio import to_thread

from filegate.errors import StorageUnavailable

MAX_PENDING = 4

_Done = Callable[[BinaryIO], None]


class FileWriter:
    def __init__(self, path: Path, hasher: hashlib._Hash | None) -> None:
        self._path = path
        self._hasher = hasher
        self._queue: queue.SimpleQueue[list[bytes] | _Done] = queue.SimpleQueue()
        self._room = threading.Semaphore(MAX_PENDING)
        self._error: BaseException | None = None
        self._loop = asyncio.get_running_loop()
        self._ended: asyncio.Future[None] = self._loop.create_future()
        threading.Thread(target=self._run, name="filegate-writer", daemon=True).start()

    async def write(self, batch: list[bytes]) -> None:
        """Queue ``batch`` (it changes hands); raise an earlier write's error."""
        if self._error is not None:
            raise self._error
        if not self._room.acquire(blocking=False):
            # The disk is behind: wait for room without holding up the loop.
            await to_thread.run_sync(self._room.acquire)
        self._queue.put(batch)

    async def finish(self, done: _Done) -> None:
        """After every batch is written, run ``done`` on the open file in the thread
        (it must close it); raise the first error."""
        self._queue.put(done)
        await asyncio.shield(self._ended)

    async def abort(self) -> None:
        """Stop, and remove the file; errors are dropped for the one being raised."""
        self._error = self._error or _Aborted()
        self._queue.put(_discarding(self._path))
        await asyncio.wait([self._ended])
        if not self._ended.cancelled():
            self._ended.exception()

    def _run(self) -> None:
        fh: BinaryIO | None = None
        try:
            try:
                fh = open(self._path, "xb")  # noqa: SIM115 - closed by the closing step
                hold_while_writing(fh)
            except OSError as exc:
                self._fail(exc)
            # Drain every batch (freeing room) until the closing step, even after
            # an error: the loop may be waiting for room.
            while not callable(item := self._queue.get()):
                if self._error is None and fh is not None:
                    try:
                        write_batch(fh, self._hasher, item)
                    except OSError as exc:
                        self._fail(exc)
                self._room.release()
            if fh is not None:
                last, fh = fh, None
                (_discarding(self._path) if self._error is not None else item)(last)
        except BaseException as exc:  # reported to the loop, not lost in the thread
            self._error = self._error or exc
        finally:
            if fh is not None:
                discard(fh, self._path)
            error = None if isinstance(self._error, _Aborted) else self._error
            # A loop already closed (the server stopped mid-upload) has no one waiting.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(_settle, self._ended, error)

    def _fail(self, exc: OSError) -> None:
        if self._error is None:
            self._error = StorageUnavailable(f"cannot write to local storage: {exc.strerror}")


class _Aborted(RuntimeError):
    """The writer was told to stop; later writes are refused with this."""


def hold_while_writing(fh: BinaryIO) -> None:
    """Mark a partial file as being written, until it is closed or its process dies.

    The lock (``flock``, which the kernel drops with the process) is how the
    sweep tells a partial file of a live writer, however slow, from one a killed
    process left behind.
    """
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def is_abandoned(path: str) -> bool:
    """Whether no live process holds ``path`` open for writing (see ``hold_while_writing``)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # and with it the lock just taken
    return True


def write_batch(fh: BinaryIO, hasher: hashlib._Hash | None, batch: list[bytes]) -> None:
    # hashlib and file writes release the GIL: the event loop goes on meanwhile.
    if hasher is not None:
        for chunk in batch:
            hasher.update(chunk)
    fh.writelines(batch)


def discard(fh: BinaryIO, path: Path) -> None:
    fh.close()
    path.unlink(missing_ok=True)


def _discarding(path: Path) -> _Done:
    return lambda fh: discard(fh, path)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
