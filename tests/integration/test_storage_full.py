"""A full disk: what can be read is served, what must be written is a 503, nothing breaks.

The gateway's data folder (SQLite catalog and blobs) lives on a small tmpfs that the
test fills to the last byte. Downloads go on even though their audit rows cannot be
written (the loss is counted in the log); uploads, deletes and key creation answer
503 ``storage_unavailable`` in OpenAI's envelope; every answer comes on the same
keep-alive connection; readiness says why and leaves no probe file behind; once
there is room again, writes work again.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import Part as P
from support import multipart

from tests.conftest import ServerProcess, start_server

DISK_BYTES = 8 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A mounted tmpfs of DISK_BYTES, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left; return it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (1 << 16, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


class Connection:
    """One HTTP/1.1 connection; every request must come back on the same socket."""

    def __init__(self, server: ServerProcess) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.conn.connect()
        self.sock = self.conn.sock

    def request(
        self,
        method: str,
        path: str,
        key: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, http.client.HTTPResponse]:
        self.conn.request(
            method, path, body=body, headers={"Authorization": f"Bearer {key}", **(headers or {})}
        )
        resp = self.conn.getresponse()
        data = resp.read()
        assert self.conn.sock is self.sock, f"{method} {path}: the connection was closed"
        assert resp.getheader("connection") != "close", f"{method} {path}"
        return resp.status, data, resp


def assert_unavailable(status: int, body: bytes) -> None:
    assert status == 503, body
    err = json.loads(body)["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["code"] == "storage_unavailable", err


def upload_body(data: bytes) -> tuple[bytes, dict[str, str]]:
    body, ctype = multipart([P("purpose", "user_data"), P("file", data, "f.txt", "text/plain")])
    return body, {"Content-Type": ctype}


def test_a_full_disk_serves_reads_and_refuses_writes(small_disk: Path, tmp_path: Path) -> None:
    data_dir = small_disk / "data"
    server = start_server(tmp_path, env={"FILEGATE_DATA_DIR": str(data_dir)})
    try:
        master = server.master_key or ""
        c = Connection(server)
        status, body, _ = c.request(
            "POST",
            "/key/generate",
            master,
            json.dumps({"key_alias": f"full-{uuid.uuid4().hex[:6]}", "rpm": 1000}).encode(),
            {"Content-Type": "application/json"},
        )
        assert status == 200, body
        key = json.loads(body)["key"]
        data = os.urandom(200_000)
        status, body, _ = c.request("POST", "/v1/files", key, *upload_body(data))
        assert status == 200, body
        file_id = json.loads(body)["id"]

        # The write-ahead log emptied, so the next catalog write needs new room; then
        # the disk is filled to the last byte.
        with sqlite3.connect(data_dir / "catalog.db") as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        filler = fill(small_disk)

        checks: list[tuple[str, str, str, bytes | None, dict[str, str] | None, Any]] = [
            ("GET", f"/v1/files/{file_id}/content", key, None, None, data),
            ("GET", f"/v1/files/{file_id}", key, None, None, 200),
            ("GET", "/v1/files", key, None, None, 200),
            ("POST", "/v1/files", key, *upload_body(b"no room"), 503),
            ("DELETE", f"/v1/files/{file_id}", key, None, None, 503),
            (
                "POST",
                "/v1/uploads",
                key,
                json.dumps(
                    {"filename": "u", "purpose": "user_data", "bytes": 1, "mime_type": "text/plain"}
                ).encode(),
                {"Content-Type": "application/json"},
                503,
            ),
            (
                "POST",
                "/key/generate",
                master,
                b"{}",
                {"Content-Type": "application/json"},
                503,
            ),
            ("GET", f"/v1/files/{file_id}/content", key, None, {"Range": "bytes=0-9"}, data[:10]),
        ]
        for method, path, who, payload, headers, want in checks:
            status, body, _ = c.request(method, path, who, payload, headers)
            if isinstance(want, bytes):
                assert status in (200, 206) and body == want, (method, path, status, body[:200])
            elif want == 503:
                assert_unavailable(status, body)
            else:
                assert status == want, (method, path, body[:200])

        # Readiness names the storage and leaves no probe file on the full disk.
        status, body, _ = c.request("GET", "/health/readiness", master)
        assert status == 503 and json.loads(body)["status"] == "unavailable", body
        tmp = data_dir / "files" / "tmp"
        assert sorted(p.name for p in tmp.iterdir()) == []

        # With room again, writes work again and the file is intact.
        filler.unlink()
        status, body, _ = c.request("POST", "/v1/files", key, *upload_body(b"room again"))
        assert status == 200, body
        status, body, _ = c.request("GET", f"/v1/files/{file_id}/content", key)
        assert (status, body) == (200, data)
    finally:
        server.stop()
    log = server.log()
    assert "unhandled error" not in log, log
    assert "audit event lost (1 since start" in log, log
    assert "audit event lost (2 since start" in log, log
