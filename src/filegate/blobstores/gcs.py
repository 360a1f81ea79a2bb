"""Blobs in Google Cloud Storage, through its JSON API (works with fake-gcs-server too).

``gs://bucket/prefix``, with Google's standard settings: ``STORAGE_EMULATOR_HOST``
(requests go there, unauthenticated) or Application Default Credentials
(``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's login, the metadata server).

The bytes travel through the one GCS client (``google.gcs_client``): a put is a
resumable upload that sends 8 MiB pieces as they arrive (a put holds about three:
+27 MB RSS measured for 200 MB) and lets the last piece carry the total. The
object appears only then; a failed put cancels its session, and sessions that a
crashed process leaves behind expire on Google's side after a week. The client's
upstream errors become StorageUnavailable here, a missing object FileNotFoundError.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2

from filegate.blobstores._common import Hashing, check_key, regroup, safe_message, split_url
from filegate.errors import FilegateError, StorageUnavailable, UpstreamTimeout, UpstreamUnreachable
from filegate.google import gcs_client
from filegate.google.gcs_client import GCSClient
from filegate.google.tokens import (
    PLAIN_TYPES,
    STORAGE_SCOPE,
    CredentialsError,
    GoogleTokens,
    from_info,
)
from filegate.records import ByteRange, Stored

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

GOOGLE_STORAGE = "https://storage.googleapis.com"
READ_CHUNK = 1024 * 1024
# Retries after the first attempt, under the one retry policy (upstream.retry).
RETRIES = 3
TIMEOUT = 120.0
CHECK_TIMEOUT = 10.0
PROBE_PREFIX = ".filegate-probe"


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


class StorageTokenErrors:
    """google.tokens.TokenErrors for the blob store: storage is unavailable."""

    def no_library(self) -> Exception:
        return StorageUnavailable(
            "gs:// storage needs google-auth for credentials: pip install 'google-auth[requests]'"
        )

    def no_credentials(self, detail: str) -> Exception:
        return StorageUnavailable(
            f"gs:// storage: no usable Google credentials ({safe_message(Exception(detail))}); "
            "set GOOGLE_APPLICATION_CREDENTIALS, or STORAGE_EMULATOR_HOST for an emulator"
        )

    def refresh_failed(self, exc: Exception) -> Exception:
        return StorageUnavailable(
            f"gs:// storage: could not get a Google access token ({type(exc).__name__})"
        )


def load_file(path: str) -> Credentials:
    """A service-account key or an authorized-user file, loaded by its declared type.

    google-auth's generic loader accepts any credential type a file names
    (and warns about it); these two are the ones a file should hold here.
    """
    where = "gs:// storage: GOOGLE_APPLICATION_CREDENTIALS"
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise StorageUnavailable(f"{where}: cannot read {path!r} ({exc.strerror})") from None
    except ValueError:
        raise StorageUnavailable(f"{where}: {path!r} is not JSON") from None
    if not isinstance(info, dict):
        info = {"type": None}
    try:
        return from_info(info, scopes=(STORAGE_SCOPE,), kinds=PLAIN_TYPES)
    except CredentialsError as exc:
        raise StorageUnavailable(
            f"{where}: {exc} (use a service-account key or an authorized_user file)"
        ) from None


class GCSBlobStore:
    def __init__(
        self, config: GCSBlobStoreConfig, *, transport: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self.location = f"gs://{config.bucket}/{config.prefix}".rstrip("/")
        tokens = None
        if not config.anonymous:
            path = config.credentials_file
            tokens = GoogleTokens(
                None if path is None else lambda: load_file(path),
                errors=StorageTokenErrors(),
                scopes=(STORAGE_SCOPE,),
            )
        self._gcs = GCSClient(
            self.location,
            endpoint=config.endpoint,
            tokens=tokens,
            timeout=TIMEOUT,
            max_retries=RETRIES,
            # Settings come from filegate's config, not from proxy variables.
            trust_env=False,
            transport=transport,
        )

    def _name(self, key: str) -> str:
        key = check_key(key)
        return f"{self.config.prefix}/{key}" if self.config.prefix else key

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> Stored:
        name = self._name(key)
        hashing = Hashing()

        async def hashed() -> AsyncIterator[bytes]:
            # Whole pieces, so each is hashed in one worker-thread call.
            async for batch in regroup(chunks, gcs_client.UPLOAD_CHUNK, exact=True):
                await hashing.update(batch)
                yield batch

        try:
            await self._gcs.upload(self.config.bucket, {"name": name}, hashed())
        except FilegateError as exc:
            raise self._failed("upload", exc) from None
        return hashing.stored()

    async def get(self, key: str, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        name = self._name(key)
        try:
            response = await self._gcs.open(self.config.bucket, name, byte_range)
        except FilegateError as exc:
            if exc.upstream_status == 404:
                raise FileNotFoundError(f"{self.location}/{key} does not exist") from None
            raise self._failed("download", exc) from None
        return self._read(response)

    async def _read(self, response: httpx2.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw(READ_CHUNK):
                yield chunk
        except httpx2.HTTPError as exc:
            raise StorageUnavailable(
                f"{self.location}: cannot reach {self.config.endpoint} ({type(exc).__name__})"
            ) from None
        finally:
            await response.aclose()

    async def delete(self, key: str) -> None:
        try:
            await self._gcs.delete(self.config.bucket, self._name(key))
        except FilegateError as exc:
            if exc.upstream_status != 404:
                raise self._failed("delete", exc) from None

    async def check(self) -> None:
        # One cheap listing under a prefix that holds nothing: proves the
        # endpoint, the credentials and the bucket.
        prefix = f"{self.config.prefix}/{PROBE_PREFIX}" if self.config.prefix else PROBE_PREFIX
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                await self._gcs.list_page(
                    self.config.bucket, once=True, prefix=prefix, maxResults="1", fields="kind"
                )
        except TimeoutError:
            raise StorageUnavailable(
                f"{self.location} did not answer within {CHECK_TIMEOUT:.0f} s"
            ) from None
        except FilegateError as exc:
            raise self._failed("list", exc) from None

    async def sweep_incomplete(self, older_than: float) -> int:
        # Unfinished resumable sessions are neither objects nor listable;
        # Google expires them after a week, so there is nothing to sweep.
        return 0

    async def aclose(self) -> None:
        await self._gcs.aclose()

    def _failed(self, what: str, exc: FilegateError) -> StorageUnavailable:
        """The client's upstream error, as this store's."""
        if isinstance(exc, StorageUnavailable):
            return exc  # from the token source: already in this store's terms
        status = exc.upstream_status
        detail = safe_message(Exception(exc.message.removeprefix(f"{self.location}: ")))
        if isinstance(exc, UpstreamTimeout | UpstreamUnreachable) and status is None:
            return StorageUnavailable(
                f"{self.location}: cannot reach {self.config.endpoint} ({detail})"
            )
        if status in (401, 403):
            return StorageUnavailable(
                f"{self.location}: access denied ({status}); check GOOGLE_APPLICATION_CREDENTIALS "
                "and the bucket's permissions"
            )
        if status == 404:
            return StorageUnavailable(f"{self.location}: the bucket does not exist")
        shown = detail if status is None else f"{status} {detail}"
        return StorageUnavailable(f"{self.location}: {what} failed: {shown}")
