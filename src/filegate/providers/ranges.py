"""Byte ranges cut out of a provider's stream, for upstreams that ignore Range."""

from __future__ import annotations

from collections.abc import AsyncIterator

from filegate.records import ByteRange


async def slice_stream(stream: AsyncIterator[bytes], byte_range: ByteRange) -> AsyncIterator[bytes]:
    """The bytes of ``stream`` inside ``byte_range`` (inclusive), stopping once past it."""
    pos = 0
    async for chunk in stream:
        end = pos + len(chunk)
        lo = max(byte_range.start - pos, 0)
        hi = min(byte_range.end + 1 - pos, len(chunk))
        if lo < hi:
            yield chunk[lo:hi]
        pos = end
        if pos > byte_range.end:
            break
