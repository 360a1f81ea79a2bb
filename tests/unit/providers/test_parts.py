"""One source cut into parts: read once when all goes well, re-read from an offset on a retry."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from filegate.providers.openai.parts import Part, Parts

DATA = os.urandom(1000)


class Source:
    """An UploadSource in odd-sized chunks that counts its reads and closes."""

    def __init__(self, data: bytes = DATA, chunk: int = 37, size: int | None = None) -> None:
        self.data, self.chunk = data, chunk
        self.size = len(data) if size is None else size
        self.reads = 0
        self.open = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        self.reads += 1
        self.open += 1
        try:
            for i in range(0, len(self.data), self.chunk):
                yield self.data[i : i + self.chunk]
        finally:
            self.open -= 1


async def read(part: Part, stop_after: int | None = None) -> bytes:
    out = b""
    stream = part.chunks()
    async for chunk in stream:
        out += chunk
        if stop_after is not None and len(out) >= stop_after:
            await stream.aclose()  # type: ignore[attr-defined]
            break
    return out


async def test_parts_cover_the_source_in_order_from_one_read() -> None:
    source = Source()
    parts = Parts(source, 300)
    got = [await read(p) for p in parts]
    assert [len(g) for g in got] == [300, 300, 300, 100]
    assert [p.offset for p in parts] == [0, 300, 600, 900]
    assert b"".join(got) == DATA
    assert source.reads == 1
    await parts.aclose()
    assert source.open == 0


async def test_a_part_sent_again_is_read_from_its_offset_and_so_are_the_rest() -> None:
    source = Source()
    parts = Parts(source, 300)
    first, second, third, fourth = parts
    assert await read(first) == DATA[:300]
    assert await read(second) == DATA[300:600]
    assert await read(second) == DATA[300:600]  # the retry
    assert source.reads == 2 and source.open == 0  # the shared read was closed
    assert await read(third) == DATA[600:900]
    assert await read(fourth) == DATA[900:]


async def test_a_part_cut_short_is_whole_on_its_retry() -> None:
    source = Source()
    parts = Parts(source, 400)
    first, second, third = parts
    assert await read(first, stop_after=50) == DATA[:74]  # two chunks, then the failure
    assert await read(first) == DATA[:400]
    assert await read(second) == DATA[400:800]
    assert await read(third) == DATA[800:]
    await parts.aclose()
    assert source.open == 0


async def test_an_exact_multiple_has_no_empty_part() -> None:
    source = Source(DATA[:900])
    assert [p.size for p in Parts(source, 300)] == [300, 300, 300]
    assert list(Parts(Source(b""), 300)) == []


async def test_a_source_shorter_than_its_size_is_an_error() -> None:
    *whole, last = Parts(Source(size=len(DATA) + 10), 300)
    for part in whole:
        await read(part)
    with pytest.raises(ValueError, match="10 bytes before"):
        await read(last)


def test_part_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Parts(Source(), 0)
