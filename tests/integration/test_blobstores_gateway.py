"""The gateway on object storage, through the official openai SDK.

Real `filegate serve` processes whose blob store is S3 (moto), GCS
(fake-gcs-server) or Azure Blob (Azurite), chosen only by FILEGATE_STORAGE_URL
and each cloud's standard variables. The bytes are checked in the object store
itself, behind the gateway's back.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import psutil
import pytest

from filegate.blobstores import open_blobstore
from tests.conftest import ServerProcess, start_server
from tests.emulators import (
    BUCKET,
    Emulator,
    azure_emulator,
    gcs_emulator,
    s3_emulator,
)

__all__ = ["azure_emulator", "gcs_emulator", "s3_emulator"]

SCHEMES = {"s3": "s3", "gcs": "gs", "azure": "az"}


@dataclass
class Gateway:
    server: ServerProcess
    emulator: Emulator
    storage_url: str

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.server.api_url,
            api_key=self.server.master_key or "unused",
            max_retries=0,
            timeout=120,
        )

    def stored_bytes(self, key: str) -> bytes:
        """The object as the store holds it (FileNotFoundError if it is not there)."""

        async def fetch() -> bytes:
            store = open_blobstore(self.storage_url, self.emulator.env)
            try:
                return b"".join([c async for c in await store.get(key)])
            finally:
                await store.aclose()

        return asyncio.run(fetch())


@pytest.fixture(scope="module", params=list(SCHEMES))
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    emulator: Emulator = request.getfixturevalue(f"{request.param}_emulator")
    url = f"{SCHEMES[request.param]}://{BUCKET}/gw-{uuid.uuid4().hex[:8]}"
    server = start_server(
        tmp_path_factory.mktemp(f"gw-{request.param}"),
        env={"FILEGATE_STORAGE_URL": url, **emulator.env},
    )
    yield Gateway(server, emulator, url)
    server.stop()


def test_upload_list_content_delete(gateway: Gateway) -> None:
    client = gateway.client()
    data = b"".join(b"line %d of a file in object storage\n" % i for i in range(2000))
    created = client.files.create(file=("notes.txt", data), purpose="assistants")
    assert created.bytes == len(data)
    assert gateway.stored_bytes(created.id) == data

    listed = [f.id for f in client.files.list(limit=100)]
    assert created.id in listed
    assert client.files.retrieve(created.id).filename == "notes.txt"
    assert client.files.content(created.id).content == data

    ranged = client.files.with_raw_response.content(
        created.id, extra_headers={"Range": "bytes=10-19"}
    )
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert ranged.content == data[10:20]
    tail = client.files.with_raw_response.content(created.id, extra_headers={"Range": "bytes=-5"})
    assert tail.content == data[-5:]

    assert client.files.delete(created.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.content(created.id)
    with pytest.raises(FileNotFoundError):
        gateway.stored_bytes(created.id)


def test_large_file_streams_with_flat_server_memory(gateway: Gateway) -> None:
    size = 64 * 1000 * 1000
    data = os.urandom(size)
    server = psutil.Process(gateway.server.proc.pid)
    before = server.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        client = gateway.client()
        created = client.files.create(file=("big.bin", data), purpose="assistants")
        got = hashlib.sha256()
        with client.files.with_streaming_response.content(created.id) as response:
            for chunk in response.iter_bytes(1024 * 1024):
                got.update(chunk)
    finally:
        done.set()
        sampler.join()
    assert got.hexdigest() == hashlib.sha256(data).hexdigest()
    growth = peak[0] - before
    assert growth < 50 * 1000 * 1000, f"server RSS grew by {growth / 1e6:.0f} MB"
    client.files.delete(created.id)


def test_readiness_reports_storage(gateway: Gateway) -> None:
    resp = httpx.get(f"{gateway.server.base_url}/health/readiness", timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["storage"] == "ok"


def test_missing_bucket_is_reported_not_hidden(
    gateway: Gateway, tmp_path_factory: pytest.TempPathFactory
) -> None:
    scheme = gateway.storage_url.split("://")[0]
    server = start_server(
        tmp_path_factory.mktemp("gw-missing"),
        env={"FILEGATE_STORAGE_URL": f"{scheme}://no-such-bucket/x", **gateway.emulator.env},
        wait=False,
    )
    try:
        deadline = time.monotonic() + 30
        resp = None
        while time.monotonic() < deadline:
            try:
                resp = httpx.get(f"{server.base_url}/health/readiness", timeout=30)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert resp is not None and resp.status_code == 503, server.log()
        assert "no-such-bucket" in resp.json()["storage"]

        upload = httpx.post(
            f"{server.api_url}/files",
            headers=server.headers,
            files={"file": ("a.txt", b"abc")},
            data={"purpose": "assistants"},
            timeout=60,
        )
        assert upload.status_code == 503, upload.text
        assert upload.json()["error"]["code"] == "storage_unavailable"
    finally:
        server.stop()
