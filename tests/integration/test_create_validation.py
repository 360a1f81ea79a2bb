"""POST /files: every rejected upload is a 400 naming its param, and leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import Part as P
from support import assert_error, assert_no_leftovers, list_all, multipart

FILE = P("file", b"some bytes\n", filename="f.txt", content_type="text/plain")
PURPOSE = P("purpose", "user_data")
BATCH_OK = {"method": "POST", "url": "/v1/chat/completions", "body": {"model": "m"}}


def jsonl(*records: Any) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records
    )


def batch_line(custom_id: str, **override: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, **BATCH_OK, **override}


@pytest.fixture
def checked(server: Any, http: httpx.Client) -> Iterator[httpx.Client]:
    """The client; after the test, the catalog and the disk hold no trace of rejects."""
    before = list_all(http)
    yield http
    assert list_all(http) == before
    assert_no_leftovers(server.data_dir)


def post_parts(client: httpx.Client, *parts: P, path: str = "/v1/files") -> httpx.Response:
    body, ctype = multipart(parts)
    return client.post(path, content=body, headers={"Content-Type": ctype})


@pytest.mark.parametrize(
    ("parts", "param"),
    [
        ((PURPOSE,), "file"),
        ((FILE,), "purpose"),
        ((P("purpose", ""), FILE), "purpose"),
        ((P("purpose", "bogus"), FILE), "purpose"),
        ((FILE, P("purpose", "bogus")), "purpose"),
        ((PURPOSE, P("file", "just text, no filename")), "file"),
        ((PURPOSE, FILE, P("file", b"second", filename="g.txt")), "file"),
        ((PURPOSE, P("purpose", "user_data"), FILE), "purpose"),
    ],
    ids=[
        "no-file",
        "no-purpose",
        "empty-purpose",
        "bad-purpose",
        "bad-purpose-after-file",
        "file-as-text-field",
        "two-files",
        "purpose-twice",
    ],
)
def test_missing_or_invalid_fields(checked: httpx.Client, parts: tuple[P, ...], param: str) -> None:
    assert_error(post_parts(checked, *parts), 400, param=param)


@pytest.mark.parametrize("position", ["before-file", "after-file"])
def test_unknown_field_is_named(checked: httpx.Client, position: str) -> None:
    extra = P("colour", "blue")
    parts = (PURPOSE, extra, FILE) if position == "before-file" else (PURPOSE, FILE, extra)
    assert_error(post_parts(checked, *parts), 400, param="colour", code="unknown_parameter")


def test_routing_fields_are_accepted(http: httpx.Client) -> None:
    resp = post_parts(
        http,
        PURPOSE,
        P("custom_llm_provider", "filegate"),
        P("target_storage", "default"),
        P("litellm_metadata[team]", "research"),
        FILE,
    )
    assert resp.status_code == 200, resp.text
    obj = resp.json()
    assert obj["purpose"] == "user_data" and obj["bytes"] == len(FILE.value)
    # The routing fields are not file attributes.
    assert http.get(f"/v1/files/{obj['id']}").json() == obj
    query = http.post(
        "/v1/files?custom_llm_provider=filegate",
        data={"purpose": "user_data"},
        files={"file": ("q.txt", b"q")},
    )
    assert query.status_code == 200, query.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("custom_llm_provider", "openai"),
        ("custom_llm_provider", "azure"),
        ("model", "gpt-4o"),
        ("target_model_names", "gpt-4o,claude"),
        ("target_storage", "s3"),
    ],
)
@pytest.mark.parametrize("position", ["before-file", "after-file"])
def test_other_targets_are_refused(
    checked: httpx.Client, field: str, value: str, position: str
) -> None:
    extra = P(field, value)
    parts = (PURPOSE, extra, FILE) if position == "before-file" else (PURPOSE, FILE, extra)
    err = assert_error(post_parts(checked, *parts), 400, param=field)
    assert value.split(",")[0] in err["message"]


def test_other_provider_in_query_is_refused(checked: httpx.Client) -> None:
    resp = checked.post(
        "/v1/files",
        params={"custom_llm_provider": "bedrock"},
        data={"purpose": "user_data"},
        files={"file": ("q.txt", b"q")},
    )
    assert_error(resp, 400, param="custom_llm_provider")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"expires_after[anchor]": "created_at"}, "expires_after[seconds]"),
        ({"expires_after[seconds]": "3600"}, "expires_after[anchor]"),
        (
            {"expires_after[anchor]": "last_active_at", "expires_after[seconds]": "3600"},
            "expires_after[anchor]",
        ),
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": "3599"},
            "expires_after[seconds]",
        ),
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": "2592001"},
            "expires_after[seconds]",
        ),
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": "0"},
            "expires_after[seconds]",
        ),
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": "1h"},
            "expires_after[seconds]",
        ),
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600.5"},
            "expires_after[seconds]",
        ),
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": "3_600"},
            "expires_after[seconds]",
        ),
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": " 3600"},
            "expires_after[seconds]",
        ),
        (
            {
                "expires_after[anchor]": "created_at",
                "expires_after[seconds]": "\u0663\u0666\u0660\u0660",
            },
            "expires_after[seconds]",
        ),
    ],
    ids=[
        "anchor-only",
        "seconds-only",
        "bad-anchor",
        "too-short",
        "too-long",
        "zero",
        "not-a-number",
        "fraction",
        "underscore",
        "space",
        "arabic-digits",
    ],
)
@pytest.mark.parametrize("position", ["before-file", "after-file"])
def test_bad_expires_after(
    checked: httpx.Client, fields: dict[str, str], param: str, position: str
) -> None:
    extra = [P(k, v) for k, v in fields.items()]
    parts = [PURPOSE, *extra, FILE] if position == "before-file" else [PURPOSE, FILE, *extra]
    assert_error(post_parts(checked, *parts), 400, param=param)


@pytest.mark.parametrize("seconds", [3600, 2592000])
def test_expires_after_bounds_accepted(http: httpx.Client, seconds: int) -> None:
    resp = post_parts(
        http,
        PURPOSE,
        P("expires_after[anchor]", "created_at"),
        P("expires_after[seconds]", str(seconds)),
        FILE,
    )
    assert resp.status_code == 200, resp.text
    obj = resp.json()
    assert obj["expires_at"] == obj["created_at"] + seconds


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"purpose": "user_data", "file": "abc"}', {"Content-Type": "application/json"}),
        (b"purpose=user_data", {"Content-Type": "application/x-www-form-urlencoded"}),
        (b"purpose=user_data", {}),
        (b"", {}),
        (b"--x\r\n", {"Content-Type": "multipart/form-data"}),
    ],
    ids=["json", "urlencoded", "no-content-type", "empty", "no-boundary"],
)
def test_body_not_multipart(checked: httpx.Client, content: bytes, headers: dict[str, str]) -> None:
    assert_error(checked.post("/v1/files", content=content, headers=headers), 400)


@pytest.mark.parametrize(
    "body",
    [
        b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n',
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
        b"--b\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n--b--\r\n",
        b"garbage without any boundary",
    ],
    ids=["no-closing-boundary", "cut-inside-file", "no-disposition", "garbage"],
)
def test_malformed_multipart(checked: httpx.Client, body: bytes) -> None:
    resp = checked.post(
        "/v1/files", content=body, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert_error(resp, 400)


# --- JSONL validation for batch and fine-tune ---------------------------------------


@pytest.mark.parametrize(
    ("purpose", "data", "line"),
    [
        ("fine-tune", jsonl({"messages": []}, b"{not json"), 2),
        ("fine-tune", jsonl({"a": 1}, {"b": 2}, [1, 2]), 3),
        ("fine-tune", b"", None),
        ("batch", jsonl(batch_line("a"), batch_line("a")), 2),
        (
            "batch",
            jsonl(batch_line("a"), {k: v for k, v in batch_line("b").items() if k != "custom_id"}),
            2,
        ),
        ("batch", jsonl(batch_line("a", method="GET")), 1),
        ("batch", jsonl(batch_line("a"), batch_line("b", url="/v1/embeddings")), 2),
        ("batch", jsonl(batch_line("a", url="/v1/nope")), 1),
        ("batch", jsonl(batch_line("a"), batch_line("b"), batch_line("c", body="x")), 3),
    ],
    ids=[
        "ft-not-json",
        "ft-not-object",
        "ft-empty",
        "batch-dup-id",
        "batch-no-id",
        "batch-get",
        "batch-two-urls",
        "batch-bad-url",
        "batch-body-string",
    ],
)
@pytest.mark.parametrize("file_first", [False, True], ids=["purpose-first", "file-first"])
def test_invalid_jsonl_is_rejected(
    checked: httpx.Client, purpose: str, data: bytes, line: int | None, file_first: bool
) -> None:
    file_part = P("file", data, filename="input.jsonl", content_type="application/jsonl")
    parts = (file_part, P("purpose", purpose)) if file_first else (P("purpose", purpose), file_part)
    err = assert_error(post_parts(checked, *parts), 400, param="file")
    if line is not None:
        assert f"line {line} " in err["message"], err["message"]
    else:
        assert "empty" in err["message"]


@pytest.mark.parametrize("file_first", [False, True], ids=["purpose-first", "file-first"])
def test_valid_jsonl_is_stored(http: httpx.Client, file_first: bool) -> None:
    data = jsonl(batch_line("a"), batch_line("b"), b"", batch_line("c"))
    file_part = P("file", data, filename="ok.jsonl", content_type="application/jsonl")
    parts = (file_part, P("purpose", "batch")) if file_first else (P("purpose", "batch"), file_part)
    resp = post_parts(http, *parts)
    assert resp.status_code == 200, resp.text
    assert resp.json()["bytes"] == len(data)
    assert http.get(f"/v1/files/{resp.json()['id']}/content").content == data


def test_other_purposes_are_not_validated(http: httpx.Client) -> None:
    resp = post_parts(http, P("purpose", "assistants"), P("file", b"{not json", filename="x.jsonl"))
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize(
    "ctype",
    ["text/plain\x01", "x/" + "y" * 300, "not a type", "text/plain; charset=\x7f"],
    ids=["control-char", "too-long", "no-slash", "del-in-param"],
)
def test_unusable_part_content_type_falls_back(http: httpx.Client, ctype: str) -> None:
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="t.txt"\r\n'
        f"Content-Type: {ctype}\r\n\r\nabc\r\n--{boundary}--\r\n"
    ).encode()
    resp = http.post(
        "/v1/files",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert resp.status_code == 200, resp.text
    got = http.get(f"/v1/files/{resp.json()['id']}/content")
    assert got.status_code == 200
    assert got.content == b"abc"
    assert got.headers["content-type"] == "application/octet-stream"


def test_content_type_parameters_are_kept(http: httpx.Client) -> None:
    resp = post_parts(
        http,
        PURPOSE,
        P("file", b"a,b\n", filename="t.csv", content_type="text/csv; charset=iso-8859-1"),
    )
    assert resp.status_code == 200, resp.text
    got = http.get(f"/v1/files/{resp.json()['id']}/content")
    assert got.headers["content-type"] == "text/csv; charset=iso-8859-1"


def _batch_lines(n: int) -> bytes:
    return b"".join(
        b'{"custom_id":"r%d","method":"POST","url":"/v1/embeddings","body":{}}\n' % i
        for i in range(n)
    )


def test_batch_line_count_limit(checked: httpx.Client) -> None:
    at_limit = post_parts(
        checked, P("purpose", "batch"), P("file", _batch_lines(50_000), filename="max.jsonl")
    )
    assert at_limit.status_code == 200, at_limit.text
    assert checked.delete(f"/v1/files/{at_limit.json()['id']}").status_code == 200
    over = post_parts(
        checked, P("purpose", "batch"), P("file", _batch_lines(50_001), filename="over.jsonl")
    )
    err = assert_error(over, 400, param="file")
    assert "line 50001 " in err["message"]


def test_expires_after_as_one_json_part(checked: httpx.Client) -> None:
    """Clients generated from OpenAI's spec send expires_after as a JSON part."""
    ok = post_parts(
        checked, PURPOSE, P("expires_after", '{"anchor": "created_at", "seconds": 7200}'), FILE
    )
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["expires_at"] == body["created_at"] + 7200
    checked.delete(f"/v1/files/{body['id']}")
    for bad in (
        "{}",
        '{"seconds": 7200}',
        '{"anchor": "created_at"}',
        "[1]",
        "not json",
        '{"anchor": "created_at", "seconds": 7200, "x": 1}',
    ):
        resp = post_parts(checked, PURPOSE, P("expires_after", bad), FILE)
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["error"]["param"].startswith("expires_after")
    both = post_parts(
        checked,
        PURPOSE,
        P("expires_after", '{"anchor": "created_at", "seconds": 7200}'),
        P("expires_after[seconds]", "7200"),
        FILE,
    )
    assert_error(both, 400, param="expires_after")


@pytest.mark.parametrize("order", ["before", "after"], ids=["part-first", "part-last"])
def test_an_empty_expires_after_part_is_refused(checked: httpx.Client, order: str) -> None:
    """OpenAI's spec requires anchor and seconds; {} stored the file without expiry."""
    before = checked.get("/v1/files").json()["data"]
    parts = [PURPOSE, P("expires_after", "{}"), FILE]
    resp = post_parts(checked, *(parts if order == "before" else parts[::-1]))
    err = assert_error(resp, 400, param="expires_after", code="invalid_value")
    assert "anchor" in err["message"] and "seconds" in err["message"]
    assert checked.get("/v1/files").json()["data"] == before, "nothing was stored"
