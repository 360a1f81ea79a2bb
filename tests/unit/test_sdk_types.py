"""Result types without a network: page walking and content chunking."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from filegate import FileContent, FileObject, FilePage, FineTuningJob, FineTuningJobPage
from filegate.providers.base import ProviderJob


def file(i: int) -> FileObject:
    return FileObject(id=f"file-{i}", bytes=1, created_at=i, filename="f", purpose="batch")


def pages_of(ids: list[int], size: int, *, honour_after: bool = True) -> FilePage:
    """A listing of ``ids`` in pages of ``size``, like an upstream (or one that ignores after)."""
    calls: list[str | None] = []

    async def fetch(after: str | None) -> FilePage:
        calls.append(after)
        start = 0
        if after is not None and honour_after:
            start = [f"file-{i}" for i in ids].index(after) + 1
        chunk = ids[start : start + size]
        return FilePage([file(i) for i in chunk], start + size < len(ids), fetch)

    first = [file(i) for i in ids[:size]]
    return FilePage(first, size < len(ids), fetch)


async def test_walks_every_page_once() -> None:
    page = pages_of(list(range(7)), 3)
    assert [f.id async for f in page] == [f"file-{i}" for i in range(7)]
    assert [f.id for f in page] == [f"file-{i}" for i in range(7)]
    second = await page.anext_page()
    assert second is not None and second.first_id == "file-3" and second.last_id == "file-5"


async def test_stops_when_the_upstream_ignores_after() -> None:
    page = pages_of(list(range(7)), 3, honour_after=False)
    assert await page.anext_page() is None
    assert [f.id async for f in page] == ["file-0", "file-1", "file-2"]


async def test_last_page_and_empty_page_have_no_next() -> None:
    assert await pages_of([1, 2], 5).anext_page() is None
    empty = FilePage([], True, pages_of([1], 1)._fetch)
    assert await empty.anext_page() is None
    assert empty.to_dict() == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": True,
    }


def test_file_object_keeps_extra_fields_and_dumps_like_openai() -> None:
    obj = FileObject.model_validate(
        {"id": "f", "bytes": 3, "created_at": 1, "filename": "a", "purpose": "batch", "x": 1}
    )
    assert obj.object == "file" and obj.status == "processed"
    assert obj.model_dump()["x"] == 1


@pytest.mark.parametrize(
    ("size", "pieces"), [(None, [b"abcdefg"]), (3, [b"abc", b"def", b"g"]), (10, [b"abcdefg"])]
)
async def test_buffered_content_chunks(size: int | None, pieces: list[bytes]) -> None:
    content = FileContent(
        headers={"content-type": "text/plain; charset=latin-1"}, content=b"abcdefg"
    )
    assert list(content.iter_bytes(size)) == pieces
    assert [c async for c in content.aiter_bytes(size)] == pieces
    assert content.encoding == "latin-1" and content.text == "abcdefg"
    assert not content.is_stream and content.is_closed


async def test_async_stream_rechunks_and_closes() -> None:
    closed: list[bool] = []

    async def source() -> AsyncIterator[bytes]:
        for piece in (b"ab", b"cde", b"", b"fghij"):
            yield piece

    async def close() -> None:
        closed.append(True)

    content = FileContent(headers={}, stream=source(), close=close, chunk_size=4)
    assert [c async for c in content.aiter_bytes()] == [b"abcd", b"efgh", b"ij"]
    assert closed == [True] and content.is_closed
    with pytest.raises(RuntimeError, match="read once"):
        await content.aread()


async def test_a_job_page_built_by_hand_has_no_next_and_dumps_its_fields() -> None:
    # As FineTuningJobPage was a pydantic model: keyword fields, no fetcher, model_dump.
    job = FineTuningJob.from_provider(
        ProviderJob(id="ftjob-1", status="running", model="gpt-4o-mini", training_file="file-1")
    )
    page = FineTuningJobPage(data=[job], has_more=True)
    assert not page.has_next_page() and await page.anext_page() is None
    assert [j.id for j in page] == ["ftjob-1"]
    assert page.model_dump() == {"object": "list", "data": [job.model_dump()], "has_more": True}
    assert page.to_dict()["last_id"] == "ftjob-1"
