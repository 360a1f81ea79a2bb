"""A file's content: bytes read in full, or an open download read as it arrives.

``afile_content(..., stream=False)`` reads the body before returning, like
the openai SDK. With ``stream=True`` nothing is read until asked: the object
holds the open upstream response, yields chunks as they arrive and closes the
response when the last one is read, when it is closed, or when its ``with`` /
``async with`` block ends.

A stream opened by an async call belongs to the caller's event loop and is
read with the ``a``-methods. A stream opened by a sync call lives on the
portal loop (see ``_portal``); it can be read with either kind of method, one
chunk fetched from the portal per step, so memory stays flat.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

import httpx2
from anyio import to_thread

from filegate.errors import UpstreamError, UpstreamTimeout
from filegate.sdk.portal import Portal

__all__ = ["FileContent"]

T = TypeVar("T")
WRITE_BATCH = 1024 * 1024


class FileContent:
    """The bytes of one file; see the module docstring for the two modes."""

    def __init__(
        self,
        *,
        headers: dict[str, str],
        content: bytes | None = None,
        stream: AsyncIterator[bytes] | None = None,
        close: Callable[[], Awaitable[None]] | None = None,
        chunk_size: int | None = None,
        portal: Portal | None = None,
    ) -> None:
        if (content is None) == (stream is None):
            raise ValueError("FileContent needs either content or a stream")
        self.headers = headers
        self.chunk_size = chunk_size
        self._content = content
        self._stream = stream
        self._close = close
        self._portal = portal
        self._consumed = content is not None
        self._closed = stream is None

    # -- state -----------------------------------------------------------------------------------
    @property
    def is_stream(self) -> bool:
        """True when the bytes come from an open download rather than memory."""
        return self._stream is not None

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def encoding(self) -> str:
        msg = Message()
        msg["content-type"] = self.headers.get("content-type", "")
        charset = msg.get_param("charset")
        return charset if isinstance(charset, str) else "utf-8"

    def _start_reading(self) -> None:
        if self._consumed:
            raise RuntimeError("the content stream was already read; it can be read once")
        self._consumed = True

    # -- the owning loop's side: these run where the stream lives ----------------------------------
    async def _next_chunk(self) -> bytes | None:
        assert self._stream is not None
        if self._closed:
            raise RuntimeError("the content stream is closed")
        try:
            return await anext(self._stream)
        except StopAsyncIteration:
            await self._aclose_here()
            return None
        except httpx2.TimeoutException:
            await self._aclose_here()
            raise UpstreamTimeout("the upstream stopped sending the file content.") from None
        except httpx2.HTTPError as exc:
            await self._aclose_here()
            raise UpstreamError(
                f"the download broke off ({type(exc).__name__}: {exc}).", code="upstream_error"
            ) from None
        except BaseException:
            await self._aclose_here()
            raise

    async def _read_rest(self) -> bytes:
        buf = bytearray()
        while (chunk := await self._next_chunk()) is not None:
            buf += chunk
        return bytes(buf)

    async def _aclose_here(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._close is not None:
            await self._close()

    async def _on_home(self, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        if self._portal is not None:
            return await self._portal.acall(factory)
        return await factory()

    def _on_portal(self, factory: Callable[[], Coroutine[Any, Any, T]], instead: str) -> T:
        if self._portal is None:
            raise RuntimeError(
                f"this content was opened by an async call; use `{instead}` on its event loop"
            )
        return self._portal.call(factory)

    # -- whole content ---------------------------------------------------------------------------
    @property
    def content(self) -> bytes:
        """All the bytes. A sync stream is read to the end here, on first access;
        an async one must be read with ``await aread()`` first."""
        if self._content is None:
            if self._portal is None:
                raise RuntimeError(
                    "the content of an async stream is not read yet; call `await .aread()` first"
                )
            return self.read()
        return self._content

    @property
    def text(self) -> str:
        """The content decoded with the charset of its Content-Type (default UTF-8)."""
        return self.content.decode(self.encoding, errors="replace")

    def read(self) -> bytes:
        """Read the rest of a sync stream into memory and return all the bytes."""
        if self._content is None:
            self._start_reading()
            self._content = self._on_portal(self._read_rest, "await .aread()")
        return self._content

    async def aread(self) -> bytes:
        """Read the rest of the stream into memory and return all the bytes."""
        if self._content is None:
            self._start_reading()
            self._content = await self._on_home(self._read_rest)
        return self._content

    # -- iteration -------------------------------------------------------------------------------
    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The bytes in chunks: as they arrive, or of ``chunk_size`` (the last may be shorter)."""
        size = chunk_size or self.chunk_size
        if self._content is not None:
            return iter(_slices(self._content, size))
        if self._portal is None:
            raise RuntimeError(
                "this content was opened by an async call; use `async for` over .aiter_bytes()"
            )
        self._start_reading()
        return _rechunk(self._iter_portal(), size)

    def _iter_portal(self) -> Iterator[bytes]:
        try:
            while (chunk := self._on_portal(self._next_chunk, "aiter_bytes()")) is not None:
                yield chunk
        finally:
            # Left early (break, error, garbage collection): release the connection.
            if not self._closed:
                with contextlib.suppress(Exception):
                    self._on_portal(self._aclose_here, "await .aclose()")

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """Async twin of :meth:`iter_bytes`."""
        size = chunk_size or self.chunk_size
        if self._content is not None:
            for piece in _slices(self._content, size):
                yield piece
            return
        self._start_reading()
        try:
            async for piece in _arechunk(self._aiter_home(), size):
                yield piece
        finally:
            await self.aclose()

    async def _aiter_home(self) -> AsyncIterator[bytes]:
        while (chunk := await self._on_home(self._next_chunk)) is not None:
            yield chunk

    # -- saving ----------------------------------------------------------------------------------
    def write_to_file(self, path: str | os.PathLike[str]) -> None:
        """Write the content to ``path``, chunk by chunk."""
        chunks = self.iter_bytes()  # refuses an async stream before the file is made
        with open(path, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)

    async def awrite_to_file(self, path: str | os.PathLike[str]) -> None:
        """Async twin of :meth:`write_to_file`; disk writes run in a worker thread."""
        fh: BinaryIO = await to_thread.run_sync(Path(path).open, "wb")
        try:
            # Batched so a stream of small chunks costs few thread hops.
            batch = bytearray()
            async for chunk in self.aiter_bytes():
                batch += chunk
                if len(batch) >= WRITE_BATCH:
                    data, batch = bytes(batch), bytearray()
                    await to_thread.run_sync(fh.write, data)
            if batch:
                await to_thread.run_sync(fh.write, bytes(batch))
        finally:
            await to_thread.run_sync(fh.close)

    # -- closing ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the upstream response of a sync stream (a no-op once closed)."""
        if not self._closed:
            self._on_portal(self._aclose_here, "await .aclose() (or `async with`)")

    async def aclose(self) -> None:
        """Release the upstream response (a no-op once closed)."""
        if not self._closed:
            await self._on_home(self._aclose_here)

    def __enter__(self) -> FileContent:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> FileContent:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        if self._content is not None:
            return f"FileContent(<{len(self._content)} bytes>)"
        state = "closed" if self._closed else "open"
        return f"FileContent(<{state} stream>)"


def _slices(data: bytes, size: int | None) -> Iterable[bytes]:
    if not size or len(data) <= size:
        return [data] if data else []
    view = memoryview(data)
    return (bytes(view[i : i + size]) for i in range(0, len(data), size))


def _rechunk(chunks: Iterator[bytes], size: int | None) -> Iterator[bytes]:
    if not size:
        yield from chunks
        return
    buf = bytearray()
    try:
        for chunk in chunks:
            buf += chunk
            while len(buf) >= size:
                yield bytes(buf[:size])
                del buf[:size]
        if buf:
            yield bytes(buf)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


async def _arechunk(chunks: AsyncIterator[bytes], size: int | None) -> AsyncIterator[bytes]:
    buf = bytearray()
    async for chunk in chunks:
        if not size:
            yield chunk
            continue
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)
