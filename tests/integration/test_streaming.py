"""A 256 MB upload and download stream through the server without its memory growing."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psutil
from support import Part, multipart_stream, new_boundary

MB = 1024 * 1024
SIZE = 256 * MB
CHUNK = MB
MAX_GROWTH = 50 * MB


class RssSampler:
    """Samples a process's resident set size every ``interval`` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self._proc = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak = 0
        self.samples = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self.samples += 1
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def payload(hasher: Any) -> Iterator[bytes]:
    """SIZE pseudo-random bytes, one MB at a time, hashed as they are produced."""
    block = random.Random(20260821).randbytes(CHUNK)
    for i in range(SIZE // CHUNK):
        chunk = i.to_bytes(8, "big") + block[8:]
        hasher.update(chunk)
        yield chunk


def test_256mb_round_trip_in_constant_memory(server_factory: Callable[..., Any]) -> None:
    srv = server_factory()
    rss = psutil.Process(srv.proc.pid)
    with httpx.Client(base_url=srv.base_url, headers=srv.headers, timeout=300) as client:
        # Warm up every code path once, so the baseline includes imports and pools.
        warm = client.post(
            "/v1/files", data={"purpose": "user_data"}, files={"file": ("w.bin", b"w" * MB)}
        ).json()
        assert client.get(f"/v1/files/{warm['id']}/content").content == b"w" * MB
        baseline = rss.memory_info().rss

        sent = hashlib.sha256()
        boundary = new_boundary()
        pieces = list(
            multipart_stream(
                [Part("purpose", "user_data")],
                Part("file", filename="big.bin", content_type="application/octet-stream"),
                [],
                [],
                boundary,
            )
        )
        length = sum(len(p) for p in pieces) + SIZE

        def body() -> Iterator[bytes]:
            yield from pieces[:-2]  # purpose part and the file part's headers
            yield from payload(sent)
            yield from pieces[-2:]  # end of the file part and the closing boundary

        with RssSampler(srv.proc.pid) as up:
            resp = client.post(
                "/v1/files",
                content=body(),
                headers={
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(length),
                },
            )
        assert resp.status_code == 200, resp.text
        obj = resp.json()
        assert obj["bytes"] == SIZE

        received = hashlib.sha256()
        size = 0
        with (
            RssSampler(srv.proc.pid) as down,
            client.stream("GET", f"/v1/files/{obj['id']}/content") as stream,
        ):
            assert stream.status_code == 200
            assert stream.headers["content-length"] == str(SIZE)
            etag = stream.headers["etag"]
            for chunk in stream.iter_raw():
                received.update(chunk)
                size += len(chunk)

        assert size == SIZE
        assert received.hexdigest() == sent.hexdigest()
        assert etag == f'"{sent.hexdigest()}"'
        assert up.samples > 10 and down.samples > 10
        assert up.peak - baseline < MAX_GROWTH, (
            f"upload grew RSS by {(up.peak - baseline) / MB:.1f} MB"
        )
        assert down.peak - baseline < MAX_GROWTH, (
            f"download grew RSS by {(down.peak - baseline) / MB:.1f} MB"
        )
        assert client.delete(f"/v1/files/{obj['id']}").status_code == 200
