"""A blob store that reports the bytes it writes and reads (``upstream.meter``).

The composition root wraps the file store in it; the spool, where bytes wait on their
way to a provider, is left bare: its bytes are counted once, at the provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from filegate.blobstores.base import BlobStore
from filegate.records import ByteRange, Stored
from filegate.upstream.meter import BoundMeter


class MeteredBlobStore:
    def __init__(self, inner: BlobStore, meter: BoundMeter) -> None:
        self.inner, self.meter = inner, meter

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> Stored:
        return await self.inner.put(key, self._counted("out", chunks))

    async def get(self, key: str, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        # Opening raises FileNotFoundError here, before any byte, as the protocol says.
        return self._counted("in", await self.inner.get(key, byte_range))

    async def _counted(self, direction: str, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        moved = self.meter.moved
        try:
            async for chunk in chunks:
                moved(direction, len(chunk))
                yield chunk
        finally:
            # Closed early (a client gone mid-download): release the store's reader now,
            # not when the collector gets to it.
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def check(self) -> None:
        await self.inner.check()

    async def sweep_incomplete(self, older_than: float) -> int:
        return await self.inner.sweep_incomplete(older_than)

    async def aclose(self) -> None:
        await self.inner.aclose()
