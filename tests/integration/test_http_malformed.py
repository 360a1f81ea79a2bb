"""Malformed HTTP gets OpenAI's envelope from the server's own HTTP layer.

Each request below is refused before any route sees it; the answer is a JSON
error like every other, and the connection ends.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
from http_support import connect, read_response, request, seconds_until_closed

AUTH = b"Authorization: Bearer sk-test-master-1234\r\n"
HEAD = b"Host: 127.0.0.1\r\n" + AUTH


def post(headers: bytes, body: bytes = b"") -> bytes:
    return b"POST /v1/files HTTP/1.1\r\n" + HEAD + headers + b"\r\n" + body


def get(headers: bytes) -> bytes:
    return b"GET /v1/files HTTP/1.1\r\n" + HEAD + headers + b"\r\n"


CHUNKED = b"Transfer-Encoding: chunked\r\n"

# name -> (raw request, expected status)
MALFORMED: dict[str, tuple[bytes, int]] = {
    "content-length not a number": (post(b"Content-Length: abc\r\n"), 400),
    "content-length negative": (post(b"Content-Length: -5\r\n", b"hello"), 400),
    "content-length with a plus sign": (post(b"Content-Length: +5\r\n", b"hello"), 400),
    "content-length as a list": (post(b"Content-Length: 5, 5\r\n", b"hello"), 400),
    "content-length overflowing 64 bits": (
        post(b"Content-Length: 99999999999999999999999\r\n"),
        400,
    ),
    "content-length twice, different": (
        post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),
        400,
    ),
    "content-length twice, equal": (
        post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"),
        400,
    ),
    "content-length with transfer-encoding": (
        post(b"Content-Length: 5\r\n" + CHUNKED, b"0\r\n\r\n"),
        400,
    ),
    "transfer-encoding unknown": (post(b"Transfer-Encoding: gzip\r\n", b"hello"), 400),
    "transfer-encoding chunked not last": (
        post(b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n"),
        400,
    ),
    "chunk size not hex": (post(CHUNKED, b"zz\r\nhello\r\n0\r\n\r\n"), 400),
    "chunk size negative": (post(CHUNKED, b"-5\r\nhello\r\n0\r\n\r\n"), 400),
    "chunk size overflowing": (post(CHUNKED, b"fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), 400),
    "chunk data without its CRLF": (post(CHUNKED, b"5\r\nhelloXX0\r\n\r\n"), 400),
    "chunk extension with a control byte": (post(CHUNKED, b"5;\x01\r\nhello\r\n0\r\n\r\n"), 400),
    "NUL in a header value": (get(b"X-A: a\x00b\r\n"), 400),
    "NUL in a header name": (get(b"X-\x00A: ab\r\n"), 400),
    "folded header (obs-fold)": (get(b"X-A: a\r\n  folded\r\n"), 400),
    "space before the colon": (get(b"X-A : a\r\n"), 400),
    "header without a colon": (get(b"NoColonHere\r\n"), 400),
    "bare CR in a header": (get(b"X-A: a\rb\r\n"), 400),
    "LF-only line ends": (b"GET /v1/files HTTP/1.1\nHost: 127.0.0.1\n\n", 400),
    "method with a bad character": (b"G@T /v1/files HTTP/1.1\r\n" + HEAD + b"\r\n", 400),
    "unknown HTTP version": (b"GET /v1/files HTTP/9.9\r\n" + HEAD + b"\r\n", 400),
    "space in the URL": (b"GET /v1/fi les HTTP/1.1\r\n" + HEAD + b"\r\n", 400),
    "control byte in the URL": (b"GET /v1/fi\x01les HTTP/1.1\r\n" + HEAD + b"\r\n", 400),
    "non-ASCII URL": (b"GET /v1/fil\xe9s HTTP/1.1\r\n" + HEAD + b"\r\n", 400),
    "CONNECT": (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400),
    "a 100 KB URL": (b"GET /v1/files?x=" + b"a" * 100_000 + b" HTTP/1.1\r\n" + HEAD + b"\r\n", 414),
    "a 100 KB header": (get(b"X-Big: " + b"a" * 100_000 + b"\r\n"), 431),
    "garbage before a request line (TLS hello)": (
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03zz\r\n\r\n",
        400,
    ),
    "HTTP/2 preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
}


@pytest.mark.parametrize("raw", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_requests_get_the_envelope(server: Any, raw: str) -> None:
    data, status = MALFORMED[raw]
    sock = connect(server.port)
    sock.sendall(data)
    resp = read_response(sock)
    assert resp is not None, "closed without an answer"
    assert resp.status == status, resp
    err = resp.error()
    assert err["type"] == "invalid_request_error"
    assert err["param"] is None
    expected_code = {400: "invalid_http_request", 414: "uri_too_long"}.get(
        status, "request_header_fields_too_large"
    )
    assert err["code"] == expected_code
    assert resp.headers.get("connection") == "close"
    seconds_until_closed(sock, timeout=5)
    sock.close()


def test_a_bad_chunk_mid_upload_ends_it_and_stores_nothing(server: Any) -> None:
    boundary = uuid.uuid4().hex
    name = f"torn-{boundary}.jsonl"
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'
    ).encode() + b"x" * 50_000
    head = post(CHUNKED + f"Content-Type: multipart/form-data; boundary={boundary}\r\n".encode())
    sock = connect(server.port)
    sock.sendall(head + b"%x\r\n" % len(part) + part + b"\r\n")
    time.sleep(0.3)  # the route is reading the file by now
    sock.sendall(b"nothex\r\n")
    resp = read_response(sock)
    assert resp is not None and resp.status == 400, resp
    assert resp.error()["code"] == "invalid_http_request"
    sock.close()
    listed = httpx.get(f"{server.api_url}/files", headers=server.headers, timeout=10).json()
    assert name not in {f["filename"] for f in listed["data"]}


def test_the_server_serves_on_after_all_of_them(server: Any) -> None:
    sock = connect(server.port)
    sock.sendall(
        request("GET", "/v1/files?limit=1", {"Authorization": f"Bearer {server.master_key}"})
    )
    resp = read_response(sock)
    sock.close()
    assert resp is not None and resp.status == 200
    assert json.loads(resp.body)["object"] == "list"
