"""Turning what a caller passes as ``file`` into an upload source of known size.

Upstream requests carry a Content-Length, so the size must be known before
the first byte is sent, and a retry must be able to read the bytes again.
Nothing here reads a whole file into memory: paths and file objects are read
in chunks of at most ``CHUNK_SIZE``; an unseekable stream is first spooled to
an anonymous temporary file, chunk by chunk.
"""

from __future__ import annotations

import contextlib
import io
import mimetypes
import os
import stat
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeAlias

from anyio import to_thread

__all__ = [
    "CHUNK_SIZE",
    "BytesSource",
    "FileInput",
    "FileObjectSource",
    "PathSource",
    "Upload",
    "open_upload",
]

CHUNK_SIZE = 1024 * 1024
DEFAULT_FILENAME = "upload"
DEFAULT_CONTENT_TYPE = "application/octet-stream"

FileContentInput: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]"
FileInput: TypeAlias = (
    "FileContentInput | tuple[str | None, FileContentInput] "
    "| tuple[str | None, FileContentInput, str | None]"
)


class BytesSource:
    """Bytes already in memory, sent as they are."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    async def chunks(self) -> AsyncIterator[bytes]:
        # One piece, no copy: the caller already holds the whole thing.
        if self.data:
            yield self.data


class PathSource:
    """A file on disk, opened afresh for every read so retries start over."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size

    async def chunks(self) -> AsyncIterator[bytes]:
        fh = await to_thread.run_sync(self.path.open, "rb")
        try:
            async for chunk in _read_exactly(fh, self.size, self.path):
                yield chunk
        finally:
            await to_thread.run_sync(fh.close)


class FileObjectSource:
    """A seekable binary file object, from ``start`` for ``size`` bytes."""

    def __init__(self, fileobj: IO[bytes], start: int, size: int) -> None:
        self.fileobj = fileobj
        self.start = start
        self.size = size

    async def chunks(self) -> AsyncIterator[bytes]:
        await to_thread.run_sync(self.fileobj.seek, self.start)
        async for chunk in _read_exactly(self.fileobj, self.size, _name_of(self.fileobj)):
            yield chunk


async def _read_exactly(fh: IO[bytes], size: int, what: object) -> AsyncIterator[bytes]:
    # Stop at the size announced in Content-Length even if the file grew;
    # fail loudly if it shrank, rather than send a short body.
    remaining = size
    while remaining > 0:
        chunk = await to_thread.run_sync(fh.read, min(CHUNK_SIZE, remaining))
        if not chunk:
            raise OSError(f"{what}: the file shrank while it was being uploaded")
        remaining -= len(chunk)
        yield _as_bytes(chunk, what)


@dataclass(slots=True)
class Upload:
    """A source ready to send, with the name and content type of its form part."""

    source: BytesSource | PathSource | FileObjectSource
    filename: str
    content_type: str


@contextlib.asynccontextmanager
async def open_upload(file: Any) -> AsyncIterator[Upload]:
    """An ``Upload`` for ``file``; temporary spools are removed on exit.

    ``file`` is a path (``str`` or ``os.PathLike``), bytes, a binary file
    object, or a tuple ``(filename, content[, content_type])`` whose content
    is any of those, as in the openai SDK.
    """
    filename: str | None = None
    content_type: str | None = None
    content = file
    if isinstance(file, tuple):
        if len(file) not in (2, 3):
            raise TypeError(
                "a file tuple is (filename, content) or (filename, content, content_type); "
                f"got {len(file)} items"
            )
        filename, content = file[0], file[1]
        content_type = file[2] if len(file) == 3 else None
        if filename is not None and not isinstance(filename, str):
            raise TypeError(f"the filename in a file tuple must be a str, not {type(filename)}")
        if content_type is not None and not isinstance(content_type, str):
            raise TypeError("the content type in a file tuple must be a str")
    async with contextlib.AsyncExitStack() as stack:
        source, default_name = await _source(content, stack)
        name = filename or default_name
        ctype = content_type or mimetypes.guess_type(name)[0] or DEFAULT_CONTENT_TYPE
        yield Upload(source, name, ctype)


async def _source(
    content: Any, stack: contextlib.AsyncExitStack
) -> tuple[BytesSource | PathSource | FileObjectSource, str]:
    if isinstance(content, str | os.PathLike):
        path = Path(content)
        return PathSource(path, await to_thread.run_sync(_file_size, path)), path.name
    if isinstance(content, bytes | bytearray | memoryview):
        # A mutable buffer is copied once so a retry sends the same bytes.
        data = content if isinstance(content, bytes) else bytes(content)
        return BytesSource(data), DEFAULT_FILENAME
    if callable(getattr(content, "read", None)):
        if isinstance(content, io.TextIOBase):
            raise TypeError("the file object is open in text mode; open it with 'rb'")
        # Files opened by name know it; BytesIO and fdopen'ed files do not.
        name = getattr(content, "name", None)
        default_name = os.path.basename(name) if isinstance(name, str) else ""
        source = await _fileobj_source(content, stack)
        return source, default_name or DEFAULT_FILENAME
    raise TypeError(
        "file must be a path (str or os.PathLike), bytes, a binary file object, or a tuple "
        f"(filename, content[, content_type]); got {type(content).__name__}"
    )


async def _fileobj_source(fileobj: IO[bytes], stack: contextlib.AsyncExitStack) -> FileObjectSource:
    span = await to_thread.run_sync(_seekable_span, fileobj)
    if span is not None:
        start, size = span
        return FileObjectSource(fileobj, start, size)
    spool: BinaryIO = await to_thread.run_sync(tempfile.TemporaryFile)
    stack.push_async_callback(to_thread.run_sync, spool.close)
    size = await _spool(fileobj, spool)
    return FileObjectSource(spool, 0, size)


def _seekable_span(fileobj: IO[bytes]) -> tuple[int, int] | None:
    """(position, bytes left) of a seekable file object, or None for a stream."""
    try:
        if not fileobj.seekable():
            return None
        start = fileobj.tell()
        end = fileobj.seek(0, io.SEEK_END)
        fileobj.seek(start)
    except (AttributeError, OSError, ValueError):
        # Pipes and sockets raise on tell/seek; objects with only read() lack them.
        return None
    return start, max(end - start, 0)


async def _spool(fileobj: IO[bytes], spool: BinaryIO) -> int:
    size = 0
    while True:
        chunk = await to_thread.run_sync(fileobj.read, CHUNK_SIZE)
        if not chunk:
            break
        await to_thread.run_sync(spool.write, _as_bytes(chunk, _name_of(fileobj)))
        size += len(chunk)
    await to_thread.run_sync(spool.flush)
    return size


def _file_size(path: Path) -> int:
    st = path.stat()  # raises FileNotFoundError before any request is made
    if not stat.S_ISREG(st.st_mode):
        raise IsADirectoryError(f"{path}: not a regular file")
    return st.st_size


def _as_bytes(chunk: object, what: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"{what}: read() returned {type(chunk).__name__}, not bytes")


def _name_of(fileobj: object) -> object:
    return getattr(fileobj, "name", None) or "file object"
