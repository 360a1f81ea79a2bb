"""Error envelopes, authentication, routing errors and the keyless (local-only) mode."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import psutil
import pytest
from support import Part as P
from support import assert_error, multipart, sdk, upload


def listening_hosts(pid: int) -> set[str]:
    return {
        c.laddr.ip
        for c in psutil.Process(pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }


@pytest.fixture
def anon(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/files"),
        ("POST", "/v1/files"),
        ("GET", "/v1/files/file-01ABSENT"),
        ("DELETE", "/v1/files/file-01ABSENT"),
        ("GET", "/v1/files/file-01ABSENT/content"),
        ("GET", "/files"),
    ],
)
def test_no_key_is_401(anon: httpx.Client, method: str, path: str) -> None:
    assert_error(anon.request(method, path), 401, type_="authentication_error")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer sk-wrong"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic c2stdGVzdA=="},
        {"api-key": "sk-wrong"},
        {"x-api-key": "sk-wrong"},
    ],
    ids=["wrong-bearer", "empty-bearer", "basic", "wrong-api-key", "wrong-x-api-key"],
)
def test_wrong_key_is_401(anon: httpx.Client, headers: dict[str, str]) -> None:
    assert_error(anon.get("/v1/files", headers=headers), 401, type_="authentication_error")


@pytest.mark.parametrize("header", ["api-key", "x-api-key"])
def test_key_in_azure_style_header(server: Any, anon: httpx.Client, header: str) -> None:
    resp = anon.get("/v1/files", headers={header: server.master_key})
    assert resp.status_code == 200, resp.text


def test_wrong_key_upload_stores_nothing(
    server: Any, anon: httpx.Client, http: httpx.Client
) -> None:
    before = http.get("/v1/files").json()["data"]
    resp = anon.post(
        "/v1/files",
        headers={"Authorization": "Bearer nope"},
        data={"purpose": "user_data"},
        files={"file": ("x.txt", b"x")},
    )
    assert_error(resp, 401)
    assert http.get("/v1/files").json()["data"] == before


def test_sdk_sees_authentication_error(server: Any) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        sdk(server, api_key="sk-wrong").files.retrieve("file-01ABSENT")
    assert info.value.status_code == 401
    assert info.value.request_id


@pytest.mark.parametrize(
    "path", ["/", "/v1", "/v1/filez", "/v1/files/a/b/c", "/v2/files", "/v1/files/x/content/y"]
)
def test_unknown_route_is_404(http: httpx.Client, path: str) -> None:
    assert_error(http.get(path), 404)


@pytest.mark.parametrize("path", ["/v1/files/", "/files/", "/v1/uploads/", "/key/list/"])
@pytest.mark.parametrize("key", [True, False], ids=["with-key", "without-key"])
def test_a_trailing_slash_is_never_a_redirect(
    server: Any, anon: httpx.Client, path: str, key: bool
) -> None:
    """A redirect to the slashless path was built from the Host header: an open redirect."""
    headers = {"Host": "evil.example", **(server.headers if key else {})}
    resp = anon.get(path, headers=headers, follow_redirects=False)
    assert "location" not in resp.headers, resp.headers
    assert_error(resp, 404, code="unknown_url")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/files", "GET, HEAD, POST"),
        ("DELETE", "/v1/files", "GET, HEAD, POST"),
        ("PATCH", "/v1/files/file-01ABSENT", "DELETE, GET, HEAD"),
        ("POST", "/v1/files/file-01ABSENT", "DELETE, GET, HEAD"),
        ("POST", "/v1/files/file-01ABSENT/content", "GET, HEAD"),
        ("DELETE", "/files/file-01ABSENT/content", "GET, HEAD"),
        ("PUT", "/files", "GET, HEAD, POST"),
        ("POST", "/health/readiness", "GET, HEAD"),
    ],
)
def test_wrong_method_is_405(http: httpx.Client, method: str, path: str, allowed: str) -> None:
    resp = http.request(method, path)
    assert_error(resp, 405, code="method_not_allowed")
    # RFC 9110: a 405 lists every method the resource supports.
    assert resp.headers["allow"] == allowed


def test_request_id_is_echoed_or_made(http: httpx.Client) -> None:
    mine = http.get("/v1/files/file-01ABSENT", headers={"x-request-id": "trace-123"})
    assert mine.headers["x-request-id"] == "trace-123"
    made = [http.get("/v1/files/file-01ABSENT").headers["x-request-id"] for _ in range(2)]
    assert made[0] and made[1] and made[0] != made[1]
    hostile = http.get("/v1/files", headers={"x-request-id": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"
    assert http.get("/v1/files").headers["x-request-id"], "successes carry one too"


def test_sdk_error_carries_the_envelope(server: Any) -> None:
    client = sdk(server)
    with pytest.raises(openai.NotFoundError) as info:
        client.files.content("file-01ABSENT")
    err = info.value
    assert err.status_code == 404
    assert err.type == "invalid_request_error"
    assert err.param == "file_id"
    assert isinstance(err.body, dict)
    assert set(err.body) == {"message", "type", "param", "code"}
    assert err.request_id == err.response.headers["x-request-id"]


def test_the_server_binds_the_host_it_is_given(server: Any) -> None:
    # Binding every interface (the default with a master key) is a settings test
    # (tests/unit/test_config.py); tests here never listen beyond loopback.
    assert listening_hosts(server.proc.pid) == {"127.0.0.1"}


def test_without_master_key(server_factory: Callable[..., Any]) -> None:
    open_server = server_factory(master_key=None, host=None)
    assert listening_hosts(open_server.proc.pid) == {"127.0.0.1"}
    with httpx.Client(base_url=open_server.base_url) as client:
        obj = upload(client, b"no key needed")
        assert client.get(f"/v1/files/{obj['id']}").status_code == 200
        assert client.get("/v1/files", headers={"Authorization": "Bearer any"}).status_code == 200
    sdk_client = openai.OpenAI(base_url=open_server.api_url, api_key="anything", max_retries=0)
    assert sdk_client.files.retrieve(obj["id"]).id == obj["id"]
    log = open_server.log()
    warnings = [line for line in log.splitlines() if "WARNING" in line]
    assert any("master key" in line.lower() for line in warnings), log
    assert any("127.0.0.1" in line for line in warnings), log


LONG_BOUNDARY = "b" * 300  # python-multipart takes at most 256 characters


def _long_boundary_body(*parts: P) -> tuple[bytes, dict[str, str]]:
    body, ctype = multipart(parts, boundary=LONG_BOUNDARY)
    return body, {"Content-Type": ctype}


def test_a_boundary_too_long_for_the_parser_is_400(http: httpx.Client) -> None:
    before = http.get("/v1/files").json()["data"]
    body, headers = _long_boundary_body(P("purpose", "user_data"), P("file", b"x", "x.txt"))
    err = assert_error(
        http.post("/v1/files", content=body, headers=headers), 400, code="invalid_content_type"
    )
    assert "boundary" in err["message"]
    assert http.get("/v1/files").json()["data"] == before, "nothing was stored"
    upload_id = http.post(
        "/v1/uploads",
        json={"filename": "a.txt", "purpose": "user_data", "bytes": 1, "mime_type": "text/plain"},
    ).json()["id"]
    body, headers = _long_boundary_body(P("data", b"x", "blob"))
    assert_error(
        http.post(f"/v1/uploads/{upload_id}/parts", content=body, headers=headers),
        400,
        code="invalid_content_type",
    )


HUGE = "9" * 5000  # more digits than Python's int() takes (4,300)


@pytest.mark.parametrize(
    ("range_header", "status", "body"),
    [
        (f"bytes={HUGE}-", 416, None),
        (f"bytes=2-{HUGE}", 206, b"llo"),
        (f"bytes=-{HUGE}", 206, b"hello"),
    ],
    ids=["start", "end", "suffix"],
)
def test_a_range_number_of_any_length(
    http: httpx.Client, range_header: str, status: int, body: bytes | None
) -> None:
    file_id = upload(http, b"hello")["id"]
    resp = http.get(f"/v1/files/{file_id}/content", headers={"Range": range_header})
    if body is None:
        assert_error(resp, status, param="Range")
        assert resp.headers["content-range"] == "bytes */5"
    else:
        assert resp.status_code == status, resp.text
        assert resp.content == body
