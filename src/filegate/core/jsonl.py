"""Validate JSONL uploads while they stream in.

A bad batch or fine-tune file should be rejected at upload time, with a message
naming the first offending line, rather than failing later when a job reads
it. Uploads can be hundreds of megabytes, so the validators look at each chunk
as it arrives and keep only the unfinished last line between chunks.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, ClassVar, Final, Literal, NoReturn

import msgspec
import orjson

from filegate.errors import InvalidRequest

__all__ = [
    "BATCH_ENDPOINTS",
    "BatchValidator",
    "FineTuneValidator",
    "JsonlValidator",
    "validator_for",
]

# The ``endpoint`` enum of ``CreateBatchRequest`` in OpenAI's OpenAPI spec.
# Matched exactly: upstream rejects these paths without the /v1 prefix.
BATCH_ENDPOINTS: Final[tuple[str, ...]] = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
_BATCH_ENDPOINT_SET: Final = frozenset(BATCH_ENDPOINTS)

_MIB: Final = 1024 * 1024
_KIB: Final = 1024

# Error messages are shown to users and logged; quoting whole lines of user
# content there would be noisy and could leak data.
_SNIPPET_CHARS: Final = 80
_SNIPPET_MAX: Final = 100

# Custom ids are remembered for the whole file to catch duplicates; hashing the
# long ones keeps that memory bounded by the line count, not the file size.
_ID_KEEP_CHARS: Final = 256


class _Object(msgspec.Struct):
    """Any JSON object. Its members are checked for syntax but not built."""


class _Request(msgspec.Struct):
    """A well-formed batch request line, checked by the decoder in one call.

    The body (most of the bytes: the prompts) is skipped rather than built,
    which still checks its syntax and makes checking a batch file several times
    cheaper than a full parse. A line this refuses is looked at again, as a
    _BatchLine, to say what is wrong with it.
    """

    custom_id: Annotated[str, msgspec.Meta(min_length=1)]
    method: Literal["POST"]
    url: str
    body: _Object


class _BatchLine(msgspec.Struct):
    """The members of any batch line, as they are: for explaining a refusal."""

    custom_id: Any = msgspec.UNSET
    method: Any = msgspec.UNSET
    url: Any = msgspec.UNSET
    body: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_UNSET: Final = msgspec.UNSET
_CR: Final = ord("\r")
_SPACES: Final = frozenset(b" \t\r\n\x0b\x0c")


def _human_size(n: int) -> str:
    if n >= _MIB and n % _MIB == 0:
        return f"{n // _MIB} MB"
    if n >= _KIB and n % _KIB == 0:
        return f"{n // _KIB} KB"
    return f"{n:,} bytes"


def _quote(text: str) -> str:
    shown = repr(text[:_SNIPPET_CHARS])
    # Escapes can make the repr of a short prefix long, hence the second cut.
    if len(shown) > _SNIPPET_MAX:
        return shown[:_SNIPPET_MAX] + "..."
    if len(text) > _SNIPPET_CHARS:
        return shown + "..."
    return shown


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class JsonlValidator:
    """Checks that every non-blank line is a JSON object.

    Feed the upload with :meth:`feed` in chunks of any size, then call
    :meth:`finish`. The first problem raises :class:`InvalidRequest`; after
    that the validator keeps raising the same error.
    """

    _label: ClassVar[str] = "JSONL"
    _decoder: ClassVar[msgspec.json.Decoder[Any]] = msgspec.json.Decoder(_Object)

    def __init__(self, *, max_line_bytes: int = 64 * _MIB) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be positive")
        self._max_line_bytes = max_line_bytes
        self._partial = bytearray()
        self._lines_done = 0
        self._records = 0
        self._error: InvalidRequest | None = None
        self._finished = False

    def feed(self, chunk: bytes) -> None:
        self._check_usable()
        try:
            self._consume(chunk)
        except InvalidRequest as exc:
            self._error = exc
            raise

    def finish(self) -> None:
        self._check_usable()
        self._finished = True
        try:
            if self._partial:
                line = bytes(self._partial)
                self._partial.clear()
                self._line(line, line.isascii())
            if self._records == 0:
                self._fail(None, "the file is empty")
        except InvalidRequest as exc:
            self._error = exc
            raise

    def _check_usable(self) -> None:
        if self._error is not None:
            raise self._error
        if self._finished:
            raise RuntimeError("JsonlValidator used after finish()")

    def _consume(self, chunk: bytes) -> None:
        # Lines are views into the chunk, never copies: splitting copied
        # every byte once more, which cost as much as the parsing.
        view = memoryview(chunk)
        ascii_only = chunk.isascii()
        start = 0
        end = chunk.find(b"\n")
        if end >= 0 and self._partial:
            self._partial += view[:end]
            line = bytes(self._partial)
            self._partial.clear()
            self._line(line, line.isascii())
            start = end + 1
        last = chunk.rfind(b"\n")
        if last >= start and not self._whole_lines(chunk, start, last, ascii_only):
            end = chunk.find(b"\n", start)
            while end >= 0:
                self._line(view[start:end], ascii_only)
                start, end = end + 1, chunk.find(b"\n", end + 1)
        start = max(start, last + 1)
        if start < len(chunk):
            self._buffer(view[start:])

    def _whole_lines(self, chunk: bytes, start: int, last: int, ascii_only: bool) -> bool:
        """Check the lines of ``chunk[start:last]`` in one decoder call; False: not done.

        One call for all the lines of a chunk costs less than one per line. The
        decoder skips blank lines and takes several values on one line, so its
        answer stands only for lines with no blank among them and exactly one
        record each; anything else, errors included, goes line by line, which
        gives the exact message and line number.
        """
        if last - start > self._max_line_bytes:
            return False
        # A blank line starts with whitespace (an empty one, with its newline);
        # lines that merely start with whitespace, which is rare, go line by line too.
        at, count = start, 1
        while chunk[at] not in _SPACES:
            at = chunk.find(b"\n", at, last) + 1
            if not at:
                break
            count += 1
        else:
            return False
        lines = memoryview(chunk)[start:last]
        try:
            if not ascii_only:
                str(lines, "utf-8")
            records = self._decoder.decode_lines(lines)
        except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
            return False
        if len(records) != count:
            return False
        check = self._check_record
        for line_no, record in enumerate(records, self._lines_done + 1):
            self._records += 1
            check(record, line_no, self._records)
        self._lines_done += len(records)
        return True

    def _buffer(self, data: memoryview) -> None:
        self._partial += data
        size = len(self._partial)
        # One byte of grace for a CR that a following LF would turn into part
        # of the line ending, so CRLF and LF files get the same limit.
        if size > self._max_line_bytes and not (
            size == self._max_line_bytes + 1 and self._partial.endswith(b"\r")
        ):
            self._fail(self._lines_done + 1, self._too_long())

    def _too_long(self) -> str:
        return f"is longer than {_human_size(self._max_line_bytes)}"

    def _line(self, line: bytes | memoryview, ascii_only: bool) -> None:
        self._lines_done += 1
        line_no = self._lines_done
        # A trailing CR is JSON whitespace, so the decoder ignores it; only
        # the length check has to discount it.
        size = len(line)
        if size and line[-1] == _CR:
            size -= 1
        if size > self._max_line_bytes:
            self._fail(line_no, self._too_long())
        # A line is blank only if its first byte is whitespace (JSON starts otherwise).
        if not size or (line[0] in _SPACES and bytes(line).isspace()):
            return
        self._records += 1
        try:
            # The decoder checks UTF-8 only in the strings it builds.
            if not ascii_only:
                str(line, "utf-8")
            value = self._decoder.decode(line)
        except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
            self._explain(bytes(line), line_no)
        self._check_record(value, line_no, self._records)

    def _explain(self, line: bytes, line_no: int) -> NoReturn:
        """Why the decoder refused a line."""
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(line_no, "is not valid UTF-8")
        try:
            value = orjson.loads(line)
        except (orjson.JSONDecodeError, RecursionError):
            self._fail(line_no, "is not valid JSON")
        if not isinstance(value, dict):
            self._fail(line_no, f"is not a JSON object (found {_json_kind(value)})")
        self._explain_object(line, line_no)

    def _explain_object(self, line: bytes, line_no: int) -> NoReturn:
        """Why the decoder refused a line that is a JSON object: the subclass's rules."""
        # Valid for orjson but not for the decoder (say, a number it refuses).
        self._fail(line_no, "is not valid JSON")

    def _check_record(self, record: Any, line_no: int, count: int) -> None:
        """Hook for purpose-specific rules; ``count`` is the 1-based record number."""

    def _fail(self, line_no: int | None, problem: str) -> NoReturn:
        where = f"line {line_no} " if line_no is not None else ""
        raise InvalidRequest(
            f"Invalid {self._label} file: {where}{problem}.",
            param="file",
            code="invalid_file",
        )


class FineTuneValidator(JsonlValidator):
    """Fine-tune files: one JSON object per line, schema left to upstream."""

    _label = "fine-tune"


class BatchValidator(JsonlValidator):
    """Batch input files, following the limits of OpenAI's Batch API."""

    _label = "batch"
    _decoder = msgspec.json.Decoder(_Request)
    _explainer: ClassVar[msgspec.json.Decoder[_BatchLine]] = msgspec.json.Decoder(_BatchLine)

    def __init__(
        self,
        *,
        max_line_bytes: int = 64 * _MIB,
        max_lines: int = 50_000,
        max_bytes: int = 200 * _MIB,
    ) -> None:
        super().__init__(max_line_bytes=max_line_bytes)
        if max_lines < 1 or max_bytes < 1:
            raise ValueError("max_lines and max_bytes must be positive")
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._bytes_seen = 0
        self._url: str | None = None
        self._url_line = 0
        self._custom_ids: dict[str | bytes, int] = {}

    @property
    def records(self) -> int:
        """Requests seen so far."""
        return self._records

    @property
    def url(self) -> str | None:
        """The url every request has (None before the first one)."""
        return self._url

    def _consume(self, chunk: bytes) -> None:
        room = self._max_bytes - self._bytes_seen
        self._bytes_seen += len(chunk)
        if len(chunk) <= room:
            super()._consume(chunk)
            return
        # Lines that end inside the allowed size are still checked first, so
        # the reported error does not depend on how the upload was chunked.
        super()._consume(chunk[:room])
        self._fail(None, f"the file is larger than {_human_size(self._max_bytes)}")

    def _check_record(self, record: _Request, line_no: int, count: int) -> None:
        # The decoder checked each member; what is left spans lines.
        if count > self._max_lines:
            self._fail(line_no, f"exceeds the limit of {self._max_lines:,} requests")
        self._check_unique(record.custom_id, line_no)
        if record.url != self._url:
            self._check_url(record.url, line_no, True)

    def _check_unique(self, custom_id: str, line_no: int) -> None:
        key: str | bytes = custom_id
        if len(custom_id) > _ID_KEEP_CHARS:
            key = hashlib.blake2b(
                custom_id.encode("utf-8", "surrogatepass"), digest_size=16
            ).digest()
        first = self._custom_ids.setdefault(key, line_no)
        if first != line_no:
            self._fail(
                line_no,
                f"has a duplicate custom_id {_quote(custom_id)} (first seen on line {first})",
            )

    def _explain_object(self, line: bytes, line_no: int) -> NoReturn:
        try:
            record = self._explainer.decode(line)
        except (msgspec.MsgspecError, RecursionError):
            self._fail(line_no, "is not valid JSON")
        # The same rules, in the order their messages take precedence.
        if self._records > self._max_lines:
            self._fail(line_no, f"exceeds the limit of {self._max_lines:,} requests")

        custom_id = record.custom_id
        if custom_id is _UNSET:
            self._fail(line_no, "is missing custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            self._fail(line_no, "has an invalid custom_id (must be a non-empty string)")
        self._check_unique(custom_id, line_no)

        method = record.method
        if method != "POST":
            if method is _UNSET:
                self._fail(line_no, "is missing method")
            shown = _quote(method) if isinstance(method, str) else _json_kind(method)
            self._fail(line_no, f"has method {shown}; only 'POST' is supported")

        url = record.url
        if self._url is None or url != self._url:
            self._check_url(url, line_no, url is not _UNSET)

        body = record.body
        if body is _UNSET:
            self._fail(line_no, "is missing body")
        kind = _json_kind(orjson.loads(memoryview(body)))
        if kind != "an object":
            self._fail(line_no, f"has a body that is {kind}, not a JSON object")
        self._fail(line_no, "is not a valid batch request")

    def _check_url(self, url: object, line_no: int, present: bool) -> None:
        if not present:
            self._fail(line_no, "is missing url")
        if not isinstance(url, str):
            self._fail(line_no, f"has a url that is {_json_kind(url)}, not a string")
        if url not in _BATCH_ENDPOINT_SET:
            self._fail(
                line_no,
                f"has url {_quote(url)}, which is not a batch endpoint "
                f"(expected one of {', '.join(BATCH_ENDPOINTS)})",
            )
        if self._url is None:
            self._url = url
            self._url_line = line_no
            return
        self._fail(
            line_no,
            f"has url {_quote(url)} but line {self._url_line} has {_quote(self._url)};"
            " all requests in a batch must use the same url",
        )


def validator_for(purpose: str) -> JsonlValidator | None:
    """The validator for an upload purpose, or None when it needs no checking."""
    if purpose == "batch":
        return BatchValidator()
    if purpose == "fine-tune":
        return FineTuneValidator()
    return None
