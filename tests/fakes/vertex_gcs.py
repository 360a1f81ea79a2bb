"""The few Cloud Storage JSON API calls the fake Vertex AI makes, against fake-gcs-server.

Objects are read as a stream of lines and written from a local file in chunks, so a job's
memory stays flat whatever its size. Anonymous requests, as the emulator takes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx

CHUNK = 256 * 1024


class GCSUnavailable(Exception):
    """An object could not be read or written; the message says which and why."""


def split_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/name`` -> (bucket, name); ValueError for anything else."""
    if not uri.startswith("gs://"):
        raise ValueError(f"{uri!r} is not a gs:// URI")
    bucket, _, name = uri[5:].partition("/")
    if not bucket or not name:
        raise ValueError(f"{uri!r} names no object")
    return bucket, name


class GCS:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def exists(self, uri: str) -> bool:
        bucket, name = split_uri(uri)
        try:
            resp = await self.http.get(
                f"{self.endpoint}/storage/v1/b/{bucket}/o/{quote(name, safe='')}"
            )
        except httpx.HTTPError as exc:
            raise GCSUnavailable(f"Cloud Storage is unreachable: {exc}") from exc
        if resp.status_code == 404:
            return False
        if resp.status_code != 200:
            raise GCSUnavailable(f"Cloud Storage answered {resp.status_code} for {uri}")
        return True

    async def lines(self, uri: str) -> AsyncIterator[bytes]:
        """The object's lines (without the newline), read as a stream."""
        bucket, name = split_uri(uri)
        url = f"{self.endpoint}/storage/v1/b/{bucket}/o/{quote(name, safe='')}"
        try:
            async with self.http.stream("GET", url, params={"alt": "media"}) as resp:
                if resp.status_code != 200:
                    raise GCSUnavailable(f"Cloud Storage answered {resp.status_code} for {uri}")
                partial = b""
                async for chunk in resp.aiter_bytes(CHUNK):
                    parts = (partial + chunk).split(b"\n")
                    partial = parts.pop()
                    for line in parts:
                        yield line
                if partial:
                    yield partial
        except httpx.HTTPError as exc:
            raise GCSUnavailable(f"reading {uri} failed: {exc}") from exc

    async def upload(self, uri: str, path: Path, content_type: str = "application/jsonl") -> None:
        bucket, name = split_uri(uri)

        async def body() -> AsyncIterator[bytes]:
            with path.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk

        size = path.stat().st_size  # noqa: ASYNC240 (one stat call; not worth a thread)
        headers = {"content-type": content_type, "content-length": str(size)}
        try:
            resp = await self.http.post(
                f"{self.endpoint}/upload/storage/v1/b/{bucket}/o",
                params={"uploadType": "media", "name": name},
                content=body(),
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise GCSUnavailable(f"writing {uri} failed: {exc}") from exc
        if resp.status_code != 200:
            raise GCSUnavailable(f"Cloud Storage answered {resp.status_code} writing {uri}")
