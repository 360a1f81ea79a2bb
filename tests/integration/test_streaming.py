"""A 256 MB upload and download stream through the server without its memory growing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import httpx
import psutil
from support import Part, seeded_chunks, streamed_upload

from tests.conftest import RssSampler

MB = 1024 * 1024
SIZE = 256 * MB
CHUNK = MB
MAX_GROWTH = 50 * MB


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
        body, headers = streamed_upload(
            [Part("purpose", "user_data")],
            Part("file", filename="big.bin", content_type="application/octet-stream"),
            seeded_chunks(20260821, SIZE, sent, CHUNK),
            SIZE,
        )
        with RssSampler(srv.proc.pid, interval=0.05) as up:
            resp = client.post("/v1/files", content=body, headers=headers)
        assert resp.status_code == 200, resp.text
        obj = resp.json()
        assert obj["bytes"] == SIZE

        received = hashlib.sha256()
        size = 0
        with (
            RssSampler(srv.proc.pid, interval=0.05) as down,
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
        assert up.samples >= 3 and down.samples >= 3  # sampled while the bytes moved
        assert up.peak - baseline < MAX_GROWTH, (
            f"upload grew RSS by {(up.peak - baseline) / MB:.1f} MB"
        )
        assert down.peak - baseline < MAX_GROWTH, (
            f"download grew RSS by {(down.peak - baseline) / MB:.1f} MB"
        )
        assert client.delete(f"/v1/files/{obj['id']}").status_code == 200
