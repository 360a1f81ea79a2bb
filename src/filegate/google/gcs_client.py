"""The one Google Cloud Storage client: its JSON API over the upstream wire client.

What the Vertex AI provider and the GCS blob store need: object metadata,
ranged downloads, listing, deletes, and resumable uploads that stream piece by
piece and resume from what GCS says it holds. Why not a client library: obstore
speaks GCS's XML API, which no emulator installable here implements, and
gcloud-aio-storage uploads from a seekable file of known length, not from a
stream. Requests carry a current OAuth2 token (``google.tokens``), or none for
an emulator. Failures are filegate's upstream errors (``upstream.client``),
each with the status GCS answered; a caller with other errors maps them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import httpx2
import orjson

from filegate.errors import FilegateError, FileNotFound, InvalidRequest, UpstreamError
from filegate.google.tokens import GoogleAuth, GoogleTokens
from filegate.records import ByteRange
from filegate.upstream.client import WireClient
from filegate.upstream.meter import BoundMeter
from filegate.upstream.retry import is_transient, retry_delay

GCS_ENDPOINT = "https://storage.googleapis.com"
# Resumable uploads take pieces in multiples of 256 KiB; GCS suggests 8 MiB or more.
UPLOAD_CHUNK = 32 * 256 * 1024
# An abandoned session is cancelled within this many seconds, or left to expire.
CANCEL_TIMEOUT = 10.0


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
        tokens: GoogleTokens | None,
        timeout: float = 600.0,
        max_retries: int = 2,
        extra_headers: dict[str, str] | None = None,
        trust_env: bool = True,
        transport: httpx2.AsyncBaseTransport | None = None,
        meter: BoundMeter | None = None,
    ) -> None:
        self.name = name
        self.max_retries = max_retries
        base = endpoint or GCS_ENDPOINT
        if "://" not in base:
            # STORAGE_EMULATOR_HOST is often given as host:port.
            base = f"http://{base}"
        self.endpoint = base
        common: dict[str, Any] = {
            "base_url": base,
            "headers": {"Accept": "application/json", **(extra_headers or {})},
            "timeout": timeout,
            "trust_env": trust_env,
            "transport": transport,
            "meter": meter,
        }
        self.wire = WireClient(name, max_retries=max_retries, **common)
        # Upload sessions resume from what GCS says it holds, not by resending blindly.
        self.session_wire = WireClient(name, max_retries=0, **common)
        # Without tokens (an emulator) requests go anonymously, as Google's clients send them.
        self.tokens = tokens
        if tokens is not None:
            for wire in (self.wire, self.session_wire):
                wire.client.auth = GoogleAuth(tokens)

    @staticmethod
    def object_path(bucket: str, name: str) -> str:
        return f"/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}"

    async def metadata(self, bucket: str, name: str) -> dict[str, Any]:
        return await self.wire.json("GET", self.object_path(bucket, name))

    async def patch_metadata(
        self, bucket: str, name: str, metadata: dict[str, str]
    ) -> dict[str, Any]:
        """Merge ``metadata`` into the object's custom metadata (its bytes are untouched)."""
        body = orjson.dumps({"metadata": metadata})
        return await self.wire.json(
            "PATCH",
            self.object_path(bucket, name),
            headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
            body=_body([body]),
        )

    async def delete(self, bucket: str, name: str) -> None:
        await self.wire.request("DELETE", self.object_path(bucket, name))

    async def list_page(self, bucket: str, *, once: bool = False, **params: Any) -> dict[str, Any]:
        """One page of a listing (``once``: not retried, for health checks)."""
        wire = self.session_wire if once else self.wire
        return await wire.json("GET", f"/storage/v1/b/{quote(bucket, safe='')}/o", params=params)

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
        except BaseException as exc:
            if session is not None:
                # An unfinished session leaves no object; ending it frees it sooner.
                await asyncio.shield(self._cancel(session))
            # A missing bucket or a refused session is the gateway's problem, not
            # the client's; a batch line that cannot be rewritten is the client's.
            if isinstance(exc, FileNotFound) or (
                isinstance(exc, InvalidRequest) and exc.code != "invalid_file"
            ):
                error = UpstreamError(f"{exc.message} (uploading to bucket {bucket})")
                error.upstream_status = exc.upstream_status
                raise error from None
            raise

    async def _cancel(self, session: str) -> None:
        # Best effort: sessions left behind expire on Google's side after a week.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CANCEL_TIMEOUT):
                await self._session_call("DELETE", session)

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
        Sends that fail, or that GCS keeps nothing of, count against max_retries;
        a send of which GCS kept only part goes on from there.
        """
        length = sum(len(c) for c in piece)
        size = "*" if total is None else str(total)
        done = 0  # bytes of this piece GCS has confirmed
        failures = 0
        while True:
            start, count = offset + done, length - done
            span = f"bytes {start}-{start + count - 1}/{size}" if count else f"bytes */{size}"
            headers = {"Content-Range": span, "Content-Type": content_type}
            headers["Content-Length"] = str(count)
            failed = False
            try:
                response = await self._session_call(
                    "PUT", session, headers=headers, body=_body(_skip(piece, done))
                )
            except FilegateError as exc:
                if not is_transient(exc) or failures >= self.max_retries:
                    raise
                await asyncio.sleep(retry_delay(failures))
                failures += 1
                failed = True
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
            if persisted - offset == length and total is None:
                return None
            if persisted - offset <= done and not failed:
                # GCS took nothing of what was sent: do not loop forever.
                failures += 1
                if failures > self.max_retries:
                    raise UpstreamError(f"{self.name}: GCS did not take the upload's bytes.")
            done = persisted - offset

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
