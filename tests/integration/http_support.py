"""Raw-socket HTTP for the tests that send what no HTTP client would."""

from __future__ import annotations

import json
import select
import socket
import time
from dataclasses import dataclass
from typing import Any

from support import ERROR_KEYS


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, Any]:
        """OpenAI's envelope, checked exactly as `support.assert_error` does."""
        assert self.headers.get("content-type", "").startswith("application/json"), self
        assert self.headers.get("x-request-id"), self
        doc = json.loads(self.body)
        assert list(doc) == ["error"], doc
        err = doc["error"]
        assert set(err) == ERROR_KEYS, err
        assert isinstance(err["message"], str) and err["message"]
        assert isinstance(err["type"], str) and err["type"]
        return dict(err)


def connect(port: int, *, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def read_response(sock: socket.socket, timeout: float = 10.0) -> RawResponse | None:
    """One response from ``sock``; None when the server closed without answering."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = _recv(sock, deadline)
        if not chunk:
            assert not data, f"connection closed mid-response: {data[:200]!r}"
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = _recv(sock, deadline)
        assert chunk, f"connection closed after {len(body)} of {length} body bytes"
        body += chunk
    return RawResponse(status, headers, body[:length])


def seconds_until_closed(sock: socket.socket, timeout: float) -> float:
    """Read and drop until the server closes ``sock``; fails after ``timeout`` s."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        try:
            chunk = _recv(sock, deadline)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return time.monotonic() - start


def _recv(sock: socket.socket, deadline: float) -> bytes:
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([sock], [], [], left)[0]:
        raise AssertionError("the server neither answered nor closed the connection in time")
    return sock.recv(1 << 20)


def request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
