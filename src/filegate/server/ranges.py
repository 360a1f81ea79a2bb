"""HTTP Range requests (RFC 9110 §14) for one byte range."""

from __future__ import annotations

import re

from filegate.errors import RangeNotSatisfiable
from filegate.records import ByteRange

_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


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
        start = int(first)
        end = int(last) if last else size - 1
        if last and end < start:
            return None
        if start >= size:
            raise _unsatisfiable(size)
        return ByteRange(start, min(end, size - 1))
    suffix = int(last)
    if suffix == 0 or size == 0:
        raise _unsatisfiable(size)
    return ByteRange(max(0, size - suffix), size - 1)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The requested range is not satisfiable; the file has {size} bytes.",
        param="Range",
        headers={"Content-Range": f"bytes */{size}"},
    )
