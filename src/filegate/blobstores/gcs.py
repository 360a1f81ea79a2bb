"""Blobs in Google Cloud Storage, through its JSON API (works with fake-gcs-server too).

``gs://bucket/prefix``, with Google's standard settings: ``STORAGE_EMULATOR_HOST``
(requests go there, unauthenticated) or Application Default Credentials
(``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's login, the metadata server).

Why not a client library: obstore speaks GCS's XML API, which no emulator
installable here implements, and gcloud-aio-storage uploads from a seekable
file of known length, not from a stream. So puts speak the resumable-upload
protocol directly: open a session, send the bytes in 8 MiB chunks as they
arrive (a put holds about three chunks: +27 MB RSS measured for 200 MB), and
let the short last chunk, or an empty request, carry the total. The object
appears only then; a failed put cancels its session, and sessions that a
crashed process leaves behind expire on Google's side after a week.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2

from filegate.blobstores._common import Hashing, check_key, regroup, safe_message, split_url
from filegate.errors import StorageUnavailable
from filegate.google.tokens import GoogleTokens
from filegate.records import ByteRange, Stored

GOOGLE_STORAGE = "https://storage.googleapis.com"
# Resumable chunks must be multiples of 256 KiB; Google recommends 8 MiB.
UPLOAD_CHUNK = 8 * 1024 * 1024
READ_CHUNK = 1024 * 1024
ATTEMPTS = 4
# Seconds before the first retry; doubled for each one after.
BACKOFF = 0.5
CHECK_TIMEOUT = 10.0
PROBE_PREFIX = ".filegate-probe"
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True, slots=True)
class GCSBlobStoreConfig:
    bucket: str
    prefix: str = ""
    endpoint: str = GOOGLE_STORAGE
    # An emulator takes requests without a token.
    anonymous: bool = False
    # A service-account or authorized-user JSON file; None: Application Default Credentials.
    credentials_file: str | None = None

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> GCSBlobStoreConfig:
        bucket, prefix = split_url(url, ("gs", "gcs"), "bucket")
        emulator = env.get("STORAGE_EMULATOR_HOST")
        if emulator:
            if "://" not in emulator:
                emulator = f"http://{emulator}"
            return cls(bucket, prefix, emulator.rstrip("/"), anonymous=True)
        return cls(bucket, prefix, credentials_file=env.get("GOOGLE_APPLICATION_CREDENTIALS"))


class GCSBlobStore:
    def __init__(
        self, config: GCSBlobStoreConfig, *, transport: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self.location = f"gs://{config.bucket}/{config.prefix}".rstrip("/")
        self._client = httpx2.AsyncClient(
            base_url=config.endpoint,
            timeout=httpx2.Timeout(120.0, connect=10.0),
            # Settings come from filegate's config, not from proxy variables.
            trust_env=False,
            transport=transport,
        )
        self._tokens = None if config.anonymous else GoogleTokens(config.credentials_file)
        self._objects = f"/storage/v1/b/{quote(config.bucket, safe='')}/o"

    def _name(self, key: str) -> str:
        key = check_key(key)
        return f"{self.config.prefix}/{key}" if self.config.prefix else key

    def _object_url(self, key: str) -> str:
        return f"{self._objects}/{quote(self._name(key), safe='')}"

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> Stored:
        name = self._name(key)
        hashing = Hashing()
        session = await self._open_session(name)
        try:
            offset, finished = 0, False
            async for batch in regroup(chunks, UPLOAD_CHUNK, exact=True):
                await hashing.update(batch)
                # Only the last chunk may be short, and it carries the total.
                finished = len(batch) < UPLOAD_CHUNK
                total = offset + len(batch) if finished else None
                await self._send_chunk(session, batch, offset, total)
                offset += len(batch)
            if not finished:
                # The bytes ended on a chunk boundary (or there were none):
                # an empty request says the total.
                await self._send_chunk(session, b"", offset, offset)
        except BaseException:
            await asyncio.shield(self._cancel_session(session))
            raise
        return hashing.stored()

    async def get(self, key: str, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        headers = await self._auth()
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range.start}-{byte_range.end}"
        # No decoding: the bytes are served exactly as they were stored.
        headers["Accept-Encoding"] = "identity"
        request = self._client.build_request(
            "GET", self._object_url(key), params={"alt": "media"}, headers=headers
        )
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = await self._client.send(request, stream=True)
            except httpx2.HTTPError as exc:
                if attempt == ATTEMPTS:
                    raise self._unreachable(exc) from None
            else:
                if response.status_code not in _RETRY_STATUSES or attempt == ATTEMPTS:
                    break
                await response.aclose()
            await _pause(attempt)
        if response.status_code == 404:
            await response.aclose()
            raise FileNotFoundError(f"{self.location}/{key} does not exist")
        if response.status_code not in (200, 206):
            await response.aread()
            await response.aclose()
            raise self._failed("download", response)
        return self._read(response)

    async def _read(self, response: httpx2.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw(READ_CHUNK):
                yield chunk
        except httpx2.HTTPError as exc:
            raise self._unreachable(exc) from None
        finally:
            await response.aclose()

    async def delete(self, key: str) -> None:
        response = await self._request("DELETE", self._object_url(key))
        if response.status_code not in (200, 204, 404):
            raise self._failed("delete", response)

    async def check(self) -> None:
        # One cheap listing under a prefix that holds nothing: proves the
        # endpoint, the credentials and the bucket.
        prefix = f"{self.config.prefix}/{PROBE_PREFIX}" if self.config.prefix else PROBE_PREFIX
        params = {"prefix": prefix, "maxResults": "1", "fields": "kind"}
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                response = await self._request("GET", self._objects, params=params, attempts=1)
        except TimeoutError:
            raise StorageUnavailable(
                f"{self.location} did not answer within {CHECK_TIMEOUT:.0f} s"
            ) from None
        if response.status_code != 200:
            raise self._failed("list", response)

    async def sweep_incomplete(self, older_than: float) -> int:
        # Unfinished resumable sessions are neither objects nor listable;
        # Google expires them after a week, so there is nothing to sweep.
        return 0

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _open_session(self, name: str) -> str:
        response = await self._request(
            "POST",
            f"/upload{self._objects}",
            params={"uploadType": "resumable", "name": name},
            json={"name": name},
            headers={"X-Upload-Content-Type": "application/octet-stream"},
        )
        location = response.headers.get("location")
        if response.status_code != 200 or not location:
            raise self._failed("upload", response)
        return str(location)

    async def _send_chunk(self, session: str, data: bytes, offset: int, total: int | None) -> None:
        """Send ``data`` (at ``offset``); resend what the server did not keep."""
        sent = 0  # of data, acknowledged by the server
        failures = 0
        while True:
            part = data[sent:]
            start = offset + sent
            size = "*" if total is None else str(total)
            span = f"{start}-{start + len(part) - 1}" if part else "*"
            headers = {**await self._auth(), "Content-Range": f"bytes {span}/{size}"}
            try:
                response = await self._client.put(session, content=part, headers=headers)
            except httpx2.HTTPError as exc:
                failures += 1
                if failures >= ATTEMPTS:
                    raise self._unreachable(exc) from None
                await _pause(failures)
                sent = await self._acknowledged(session, offset)
                continue
            if response.status_code in (200, 201):
                return
            if response.status_code == 308:
                # "Range: bytes=0-N" is what the server kept; it may be less than sent.
                kept = _kept(response.headers.get("range"))
                if total is None and kept >= offset + len(data):
                    return
                sent = max(0, kept - offset)
                if kept <= start:
                    failures += 1  # no progress at all: do not loop forever
                    if failures >= ATTEMPTS:
                        raise self._failed("upload", response)
                continue
            if response.status_code in _RETRY_STATUSES and failures + 1 < ATTEMPTS:
                failures += 1
                await _pause(failures)
                sent = await self._acknowledged(session, offset)
                continue
            raise self._failed("upload", response)

    async def _acknowledged(self, session: str, offset: int) -> int:
        """How much of the chunk at ``offset`` the server kept (after a failed send)."""
        headers = {**await self._auth(), "Content-Range": "bytes */*"}
        try:
            response = await self._client.put(session, headers=headers)
        except httpx2.HTTPError as exc:
            raise self._unreachable(exc) from None
        if response.status_code != 308:
            raise self._failed("upload", response)
        return max(0, _kept(response.headers.get("range")) - offset)

    async def _cancel_session(self, session: str) -> None:
        # Best effort: an unfinished session is invisible and expires anyway.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await self._client.delete(session, headers=await self._auth())

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        attempts: int = ATTEMPTS,
    ) -> httpx2.Response:
        """One idempotent JSON-API call, retried on the errors Google says to retry."""
        for attempt in range(1, attempts + 1):
            all_headers = {**await self._auth(), **(headers or {})}
            try:
                response = await self._client.request(
                    method, url, params=params, json=json, headers=all_headers
                )
            except httpx2.HTTPError as exc:
                if attempt == attempts:
                    raise self._unreachable(exc) from None
            else:
                if response.status_code not in _RETRY_STATUSES or attempt == attempts:
                    return response
            await _pause(attempt)
        raise AssertionError("unreachable")

    async def _auth(self) -> dict[str, str]:
        if self._tokens is None:
            return {}
        return {"Authorization": f"Bearer {await self._tokens.token()}"}

    def _unreachable(self, exc: httpx2.HTTPError) -> StorageUnavailable:
        return StorageUnavailable(
            f"{self.location}: cannot reach {self.config.endpoint} ({type(exc).__name__})"
        )

    def _failed(self, what: str, response: httpx2.Response) -> StorageUnavailable:
        status = response.status_code
        if status in (401, 403):
            return StorageUnavailable(
                f"{self.location}: access denied ({status}); check GOOGLE_APPLICATION_CREDENTIALS "
                "and the bucket's permissions"
            )
        if status == 404:
            return StorageUnavailable(f"{self.location}: the bucket does not exist")
        return StorageUnavailable(f"{self.location}: {what} failed: {status} {_error(response)}")


async def _pause(retry: int) -> None:
    await asyncio.sleep(BACKOFF * 2 ** (retry - 1))


def _kept(header: str | None) -> int:
    """Bytes the server holds, from a resumable upload's ``Range: bytes=0-N``."""
    if not header or "-" not in header:
        return 0
    return int(header.rsplit("-", 1)[1]) + 1


def _error(response: httpx2.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except Exception:
        message = response.text
    return safe_message(Exception(str(message))) if message else response.reason_phrase
