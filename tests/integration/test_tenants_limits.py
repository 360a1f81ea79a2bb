"""Limits per key, per team and as global defaults, each hit exactly at its boundary.

Sizes, stored bytes and file counts (403 ``quota_exceeded``, nothing left behind),
allowed purposes (400), requests and uploads per minute and concurrent uploads (429
with ``Retry-After`` in OpenAI's envelope; the openai SDK raises RateLimitError), the
``default_limits`` section of a config file, and exactness under concurrency: 20
parallel uploads against a 10-file quota leave exactly 10 files, in one process and
across two sharing a catalog.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from support import assert_error, catalog_rows, stray_files, wait_until
from tenants_support import (
    fresh_minute,
    key_client,
    make_key,
    make_team,
    multipart_head,
    multipart_tail,
    ok_file,
    open_request,
    post_file,
    read_response,
    server_pair,
)

from filegate.server.routes.files import FORM_OVERHEAD
from tests.conftest import ServerProcess, start_server


def sdk(server: ServerProcess, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.api_url, api_key=secret, max_retries=0, timeout=60)


def owned(server: ServerProcess, key_id: str) -> list[dict[str, Any]]:
    """The owner's rows in the catalog, whatever their state."""
    return [r for r in catalog_rows(server.data_dir) if r["owner"] == key_id]


def blob_names(server: ServerProcess) -> set[str]:
    root = server.data_dir / "files" / "blobs"
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def assert_nothing_left(server: ServerProcess, key_id: str, kept: int) -> None:
    """Only the ``kept`` READY files of the key remain: no half-written rows, no strays."""
    rows = owned(server, key_id)
    assert [r["state"] for r in rows] == ["ready"] * kept
    assert {r["blob_key"] for r in rows} <= blob_names(server)
    tmp = server.data_dir / "files" / "tmp"
    assert [p.name for p in tmp.iterdir() if not p.name.startswith(".probe.")] == []


def assert_rate_limited(resp: httpx.Response, code: str = "rate_limit_exceeded") -> int:
    assert_error(resp, 429, code=code, type_="rate_limit_error")
    retry = int(resp.headers["retry-after"])
    assert 1 <= retry <= 60
    return retry


# --- max_file_size ---------------------------------------------------------------------


def test_max_file_size_exactly_at_the_boundary(server: ServerProcess) -> None:
    secret, doc = make_key(server, max_file_size=1000)
    with key_client(server, secret) as k:
        assert ok_file(k, b"x" * 1000)["bytes"] == 1000
        err = assert_error(post_file(k, b"x" * 1001), 413, param="file", code="file_too_large")
        assert "1000-byte" in err["message"]
        assert_error(post_file(k, b"x" * 1001, purpose="assistants"), 413)
    with pytest.raises(openai.APIStatusError) as exc:
        sdk(server, secret).files.create(file=("f.bin", b"y" * 1001), purpose="user_data")
    assert exc.value.status_code == 413
    assert sdk(server, secret).files.create(file=("f.bin", b"y" * 999), purpose="user_data")
    assert_nothing_left(server, doc["token"], kept=2)


def test_team_max_file_size_tightens_the_keys(server: ServerProcess) -> None:
    team = make_team(server, max_file_size="1KB")["team_id"]
    secret, _ = make_key(server, team_id=team, max_file_size=5000)
    with key_client(server, secret) as k:
        ok_file(k, b"t" * 1000)
        assert_error(post_file(k, b"t" * 1001), 413)


def _declared_upload(server: ServerProcess, secret: str, length: int) -> Any:
    boundary = uuid.uuid4().hex
    return open_request(
        server,
        [
            "POST /v1/files HTTP/1.1",
            f"Host: 127.0.0.1:{server.port}",
            f"Authorization: Bearer {secret}",
            f"Content-Type: multipart/form-data; boundary={boundary}",
            f"Content-Length: {length}",
        ],
    )


def test_max_file_size_is_judged_from_content_length_before_the_body(
    server: ServerProcess,
) -> None:
    cap = 1000
    secret, doc = make_key(server, max_file_size=cap)
    # One byte past what a file of the cap and its form could need: refused with only
    # the headers sent, not one byte of body.
    sock = _declared_upload(server, secret, cap + FORM_OVERHEAD + 1)
    try:
        resp = read_response(sock, timeout=15)
    finally:
        sock.close()
    assert resp.status == 413, resp.raw
    assert b'"code":"file_too_large"' in resp.body
    # Exactly at that size the gateway waits for the body instead of refusing.
    sock = _declared_upload(server, secret, cap + FORM_OVERHEAD)
    try:
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)
    finally:
        sock.close()
    # Neither attempt left a record behind.
    assert wait_until(lambda: owned(server, doc["token"]) == [], timeout=10)


# --- max_stored_bytes ------------------------------------------------------------------


def test_max_stored_bytes_exactly_at_the_boundary(server: ServerProcess) -> None:
    secret, doc = make_key(server, max_stored_bytes=1000)
    with key_client(server, secret) as k:
        ok_file(k, b"a" * 600)
        last = ok_file(k, b"b" * 400)  # exactly 1000 stored
        err = assert_error(post_file(k, b"c"), 403, param="file", code="quota_exceeded")
        assert "1000-byte" in err["message"]
        assert_nothing_left(server, doc["token"], kept=2)
        # Room again once a file goes.
        assert k.delete(f"/v1/files/{last['id']}").status_code == 200
        assert_error(post_file(k, b"d" * 401), 403, code="quota_exceeded")
        ok_file(k, b"d" * 400)
    with pytest.raises(openai.PermissionDeniedError):
        sdk(server, secret).files.create(file=("f.bin", b"e"), purpose="user_data")
    assert_nothing_left(server, doc["token"], kept=2)


def test_team_max_stored_bytes_counts_every_member(server: ServerProcess) -> None:
    team = make_team(server, max_stored_bytes=500)["team_id"]
    s1, d1 = make_key(server, team_id=team)
    s2, d2 = make_key(server, team_id=team)
    with key_client(server, s1) as k1, key_client(server, s2) as k2:
        ok_file(k1, b"1" * 300)
        ok_file(k2, b"2" * 200)
        for k in (k1, k2):
            assert_error(post_file(k, b"3"), 403, code="quota_exceeded")
    assert_nothing_left(server, d1["token"], kept=1)
    assert_nothing_left(server, d2["token"], kept=1)


# --- max_files -------------------------------------------------------------------------


def test_max_files_per_key(server: ServerProcess) -> None:
    secret, doc = make_key(server, max_files=2)
    with key_client(server, secret) as k:
        first = ok_file(k)
        ok_file(k)
        err = assert_error(post_file(k, b"3"), 403, param="file", code="quota_exceeded")
        assert "2 files for this key" in err["message"]
        assert k.delete(f"/v1/files/{first['id']}").status_code == 200
        ok_file(k)
        assert_error(post_file(k, b"4"), 403, code="quota_exceeded")
    assert_nothing_left(server, doc["token"], kept=2)


def test_max_files_per_team(server: ServerProcess) -> None:
    team = make_team(server, max_files=3)["team_id"]
    s1, _ = make_key(server, team_id=team)
    s2, _ = make_key(server, team_id=team)
    other, _ = make_key(server)  # not in the team: not counted, not limited
    with key_client(server, s1) as k1, key_client(server, s2) as k2:
        ok_file(k1)
        ok_file(k1)
        ok_file(k2)
        for k in (k1, k2):
            err = assert_error(post_file(k, b"x"), 403, code="quota_exceeded")
            assert "3 files for this team" in err["message"]
    with key_client(server, other) as o:
        for _ in range(4):
            ok_file(o)


# --- allowed_purposes ---------------------------------------------------------------------


def test_allowed_purposes(server: ServerProcess) -> None:
    team = make_team(server, allowed_purposes=["user_data", "assistants"])["team_id"]
    secret, doc = make_key(server, team_id=team, allowed_purposes=["user_data", "batch"])
    with key_client(server, secret) as k:
        ok_file(k, purpose="user_data")
        for purpose in ("assistants", "batch", "vision"):  # the key's or the team's list
            err = assert_error(
                post_file(k, b"x", purpose=purpose),
                400,
                param="purpose",
                code="purpose_not_allowed",
            )
            assert purpose in err["message"] and "allowed: user_data" in err["message"]
    with pytest.raises(openai.BadRequestError):
        sdk(server, secret).files.create(file=("f.txt", b"x"), purpose="assistants")
    assert_nothing_left(server, doc["token"], kept=1)


# --- requests and uploads per minute ----------------------------------------------------


def test_rpm_the_next_request_gets_429(server: ServerProcess) -> None:
    secret, _ = make_key(server, rpm=3)
    fresh_minute()
    with key_client(server, secret) as k:
        for _ in range(3):
            assert k.get("/v1/files").status_code == 200
        resp = k.get("/v1/files")
        retry = assert_rate_limited(resp)
        assert abs(retry - (60 - time.time() % 60)) <= 2
        err = resp.json()["error"]
        assert err["message"] == "Rate limit reached: 3 requests per minute."
        # Every Files route counts; the master key is never limited.
        assert_rate_limited(k.get("/v1/files/file-nope"))
        assert_rate_limited(post_file(k, b"x"))
    with httpx.Client(base_url=server.base_url, headers=server.headers) as m:
        for _ in range(5):
            assert m.get("/v1/files").status_code == 200


def test_rpm_through_the_sdk_is_a_rate_limit_error(server: ServerProcess) -> None:
    secret, _ = make_key(server, rpm=2)
    fresh_minute()
    client = sdk(server, secret)
    client.files.list()
    client.files.list()
    with pytest.raises(openai.RateLimitError) as exc:
        client.files.list()
    assert exc.value.status_code == 429
    assert exc.value.response.headers["retry-after"].isdigit()
    assert isinstance(exc.value.body, dict) and exc.value.body["code"] == "rate_limit_exceeded"


def test_upload_rpm_counts_uploads_only(server: ServerProcess) -> None:
    secret, doc = make_key(server, upload_rpm=2)
    fresh_minute()
    with key_client(server, secret) as k:
        ok_file(k)
        ok_file(k)
        resp = post_file(k, b"third")
        assert_rate_limited(resp)
        assert resp.json()["error"]["message"] == "Rate limit reached: 2 uploads per minute."
        for _ in range(5):  # reads are not uploads
            assert k.get("/v1/files").status_code == 200
    assert_nothing_left(server, doc["token"], kept=2)


def test_team_rpm_is_shared_by_its_keys(server: ServerProcess) -> None:
    team = make_team(server, rpm=3)["team_id"]
    s1, _ = make_key(server, team_id=team)
    s2, _ = make_key(server, team_id=team)
    fresh_minute()
    with key_client(server, s1) as k1, key_client(server, s2) as k2:
        assert k1.get("/v1/files").status_code == 200
        assert k2.get("/v1/files").status_code == 200
        assert k1.get("/v1/files").status_code == 200
        assert_rate_limited(k2.get("/v1/files"))
        assert_rate_limited(k1.get("/v1/files"))


# --- concurrent uploads ---------------------------------------------------------------------


class SlowUpload:
    """An upload whose file part has begun but whose bytes have not all arrived."""

    def __init__(self, server: ServerProcess, secret: str) -> None:
        self.boundary = uuid.uuid4().hex
        self.head = multipart_head(self.boundary, "user_data")
        self.data = b"s" * 1000
        self.tail = multipart_tail(self.boundary)
        length = len(self.head) + len(self.data) + len(self.tail)
        self.sock = open_request(
            server,
            [
                "POST /v1/files HTTP/1.1",
                f"Host: 127.0.0.1:{server.port}",
                f"Authorization: Bearer {secret}",
                f"Content-Type: multipart/form-data; boundary={self.boundary}",
                f"Content-Length: {length}",
            ],
        )
        self.sock.sendall(self.head + self.data[:10])

    def finish(self) -> Any:
        try:
            self.sock.sendall(self.data[10:] + self.tail)
            return read_response(self.sock)
        finally:
            self.sock.close()


def test_max_concurrent_uploads(server: ServerProcess) -> None:
    secret, doc = make_key(server, max_concurrent_uploads=2)
    key_id = doc["token"]
    slow = [SlowUpload(server, secret), SlowUpload(server, secret)]
    try:
        assert wait_until(
            lambda: [r["state"] for r in owned(server, key_id)] == ["writing", "writing"]
        )
        with key_client(server, secret) as k:
            resp = post_file(k, b"one too many")
            assert_rate_limited(resp, code="too_many_concurrent_uploads")
            assert resp.headers["retry-after"] == "1"
            with pytest.raises(openai.RateLimitError):
                sdk(server, secret).files.create(file=("f", b"x"), purpose="user_data")
    finally:
        answers = [s.finish() for s in slow]
    assert [a.status for a in answers] == [200, 200]
    with key_client(server, secret) as k:
        ok_file(k)  # room again
    assert_nothing_left(server, key_id, kept=3)


# --- global defaults from the config file -------------------------------------------------


def test_default_limits_from_the_config_file(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    config = tmp_path / "filegate.yaml"
    config.write_text(
        "default_limits:\n"
        "  max_file_size: 1KB\n"
        "  max_files: 2\n"
        "  allowed_purposes: [user_data, batch]\n",
        encoding="utf-8",
    )
    srv = server_factory(args=["--config", str(config)])
    plain, plain_doc = make_key(srv)
    # A key's own looser limits do not loosen the defaults.
    loose, _ = make_key(srv, max_files=10, max_file_size="1MB")
    for secret in (plain, loose):
        with key_client(srv, secret) as k:
            ok_file(k, b"x" * 1000)
            assert_error(post_file(k, b"x" * 1001), 413)
            assert_error(post_file(k, b"x", purpose="assistants"), 400, code="purpose_not_allowed")
            ok_file(k, b"y")
            assert_error(post_file(k, b"z"), 403, code="quota_exceeded")
    # Tighter key limits do tighten them.
    tight, _ = make_key(srv, max_file_size=10)
    with key_client(srv, tight) as k:
        assert_error(post_file(k, b"x" * 11), 413)
    # The master key is not a tenant: no defaults apply to it.
    with httpx.Client(base_url=srv.base_url, headers=srv.headers) as m:
        for _ in range(3):
            ok_file(m, b"m" * 5000, purpose="assistants")
    assert_nothing_left(srv, plain_doc["token"], kept=2)


def test_unknown_default_limit_stops_start_up(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("default_limits:\n  max_filez: 3\n", encoding="utf-8")
    srv = start_server(tmp_path, args=["--config", str(config)], wait=False)
    try:
        assert srv.proc.wait(timeout=60) != 0
    finally:
        srv.stop()
    assert "unknown limit 'max_filez'" in srv.log()


# --- exact under concurrency ----------------------------------------------------------------


def _race(servers: list[ServerProcess], secret: str, n: int) -> Counter[int]:
    """``n`` uploads at once, spread over ``servers``; the count of each status."""
    gate = threading.Barrier(n)

    def one(i: int) -> int:
        srv = servers[i % len(servers)]
        with key_client(srv, secret) as k:
            gate.wait()
            resp = post_file(k, f"race {i}".encode())
        if resp.status_code != 200:
            assert_error(resp, 403, code="quota_exceeded")
        return resp.status_code

    with ThreadPoolExecutor(max_workers=n) as pool:
        return Counter(pool.map(one, range(n)))


def test_twenty_parallel_uploads_against_a_ten_file_quota(server: ServerProcess) -> None:
    secret, doc = make_key(server, max_files=10)
    assert _race([server], secret, 20) == {200: 10, 403: 10}
    with key_client(server, secret) as k:
        listed = k.get("/v1/files").json()["data"]
    assert len(listed) == 10
    assert_nothing_left(server, doc["token"], kept=10)
    assert {r["blob_key"] for r in owned(server, doc["token"])} == {f["id"] for f in listed}
    # Nothing stray anywhere in the blob store beyond the files that exist.
    assert {p.name for p in stray_files(server.data_dir)} == {
        r["blob_key"] for r in catalog_rows(server.data_dir) if r["blob_key"]
    }


def test_quota_and_rates_are_exact_across_two_processes(tmp_path: Path) -> None:
    with server_pair(tmp_path) as (one, two):
        secret, doc = make_key(one, max_files=10)
        assert _race([one, two], secret, 20) == {200: 10, 403: 10}
        assert_nothing_left(one, doc["token"], kept=10)
        # Requests per minute, alternating between the processes.
        rpm_secret, _ = make_key(two, rpm=4)
        fresh_minute()
        clients = [key_client(one, rpm_secret), key_client(two, rpm_secret)]
        try:
            for i in range(4):
                assert clients[i % 2].get("/v1/files").status_code == 200
            assert_rate_limited(clients[0].get("/v1/files"))
            assert_rate_limited(clients[1].get("/v1/files"))
        finally:
            for c in clients:
                c.close()
