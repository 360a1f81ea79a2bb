"""FILEGATE_MAX_FILE_SIZE: 413 from Content-Length up front and while streaming, no leftovers."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from support import (
    Part,
    assert_error,
    assert_no_leftovers,
    list_all,
    multipart,
    multipart_stream,
    new_boundary,
    sdk,
    upload,
)

LIMIT = 1000


@pytest.fixture(scope="module")
def small(module_server_factory: Callable[..., Any]) -> Any:
    return module_server_factory(env={"FILEGATE_MAX_FILE_SIZE": str(LIMIT)})


@pytest.fixture
def client(small: Any) -> Iterator[httpx.Client]:
    """A client of the small server; afterwards no rejected upload has left a trace."""
    with httpx.Client(base_url=small.base_url, headers=small.headers) as c:
        before = list_all(c)
        yield c
        assert list_all(c) == before
    assert_no_leftovers(small.data_dir)


def chunked_upload(client: httpx.Client, chunks: Iterator[bytes]) -> httpx.Response:
    boundary = new_boundary()
    body = multipart_stream(
        [Part("purpose", "user_data")],
        Part("file", filename="big.bin", content_type="application/octet-stream"),
        chunks,
        [],
        boundary,
    )
    request = client.build_request(
        "POST",
        "/v1/files",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    return client.send(request)


def test_at_the_limit_is_accepted(small: Any) -> None:
    with httpx.Client(base_url=small.base_url, headers=small.headers) as client:
        obj = upload(client, b"x" * LIMIT)
        assert obj["bytes"] == LIMIT
        assert client.get(f"/v1/files/{obj['id']}/content").content == b"x" * LIMIT
        chunked = chunked_upload(client, iter([b"y" * 600, b"y" * 400]))
        assert chunked.status_code == 200, chunked.text
        assert chunked.json()["bytes"] == LIMIT
        assert {obj["id"], chunked.json()["id"]} <= {f["id"] for f in list_all(client)}
    assert_no_leftovers(small.data_dir)


def test_declared_length_is_refused_before_the_body(small: Any, client: httpx.Client) -> None:
    # Only the headers are sent: a 413 proves the server did not wait for the body.
    conn = http.client.HTTPConnection("127.0.0.1", small.port, timeout=10)
    try:
        conn.putrequest("POST", "/v1/files")
        for name, value in small.headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Type", "multipart/form-data; boundary=b")
        conn.putheader("Content-Length", str(50 * 1024 * 1024))
        conn.endheaders()
        raw = conn.getresponse()
        resp = httpx.Response(raw.status, headers=raw.getheaders(), content=raw.read())
    finally:
        conn.close()
    assert_error(resp, 413, param="file", code="file_too_large")


def test_too_large_with_content_length(client: httpx.Client) -> None:
    # Over the limit but within the form overhead: caught while streaming.
    body, ctype = multipart(
        [Part("purpose", "user_data"), Part("file", b"z" * (LIMIT + 1), filename="z.bin")]
    )
    resp = client.post("/v1/files", content=body, headers={"Content-Type": ctype})
    assert "content-length" in resp.request.headers
    assert_error(resp, 413, param="file")
    # Far over the limit: refused from the declared length.
    big, ctype = multipart(
        [Part("purpose", "user_data"), Part("file", b"z" * 3_000_000, filename="z.bin")]
    )
    assert_error(client.post("/v1/files", content=big, headers={"Content-Type": ctype}), 413)


def test_too_large_while_streaming_chunked(client: httpx.Client) -> None:
    resp = chunked_upload(client, (b"q" * 500 for _ in range(100)))
    assert_error(resp, 413, param="file", code="file_too_large")


def test_too_large_jsonl_while_validating(client: httpx.Client) -> None:
    line = b'{"messages": []}\n'
    boundary = new_boundary()
    body = multipart_stream(
        [Part("purpose", "fine-tune")],
        Part("file", filename="ft.jsonl"),
        (line for _ in range(200)),
        [],
        boundary,
    )
    resp = client.post(
        "/v1/files",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_error(resp, 413, param="file")


def test_sdk_sees_413(small: Any, client: httpx.Client) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        sdk(small).files.create(file=("big.bin", b"b" * (LIMIT * 5)), purpose="user_data")
    assert info.value.status_code == 413
    assert info.value.code == "file_too_large"
