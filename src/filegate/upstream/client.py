"""Plumbing shared by clients of upstream HTTP services (providers, Google Cloud Storage).

Policy lives here once: timeouts, retries (``upstream.retry``), the upstream
multipart body with an exact Content-Length, and upstream errors mapped onto
filegate's exception tree (and so onto OpenAI's error envelope). It imports no
provider, so the blob stores may build on it too.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol
from urllib.parse import quote

import httpx2
import orjson

from filegate.errors import (
    AuthError,
    Conflict,
    FilegateError,
    FileNotFound,
    InvalidRequest,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from filegate.upstream.meter import BoundMeter, operation
from filegate.upstream.retry import retry_delay, should_retry

log = logging.getLogger("filegate.providers")

MAX_ERROR_BODY = 64 * 1024
_PASSED_THROUGH: dict[int, type[FilegateError]] = {
    400: InvalidRequest,
    401: AuthError,
    403: PermissionDenied,
    404: FileNotFound,
    409: Conflict,
    422: InvalidRequest,
    429: RateLimited,
}


class SizedSource(Protocol):
    """What a multipart body streams: providers.base.UploadSource, seen from here."""

    size: int

    def chunks(self) -> AsyncIterator[bytes]: ...


def multipart_body(
    fields: list[tuple[str, str]],
    filename: str,
    content_type: str,
    source: SizedSource,
    *,
    field: str = "file",
) -> tuple[str, int, Callable[[], AsyncIterator[bytes]]]:
    """A multipart/form-data body streamed from ``source``, with its exact length.

    The bytes go in form field ``field`` (``file`` for Files, ``data`` for an
    upload part). Returns the Content-Type, the Content-Length and a factory
    that makes a fresh body iterator for each attempt.
    """
    boundary = secrets.token_hex(16)
    head = bytearray()
    for name, value in fields:
        head += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        head += value.encode() + b"\r\n"
    # As browsers do (WHATWG): raw UTF-8 with quotes and line breaks escaped,
    # plus RFC 5987's filename* for servers that prefer it.
    quoted = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{quoted}"; '
        f"filename*=UTF-8''{quote(filename, safe='')}\r\n"
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    head_bytes = bytes(head)

    async def body() -> AsyncIterator[bytes]:
        yield head_bytes
        async for chunk in source.chunks():
            yield chunk
        yield tail

    length = len(head_bytes) + source.size + len(tail)
    return f"multipart/form-data; boundary={boundary}", length, body


def error_message(body: bytes) -> tuple[str | None, str | None, str | None]:
    """(message, code, param) from an OpenAI- or Azure-shaped error body."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return (text[:500] or None), None, None
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        return None, None, None
    message = err.get("message")
    code = err.get("code")
    inner = err.get("inner_error") or err.get("innererror")
    # Azure puts the precise reason in inner_error.code.
    if isinstance(inner, dict) and inner.get("code"):
        code = inner["code"]
    # Google's APIs give the HTTP status as "code" and the reason as "status".
    if isinstance(code, int) and isinstance(err.get("status"), str):
        code = err["status"].lower()
    param = err.get("param")
    return (
        str(message) if message is not None else None,
        str(code) if code is not None else None,
        str(param) if param is not None else None,
    )


def map_status(provider: str, status: int, body: bytes, headers: httpx2.Headers) -> FilegateError:
    message, code, param = error_message(body)
    text = f"{provider}: {message or f'upstream answered HTTP {status}'}"
    cls = _PASSED_THROUGH.get(status)
    error: FilegateError
    if cls is None:
        if status == 504 or status == 408:
            error = UpstreamTimeout(f"{provider}: the upstream timed out (HTTP {status}).")
        else:
            error = UpstreamError(text, code=code or "upstream_error")
    else:
        extra: dict[str, str] = {}
        retry_after = headers.get("retry-after")
        if status == 429 and retry_after:
            extra["Retry-After"] = retry_after
        error = cls(text, param=param, code=code, headers=extra)
    error.upstream_status = status
    return error


class WireClient:
    """An httpx2 client bound to one deployment, with filegate's retry policy."""

    def __init__(
        self,
        provider: str,
        *,
        base_url: str,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
        timeout: float = 600.0,
        max_retries: int = 2,
        trust_env: bool = True,
        transport: httpx2.AsyncBaseTransport | None = None,
        meter: BoundMeter | None = None,
    ) -> None:
        self.provider = provider
        self.max_retries = max_retries
        self.meter = meter
        self.params = params or {}
        self.client = httpx2.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
            # False: proxies come from filegate's settings only, not the environment.
            trust_env=trust_env,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: Callable[[], AsyncIterator[bytes]] | None = None,
        retry_unsafe: bool = True,
        stream: bool = False,
    ) -> httpx2.Response:
        """Send with retries; return a 2xx/3xx response or raise the mapped error.

        ``retry_unsafe=False`` (creates) retries only failures after which the
        upstream cannot have made anything: connection failures and 429/5xx.
        """
        query = {**self.params, **{k: v for k, v in (params or {}).items() if v is not None}}
        meter = self.meter
        attempt = 0
        while True:
            content = body() if body is not None else None
            if meter is not None and content is not None:
                content = _counted(content, meter)
            request = self.client.build_request(
                method, path, params=query, headers=headers, content=content
            )
            started = time.perf_counter()
            try:
                response = await self.client.send(request, stream=True)
            except httpx2.TimeoutException as exc:
                self._observe(request, "timeout", started, attempt)
                # A read timeout on a create may come after the upstream made the file.
                safe = retry_unsafe or isinstance(exc, httpx2.ConnectTimeout | httpx2.PoolTimeout)
                if safe and attempt < self.max_retries:
                    await asyncio.sleep(retry_delay(attempt, None))
                    attempt += 1
                    continue
                raise UpstreamTimeout(
                    f"{self.provider}: the upstream did not answer in time."
                ) from None
            except httpx2.TransportError as exc:
                self._observe(request, "error", started, attempt)
                if attempt < self.max_retries:
                    log.warning(
                        "%s %s %s failed (%s); retrying",
                        self.provider,
                        method,
                        path,
                        type(exc).__name__,
                    )
                    await asyncio.sleep(retry_delay(attempt, None))
                    attempt += 1
                    continue
                raise UpstreamUnreachable(
                    f"{self.provider}: the connection to the upstream failed "
                    f"({type(exc).__name__}).",
                    url=str(request.url.copy_with(query=None)),
                ) from None
            # Latency to the answer's head: a streamed body's pace is the reader's.
            self._observe(request, str(response.status_code), started, attempt)
            if response.status_code < 400:
                if meter is not None:
                    response.stream = _CountedStream(response.stream, meter)
                if not stream:
                    await response.aread()
                return response
            body_bytes = await _read_capped(response)
            await response.aclose()
            if should_retry(response) and attempt < self.max_retries:
                await asyncio.sleep(retry_delay(attempt, response))
                attempt += 1
                continue
            raise map_status(self.provider, response.status_code, body_bytes, response.headers)

    def _observe(self, request: httpx2.Request, status: str, started: float, attempt: int) -> None:
        if self.meter is not None:
            url = request.url
            self.meter.upstream(
                operation(request.method, url.path, url.query.decode("ascii", "replace")),
                status,
                time.perf_counter() - started,
                retry=attempt > 0,
            )

    async def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.request(method, path, **kwargs)
        try:
            doc = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                f"{self.provider}: the upstream answered with invalid JSON."
            ) from None
        if not isinstance(doc, dict):
            raise UpstreamError(f"{self.provider}: the upstream answered with unexpected JSON.")
        return doc

    async def aclose(self) -> None:
        await self.client.aclose()


async def _counted(chunks: AsyncIterator[bytes], meter: BoundMeter) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        meter.moved("out", len(chunk))
        yield chunk


class _CountedStream(httpx2.AsyncByteStream):
    """A response body that reports its bytes as they are read (downloads stream)."""

    def __init__(self, inner: Any, meter: BoundMeter) -> None:
        self.inner, self.meter = inner, meter

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.meter.moved("in", len(chunk))
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _read_capped(response: httpx2.Response) -> bytes:
    if response.is_stream_consumed:
        # A response built from bytes (a mock transport's) holds them already.
        return response.content[:MAX_ERROR_BODY]
    buf = bytearray()
    try:
        async for chunk in response.aiter_raw():
            buf += chunk
            if len(buf) > MAX_ERROR_BODY:
                break
    except httpx2.HTTPError:
        pass
    return bytes(buf[:MAX_ERROR_BODY])
