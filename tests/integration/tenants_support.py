"""Helpers shared by the ``test_tenants_*.py`` modules (imported as a plain module).

Keys and teams are made through the admin routes with the master key, exactly as an
operator would; every helper checks the answer it relies on.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ServerProcess, start_server, wait_ready


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def admin(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60)


def key_client(server: Any, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=60
    )


def make_team(server: Any, **body: Any) -> dict[str, Any]:
    body.setdefault("team_id", unique("team"))
    with admin(server) as c:
        resp = c.post("/team/new", json=body)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def make_key(server: Any, **body: Any) -> tuple[str, dict[str, Any]]:
    """A new virtual key: (its secret, the /key/generate answer)."""
    with admin(server) as c:
        resp = c.post("/key/generate", json=body)
    assert resp.status_code == 200, resp.text
    doc = dict(resp.json())
    secret = doc["key"]
    assert isinstance(secret, str) and secret.startswith("sk-")
    return secret, doc


def post_file(
    client: httpx.Client,
    data: bytes,
    *,
    purpose: str = "user_data",
    filename: str = "data.bin",
    path: str = "/v1/files",
    **fields: str,
) -> httpx.Response:
    return client.post(
        path,
        data={"purpose": purpose, **fields},
        files={"file": (filename, data, "application/octet-stream")},
    )


def ok_file(client: httpx.Client, data: bytes = b"hello", **kwargs: Any) -> dict[str, Any]:
    resp = post_file(client, data, **kwargs)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def fresh_minute(needed: float = 8.0) -> None:
    """Wait for the next minute if fewer than ``needed`` seconds are left in this one.

    Rate counters use whole-minute windows; a test counting N requests must not have
    them split over two windows.
    """
    left = 60 - time.time() % 60
    if left < needed:
        time.sleep(left + 0.05)


# --- requests written by hand on a socket ----------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    raw: bytes = field(default=b"", repr=False)


def read_response(sock: socket.socket, timeout: float = 30) -> RawResponse:
    """One HTTP/1.1 response with a Content-Length body, read from ``sock``."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the headers: {buf!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return RawResponse(status, headers, rest[:length], buf)


def open_request(server: Any, head_lines: list[str]) -> socket.socket:
    """Connect and send a request's head (request line and headers) only."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1"))
    return sock


def multipart_head(boundary: str, purpose: str, filename: str = "slow.bin") -> bytes:
    """A purpose field, then the head of a file part: the file's bytes come next."""
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n{purpose}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def multipart_tail(boundary: str) -> bytes:
    return f"\r\n--{boundary}--\r\n".encode()


@contextmanager
def server_pair(base: Path, **kwargs: Any) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two gateway processes on one data folder (one catalog), started side by side."""
    env = {**kwargs.pop("env", {}), "FILEGATE_DATA_DIR": str(base / "shared-data")}
    started: list[ServerProcess] = []
    try:
        for name in ("one", "two"):
            folder = base / name
            folder.mkdir(parents=True, exist_ok=True)
            started.append(start_server(folder, env=env, wait=False, **kwargs))
        for srv in started:
            wait_ready(srv, timeout=60)
            srv.data_dir = base / "shared-data"
        yield started[0], started[1]
    finally:
        for srv in started:
            srv.stop()
