from collections.abc import AsyncIterator

import pytest

from filegate.errors import InvalidRequest
from filegate.server.multipart import MAX_PARTS, MultipartReader, Part

BOUNDARY = "----filegate-test"


def body(*parts: tuple[str, str | None, bytes], content_type: str | None = None) -> bytes:
    out = b""
    for name, filename, data in parts:
        out += f"--{BOUNDARY}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += disp.encode() + b"\r\n"
        if content_type and filename is not None:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
    yield b""


async def collect(reader: MultipartReader) -> list[tuple[Part, bytes]]:
    out = []
    while (part := await reader.next_part()) is not None:
        data = b"".join([c async for c in reader.iter_data()])
        out.append((part, data))
    return out


@pytest.mark.parametrize("chunk", [1, 3, 64, 100_000])
async def test_parts_in_any_chunking(chunk: int) -> None:
    payload = bytes(range(256)) * 50 + b"\r\n--not-the-boundary\r\n"
    raw = body(
        ("purpose", None, b"batch"),
        ("file", "déjà vu.jsonl", payload),
        content_type="application/jsonl",
    )
    parts = await collect(MultipartReader(chunked(raw, chunk), BOUNDARY))
    assert [(p.name, p.filename) for p, _ in parts] == [
        ("purpose", None),
        ("file", "déjà vu.jsonl"),
    ]
    assert parts[0][1] == b"batch"
    assert parts[1][1] == payload
    assert parts[1][0].content_type == "application/jsonl"


async def test_rfc2231_filename() -> None:
    raw = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f"filename*=UTF-8''%F0%9F%93%84.txt\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
    ).encode()
    [(part, data)] = await collect(MultipartReader(chunked(raw, 7), BOUNDARY))
    assert part.filename == "📄.txt"
    assert data == b"x"


async def test_unread_part_is_skipped() -> None:
    raw = body(("a", None, b"1" * 1000), ("b", None, b"2"))
    reader = MultipartReader(chunked(raw, 10), BOUNDARY)
    assert (await reader.next_part()) is not None
    part = await reader.next_part()
    assert part is not None and part.name == "b"
    assert await reader.read_field("b") == "2"
    assert await reader.next_part() is None


async def test_truncated_body_is_an_error() -> None:
    raw = body(("file", "x.bin", b"abc" * 100))[:-30]
    reader = MultipartReader(chunked(raw, 16), BOUNDARY)
    with pytest.raises(InvalidRequest, match="ended before"):
        await collect(reader)


async def test_garbage_is_an_error() -> None:
    reader = MultipartReader(chunked(b"this is not multipart at all" * 10, 8), BOUNDARY)
    with pytest.raises(InvalidRequest):
        await collect(reader)


async def test_missing_disposition_is_an_error() -> None:
    raw = f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode()
    with pytest.raises(InvalidRequest, match="Content-Disposition"):
        await collect(MultipartReader(chunked(raw, 5), BOUNDARY))


async def test_field_limits() -> None:
    raw = body(("purpose", None, b"x" * 100))
    reader = MultipartReader(chunked(raw, 16), BOUNDARY)
    await reader.next_part()
    with pytest.raises(InvalidRequest, match="too long") as info:
        await reader.read_field("purpose", max_bytes=10)
    assert info.value.param == "purpose"

    raw = body(("purpose", None, b"\xff\xfe"))
    reader = MultipartReader(chunked(raw, 16), BOUNDARY)
    await reader.next_part()
    with pytest.raises(InvalidRequest, match="UTF-8"):
        await reader.read_field("purpose")


async def test_too_many_parts() -> None:
    raw = body(*[(f"f{i}", None, b"") for i in range(MAX_PARTS + 1)])
    with pytest.raises(InvalidRequest, match="Too many"):
        await collect(MultipartReader(chunked(raw, 4096), BOUNDARY))


@pytest.mark.parametrize("chunk", [1, 5, 1000, 100_000])
async def test_size_hint_is_exact_for_a_last_part(chunk: int) -> None:
    payload = b"x" * 5000
    raw = body(("purpose", None, b"batch"), ("file", "a.bin", payload))
    reader = MultipartReader(chunked(raw, chunk), BOUNDARY)
    assert (await reader.next_part()) is not None
    await reader.read_field("purpose")
    assert (await reader.next_part()) is not None
    data = reader.iter_data()
    first = await anext(data)
    assert reader.size_hint(len(raw)) == len(payload)
    rest = b"".join([c async for c in data])
    assert first + rest == payload
    assert reader.size_hint(None) is None


async def test_size_hint_is_wrong_when_parts_follow() -> None:
    payload = b"y" * 300
    raw = body(("file", "a.bin", payload), ("purpose", None, b"batch"))
    reader = MultipartReader(chunked(raw, 64), BOUNDARY)
    await reader.next_part()
    data = reader.iter_data()
    await anext(data)
    hint = reader.size_hint(len(raw))
    assert hint is not None and hint > len(payload)  # the caller must check the size after
