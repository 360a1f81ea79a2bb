"""Google Cloud Storage's JSON API over httpx2, with filegate's wire policy.

Only what the Vertex AI provider needs: object metadata, ranged downloads,
listing, deletes, and resumable uploads that stream piece by piece and resume
from what GCS says it holds. Requests carry a current OAuth2 token, or none
for an emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx2
import orjson

from filegate.errors import (
    FilegateError,
    FileNotFound,
    InvalidRequest,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from filegate.google.auth import GoogleAuth, GoogleTokens
from filegate.records import ByteRange
from filegate.upstream.client import WireClient, _retry_delay

GCS_ENDPOINT = "https://storage.googleapis.com"
# Resumable uploads take pieces in multiples of 256 KiB; GCS suggests 8 MiB or more.
UPLOAD_CHUNK = 32 * 256 * 1024
_TRANSIENT = (UpstreamError, UpstreamTimeout, RateLimited)


def _body(parts: list[bytes]) -> Callable[[], AsyncIterator[bytes]]:
    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    return body


def _take(chunks: deque[bytes], n: int) -> list[bytes]:
    """Remove the first ``n`` bytes from ``chunks``, as chunks."""
    out = []
    while n:
        head = chunks[0]
        if len(head) <= n:
            out.append(chunks.popleft())
            n -= len(head)
        else:
            out.append(head[:n])
            chunks[0] = head[n:]
            n = 0
    return out


def _skip(chunks: list[bytes], n: int) -> list[bytes]:
    """``chunks`` without their first ``n`` bytes."""
    out = []
    for chunk in chunks:
        if n >= len(chunk):
            n -= len(chunk)
            continue
        out.append(chunk[n:] if n else chunk)
        n = 0
    return out


def _persisted(range_header: str | None) -> int:
    """How many bytes an upload session holds, from its ``Range: bytes=0-N`` header."""
    if not range_header:
        return 0
    _, _, end = range_header.partition("-")
    return int(end) + 1 if end.strip().isdigit() else 0


class GCSClient:
    def __init__(
        self,
        name: str,
        *,
        endpoint: str | None,
        credentials: str | Mapping[str, Any] | None,
        token_uri: str | None = None,
        timeout: float = 600.0,
        max_retries: int = 2,
        extra_headers: dict[str, str] | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.max_retries = max_retries
        base = endpoint or GCS_ENDPOINT
        if "://" not in base:
            # STORAGE_EMULATOR_HOST is often given as host:port.
            base = f"http://{base}"
        common: dict[str, Any] = {
            "base_url": base,
            "headers": {"Accept": "application/json", **(extra_headers or {})},
            "timeout": timeout,
            "transport": transport,
        }
        self.wire = WireClient(name, max_retries=max_retries, **common)
        # Upload sessions resume from what GCS says it holds, not by resending blindly.
        self.session_wire = WireClient(name, max_retries=0, **common)
        # An emulator without credentials is spoken to anonymously, as Google's clients do.
        self.tokens: GoogleTokens | None = None
        if credentials is not None or endpoint is None:
            self.tokens = GoogleTokens(credentials, token_uri=token_uri, timeout=min(timeout, 60))
            for wire in (self.wire, self.session_wire):
                wire.client.auth = GoogleAuth(self.tokens)

    @staticmethod
    def object_path(bucket: str, name: str) -> str:
        return f"/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}"

    async def metadata(self, bucket: str, name: str) -> dict[str, Any]:
        return await self.wire.json("GET", self.object_path(bucket, name))

    async def delete(self, bucket: str, name: str) -> None:
        await self.wire.request("DELETE", self.object_path(bucket, name))

    async def list_page(self, bucket: str, **params: Any) -> dict[str, Any]:
        return await self.wire.json(
            "GET", f"/storage/v1/b/{quote(bucket, safe='')}/o", params=params
        )

    async def open(self, bucket: str, name: str, byte_range: ByteRange | None) -> httpx2.Response:
        """A streaming download of the object (or one range of it)."""
        headers = {"Accept-Encoding": "identity", "Accept": "*/*"}
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range.start}-{byte_range.end}"
        return await self.wire.request(
            "GET",
            self.object_path(bucket, name),
            params={"alt": "media"},
            headers=headers,
            stream=True,
        )

    async def upload(
        self, bucket: str, resource: dict[str, Any], chunks: AsyncIterable[bytes]
    ) -> dict[str, Any]:
        """One object by a resumable upload, sent in UPLOAD_CHUNK pieces as bytes arrive."""
        body = orjson.dumps(resource)
        content_type = str(resource.get("contentType") or "application/octet-stream")
        session = None
        try:
            started = await self.wire.request(
                "POST",
                f"/upload/storage/v1/b/{quote(bucket, safe='')}/o",
                params={"uploadType": "resumable", "name": resource["name"]},
                headers={
                    "Content-Type": "application/json; charset=UTF-8",
                    "Content-Length": str(len(body)),
                    "X-Upload-Content-Type": content_type,
                },
                body=_body([body]),
            )
            session = started.headers.get("location")
            if not session:
                raise UpstreamError(f"{self.name}: GCS started no upload session.")
            return await self._send(session, chunks, content_type)
        except Exception as exc:
            if session is not None:
                # An unfinished session leaves no object; ending it frees it sooner.
                with contextlib.suppress(FilegateError):
                    await self._session_call("DELETE", session)
            # A missing bucket or a refused session is the gateway's problem, not
            # the client's; a batch line that cannot be rewritten is the client's.
            if isinstance(exc, FileNotFound) or (
                isinstance(exc, InvalidRequest) and exc.code != "invalid_file"
            ):
                raise UpstreamError(f"{exc.message} (uploading to bucket {bucket})") from None
            raise

    async def _send(
        self, session: str, chunks: AsyncIterable[bytes], content_type: str
    ) -> dict[str, Any]:
        # Pieces are lists of the chunks as they came, never joined: one piece is
        # the most an upload holds (kept until GCS confirms it, for resends).
        pending: deque[bytes] = deque()
        held = offset = 0
        async for chunk in chunks:
            pending.append(chunk)
            held += len(chunk)
            # Strictly more than a piece: the last piece always goes as the final one.
            while held > UPLOAD_CHUNK:
                piece = _take(pending, UPLOAD_CHUNK)
                held -= UPLOAD_CHUNK
                await self._put(session, piece, offset, None, content_type)
                offset += UPLOAD_CHUNK
        doc = await self._put(session, list(pending), offset, offset + held, content_type)
        if doc is None:
            raise UpstreamError(f"{self.name}: GCS did not finish the upload.")
        return doc

    async def _put(
        self, session: str, piece: list[bytes], offset: int, total: int | None, content_type: str
    ) -> dict[str, Any] | None:
        """Send one piece (the last one when ``total`` is given), resuming after failures.

        Returns the object once GCS has it whole, None while more is expected.
        """
        length = sum(len(c) for c in piece)
        size = "*" if total is None else str(total)
        done = 0  # bytes of this piece GCS has confirmed
        attempt = 0
        while True:
            start, count = offset + done, length - done
            span = f"bytes {start}-{start + count - 1}/{size}" if count else f"bytes */{size}"
            headers = {"Content-Range": span, "Content-Type": content_type}
            headers["Content-Length"] = str(count)
            try:
                response = await self._session_call(
                    "PUT", session, headers=headers, body=_body(_skip(piece, done))
                )
            except _TRANSIENT:
                if attempt >= self.max_retries:
                    raise
                await asyncio.sleep(_retry_delay(attempt, None))
                attempt += 1
                # Ask what arrived before sending again.
                response = await self._session_call(
                    "PUT", session, headers={"Content-Range": f"bytes */{size}"}, body=_body([])
                )
            if response.status_code != 308:
                try:
                    doc = orjson.loads(response.content)
                except orjson.JSONDecodeError:
                    raise UpstreamError(f"{self.name}: GCS answered with invalid JSON.") from None
                return doc if isinstance(doc, dict) else {}
            persisted = _persisted(response.headers.get("range"))
            if not offset <= persisted <= offset + length:
                raise UpstreamError(f"{self.name}: the upload session lost bytes; try again.")
            done = persisted - offset
            if done == length and total is None:
                return None
            # GCS kept only part of the piece, or has not finished: send the rest.
            attempt += 1
            if attempt > self.max_retries + 1:
                raise UpstreamError(f"{self.name}: GCS did not take the upload's bytes.")

    async def _session_call(self, method: str, session: str, **kwargs: Any) -> httpx2.Response:
        # The session URI's query (upload_id) must travel as params: the wire
        # client sets a request's query from its params.
        url = httpx2.URL(session)
        return await self.session_wire.request(
            method, str(url.copy_with(query=None)), params=dict(url.params), **kwargs
        )

    async def aclose(self) -> None:
        await self.wire.aclose()
        await self.session_wire.aclose()
        if self.tokens is not None:
            await self.tokens.aclose()
