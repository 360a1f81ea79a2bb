"""What one HTTP client may hold is bounded: connections, headers, slow bodies, idle time.

A real server with short limits, driven over raw sockets the way an attacker
(or a broken client) would.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from http_support import (
    RawResponse,
    connect,
    read_response,
    request,
    seconds_until_closed,
)

from tests.conftest import MASTER_KEY, RssSampler, ServerProcess, free_port, wait_ready

MAX_CONNECTIONS = 12
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 1.0
KEEP_ALIVE_TIMEOUT = 1.0
MAX_HEADER_SIZE = 16 * 1024
FEW_FILES = 400
# How late a timeout may act on a loaded machine.
SLACK = 2.0

LIMITS = {
    "FILEGATE_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "FILEGATE_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
    "FILEGATE_BODY_TIMEOUT": str(BODY_TIMEOUT),
    "FILEGATE_MAX_HEADER_SIZE": "16KiB",
}


@pytest.fixture(scope="module")
def srv(module_server_factory: Callable[..., Any]) -> Any:
    # One limit by flag, to see the flags reach the server.
    return module_server_factory(env=LIMITS, args=["--keep-alive-timeout", str(KEEP_ALIVE_TIMEOUT)])


@pytest.fixture
def quiet(srv: Any) -> Iterator[Any]:
    """The server with no client connection left over from an earlier test."""
    wait_for_connections(srv, 0)
    yield srv


def server_connections(srv: Any) -> int:
    conns = psutil.Process(srv.proc.pid).net_connections(kind="tcp")
    return sum(1 for c in conns if c.laddr and c.laddr.port == srv.port and c.raddr)


def wait_for_connections(srv: Any, at_most: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while server_connections(srv) > at_most:
        assert time.monotonic() < deadline, f"{server_connections(srv)} connections stay open"
        time.sleep(0.05)


def auth(srv: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {srv.master_key}"}


def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def upload_head(srv: Any, name: str, content: bytes) -> tuple[bytes, bytes]:
    body, ctype = multipart(name, content)
    head = request(
        "POST",
        "/v1/files",
        {**auth(srv), "Content-Type": ctype, "Content-Length": str(len(body))},
    )
    return head, body


def stored_names(srv: Any) -> set[str]:
    resp = httpx.get(f"{srv.api_url}/files", headers=srv.headers, timeout=10)
    assert resp.status_code == 200, resp.text
    return {f["filename"] for f in resp.json()["data"]}


def files_on_disk(srv: Any) -> list[Path]:
    return [p for p in srv.data_dir.rglob("*") if p.is_file() and "catalog.db" not in p.name]


def assert_refused(resp: RawResponse | None, status: int, code: str) -> None:
    assert resp is not None, "the server closed without an answer"
    assert resp.status == status, resp
    assert resp.headers.get("connection") == "close", resp.headers
    assert resp.error()["code"] == code


# --------------------------------------------------------------------------- connections


def test_connections_past_the_limit_get_503_while_open_requests_go_on(quiet: Any) -> None:
    srv = quiet
    content = b"slow but steady\n" * 4096
    head, body = upload_head(srv, "kept.bin", content)
    uploader = connect(srv.port)
    uploader.sendall(head + body[:1000])
    idle = [connect(srv.port) for _ in range(MAX_CONNECTIONS - 1)]
    try:
        extra = connect(srv.port)
        extra.sendall(request("GET", "/v1/files", auth(srv)))
        resp = read_response(extra)
        assert_refused(resp, 503, "too_many_connections")
        assert resp is not None and resp.error()["type"] == "server_error"
        assert resp.headers.get("retry-after") == "1"
        extra.close()
    finally:
        for sock in idle:
            sock.close()
    # The upload that was under way when the limit was reached finishes intact.
    for start in range(1000, len(body), 16384):
        uploader.sendall(body[start : start + 16384])
        time.sleep(0.02)
    resp = read_response(uploader)
    uploader.close()
    assert resp is not None and resp.status == 200, resp
    file_id = json.loads(resp.body)["id"]
    got = httpx.get(f"{srv.api_url}/files/{file_id}/content", headers=srv.headers, timeout=10)
    assert got.content == content


def test_half_open_connections_are_closed_after_the_header_timeout(quiet: Any) -> None:
    srv = quiet
    opened = time.monotonic()
    socks = []
    for i in range(3 * MAX_CONNECTIONS):
        sock = connect(srv.port)
        if i % 2:
            sock.sendall(b"GET /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half")
        socks.append(sock)
    # A client that asks properly now is either served or told 503 in the envelope.
    probe = httpx.get(f"{srv.api_url}/files", headers=srv.headers, timeout=10)
    assert probe.status_code in (200, 503), probe.text
    if probe.status_code == 503:
        assert probe.json()["error"]["code"] == "too_many_connections"

    statuses = []
    for sock in socks:
        resp = read_response(sock, timeout=HEADER_TIMEOUT + SLACK + 1)
        statuses.append(resp.status if resp else None)
        if resp is not None:
            assert resp.status in (408, 503), resp
            resp.error()
        seconds_until_closed(sock, timeout=HEADER_TIMEOUT + SLACK)
        sock.close()
    assert time.monotonic() - opened <= HEADER_TIMEOUT + SLACK
    # Half a header gets 408; silence gets closed; past the limit gets 503 at once.
    assert {408, 503, None} <= set(statuses), statuses
    wait_for_connections(srv, 0, timeout=SLACK)
    assert httpx.get(f"{srv.api_url}/files", headers=srv.headers, timeout=10).status_code == 200


def test_an_idle_keep_alive_connection_is_closed_after_the_timeout(quiet: Any) -> None:
    sock = connect(quiet.port)
    liveliness = request("GET", "/health/liveliness", {})
    sock.sendall(liveliness)
    assert (r := read_response(sock)) is not None and r.status == 200
    # Reused within the timeout, the connection serves again ...
    time.sleep(KEEP_ALIVE_TIMEOUT / 3)
    sock.sendall(liveliness)
    assert (r := read_response(sock)) is not None and r.status == 200
    # ... and left idle, it is closed once the timeout is over.
    idle = seconds_until_closed(sock, timeout=KEEP_ALIVE_TIMEOUT + SLACK + 3)
    sock.close()
    assert KEEP_ALIVE_TIMEOUT * 0.8 <= idle <= KEEP_ALIVE_TIMEOUT + SLACK


def test_more_half_open_connections_than_open_files_leave_the_server_working(
    tmp_path: Path,
) -> None:
    # The case in small: more silent connections than the process has
    # file descriptors. max_connections (default 1000) is lowered to fit.
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILEGATE_")}
    env.update(
        {
            "FILEGATE_DATA_DIR": str(tmp_path / "data"),
            "FILEGATE_MASTER_KEY": MASTER_KEY,
            "FILEGATE_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        }
    )
    log_path = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "filegate", "serve", "--host", "127.0.0.1", "--port", str(port)]

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FEW_FILES, FEW_FILES))

    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, preexec_fn=few_files)
    srv = ServerProcess(f"http://127.0.0.1:{port}", port, tmp_path, proc, log_path, MASTER_KEY)
    try:
        wait_ready(srv)
        socks = [connect(port) for _ in range(FEW_FILES + 50)]
        probe = httpx.get(f"{srv.api_url}/files", headers=srv.headers, timeout=10)
        assert probe.status_code in (200, 503), probe.text
        if probe.status_code == 503:
            assert probe.json()["error"]["code"] == "too_many_connections"
        for sock in socks:
            seconds_until_closed(sock, timeout=HEADER_TIMEOUT + SLACK)
            sock.close()
        wait_for_connections(srv, 0)
        assert httpx.get(f"{srv.api_url}/files", headers=srv.headers, timeout=10).status_code == 200
        assert "max_connections 1000 lowered to 300" in srv.log()
    finally:
        srv.stop()


def test_pipelined_requests_are_all_served_and_a_partial_one_times_out(quiet: Any) -> None:
    srv = quiet
    sock = connect(srv.port)
    half = request("GET", "/health/liveliness", {})[:20]
    sock.sendall(request("GET", "/v1/files", auth(srv)) * 3 + half)
    sent = time.monotonic()
    data = b""
    while chunk := sock.recv(1 << 16):
        data += chunk
        assert time.monotonic() - sent < HEADER_TIMEOUT + SLACK, data[-300:]
    sock.close()
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
    assert statuses == [b"200", b"200", b"200", b"408"], statuses
    assert time.monotonic() - sent >= HEADER_TIMEOUT * 0.8


# --------------------------------------------------------------------------- bodies


def test_a_body_that_stops_arriving_ends_within_the_idle_timeout(quiet: Any) -> None:
    srv = quiet
    name = f"stalled-{uuid.uuid4().hex}.bin"
    head, body = upload_head(srv, name, b"x" * 200_000)
    before = files_on_disk(srv)
    sock = connect(srv.port)
    sock.sendall(head + body[: len(body) // 2])
    stalled = time.monotonic()
    resp = read_response(sock, timeout=BODY_TIMEOUT + SLACK + 3)
    waited = time.monotonic() - stalled
    assert_refused(resp, 408, "request_timeout")
    seconds_until_closed(sock, timeout=SLACK + 1)
    sock.close()
    assert BODY_TIMEOUT * 0.8 <= waited <= BODY_TIMEOUT + SLACK
    # Nothing of the upload is kept: not listed, no bytes on disk.
    assert name not in stored_names(srv)
    deadline = time.monotonic() + SLACK
    while files_on_disk(srv) != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert files_on_disk(srv) == before


def test_the_rest_of_an_answered_body_cannot_be_trickled_forever(quiet: Any) -> None:
    srv = quiet
    head = request("POST", "/v1/files", {"Content-Length": str(10**9)})  # no key
    sock = connect(srv.port)
    sock.sendall(head + b"x" * 1000)
    answered = read_response(sock)
    assert answered is not None and answered.status == 401
    # Fast enough for every idle timeout, and still it ends.
    start = time.monotonic()
    try:
        while time.monotonic() - start < BODY_TIMEOUT + KEEP_ALIVE_TIMEOUT + 2 * SLACK:
            sock.sendall(b"x")
            time.sleep(0.2)
    except OSError:
        pass
    seconds_until_closed(sock, timeout=SLACK)
    sock.close()
    assert time.monotonic() - start <= BODY_TIMEOUT + SLACK


def test_stray_line_ends_do_not_keep_an_idle_connection(quiet: Any) -> None:
    sock = connect(quiet.port)
    sock.sendall(request("GET", "/health/liveliness", {}))
    assert (r := read_response(sock)) is not None and r.status == 200
    start = time.monotonic()
    try:
        while time.monotonic() - start < KEEP_ALIVE_TIMEOUT + 2 * SLACK:
            sock.sendall(b"\r\n")
            time.sleep(0.2)
    except OSError:
        pass
    seconds_until_closed(sock, timeout=SLACK)
    sock.close()
    assert time.monotonic() - start <= KEEP_ALIVE_TIMEOUT + SLACK


def test_after_an_early_answer_and_the_rest_of_its_body_the_connection_idles_out(
    quiet: Any,
) -> None:
    sock = connect(quiet.port)
    sock.sendall(request("POST", "/v1/files", {"Content-Length": "100"}, b"x" * 50))  # no key
    assert (r := read_response(sock)) is not None and r.status == 401
    sock.sendall(b"y" * 50)
    idle = seconds_until_closed(sock, timeout=KEEP_ALIVE_TIMEOUT + SLACK + 3)
    sock.close()
    assert idle <= KEEP_ALIVE_TIMEOUT + SLACK


def test_a_slow_but_steady_body_is_not_cut(quiet: Any) -> None:
    srv = quiet
    content = bytes(range(256)) * 400
    head, body = upload_head(srv, "steady.bin", content)
    sock = connect(srv.port)
    sock.sendall(head)
    pieces = 6  # over 2 s in all, more than the idle timeout, never idle that long
    step = -(-len(body) // pieces)
    for start in range(0, len(body), step):
        time.sleep(BODY_TIMEOUT * 0.4)
        sock.sendall(body[start : start + step])
    resp = read_response(sock)
    sock.close()
    assert resp is not None and resp.status == 200, resp
    assert "steady.bin" in stored_names(srv)


def test_a_client_that_stops_reading_a_download_is_dropped(quiet: Any) -> None:
    srv = quiet
    size = 16 * 1024 * 1024
    made = httpx.post(
        f"{srv.api_url}/files",
        headers=srv.headers,
        files={"file": ("big.bin", b"\xab" * size)},
        data={"purpose": "user_data"},
        timeout=60,
    )
    assert made.status_code == 200, made.text
    sock = connect(srv.port, rcvbuf=16 * 1024)
    sock.sendall(request("GET", f"/v1/files/{made.json()['id']}/content", auth(srv)))
    time.sleep(BODY_TIMEOUT * 0.8)
    wait_for_connections(srv, 0, timeout=SLACK)  # the server let go of it
    got = 0
    try:
        while chunk := sock.recv(1 << 20):
            got += len(chunk)
    except ConnectionResetError:
        pass
    sock.close()
    assert got < size, "the server waited for a client that did not read"


# --------------------------------------------------------------------------- headers


def test_a_huge_header_line_gets_431_and_memory_stays_flat(quiet: Any) -> None:
    srv = quiet
    sock = connect(srv.port)
    answer: list[RawResponse | None] = []
    reader = threading.Thread(target=lambda: answer.append(read_response(sock, timeout=60)))
    chunk = b"a" * (1 << 20)
    with RssSampler(srv.proc.pid) as rss:
        base = rss.peak
        reader.start()
        try:
            sock.sendall(b"GET /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            for _ in range(256):  # a 256 MiB header line, sent regardless of any answer
                sock.sendall(chunk)
        except OSError:
            pass  # the server ended the connection
        reader.join(timeout=30)
    sock.close()
    assert rss.peak - base < 24 * 1024 * 1024, f"grew {(rss.peak - base) >> 20} MiB"
    assert answer, "no answer"
    assert_refused(answer[0], 431, "request_header_fields_too_large")


def test_headers_up_to_the_limit_are_served_and_past_it_refused(quiet: Any) -> None:
    srv = quiet
    base = request("GET", "/health/liveliness", {"X-Pad": ""})
    fits = request("GET", "/health/liveliness", {"X-Pad": "p" * (MAX_HEADER_SIZE - len(base))})
    assert len(fits) == MAX_HEADER_SIZE
    sock = connect(srv.port)
    sock.sendall(fits)
    assert (r := read_response(sock)) is not None and r.status == 200, r
    sock.close()
    over = request("GET", "/health/liveliness", {"X-Pad": "p" * (MAX_HEADER_SIZE + 1 - len(base))})
    sock = connect(srv.port)
    sock.sendall(over)
    assert_refused(read_response(sock), 431, "request_header_fields_too_large")
    sock.close()
    sock = connect(srv.port)
    sock.sendall(request("GET", "/v1/files?after=" + "a" * MAX_HEADER_SIZE, auth(srv)))
    assert_refused(read_response(sock), 414, "uri_too_long")
    sock.close()
