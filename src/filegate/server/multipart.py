"""A pull-style reader over python-multipart's push parser.

The request body is fed to the parser one network chunk at a time; the parser's
callbacks queue events, and the reader hands parts out as they arrive. At most
one network chunk of data is held at any time, whatever the file size.
"""

from __future__ import annotations

import email.utils
import re
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from filegate.core.params import check_text
from filegate.errors import InvalidRequest

_PART_BEGIN, _HEADER_FIELD, _HEADER_VALUE, _HEADER_END, _HEADERS_DONE, _DATA, _PART_END, _END = (
    range(8)
)
MAX_PARTS = 64
# Room for a form's other fields and boundaries around the file itself, when a
# Content-Length is checked against a size limit before the body is read.
FORM_OVERHEAD = 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024
# A media type (RFC 9110 §8.3) that fits the catalog column; anything else, e.g.
# with control characters, could not be sent back as a Content-Type header.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[\t\x20-\x7e]*)?")
MAX_CONTENT_TYPE = 255


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None


def _decode(raw: bytes) -> str:
    # Browsers and curl send non-ASCII file names as raw UTF-8.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_headers(headers: list[tuple[bytes, bytes]]) -> Part:
    disposition: str | None = None
    content_type: str | None = None
    for field, value in headers:
        name = field.decode("latin-1").strip().lower()
        if name == "content-disposition":
            disposition = _decode(value)
        elif name == "content-type":
            ctype = _decode(value).strip()
            # An unusable type is treated as absent: application/octet-stream.
            ok = len(ctype) <= MAX_CONTENT_TYPE and _MEDIA_TYPE.fullmatch(ctype)
            content_type = ctype if ok else None
    if disposition is None:
        raise InvalidRequest("A multipart part has no Content-Disposition header.")
    msg = Message()
    msg["content-disposition"] = disposition
    raw_name = msg.get_param("name", header="content-disposition")
    # RFC 2231 encoded values come back as a tuple.
    name = email.utils.collapse_rfc2231_value(raw_name) if raw_name else ""
    if not name:
        raise InvalidRequest("A multipart part has no field name.")
    filename = msg.get_filename()
    if filename is not None:
        # Raw or %00 in filename*: a name no catalog keeps, nor a header sends back.
        check_text(name, filename)
    return Part(name=name, filename=filename, content_type=content_type)


def form_boundary(content_type: str, expected: str) -> str:
    """The boundary of a ``multipart/form-data`` body; a 400 for any other body."""
    ctype, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise InvalidRequest(
            f"Expected a multipart/form-data body with {expected}.", code="invalid_content_type"
        )
    return boundary.decode("latin-1")


class MultipartReader:
    def __init__(self, chunks: AsyncIterator[bytes], boundary: str) -> None:
        self._chunks = chunks
        self._events: deque[tuple[int, bytes]] = deque()
        self._ended = False
        self._in_part = False
        self._parts = 0
        self._current = 0
        self._closing = len(b"\r\n--" + boundary.encode("latin-1") + b"--\r\n")
        # Where each part's data starts in the body, as offsets from its first byte.
        self._fed = 0
        self._chunk = b""
        self._begun = 0
        self._data_starts: dict[int, int] = {}
        ev = self._events

        def part_begin() -> None:
            self._begun += 1
            ev.append((_PART_BEGIN, b""))

        def part_data(d: bytes, s: int, e: int) -> None:
            # The first data of a part comes straight from the chunk being
            # parsed, so its offset in the body is known exactly.
            own = d is self._chunk
            if own and self._begun not in self._data_starts:
                self._data_starts[self._begun] = self._fed + s
            # Most of a large file arrives as whole network chunks: hand those
            # on as they are (our own immutable bytes) rather than copy them.
            ev.append((_DATA, d if own and s == 0 and e == len(d) else d[s:e]))

        try:
            self._parser = MultipartParser(
                boundary,
                callbacks={
                    "on_part_begin": part_begin,
                    "on_header_field": lambda d, s, e: ev.append((_HEADER_FIELD, d[s:e])),
                    "on_header_value": lambda d, s, e: ev.append((_HEADER_VALUE, d[s:e])),
                    "on_header_end": lambda: ev.append((_HEADER_END, b"")),
                    "on_headers_finished": lambda: ev.append((_HEADERS_DONE, b"")),
                    "on_part_data": part_data,
                    "on_part_end": lambda: ev.append((_PART_END, b"")),
                    "on_end": lambda: ev.append((_END, b"")),
                },
            )
        except FormParserError as exc:
            # A boundary longer than the parser takes (256 characters; RFC 2046
            # allows 70), before a byte of the body is read.
            raise InvalidRequest(
                f"Invalid multipart boundary: {exc}.", code="invalid_content_type"
            ) from None

    async def _next_event(self) -> tuple[int, bytes]:
        while not self._events:
            if self._ended:
                return _END, b""
            chunk = await anext(self._chunks, None)
            if chunk is None:
                raise InvalidRequest("The multipart body ended before its closing boundary.")
            if chunk:
                self._chunk = chunk
                try:
                    self._parser.write(chunk)
                except FormParserError as exc:
                    raise InvalidRequest(f"Malformed multipart body: {exc}") from None
                finally:
                    self._fed += len(chunk)
                    self._chunk = b""
        event = self._events.popleft()
        if event[0] == _END:
            self._ended = True
        return event

    async def next_part(self) -> Part | None:
        """Skip what is left of the current part and return the next one's headers."""
        while True:
            kind, _ = await self._next_event()
            if kind == _END:
                return None
            if kind == _PART_BEGIN:
                break
        self._parts += 1
        self._current = self._parts
        if self._parts > MAX_PARTS:
            raise InvalidRequest(f"Too many multipart fields (at most {MAX_PARTS}).")
        headers: list[tuple[bytes, bytes]] = []
        field, value, size = bytearray(), bytearray(), 0
        while True:
            kind, data = await self._next_event()
            size += len(data)
            if size > MAX_HEADER_BYTES:
                raise InvalidRequest("A multipart part's headers are too large.")
            if kind == _HEADER_FIELD:
                field += data
            elif kind == _HEADER_VALUE:
                value += data
            elif kind == _HEADER_END:
                headers.append((bytes(field), bytes(value)))
                field, value = bytearray(), bytearray()
            elif kind == _HEADERS_DONE:
                self._in_part = True
                return _parse_headers(headers)
            else:
                raise InvalidRequest("Malformed multipart body.")

    def size_hint(self, content_length: int | None) -> int | None:
        """The current part's size if it is the body's last part, else a wrong guess.

        Known once the part's first data has arrived; callers must be ready for
        the guess to be wrong (another part may follow) and check it afterwards.
        """
        start = self._data_starts.get(self._current)
        if content_length is None or start is None:
            return None
        size = content_length - start - self._closing
        return size if size >= 0 else None

    async def iter_data(self) -> AsyncIterator[bytes]:
        """The current part's bytes, as they arrive."""
        while self._in_part:
            kind, data = await self._next_event()
            if kind == _DATA:
                if data:
                    yield data
            elif kind in (_PART_END, _END):
                self._in_part = False

    async def read_field(self, name: str, max_bytes: int = 64 * 1024) -> str:
        buf = bytearray()
        async for data in self.iter_data():
            buf += data
            if len(buf) > max_bytes:
                raise InvalidRequest(f"The field {name!r} is too long.", param=name)
        try:
            return buf.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest(f"The field {name!r} is not valid UTF-8.", param=name) from None
