"""The writer thread: batches in order, errors reported on the loop, never a hang."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
from pathlib import Path
from typing import BinaryIO

import pytest

from filegate.blobstores._writer import MAX_PENDING, FileWriter
from filegate.errors import StorageUnavailable


def close(fh: BinaryIO) -> None:
    fh.close()


async def test_batches_are_written_in_order_and_hashed(tmp_path: Path) -> None:
    path = tmp_path / "f"
    hasher = hashlib.sha256()
    writer = FileWriter(path, hasher)
    batches = [[os.urandom(1000), os.urandom(7)] for _ in range(3 * MAX_PENDING)]
    for batch in batches:
        await writer.write(list(batch))
    await writer.finish(close)
    data = b"".join(b"".join(b) for b in batches)
    assert path.read_bytes() == data
    assert hasher.hexdigest() == hashlib.sha256(data).hexdigest()


class FullDisk:
    """A hasher whose third update fails as a full disk would."""

    def __init__(self) -> None:
        self.calls = 0

    def update(self, data: bytes) -> None:
        self.calls += 1
        if self.calls == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


async def test_a_failed_write_is_raised_on_the_loop_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    writer = FileWriter(path, FullDisk())  # type: ignore[arg-type]

    async def feed() -> None:
        # Far more batches than fit in the queue: the loop must not wait forever.
        for _ in range(10 * MAX_PENDING):
            await writer.write([b"x" * 100])
        await writer.finish(close)

    with pytest.raises(StorageUnavailable, match="No space left"):
        await asyncio.wait_for(feed(), timeout=10)
    await writer.abort()
    assert os.listdir(tmp_path) == []


async def test_a_file_that_cannot_be_opened_is_an_error_not_a_hang(tmp_path: Path) -> None:
    writer = FileWriter(tmp_path / "missing" / "f", None)

    async def feed() -> None:
        for _ in range(10 * MAX_PENDING):
            await writer.write([b"x"])
        await writer.finish(close)

    with pytest.raises(StorageUnavailable, match="cannot write"):
        await asyncio.wait_for(feed(), timeout=10)


async def test_abort_removes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    writer = FileWriter(path, None)
    await writer.write([b"some bytes"])
    await writer.abort()
    assert not path.exists()
    with pytest.raises(RuntimeError):
        await writer.write([b"more"])
