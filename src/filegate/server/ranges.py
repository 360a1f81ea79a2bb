"""HTTP Range requests (RFC 9110 §14) for one byte range."""

from __future__ import annotations

import re

from filegate.errors import RangeNotSatisfiable
from filegate.records import ByteRange

_RANGE = re.compile(r"^[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*$")
# Past any size a file can have; a longer number (Python refuses to convert more
# than 4,300 digits) means the same as this one.
_HUGE = 2**64
_HUGE_DIGITS = len(str(_HUGE))


def _number(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _HUGE_DIGITS else _HUGE


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range to serve, or None for the whole body.

    A header we do not understand, or one asking for several ranges, is
    ignored as the RFC allows; a well-formed range that lies wholly past the
    end raises ``RangeNotSatisfiable``.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    m = _RANGE.match(spec)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if first:
        start = _number(first)
        end = _number(last) if last else size - 1
        if last and end < start:
            return None
        if start >= size:
            raise _unsatisfiable(size)
        return ByteRange(start, min(end, size - 1))
    suffix = _number(last)
    if suffix == 0 or size == 0:
        raise _unsatisfiable(size)
    return ByteRange(max(0, size - suffix), size - 1)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The requested range is not satisfiable; the file has {size} bytes.",
        param="Range",
        headers={"Content-Range": f"bytes */{size}"},
    )
