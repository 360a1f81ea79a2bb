"""GCS resumable uploads where the emulator is kinder than Google: partial acceptance,
retried chunks, a cancelled session after a failure."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from filegate.blobstores import gcs as _gcs_auth
from filegate.blobstores.gcs import GCSBlobStore, GCSBlobStoreConfig
from filegate.errors import StorageUnavailable
from filegate.google import gcs_client as gcs
from filegate.records import ByteRange
from filegate.upstream import retry

SESSION = "http://gcs.test/upload/session/1"


class FakeResumable:
    """A resumable-upload endpoint that keeps at most ``keep`` bytes of each PUT."""

    def __init__(self, *, keep: int | None = None, fail_first_puts: int = 0) -> None:
        self.keep = keep
        self.fail_first_puts = fail_first_puts
        self.data = bytearray()
        self.finished = False
        self.cancelled = False
        self.puts: list[str] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST":
            assert request.url.params["uploadType"] == "resumable"
            return httpx2.Response(200, headers={"Location": SESSION})
        if request.method == "DELETE":
            self.cancelled = True
            return httpx2.Response(499)
        content_range = request.headers["Content-Range"]
        self.puts.append(content_range)
        if content_range == "bytes */*":
            return self._progress()
        if self.fail_first_puts:
            self.fail_first_puts -= 1
            return httpx2.Response(503)
        m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)|bytes \*/(\d+)", content_range)
        assert m, content_range
        body = request.read()
        if m.group(1) is not None:
            assert int(m.group(1)) == len(self.data), "a chunk must start where the data ends"
            body = body if self.keep is None else body[: self.keep]
            self.data += body
        total = m.group(3) if m.group(1) is not None else m.group(4)
        if total != "*" and int(total) == len(self.data):
            self.finished = True
            return httpx2.Response(200, json={"name": "x", "size": total})
        return self._progress()

    def _progress(self) -> httpx2.Response:
        headers = {"Range": f"bytes=0-{len(self.data) - 1}"} if self.data else {}
        return httpx2.Response(308, headers=headers)


def store_for(fake: FakeResumable) -> GCSBlobStore:
    config = GCSBlobStoreConfig("b", "p", "http://gcs.test", anonymous=True)
    return GCSBlobStore(config, transport=httpx2.MockTransport(fake))


async def chunks(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gcs, "UPLOAD_CHUNK", 256 * 1024)


async def test_bytes_the_server_did_not_keep_are_sent_again() -> None:
    fake = FakeResumable(keep=100_000)
    data = os.urandom(700_000)
    stored = await store_for(fake).put("file-a", chunks(data))
    assert fake.finished and bytes(fake.data) == data
    assert stored.sha256 == hashlib.sha256(data).hexdigest()


async def test_a_failed_chunk_is_retried_from_what_the_server_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retry, "BASE_DELAY", 0.0)
    fake = FakeResumable(fail_first_puts=2)
    data = os.urandom(600_000)
    await store_for(fake).put("file-b", chunks(data))
    assert fake.finished and bytes(fake.data) == data
    assert "bytes */*" in fake.puts  # asked where to resume


async def test_exact_multiple_and_empty_uploads_finish() -> None:
    for size in (0, 512 * 1024):
        fake = FakeResumable()
        data = os.urandom(size)
        stored = await store_for(fake).put("file-c", chunks(data))
        assert fake.finished and stored.size == size


async def test_a_failing_source_cancels_the_session() -> None:
    fake = FakeResumable()

    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(300_000)
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await store_for(fake).put("file-d", broken())
    assert fake.cancelled and not fake.finished


async def test_a_server_that_keeps_failing_gives_storage_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retry, "BASE_DELAY", 0.0)
    fake = FakeResumable(fail_first_puts=100)
    with pytest.raises(StorageUnavailable, match="upload failed: 503"):
        await store_for(fake).put("file-e", chunks(os.urandom(10)))


async def test_get_retries_before_the_first_byte_and_sends_the_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retry, "BASE_DELAY", 0.0)
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx2.Response(503)
        return httpx2.Response(206, stream=_Body(b"bcd"))

    config = GCSBlobStoreConfig("b", "p", "http://gcs.test", anonymous=True)
    store = GCSBlobStore(config, transport=httpx2.MockTransport(handler))
    body = b"".join([c async for c in await store.get("file-g", ByteRange(1, 3))])
    assert body == b"bcd" and len(seen) == 2
    assert seen[-1].headers["Range"] == "bytes=1-3"
    assert seen[-1].url.raw_path == b"/storage/v1/b/b/o/p%2Ffile-g?alt=media"


async def test_missing_credentials_say_what_to_set(tmp_path: Path) -> None:
    config = GCSBlobStoreConfig("b", credentials_file=str(tmp_path / "missing.json"))
    store = GCSBlobStore(config)
    with pytest.raises(StorageUnavailable, match="GOOGLE_APPLICATION_CREDENTIALS: cannot read"):
        await store.check()
    await store.aclose()


class _Body(httpx2.AsyncByteStream):
    """A body that arrives over the wire (a content= body counts as already read)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


def test_credential_files_load_by_their_declared_type(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    key = tmp_path / "sa.json"
    key.write_text(
        json.dumps(
            {
                "type": "service_account",
                "client_email": "filegate@example.iam.gserviceaccount.com",
                "private_key": pem,
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    assert isinstance(_gcs_auth.load_file(str(key)), service_account.Credentials)

    other = tmp_path / "external.json"
    other.write_text(json.dumps({"type": "external_account"}))
    with pytest.raises(StorageUnavailable, match="'external_account' are not supported"):
        _gcs_auth.load_file(str(other))
