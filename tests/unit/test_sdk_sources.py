"""What the SDK accepts as ``file``: every kind gives the right size and bytes, read in chunks."""

from __future__ import annotations

import io
import os
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from filegate.sdk.sources import CHUNK_SIZE, FileObjectSource, PathSource, Upload, open_upload

MiB = 1024 * 1024


async def collect(upload: Upload) -> list[bytes]:
    return [chunk async for chunk in upload.source.chunks()]


async def read_upload(file: Any) -> tuple[Upload, bytes]:
    async with open_upload(file) as upload:
        data = b"".join(await collect(upload))
        # A retry reads the source again and must get the same bytes.
        assert b"".join(await collect(upload)) == data
    assert upload.source.size == len(data)
    return upload, data


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
async def test_in_memory_bytes(kind: type) -> None:
    upload, data = await read_upload(kind(b"hello world"))
    assert data == b"hello world"
    assert upload.filename == "upload"
    assert upload.content_type == "application/octet-stream"


async def test_empty_bytes() -> None:
    upload, data = await read_upload(b"")
    assert data == b"" and upload.source.size == 0


@pytest.mark.parametrize("as_str", [True, False])
async def test_path(tmp_path: Path, as_str: bool) -> None:
    path = tmp_path / "train.json"
    path.write_bytes(b'{"x": 1}')
    upload, data = await read_upload(str(path) if as_str else path)
    assert isinstance(upload.source, PathSource)
    assert data == b'{"x": 1}'
    assert upload.filename == "train.json"
    assert upload.content_type == "application/json"


async def test_large_path_is_read_in_chunks_never_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    block = os.urandom(MiB)
    with path.open("wb") as fh:
        for _ in range(50):
            fh.write(block)
    tracemalloc.start()
    try:
        async with open_upload(path) as upload:
            assert upload.source.size == 50 * MiB  # from stat, before any read
            total, biggest = 0, 0
            async for chunk in upload.source.chunks():
                total += len(chunk)
                biggest = max(biggest, len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 50 * MiB
    assert biggest <= CHUNK_SIZE == MiB
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB while reading a 50 MiB file"


async def test_seekable_file_object_from_its_position() -> None:
    buf = io.BytesIO(b"0123456789")
    buf.seek(4)
    upload, data = await read_upload(buf)
    assert isinstance(upload.source, FileObjectSource)
    assert data == b"456789"
    assert upload.filename == "upload"


async def test_open_file_keeps_its_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"abc")
    with path.open("rb") as fh:
        upload, data = await read_upload(fh)
    assert data == b"abc"
    assert upload.filename == "notes.txt"
    assert upload.content_type == "text/plain"


class Unseekable(io.RawIOBase):
    """A stream that can only be read forwards, a little at a time."""

    def __init__(self, data: bytes, step: int = 3) -> None:
        self.data, self.pos, self.step, self.biggest_read = data, 0, step, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        self.biggest_read = max(self.biggest_read, size)
        n = self.step if size < 0 else min(size, self.step)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk


async def test_unseekable_stream_is_spooled_in_chunks() -> None:
    data = b"x" * 1000 + b"y" * 1000
    stream = Unseekable(data)
    async with open_upload(stream) as upload:
        assert upload.source.size == len(data)
        spool = upload.source.fileobj  # type: ignore[union-attr]
        assert spool is not stream
        assert b"".join(await collect(upload)) == data
        assert b"".join(await collect(upload)) == data
    assert spool.closed, "the spool is removed when the upload is done"
    assert 0 < stream.biggest_read <= CHUNK_SIZE


async def test_pipe_is_spooled() -> None:
    read_fd, write_fd = os.pipe()
    payload = os.urandom(3 * MiB + 5)

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as w:
            w.write(payload)

    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(read_fd, "rb") as r:
        upload, data = await read_upload(r)
    writer.join()
    assert data == payload
    assert upload.filename == "upload"  # an fdopen'ed file has no name to give


class ReadOnly:
    """Only ``read()``: no seekable(), tell() or seek()."""

    def __init__(self, data: bytes) -> None:
        self.stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)


async def test_object_with_only_read_is_spooled() -> None:
    _, data = await read_upload(ReadOnly(b"abc" * 10))
    assert data == b"abc" * 10


@pytest.mark.parametrize(
    ("file", "name", "ctype"),
    [
        (("batch.jsonl", b"{}\n"), "batch.jsonl", "application/octet-stream"),
        (("pic.png", io.BytesIO(b"\x89PNG"), "image/x-custom"), "pic.png", "image/x-custom"),
        ((None, b"abc"), "upload", "application/octet-stream"),
    ],
)
async def test_tuples_name_and_type_the_part(file: Any, name: str, ctype: str) -> None:
    upload, data = await read_upload(file)
    assert upload.filename == name
    assert upload.content_type == ctype
    assert data == (file[1] if isinstance(file[1], bytes) else b"\x89PNG")


async def test_tuple_with_a_path_takes_the_tuple_name(tmp_path: Path) -> None:
    path = tmp_path / "on-disk.bin"
    path.write_bytes(b"12345")
    upload, data = await read_upload(("shown.jsonl", path))
    assert upload.filename == "shown.jsonl" and data == b"12345"


@pytest.mark.parametrize(
    "bad",
    [12, None, ("a", b"x", "text/plain", {"h": "v"}), (b"name", b"x"), io.StringIO("text")],
)
async def test_unsupported_inputs_raise_type_error(bad: Any) -> None:
    with pytest.raises(TypeError):
        async with open_upload(bad):
            pass


async def test_missing_path_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        async with open_upload(tmp_path / "nope.jsonl"):
            pass
    with pytest.raises(IsADirectoryError):
        async with open_upload(tmp_path):
            pass


async def test_a_file_that_shrinks_fails_instead_of_sending_short(tmp_path: Path) -> None:
    path = tmp_path / "shrinks.bin"
    path.write_bytes(b"x" * 100)
    async with open_upload(path) as upload:
        path.write_bytes(b"x" * 10)
        with pytest.raises(OSError, match="shrank"):
            await collect(upload)


async def test_a_file_that_grows_is_sent_at_its_announced_size(tmp_path: Path) -> None:
    path = tmp_path / "grows.bin"
    path.write_bytes(b"x" * 10)
    async with open_upload(path) as upload:
        with path.open("ab") as fh:
            fh.write(b"y" * 10)
        assert b"".join(await collect(upload)) == b"x" * 10
