"""Secrets stay secret: not in the logs, not in the catalog file, compared in constant time.

A gateway at debug log level serves a session of requests with the master key and
virtual keys (every way of sending a key, every kind of failure, the key in a query
string); afterwards its log and its catalog database are searched for every secret
and Authorization value. The master-key check is shown to go through
``hmac.compare_digest`` on equal-length digests (no timing test).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any, cast

import httpx
import openai
import pytest
from starlette.requests import Request
from support import assert_error
from tenants_support import fresh_minute, key_client, make_key, make_team, ok_file, post_file

from filegate.cli.main import RedactSecrets
from filegate.core.tenants import ADMIN, Principal, TenantService
from filegate.errors import AuthError
from filegate.server.auth import Authenticator
from tests.conftest import MASTER_KEY, ServerProcess

WRONG = "sk-wrong-but-plausible-0123456789abcdef"


def _session(srv: ServerProcess) -> list[str]:
    """Use the gateway every way a client might; return every secret that was sent."""
    team = make_team(srv, max_file_size=100)["team_id"]
    a, a_doc = make_key(srv, team_id=team, key_alias="sec-a", team_access=True)
    b, _ = make_key(srv, key_alias="sec-b", rpm=2)
    c, c_doc = make_key(srv, key_alias="sec-c")
    base = srv.base_url
    with httpx.Client(base_url=base, headers=srv.headers, timeout=60) as m:
        # A key in the query string (LiteLLM's /key/info?key=...) and in JSON bodies.
        assert m.get("/key/info", params={"key": a}).status_code == 200
        assert m.post("/key/update", json={"key": c, "metadata": {"n": 1}}).status_code == 200
        assert m.get("/key/list", params={"return_full_object": "true"}).status_code == 200
        assert m.get("/audit").status_code == 200
    with key_client(srv, a) as k:
        f = ok_file(k, b"hello")
        assert k.get(f"/v1/files/{f['id']}").status_code == 200
        assert k.get(f"/v1/files/{f['id']}/content").content == b"hello"
        assert k.get("/key/info", params={"key": a}).status_code == 200
        assert_error(post_file(k, b"x" * 101), 413)
        assert_error(k.get("/v1/files/file-nope"), 404)
        assert_error(k.get("/key/list"), 403)
        assert k.delete(f"/v1/files/{f['id']}").status_code == 200
    # The other headers a key may come in; the third request is past b's rpm.
    fresh_minute()
    for header in ("api-key", "x-api-key"):
        resp = httpx.get(f"{base}/v1/files", headers={header: b}, timeout=60)
        assert resp.status_code == 200
    limited = httpx.get(f"{base}/v1/files", headers={"api-key": b}, timeout=60)
    assert limited.status_code == 429
    # The openai SDK, as clients really send keys.
    client = openai.OpenAI(base_url=srv.api_url, api_key=c, max_retries=0)
    made = client.files.create(file=("s.txt", b"sdk"), purpose="user_data")
    assert client.files.content(made.id).read() == b"sdk"
    client.files.delete(made.id)
    # Wrong, malformed and missing keys.
    for headers in (
        {"Authorization": f"Bearer {WRONG}"},
        {"Authorization": f"Basic {WRONG}"},
        {"api-key": WRONG},
        {"Authorization": f"Bearer {MASTER_KEY}x"},
        {},
    ):
        assert_error(httpx.get(f"{base}/v1/files", headers=headers, timeout=60), 401)
    # A deleted key, deleted by its secret.
    with httpx.Client(base_url=base, headers=srv.headers, timeout=60) as m:
        assert m.post("/key/delete", json={"keys": [c]}).status_code == 200
        assert m.get("/key/info", params={"key": c}).status_code == 404
    with key_client(srv, c) as k:
        assert_error(k.get("/v1/files"), 401)
    assert a_doc["token"] != c_doc["token"]
    return [MASTER_KEY, a, b, c, WRONG]


def test_no_key_or_authorization_value_in_the_debug_log(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(env={"FILEGATE_LOG_LEVEL": "debug"})
    secrets = _session(srv)
    srv.stop()  # flush and close the log
    log = srv.log()
    # The log is real and detailed: debug level, and the requests made are in it.
    assert "DEBUG" in log or "debug" in log.lower()
    assert '"GET /key/info?key=[redacted] HTTP/1.1" 200' in log
    assert '"POST /key/generate HTTP/1.1" 200' in log
    assert '"GET /v1/files HTTP/1.1" 401' in log
    for secret in secrets:
        assert secret not in log, secret
        assert secret[3:] not in log  # not even without its prefix
        assert secret[-12:] not in log
    assert "Bearer" not in log and "Basic" not in log
    # And the catalog database, with its WAL, has none of them in plain text.
    stored = b"".join(p.read_bytes() for p in srv.data_dir.glob("catalog.db*"))
    assert stored
    for secret in secrets:
        assert secret.encode() not in stored
        assert secret[3:].encode() not in stored


def test_error_answers_do_not_echo_keys(server: ServerProcess) -> None:
    for headers in ({"Authorization": f"Bearer {WRONG}"}, {"api-key": WRONG}):
        resp = httpx.get(f"{server.base_url}/v1/files", headers=headers, timeout=60)
        assert_error(resp, 401, code="invalid_api_key")
        assert WRONG not in resp.text and WRONG[3:] not in resp.text
    secret, doc = make_key(server)
    with key_client(server, secret) as k:
        resp = k.get("/key/info", params={"key": MASTER_KEY})
        assert resp.status_code in (403, 404)
        assert MASTER_KEY not in resp.text and secret not in resp.text
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as m:
        assert m.post("/key/delete", json={"keys": [doc["token"]]}).status_code == 200
        resp = m.get("/audit", params={"limit": 1000})
    assert secret not in resp.text and MASTER_KEY not in resp.text


# --- the access-log filter ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "redacted"),
    [
        ("GET /key/info?key=sk-abc_DEF-123 HTTP/1.1", "GET /key/info?key=[redacted] HTTP/1.1"),
        ("GET /key/info?x=1&key=master-secret&y=2", "GET /key/info?x=1&key=[redacted]&y=2"),
        ("GET /v1/files?api_key=whatever", "GET /v1/files?api_key=[redacted]"),
        ("GET /v1/files/sk-0123456789", "GET /v1/files/sk-[redacted]"),
        ("GET /v1/files?limit=10&after=file-01ABC", "GET /v1/files?limit=10&after=file-01ABC"),
    ],
)
def test_redact_secrets(line: str, redacted: str) -> None:
    assert RedactSecrets.redact(line) == redacted
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s"', ("127.0.0.1:1", line), None
    )
    assert RedactSecrets().filter(record)
    assert record.getMessage() == f'127.0.0.1:1 - "{redacted}"'


# --- constant-time comparison ----------------------------------------------------------


class NoVirtualKeys:
    """A TenantService stand-in that knows no virtual keys."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def principal(self, secret: str, *, token_hash: str | None = None) -> Principal:
        self.asked.append(secret)
        raise AuthError("Incorrect API key provided.")


def _request(**headers: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/v1/files",
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
    )


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def compare_digest(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("filegate.server.auth.hmac.compare_digest", compare_digest)
    return calls


async def test_master_key_is_compared_with_compare_digest(spy: list[tuple[Any, Any]]) -> None:
    tenants = NoVirtualKeys()
    auth = Authenticator(MASTER_KEY, cast(TenantService, tenants))
    master_digest = hashlib.sha256(MASTER_KEY.encode()).digest()
    # The master key itself is kept only as a digest.
    assert MASTER_KEY not in repr(vars(auth))
    assert await auth(_request(Authorization=f"Bearer {MASTER_KEY}")) is ADMIN
    assert spy == [(hashlib.sha256(MASTER_KEY.encode()).digest(), master_digest)]
    # Wrong keys of any length are compared the same way: two 32-byte digests.
    for wrong in ("x", MASTER_KEY[:-1], MASTER_KEY + "1", "sk-" + "a" * 500):
        spy.clear()
        with pytest.raises(AuthError):
            await auth(_request(Authorization=f"Bearer {wrong}"))
        assert len(spy) == 1
        a, b = spy[0]
        assert (len(a), len(b)) == (32, 32) and b == master_digest
        assert a == hashlib.sha256(wrong.encode()).digest()
    # The other headers go the same way.
    spy.clear()
    assert await auth(_request(**{"api-key": MASTER_KEY})) is ADMIN
    assert len(spy) == 1
    assert tenants.asked == ["x", MASTER_KEY[:-1], MASTER_KEY + "1", "sk-" + "a" * 500]


async def test_the_decision_is_compare_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    """With compare_digest answering "no", even the right master key is refused."""
    monkeypatch.setattr("filegate.server.auth.hmac.compare_digest", lambda a, b: False)
    auth = Authenticator(MASTER_KEY, cast(TenantService, NoVirtualKeys()))
    with pytest.raises(AuthError):
        await auth(_request(Authorization=f"Bearer {MASTER_KEY}"))
    monkeypatch.setattr("filegate.server.auth.hmac.compare_digest", lambda a, b: True)
    assert await auth(_request(Authorization="Bearer anything")) is ADMIN
