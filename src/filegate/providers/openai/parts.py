"""One upload source cut into consecutive parts, for a provider's Uploads API.

A file larger than a provider's Files API takes goes up in parts instead. The
bytes are read once: each part's first attempt takes the next ``size`` bytes of
one shared pass over the source (the live relay, or the spool). A part sent
again (a retry) reads the source anew and skips to its offset, and every part
after it does the same, since the shared pass no longer stands where they begin.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator

from filegate.providers.base import UploadSource


class Parts:
    def __init__(self, source: UploadSource, part_size: int) -> None:
        if part_size < 1:
            raise ValueError("part_size must be positive")
        self.source = source
        self.part_size = part_size
        self._pass: AsyncIterator[bytes] | None = None
        self._at = 0  # how far the shared pass has been read
        self._carry = b""  # read from the pass but belonging to the next part
        self._shared = True

    def __iter__(self) -> Iterator[Part]:
        size = self.source.size
        for offset in range(0, size, self.part_size):
            yield Part(self, offset, min(self.part_size, size - offset))

    async def aclose(self) -> None:
        if self._pass is not None:
            # Closing the pass releases the source (a relay stops waiting for us).
            await self._pass.aclose()  # type: ignore[attr-defined]
            self._pass = None

    async def _take(self, size: int) -> AsyncGenerator[bytes, None]:
        """The next ``size`` bytes of the shared pass."""
        if self._pass is None:
            self._pass = self.source.chunks()
        need = size
        while need:
            if self._carry:
                chunk, self._carry = self._carry, b""
            else:
                got = await anext(self._pass, None)
                if got is None:
                    raise ValueError(f"the source ended {need} bytes before its stated size")
                chunk = got
            if len(chunk) > need:
                chunk, self._carry = chunk[:need], chunk[need:]
            need -= len(chunk)
            self._at += len(chunk)
            yield chunk

    async def _reread(self, offset: int, size: int) -> AsyncGenerator[bytes, None]:
        """``size`` bytes from ``offset``, from a fresh read of the source."""
        self._shared = False
        await self.aclose()
        pos, end = 0, offset + size
        stream = self.source.chunks()
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for chunk in stream:
                lo, hi = max(offset - pos, 0), min(end - pos, len(chunk))
                pos += len(chunk)
                if lo < hi:
                    yield chunk[lo:hi] if (lo, hi) != (0, len(chunk)) else chunk
                if pos >= end:
                    return
        raise ValueError(f"the source ended {end - pos} bytes before its stated size")


class Part:
    """One part as an UploadSource: re-readable, of known size."""

    def __init__(self, parts: Parts, offset: int, size: int) -> None:
        self._parts, self.offset, self.size = parts, offset, size
        self._reads = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        self._reads += 1
        parts = self._parts
        if self._reads == 1 and parts._shared and parts._at == self.offset:
            stream = parts._take(self.size)
        else:
            stream = parts._reread(self.offset, self.size)
        async with contextlib.aclosing(stream):
            async for chunk in stream:
                yield chunk
