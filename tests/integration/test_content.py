"""GET /files/{id}/content: headers, ETag, conditional requests and byte ranges."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from support import Part as P
from support import assert_error, multipart, sdk, upload

DATA = bytes(range(256)) * 40  # 10,240 bytes, every offset distinguishable
SIZE = len(DATA)


@pytest.fixture(scope="module")
def stored(server: Any) -> dict[str, Any]:
    with httpx.Client(base_url=server.base_url, headers=server.headers) as client:
        return upload(client, DATA, filename="blob.bin", content_type="application/x-test")


def content_url(obj: dict[str, Any]) -> str:
    return f"/v1/files/{obj['id']}/content"


def filename_star(disposition: str) -> str:
    for item in disposition.split(";"):
        key, _, value = item.strip().partition("=")
        if key == "filename*":
            charset, _, encoded = value.partition("''")
            assert charset.upper() == "UTF-8"
            return unquote(encoded, encoding="utf-8", errors="strict")
    raise AssertionError(f"no filename* in {disposition!r}")


def test_full_content_headers(http: httpx.Client, stored: dict[str, Any]) -> None:
    resp = http.get(content_url(stored))
    assert resp.status_code == 200
    assert resp.content == DATA
    assert resp.headers["content-type"] == "application/x-test"
    assert resp.headers["content-length"] == str(SIZE)
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["etag"] == '"' + hashlib.sha256(DATA).hexdigest() + '"'
    assert resp.headers["content-disposition"].startswith("attachment;")
    assert filename_star(resp.headers["content-disposition"]) == "blob.bin"
    assert resp.headers.get("x-request-id")
    assert "content-range" not in resp.headers


def test_head_answers_headers_alone_and_the_connection_serves_on(
    server: Any, stored: dict[str, Any]
) -> None:
    """A HEAD answer has no body to carry its head; it must still go out at once."""
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=5) as one:
        for _ in range(3):
            head = one.head(content_url(stored))
            assert head.status_code == 200 and head.content == b""
            assert head.headers["content-length"] == str(SIZE)
            assert head.headers.get("x-request-id")
            assert one.get(content_url(stored)).content == DATA


@pytest.mark.parametrize(
    "name",
    ["déjà vu 📄.jsonl", "back\\slash;semi,comma.txt", "100% 'sure' (1).csv", "日本語", "a b+c=d"],
)
def test_content_disposition_keeps_exact_name(server: Any, http: httpx.Client, name: str) -> None:
    obj = sdk(server).files.create(file=(name, b"x", "text/plain"), purpose="user_data")
    assert obj.filename == name
    disposition = http.get(f"/v1/files/{obj.id}/content").headers["content-disposition"]
    disposition.encode("ascii")  # the header itself is plain ASCII
    assert filename_star(disposition) == name


def test_content_type_fallback(http: httpx.Client) -> None:
    body, ctype = multipart([P("purpose", "user_data"), P("file", b"raw", filename="noext")])
    resp = http.post("/v1/files", content=body, headers={"Content-Type": ctype})
    assert resp.status_code == 200, resp.text
    got = http.get(content_url(resp.json()))
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.content == b"raw"


def test_empty_file(http: httpx.Client) -> None:
    obj = upload(http, b"", filename="empty.bin")
    assert obj["bytes"] == 0
    got = http.get(content_url(obj))
    assert got.status_code == 200 and got.content == b""
    assert got.headers["content-length"] == "0"
    assert got.headers["etag"] == '"' + hashlib.sha256(b"").hexdigest() + '"'
    unsatisfiable = http.get(content_url(obj), headers={"Range": "bytes=0-0"})
    assert_error(unsatisfiable, 416)
    assert unsatisfiable.headers["content-range"] == "bytes */0"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-99", 0, 99),
        ("bytes=1000-2047", 1000, 2047),
        ("bytes=10000-", 10000, SIZE - 1),
        ("bytes=10000-999999", 10000, SIZE - 1),
        ("bytes=-1", SIZE - 1, SIZE - 1),
        ("bytes=-300", SIZE - 300, SIZE - 1),
        ("bytes=-999999", 0, SIZE - 1),
        (f"bytes={SIZE - 1}-", SIZE - 1, SIZE - 1),
    ],
)
def test_single_range(
    http: httpx.Client, stored: dict[str, Any], header: str, start: int, end: int
) -> None:
    resp = http.get(content_url(stored), headers={"Range": header})
    assert resp.status_code == 206
    assert resp.content == DATA[start : end + 1]
    assert resp.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert resp.headers["content-length"] == str(end - start + 1)
    assert resp.headers["content-type"] == "application/x-test"
    assert resp.headers["etag"] == '"' + hashlib.sha256(DATA).hexdigest() + '"'


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 10}", "bytes=-0"])
def test_unsatisfiable_range(http: httpx.Client, stored: dict[str, Any], header: str) -> None:
    resp = http.get(content_url(stored), headers={"Range": header})
    assert_error(resp, 416)
    assert resp.headers["content-range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-6", "bytes=0-10, 20-30", "lines=1-2", "bytes=abc", "bytes=9-3"]
)
def test_ignored_range_gives_whole_file(
    http: httpx.Client, stored: dict[str, Any], header: str
) -> None:
    resp = http.get(content_url(stored), headers={"Range": header})
    assert resp.status_code == 200
    assert resp.content == DATA
    assert "content-range" not in resp.headers


def test_if_none_match(http: httpx.Client, stored: dict[str, Any]) -> None:
    etag = http.get(content_url(stored)).headers["etag"]
    for value in (etag, f'"other", {etag}', "*"):
        resp = http.get(content_url(stored), headers={"If-None-Match": value})
        assert resp.status_code == 304
        assert resp.content == b""
        assert resp.headers["etag"] == etag
    fresh = http.get(content_url(stored), headers={"If-None-Match": '"something-else"'})
    assert fresh.status_code == 200 and fresh.content == DATA


def test_if_range(http: httpx.Client, stored: dict[str, Any]) -> None:
    etag = http.get(content_url(stored)).headers["etag"]
    same = http.get(content_url(stored), headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206 and same.content == DATA[:10]
    stale = http.get(content_url(stored), headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert stale.status_code == 200 and stale.content == DATA


def test_content_streams_in_chunks(http: httpx.Client, stored: dict[str, Any]) -> None:
    h = hashlib.sha256()
    with http.stream("GET", content_url(stored)) as resp:
        assert resp.status_code == 200
        for chunk in resp.iter_bytes(1000):
            h.update(chunk)
    assert h.hexdigest() == hashlib.sha256(DATA).hexdigest()
