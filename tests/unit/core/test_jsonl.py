from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import orjson
import pytest

from filegate.core.jsonl import (
    BATCH_ENDPOINTS,
    BatchValidator,
    FineTuneValidator,
    JsonlValidator,
    validator_for,
)
from filegate.errors import InvalidRequest

Factory = Callable[[], JsonlValidator]

# Whole file, single bytes, and an odd size that lands splits at varied offsets.
CHUNK_SIZES: tuple[int | None, ...] = (None, 1, 7)


def request(custom_id: Any = "req-1", **overrides: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    }
    line.update(overrides)
    return line


def jsonl(*records: object, newline: bytes = b"\n", trailing: bool = True) -> bytes:
    data = newline.join(orjson.dumps(r) for r in records)
    return data + newline if trailing else data


def batch_file(count: int, **overrides: Any) -> bytes:
    return jsonl(*(request(f"req-{i}", **overrides) for i in range(1, count + 1)))


def split(data: bytes, size: int | None) -> list[bytes]:
    if size is None:
        return [data]
    return [data[i : i + size] for i in range(0, len(data), size)]


def run(validator: JsonlValidator, chunks: Iterable[bytes]) -> str | None:
    try:
        for chunk in chunks:
            validator.feed(chunk)
        validator.finish()
    except InvalidRequest as exc:
        return exc.message
    return None


def outcome(make: Factory, data: bytes, sizes: tuple[int | None, ...] = CHUNK_SIZES) -> str | None:
    """Validate ``data`` under each chunking; all must agree on the result."""
    results = {size: run(make(), split(data, size)) for size in sizes}
    assert len(set(results.values())) == 1, results
    return results[sizes[0]]


def error(make: Factory, data: bytes, sizes: tuple[int | None, ...] = CHUNK_SIZES) -> str:
    message = outcome(make, data, sizes)
    assert message is not None, "expected the file to be rejected"
    return message


# --- validator_for ---------------------------------------------------------------


def test_validator_for_batch() -> None:
    assert type(validator_for("batch")) is BatchValidator


def test_validator_for_fine_tune() -> None:
    assert type(validator_for("fine-tune")) is FineTuneValidator


@pytest.mark.parametrize("purpose", ["assistants", "vision", "user_data", "evals", "", "Batch"])
def test_validator_for_other_purposes_is_none(purpose: str) -> None:
    assert validator_for(purpose) is None


def test_validator_for_returns_fresh_instances() -> None:
    assert validator_for("batch") is not validator_for("batch")


# --- line handling shared by every validator -------------------------------------


def test_valid_batch_file_passes_in_every_chunking() -> None:
    assert outcome(BatchValidator, batch_file(20)) is None


def test_last_line_without_trailing_newline_is_validated() -> None:
    assert outcome(BatchValidator, jsonl(request(), trailing=False)) is None
    bad = jsonl(request()) + b'{"custom_id": '
    assert error(BatchValidator, bad) == "Invalid batch file: line 2 is not valid JSON."


def test_empty_chunks_are_harmless() -> None:
    data = batch_file(3)
    chunks = [b""] + [piece for c in split(data, 5) for piece in (c, b"")]
    assert run(BatchValidator(), chunks) is None


def test_blank_and_whitespace_lines_are_skipped_but_counted() -> None:
    data = b"\n   \n" + jsonl(request()) + b"\t \n\n" + b"not json\n\n"
    assert error(BatchValidator, data) == "Invalid batch file: line 6 is not valid JSON."


def test_blank_lines_between_valid_records_pass() -> None:
    data = jsonl(request("a")) + b"\n \n\r\n" + jsonl(request("b")) + b"\n\n"
    assert outcome(BatchValidator, data) is None


@pytest.mark.parametrize("data", [b"", b"\n", b"\n\n  \n\t\n", b"\r\n\r\n", b"   "])
@pytest.mark.parametrize(
    ("make", "label"),
    [(BatchValidator, "batch"), (FineTuneValidator, "fine-tune"), (JsonlValidator, "JSONL")],
)
def test_file_without_records_is_empty(make: Factory, label: str, data: bytes) -> None:
    assert error(make, data) == f"Invalid {label} file: the file is empty."


def test_invalid_json_names_first_bad_line() -> None:
    data = jsonl(request("a"), request("b")) + b"{oops}\n" + b"[also bad\n"
    assert error(BatchValidator, data) == "Invalid batch file: line 3 is not valid JSON."


def test_invalid_utf8_is_reported_as_such() -> None:
    data = jsonl(request("a")) + b'{"custom_id": "\xff\xfe"}\n'
    assert error(BatchValidator, data) == "Invalid batch file: line 2 is not valid UTF-8."


# The body of a batch line is skipped, not built; the skip must still catch
# every fault a full parse would, in the body and in members nobody reads.
_BODY_FAULTS = {
    "a trailing comma": b'{"model": "m", "messages": [1, 2,]}',
    "a bad escape": b'{"model": "m\\u12"}',
    "a control character": b'{"model": "m\x01"}',
    "NaN": b'{"temperature": NaN}',
    "a leading zero": b'{"max_tokens": 016}',
    "a lone surrogate": b'{"model": "\\ud800"}',
    "unclosed": b'{"model": "m"',
    "deep nesting": b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
}


@pytest.mark.parametrize("fault", list(_BODY_FAULTS))
@pytest.mark.parametrize("member", ["body", "metadata"])
def test_faults_inside_skipped_members_are_invalid_json(fault: str, member: str) -> None:
    line = (
        b'{"custom_id": "b", "method": "POST", "url": "/v1/chat/completions", '
        + (b'"body": {}, "metadata": ' if member == "metadata" else b'"body": ')
        + _BODY_FAULTS[fault]
        + b"}\n"
    )
    data = jsonl(request("a")) + line
    assert error(BatchValidator, data, (None, 97)) == (
        "Invalid batch file: line 2 is not valid JSON."
    )
    assert error(FineTuneValidator, data, (None, 97)) == (
        "Invalid fine-tune file: line 2 is not valid JSON."
    )


@pytest.mark.parametrize("make", [BatchValidator, FineTuneValidator])
def test_invalid_utf8_inside_a_skipped_body_is_reported(make: Factory) -> None:
    bad = (
        b'{"custom_id": "b", "method": "POST", "url": "/v1/chat/completions", '
        b'"body": {"model": "m\xc3\x28"}}\n'
    )
    data = jsonl(request("a")) + bad
    assert error(make, data).endswith("line 2 is not valid UTF-8.")


def test_non_ascii_bodies_pass() -> None:
    data = jsonl(
        request("a", body={"model": "m", "messages": [{"content": "h\u00e9llo \u2603 \U0001f600"}]})
    )
    assert outcome(BatchValidator, data) is None


# Blank lines, several values on one line, indents and CRLF, at the start, middle
# and end: the answer is the same however the file is cut into chunks.
_A, _B, _C = (orjson.dumps(request(i)) for i in "abc")
_AWKWARD_LINES = {
    "two values on a line": (_A + b"\n" + _B + b" " + _C + b"\n", "line 2 is not valid JSON"),
    "two values and a blank": (_A + b"\n\n" + _B + _C + b"\n", "line 3 is not valid JSON"),
    "two values, blank last": (_A + _B + b"\n" + _C + b"\n \n", "line 1 is not valid JSON"),
    "two values, empty last": (_A + b"\n" + _B + _C + b"\n\n", "line 2 is not valid JSON"),
    "two values, empty first": (b"\n" + _A + _B + b"\n", "line 2 is not valid JSON"),
    "blank first": (b"\r\n" + _A + b"\n" + _B + b"\n", None),
    "blank middle": (_A + b"\n\t\r\n" + _B + b"\n", None),
    "blank last": (_A + b"\n" + _B + b"\n  \n", None),
    "indented lines": (b"  " + _A + b"\n\t" + _B + b"\n", None),
    "crlf": (_A + b"\r\n" + _B + b"\r\n" + _C + b"\r\n", None),
    "bad middle": (_A + b"\n{]\n" + _B + b"\n", "line 2 is not valid JSON"),
    "duplicate last": (_A + b"\n" + _B + b"\n" + _A + b"\n", "line 3 has a duplicate"),
    "non-ascii": (orjson.dumps(request("\u00e9")) + b"\n" + _A + b"\n", None),
}


def test_clean_chunks_are_checked_whole_not_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is taken when it can be: one decoder call per chunk."""
    seen: list[int] = []
    original = JsonlValidator._line

    def counted(self: JsonlValidator, line: bytes | memoryview, ascii_only: bool) -> None:
        seen.append(len(line))
        original(self, line, ascii_only)

    monkeypatch.setattr(JsonlValidator, "_line", counted)
    data = batch_file(1000)
    assert outcome(BatchValidator, data, (None,)) is None
    assert seen == []
    # Split in two, only the line cut in half goes on its own.
    assert run(BatchValidator(), split(data, len(data) // 2 + 7)) is None
    assert len(seen) == 1


@pytest.mark.parametrize("case", list(_AWKWARD_LINES))
def test_awkward_lines_give_one_answer_in_every_chunking(case: str) -> None:
    data, expected = _AWKWARD_LINES[case]
    got = outcome(BatchValidator, data, (None, 1, 7, len(data) - 1))
    if expected is None:
        assert got is None
    else:
        assert got is not None and expected in got, got


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"[1, 2]", "an array"),
        (b'"text"', "a string"),
        (b"42", "a number"),
        (b"null", "null"),
        (b"true", "a boolean"),
    ],
)
def test_line_must_be_a_json_object(line: bytes, kind: str) -> None:
    data = jsonl(request()) + line + b"\n"
    assert error(BatchValidator, data) == (
        f"Invalid batch file: line 2 is not a JSON object (found {kind})."
    )


def test_crlf_file_passes() -> None:
    data = jsonl(request("a"), request("b"), request("c"), newline=b"\r\n")
    assert b"\r\n" in data
    assert outcome(BatchValidator, data) is None


def test_crlf_file_reports_correct_line() -> None:
    data = jsonl(request("a"), request("b"), newline=b"\r\n") + b"{bad\r\n"
    assert error(BatchValidator, data) == "Invalid batch file: line 3 is not valid JSON."


def test_multibyte_utf8_split_at_every_offset() -> None:
    data = jsonl(request("réq-✓-😀", body={"text": "naïve — 日本語 🚀"}), request("b"))
    for cut in range(1, len(data)):
        assert run(BatchValidator(), [data[:cut], data[cut:]]) is None, cut
    assert outcome(BatchValidator, data) is None


def test_multibyte_custom_id_split_across_chunks_still_detects_duplicate() -> None:
    data = jsonl(request("é😀"), request("x"), request("é😀"))
    assert error(BatchValidator, data) == (
        "Invalid batch file: line 3 has a duplicate custom_id 'é😀' (first seen on line 1)."
    )


def test_errors_carry_file_param_and_code() -> None:
    validator = BatchValidator()
    with pytest.raises(InvalidRequest) as info:
        validator.feed(b"nope\n")
    assert info.value.param == "file"
    assert info.value.code == "invalid_file"
    assert info.value.status_code == 400


def test_validator_keeps_raising_after_an_error() -> None:
    validator = BatchValidator()
    with pytest.raises(InvalidRequest) as first:
        validator.feed(b"nope\n")
    with pytest.raises(InvalidRequest) as again:
        validator.feed(jsonl(request()))
    assert again.value is first.value
    with pytest.raises(InvalidRequest):
        validator.finish()


def test_feed_after_finish_is_a_programming_error() -> None:
    validator = BatchValidator()
    validator.feed(jsonl(request()))
    validator.finish()
    with pytest.raises(RuntimeError):
        validator.feed(b"\n")
    with pytest.raises(RuntimeError):
        validator.finish()


# --- max_line_bytes --------------------------------------------------------------


def test_line_over_max_line_bytes_fails_with_its_line_number() -> None:
    data = b'{"a": 1}\n\n' + b'{"b": "' + b"x" * 50 + b'"}\n{"c": 3}\n'
    assert error(partial(FineTuneValidator, max_line_bytes=20), data) == (
        "Invalid fine-tune file: line 3 is longer than 20 bytes."
    )


def test_line_over_max_line_bytes_fails_without_buffering_more() -> None:
    limit = 16
    validator = FineTuneValidator(max_line_bytes=limit)
    validator.feed(b'{"ok": 1}\n')
    fed = 0
    with pytest.raises(InvalidRequest) as info:
        for _ in range(10_000):
            validator.feed(b" ")
            fed += 1
    # Rejected on the first byte past the limit, not at the end of the line.
    assert fed == limit
    assert "line 2 is longer than 16 bytes" in info.value.message


def test_unterminated_last_line_over_limit_fails_during_feed() -> None:
    validator = FineTuneValidator(max_line_bytes=8)
    with pytest.raises(InvalidRequest, match="line 1 is longer than 8 bytes"):
        validator.feed(b'{"k": "0123456789"}')


def test_line_of_exactly_max_line_bytes_passes() -> None:
    line = b'{"k": "' + b"x" * 13 + b'"}'
    assert len(line) == 22
    make = partial(FineTuneValidator, max_line_bytes=22)
    assert outcome(make, line + b"\n") is None
    assert outcome(make, line) is None
    # The CR of a CRLF ending is not part of the line.
    assert outcome(make, line + b"\r\n") is None
    assert outcome(make, line + b"\r\n" + line + b"\r\n") is None


def test_line_one_byte_over_max_line_bytes_fails() -> None:
    line = b'{"k": "' + b"x" * 14 + b'"}'
    make = partial(FineTuneValidator, max_line_bytes=22)
    for data in (line, line + b"\n", line + b"\r\n"):
        assert error(make, data) == "Invalid fine-tune file: line 1 is longer than 22 bytes."


def test_max_line_bytes_is_reported_in_megabytes() -> None:
    validator = FineTuneValidator(max_line_bytes=1024 * 1024)
    with pytest.raises(InvalidRequest, match="line 1 is longer than 1 MB"):
        validator.feed(b"x" * (1024 * 1024 + 2))


# --- batch rules -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"method": "POST", "url": "/v1/embeddings", "body": {}}, "is missing custom_id"),
        (request(None), "has an invalid custom_id (must be a non-empty string)"),
        (request(""), "has an invalid custom_id (must be a non-empty string)"),
        (request(7), "has an invalid custom_id (must be a non-empty string)"),
        (request(["a"]), "has an invalid custom_id (must be a non-empty string)"),
    ],
)
def test_custom_id_must_be_a_non_empty_string(record: dict[str, Any], problem: str) -> None:
    data = jsonl(request("first"), record)
    assert error(BatchValidator, data) == f"Invalid batch file: line 2 {problem}."


def test_duplicate_custom_id_names_both_lines() -> None:
    data = jsonl(
        *(request(f"req-{i}") for i in (5, 1, 2, 3, 4)), request("req-9"), request("req-1")
    )
    assert error(BatchValidator, data) == (
        "Invalid batch file: line 7 has a duplicate custom_id 'req-1' (first seen on line 2)."
    )


def test_duplicate_custom_id_counts_blank_lines() -> None:
    data = b"\n" + jsonl(request("a")) + b"\n\n" + jsonl(request("a"))
    assert error(BatchValidator, data) == (
        "Invalid batch file: line 5 has a duplicate custom_id 'a' (first seen on line 2)."
    )


def test_custom_ids_differing_only_in_case_are_distinct() -> None:
    assert outcome(BatchValidator, jsonl(request("Req"), request("req"))) is None


def test_long_duplicate_custom_id_is_detected_and_truncated_in_message() -> None:
    long_id = "z" * 10_000
    data = jsonl(request(long_id), request(long_id[:-1] + "y"), request(long_id))
    message = error(BatchValidator, data, sizes=(None, 7))
    assert message.startswith("Invalid batch file: line 3 has a duplicate custom_id 'zzz")
    assert message.endswith("(first seen on line 1).")
    assert len(message) < 200


def test_echoed_user_content_is_escaped_and_short() -> None:
    nasty = "\x00\n" * 500
    data = jsonl(request(nasty), request(nasty))
    message = error(BatchValidator, data, sizes=(None,))
    assert "\n" not in message
    assert len(message) < 200


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (
            {"custom_id": "x", "url": "/v1/chat/completions", "body": {}},
            "is missing method",
        ),
        (request("x", method="GET"), "has method 'GET'; only 'POST' is supported"),
        (request("x", method="post"), "has method 'post'; only 'POST' is supported"),
        (request("x", method=None), "has method null; only 'POST' is supported"),
        (request("x", method=1), "has method a number; only 'POST' is supported"),
    ],
)
def test_method_must_be_post(record: dict[str, Any], problem: str) -> None:
    data = jsonl(request("first"), record)
    assert error(BatchValidator, data) == f"Invalid batch file: line 2 {problem}."


@pytest.mark.parametrize("endpoint", BATCH_ENDPOINTS)
def test_every_batch_endpoint_is_accepted(endpoint: str) -> None:
    data = jsonl(request("a", url=endpoint), request("b", url=endpoint))
    assert outcome(BatchValidator, data) is None


def test_endpoint_list_matches_openai_spec() -> None:
    assert BATCH_ENDPOINTS == (
        "/v1/responses",
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/completions",
        "/v1/moderations",
        "/v1/images/generations",
        "/v1/images/edits",
        "/v1/videos",
    )


@pytest.mark.parametrize(
    "url", ["/chat/completions", "/v1/chat/completions/", "/v1/files", "/V1/embeddings", ""]
)
def test_unsupported_url_is_rejected(url: str) -> None:
    data = jsonl(request("a", url=url))
    message = error(BatchValidator, data)
    assert message.startswith(
        f"Invalid batch file: line 1 has url {url!r}, which is not a batch endpoint"
        " (expected one of /v1/responses, "
    )


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (
            {"custom_id": "x", "method": "POST", "body": {}},
            "is missing url",
        ),
        (request("x", url=None), "has a url that is null, not a string"),
        (request("x", url=["/v1/embeddings"]), "has a url that is an array, not a string"),
    ],
)
def test_url_must_be_a_string(record: dict[str, Any], problem: str) -> None:
    data = jsonl(request("first"), record)
    assert error(BatchValidator, data) == f"Invalid batch file: line 2 {problem}."


def test_url_must_match_across_lines() -> None:
    data = b"\n" + jsonl(
        request("a"), request("b"), request("c", url="/v1/embeddings"), request("d")
    )
    assert error(BatchValidator, data) == (
        "Invalid batch file: line 4 has url '/v1/embeddings' but line 2 has"
        " '/v1/chat/completions'; all requests in a batch must use the same url."
    )


def test_first_line_url_is_the_reference_even_if_later_lines_agree() -> None:
    data = jsonl(request("a", url="/v1/embeddings"), request("b"), request("c"))
    assert error(BatchValidator, data).startswith(
        "Invalid batch file: line 2 has url '/v1/chat/completions' but line 1 has"
    )


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (
            {"custom_id": "x", "method": "POST", "url": "/v1/chat/completions"},
            "is missing body",
        ),
        (request("x", body=None), "has a body that is null, not a JSON object"),
        (request("x", body=[]), "has a body that is an array, not a JSON object"),
        (request("x", body='{"model": "m"}'), "has a body that is a string, not a JSON object"),
    ],
)
def test_body_must_be_an_object(record: dict[str, Any], problem: str) -> None:
    data = jsonl(request("first"), record)
    assert error(BatchValidator, data) == f"Invalid batch file: line 2 {problem}."


def test_extra_fields_and_empty_body_are_allowed() -> None:
    data = jsonl(request("a", body={}, extra=True))
    assert outcome(BatchValidator, data) is None


def test_batch_of_max_lines_passes() -> None:
    data = batch_file(50_000)
    assert outcome(BatchValidator, data, sizes=(None, 65_536)) is None


def test_batch_over_max_lines_fails_on_the_extra_line() -> None:
    data = batch_file(50_001)
    assert error(BatchValidator, data, sizes=(None, 65_536)) == (
        "Invalid batch file: line 50001 exceeds the limit of 50,000 requests."
    )


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        # Each line breaks two rules; the message is the first rule's.
        ([request("a"), request("b", method="GET")], "exceeds the limit of 1 requests"),
        ([request("a", body=[])], "has a body that is an array"),
        ([request("a"), request("a", method="GET")], "has a duplicate custom_id 'a'"),
        ([request("a"), request(None, url="/v1/files")], "has an invalid custom_id"),
        ([request("a", method="GET", url="/v1/files")], "has method 'GET'"),
        ([request("a"), request("b", url="/v1/embeddings", body=1)], "has url '/v1/embeddings'"),
    ],
)
def test_a_line_breaking_several_rules_gets_the_first_rules_message(
    lines: list[dict[str, Any]], problem: str
) -> None:
    limit = 1 if "limit" in problem else 50_000
    message = error(partial(BatchValidator, max_lines=limit), jsonl(*lines))
    assert f"line {len(lines)} {problem}" in message, message


def test_max_lines_counts_only_non_blank_lines() -> None:
    data = b"\n" + jsonl(request("a")) + b"  \n" + jsonl(request("b"), request("c"))
    make = partial(BatchValidator, max_lines=2)
    assert error(make, data) == "Invalid batch file: line 5 exceeds the limit of 2 requests."
    assert outcome(partial(BatchValidator, max_lines=3), data) is None


def test_batch_at_max_bytes_passes() -> None:
    data = batch_file(4)
    assert outcome(partial(BatchValidator, max_bytes=len(data)), data) is None


def test_batch_over_max_bytes_fails() -> None:
    data = batch_file(4)
    make = partial(BatchValidator, max_bytes=len(data) - 1)
    assert error(make, data) == (
        f"Invalid batch file: the file is larger than {len(data) - 1:,} bytes."
    )


def test_trailing_whitespace_counts_towards_max_bytes() -> None:
    data = batch_file(2)
    make = partial(BatchValidator, max_bytes=len(data))
    assert error(make, data + b"\n").endswith(f"the file is larger than {len(data):,} bytes.")


def test_max_bytes_is_reported_in_megabytes() -> None:
    limit = 2 * 1024 * 1024
    line = jsonl(request("a", body={"pad": "x" * 1000}))
    padding = b"\n" * (limit - len(line) + 1)
    make = partial(BatchValidator, max_bytes=limit)
    assert error(make, line + padding, sizes=(None, 65_536)) == (
        "Invalid batch file: the file is larger than 2 MB."
    )


def test_bad_line_before_the_size_limit_is_reported_first() -> None:
    data = jsonl(request("a")) + b"{bad\n" + batch_file(3)
    make = partial(BatchValidator, max_bytes=len(data) - 10)
    assert error(make, data) == "Invalid batch file: line 2 is not valid JSON."


def test_line_straddling_the_size_limit_gives_the_size_error() -> None:
    data = jsonl(request("a")) + b"{bad\n"
    make = partial(BatchValidator, max_bytes=len(data) - 2)
    assert "the file is larger than" in error(make, data)


@pytest.mark.parametrize(
    ("cls", "defaults"),
    [
        (
            BatchValidator,
            {
                "max_line_bytes": 64 * 1024 * 1024,
                "max_lines": 50_000,
                "max_bytes": 200 * 1024 * 1024,
            },
        ),
        (FineTuneValidator, {"max_line_bytes": 64 * 1024 * 1024}),
    ],
)
def test_default_limits_are_keyword_only(
    cls: type[JsonlValidator], defaults: dict[str, int]
) -> None:
    params = inspect.signature(cls).parameters
    assert {name: p.default for name, p in params.items()} == defaults
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())


# --- fine-tune -------------------------------------------------------------------


def test_fine_tune_accepts_any_json_objects() -> None:
    data = jsonl(
        {"messages": [{"role": "user", "content": "hi"}]},
        {"prompt": "a", "completion": "b"},
        {},
    )
    assert outcome(FineTuneValidator, data) is None


def test_fine_tune_does_not_apply_batch_rules() -> None:
    data = jsonl({"custom_id": "a"}, {"custom_id": "a"}) * 3
    assert outcome(FineTuneValidator, data) is None


def test_fine_tune_rejects_non_objects() -> None:
    data = jsonl({"messages": []}) + b"\n[]\n"
    assert error(FineTuneValidator, data) == (
        "Invalid fine-tune file: line 3 is not a JSON object (found an array)."
    )


def test_fine_tune_has_no_line_or_size_cap() -> None:
    data = jsonl(*({"i": i} for i in range(60_000)))
    assert outcome(FineTuneValidator, data, sizes=(None, 65_536)) is None


def test_base_validator_checks_objects_only() -> None:
    assert outcome(JsonlValidator, jsonl({"a": 1}, {"a": 1})) is None
    assert error(JsonlValidator, b"{}\n1\n") == (
        "Invalid JSONL file: line 2 is not a JSON object (found a number)."
    )


@pytest.mark.parametrize("value", [0, -1])
def test_limits_must_be_positive(value: int) -> None:
    with pytest.raises(ValueError):
        FineTuneValidator(max_line_bytes=value)
    with pytest.raises(ValueError):
        BatchValidator(max_lines=value)
    with pytest.raises(ValueError):
        BatchValidator(max_bytes=value)
