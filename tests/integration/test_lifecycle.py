"""Expiry, the sweep, and what an interrupted upload leaves behind (nothing)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from support import (
    Part,
    assert_error,
    assert_no_leftovers,
    blob_files,
    catalog_execute,
    catalog_rows,
    list_all,
    multipart_stream,
    new_boundary,
    stray_files,
    upload,
    wait_until,
)

EXPIRES_1H = {"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"}


def expire_now(data_dir: Any, file_id: str) -> None:
    past = int(time.time()) - 1
    n = catalog_execute(data_dir, "UPDATE files SET expires_at = ? WHERE id = ?", (past, file_id))
    assert n == 1


def assert_gone(client: httpx.Client, file_id: str) -> None:
    assert_error(client.get(f"/v1/files/{file_id}"), 404, param="file_id")
    assert_error(client.get(f"/v1/files/{file_id}/content"), 404, param="file_id")
    assert_error(client.delete(f"/v1/files/{file_id}"), 404, param="file_id")
    assert file_id not in {f["id"] for f in list_all(client)}


def test_expired_file_is_invisible(server: Any, http: httpx.Client) -> None:
    # The shared server sweeps only once a minute: visibility must not wait for it.
    doomed = upload(http, b"doomed", purpose="assistants", **EXPIRES_1H)
    other = upload(http, b"stays", purpose="assistants", **EXPIRES_1H)
    assert http.get(f"/v1/files/{doomed['id']}").status_code == 200
    expire_now(server.data_dir, doomed["id"])
    assert_gone(http, doomed["id"])
    assert doomed["id"] not in {f["id"] for f in list_all(http, purpose="assistants")}
    assert http.get(f"/v1/files/{other['id']}/content").content == b"stays"


def test_sweep_deletes_expired_bytes(server_factory: Callable[..., Any]) -> None:
    srv = server_factory(env={"FILEGATE_SWEEP_INTERVAL": "0.2"})
    with httpx.Client(base_url=srv.base_url, headers=srv.headers) as client:
        doomed = upload(client, b"doomed bytes", **EXPIRES_1H)
        batch = upload(
            client,
            b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {}}\n',
            purpose="batch",
        )
        keep = upload(client, b"keep")
        assert len(blob_files(srv.data_dir)) == 3
        expire_now(srv.data_dir, doomed["id"])
        expire_now(srv.data_dir, batch["id"])

        assert_gone(client, doomed["id"])
        assert_gone(client, batch["id"])
        assert wait_until(lambda: len(catalog_rows(srv.data_dir)) == 1), catalog_rows(srv.data_dir)
        assert [r["id"] for r in catalog_rows(srv.data_dir)] == [keep["id"]]
        assert [p.name for p in blob_files(srv.data_dir)] == [keep["id"]]
        assert client.get(f"/v1/files/{keep['id']}/content").content == b"keep"
        assert [f["id"] for f in list_all(client)] == [keep["id"]]
    assert_no_leftovers(srv.data_dir)
    assert "sweep removed" in srv.log()


def _slow_body(
    stop: threading.Event, boundary: str, finish: threading.Event, paused: threading.Event
) -> Iterator[bytes]:
    """A file part that trickles in until ``stop`` (cut off) or ``finish`` (ended),
    sending nothing while ``paused``."""

    def chunks() -> Iterator[bytes]:
        for _ in range(100_000):
            while paused.is_set() and not stop.is_set():
                time.sleep(0.01)
            if stop.is_set() or finish.is_set():
                return
            yield b"k" * 65536
            time.sleep(0.005)

    return multipart_stream(
        [Part("purpose", "user_data")], Part("file", filename="huge.bin"), chunks(), [], boundary
    )


class SlowUpload:
    """An upload sent from a thread, a chunk every few milliseconds, until told."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.stop = threading.Event()
        self.finish = threading.Event()
        self.paused = threading.Event()
        self.outcome: list[httpx.Response | httpx.HTTPError] = []
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._thread.start()

    def _send(self) -> None:
        boundary = new_boundary()
        try:
            with httpx.Client(base_url=self.server.base_url, headers=self.server.headers) as c:
                self.outcome.append(
                    c.post(
                        "/v1/files",
                        content=_slow_body(self.stop, boundary, self.finish, self.paused),
                        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                        timeout=60,
                    )
                )
        except httpx.HTTPError as exc:
            self.outcome.append(exc)

    def wait_writing(self) -> Path:
        """The upload's partial file, once some MB of it are on disk."""
        data_dir = self.server.data_dir

        def parts() -> list[Path]:
            return [p for p in stray_files(data_dir) if p.name.endswith(".part")]

        def writing() -> bool:
            found = parts()
            return bool(found) and found[0].stat().st_size > 2_000_000

        assert wait_until(writing, timeout=30), "the upload got under way"
        return parts()[0]

    def join(self) -> httpx.Response | httpx.HTTPError:
        self.stop.set()
        self._thread.join(timeout=30)
        assert len(self.outcome) == 1, self.outcome
        return self.outcome[0]


def _settle(path: Path) -> None:
    """Return once ``path`` has stopped growing."""
    size = -1
    while (now := path.stat().st_size) != size:
        size = now
        time.sleep(0.3)


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_killed_server_leaves_no_file(server_factory: Callable[..., Any]) -> None:
    first = server_factory()
    data_dir = first.data_dir
    sending = SlowUpload(first)
    try:
        sending.wait_writing()
        [row] = catalog_rows(data_dir)
        assert row["state"] == "writing"
        with httpx.Client(base_url=first.base_url, headers=first.headers) as c:
            assert list_all(c) == []
            assert_error(c.get(f"/v1/files/{row['id']}"), 404)
            assert_error(c.get(f"/v1/files/{row['id']}/content"), 404)
        first.proc.kill()
        first.proc.wait(timeout=10)
    finally:
        outcome = sending.join()
    assert isinstance(outcome, httpx.HTTPError), outcome

    second = server_factory(
        env={"FILEGATE_DATA_DIR": str(data_dir), "FILEGATE_SWEEP_INTERVAL": "0.2"}
    )
    with httpx.Client(base_url=second.base_url, headers=second.headers) as c:
        assert list_all(c) == []
        assert_error(c.get(f"/v1/files/{row['id']}"), 404)
        # The dead write's lease runs out (5 minutes, here simulated) and its
        # partial bytes age past the sweep's threshold.
        assert (
            catalog_execute(
                data_dir,
                "UPDATE files SET lease_until = ? WHERE id = ?",
                (int(time.time()) - 1, row["id"]),
            )
            == 1
        )
        for path in stray_files(data_dir):
            _age(path, 3600)
        assert wait_until(lambda: not catalog_rows(data_dir) and not stray_files(data_dir))
        assert list_all(c) == []
        # The restarted server works normally.
        obj = upload(c, b"after the crash")
        assert c.get(f"/v1/files/{obj['id']}/content").content == b"after the crash"
    assert_no_leftovers(data_dir)


def test_a_killed_write_leaves_its_partial_file_a_minute(
    server_factory: Callable[..., Any],
) -> None:
    """The partial file of a killed process goes at the first sweep after it is a
    minute old (it stayed ten: the sweep waited twice the lease)."""
    first = server_factory()
    sending = SlowUpload(first)
    try:
        partial = sending.wait_writing()
        first.proc.kill()
        first.proc.wait(timeout=10)
    finally:
        sending.join()
    _age(partial, 61)
    server_factory(env={"FILEGATE_DATA_DIR": str(first.data_dir), "FILEGATE_SWEEP_INTERVAL": "0.2"})
    assert wait_until(lambda: not partial.exists()), "swept"


def test_a_slow_upload_is_never_swept_from_under_its_writer(
    server_factory: Callable[..., Any],
) -> None:
    """However long a live upload's partial file goes unchanged, the sweep leaves it."""
    srv = server_factory(env={"FILEGATE_SWEEP_INTERVAL": "0.2"})
    sending = SlowUpload(srv)
    partial = sending.wait_writing()
    sending.paused.set()
    _settle(partial)  # whatever was on its way is written; then nothing touches the file
    _age(partial, 3 * 3600)
    time.sleep(1.5)  # several sweeps, each of which sees an hours-old partial file
    assert partial.exists() and partial.stat().st_mtime < time.time() - 3600
    sending.paused.clear()
    sending.finish.set()
    resp = sending.join()
    assert isinstance(resp, httpx.Response) and resp.status_code == 200, resp
    obj = resp.json()
    with httpx.Client(base_url=srv.base_url, headers=srv.headers) as c:
        content = c.get(f"/v1/files/{obj['id']}/content").content
    assert len(content) == obj["bytes"] > 2_000_000 and set(content) == {ord("k")}
    assert_no_leftovers(srv.data_dir)


def test_client_cut_off_mid_upload_leaves_nothing(server: Any, http: httpx.Client) -> None:
    before = list_all(http)
    boundary = new_boundary()
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n\r\n'
    ).encode()
    request = (
        "POST /v1/files HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.master_key}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        "Content-Length: 50000000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request + head)
        for _ in range(40):
            sock.sendall(b"c" * 65536)

        def started() -> bool:
            return any(r["state"] == "writing" for r in catalog_rows(server.data_dir))

        assert wait_until(started), "the upload got under way"
    # The connection is gone before the body ended: the write is abandoned at once.
    assert wait_until(
        lambda: (
            all(r["state"] == "ready" for r in catalog_rows(server.data_dir))
            and not [p for p in stray_files(server.data_dir) if p.name.endswith(".part")]
        )
    )
    assert list_all(http) == before
    assert_no_leftovers(server.data_dir)
