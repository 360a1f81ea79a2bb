import pytest

from filegate.errors import RangeNotSatisfiable
from filegate.records import ByteRange
from filegate.server.ranges import parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, ByteRange(0, 9)),
        ("bytes=10-", 100, ByteRange(10, 99)),
        ("bytes=-10", 100, ByteRange(90, 99)),
        ("bytes=-1000", 100, ByteRange(0, 99)),
        ("bytes=95-1000", 100, ByteRange(95, 99)),
        ("bytes=99-99", 100, ByteRange(99, 99)),
        ("BYTES = 1 - 2", 100, ByteRange(1, 2)),
    ],
)
def test_single_ranges(header: str, size: int, expected: ByteRange) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [None, "", "items=0-1", "bytes=0-1,5-6", "bytes=abc", "bytes=-", "bytes=5-2", "bytes"],
)
def test_ignored_headers_mean_whole_body(header: str | None) -> None:
    assert parse_range(header, 100) is None


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=0-", 0), ("bytes=-5", 0)]
)
def test_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as info:
        parse_range(header, size)
    assert info.value.status_code == 416
    assert info.value.headers["Content-Range"] == f"bytes */{size}"


HUGE = "9" * 5000  # past Python's 4,300-digit limit for int()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"bytes=0-{HUGE}", ByteRange(0, 99)),
        (f"bytes=-{HUGE}", ByteRange(0, 99)),
        (f"bytes={'0' * 5000}5-9", ByteRange(5, 9)),
    ],
)
def test_numbers_of_any_length(header: str, expected: ByteRange) -> None:
    assert parse_range(header, 100) == expected


def test_a_start_of_any_length_is_past_the_end() -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(f"bytes={HUGE}-", 100)
    with pytest.raises(RangeNotSatisfiable):
        parse_range(f"bytes={HUGE}-{HUGE}", 100)


def test_only_ascii_digits_count() -> None:
    # int() takes "٣" (Arabic-Indic three); RFC 9110 ranges are ASCII digits.
    assert parse_range("bytes=\u0663-", 100) is None
