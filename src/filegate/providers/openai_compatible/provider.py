"""An OpenAI-compatible model server with no Files or Batch API (vLLM, Ollama, TGI, ...).

filegate keeps the files itself and runs the batches (``core/batch_runner.py``); this
adapter only sends one request line at a time, with retries, and answers what came back.

The lines go out through ``upstream.http1``, not the httpx2 client the other providers
use: a batch is thousands of small requests from one process, and on a small machine the
client's CPU per request is the runner's throughput (measured beside each other against
the fake model server: httpx about 900 us a request, aiohttp 105 us, http1 40 us).
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
import urllib.request
from typing import Any, NoReturn

import orjson

from filegate.errors import InvalidRequest
from filegate.providers.base import LineAnswer, ProviderContent, ProviderFile, ProviderPage
from filegate.records import ByteRange, ExpiresAfter
from filegate.upstream.http1 import ConnectionFailed, Http1Pool
from filegate.upstream.meter import BoundMeter
from filegate.upstream.retry import retry_after, worth_retrying

log = logging.getLogger("filegate")

# A 429 storm is normal for a busy model server: lines get more tries than file calls.
MIN_LINE_RETRIES = 5
# An answer body larger than this is not a model's answer; it is cut and reported.
MAX_ANSWER_BYTES = 64 * 1024 * 1024


class OpenAICompatibleProvider:
    """One deployment: ``api_base`` is the server's ``/v1`` (``http://host:8000/v1``)."""

    supports_uploads = False
    supports_batches = False

    def __init__(
        self,
        *,
        name: str,
        api_base: str,
        api_key: str | None = None,
        timeout: float = 600.0,
        max_retries: int = 2,
        batch_concurrency: int = 8,
        max_batches_running: int = 4,
        meter: BoundMeter | None = None,
    ) -> None:
        self.name = name
        self.meter = meter
        self.batch_concurrency = batch_concurrency
        self.max_batches_running = max_batches_running
        self.retries = max(max_retries, MIN_LINE_RETRIES)
        self._headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        # The base path ends without "/v1": a line's url carries it (and a path before
        # it, "http://host/openai/v1", is kept).
        self._base = api_base.rstrip("/").removesuffix("/v1")
        self._timeout = timeout
        self._pool: Http1Pool | None = None

    def _client(self) -> Http1Pool:
        # Made on first use: its connections belong to the running event loop.
        if self._pool is None:
            self._pool = Http1Pool(
                self._base,
                headers=self._headers,
                # As many connections as lines can be in flight, each kept for the next.
                limit=self.batch_concurrency * self.max_batches_running,
                # As httpx's timeout: connecting, and the wait for each read, not the
                # whole answer.
                connect_timeout=min(self._timeout, 10.0),
                read_timeout=self._timeout,
                max_body=MAX_ANSWER_BYTES,
                proxy=_env_proxy(self._base),
            )
        return self._pool

    async def send_line(self, url: str, body: bytes) -> LineAnswer:
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                answer = await self._client().post(url, body)
            except (ConnectionFailed, TimeoutError) as exc:
                timeout = isinstance(exc, TimeoutError)
                self._observe("timeout" if timeout else "error", started, attempt, body, b"")
                if attempt < self.retries:
                    await asyncio.sleep(retry_after(attempt, None))
                    attempt += 1
                    continue
                what = "did not answer in time" if timeout else "could not be reached"
                return LineAnswer(
                    0,
                    error={
                        "code": "upstream_timeout" if timeout else "upstream_unreachable",
                        "message": f"The model server at {self.name!r} {what} "
                        f"({type(exc).__name__}) after {attempt + 1} attempts.",
                    },
                )
            status, headers, raw = answer.status, answer.headers, answer.body
            self._observe(str(status), started, attempt, body, raw)
            if worth_retrying(status, headers) and attempt < self.retries:
                await asyncio.sleep(retry_after(attempt, headers))
                attempt += 1
                continue
            return LineAnswer(status, request_id=headers.get("x-request-id"), body=_body(raw))

    def _observe(self, status: str, started: float, attempt: int, sent: bytes, got: bytes) -> None:
        if self.meter is not None:
            seconds = time.perf_counter() - started
            self.meter.upstream("model.request", status, seconds, retry=attempt > 0)
            self.meter.moved("out", len(sent))
            self.meter.moved("in", len(got))

    # -- no Files API: files for these batches stay in filegate's own store ------------------

    def _no_files(self) -> NoReturn:
        raise InvalidRequest(
            f"Deployment {self.name!r} is a model server without a Files API; keep the file in "
            "filegate's store (custom_llm_provider=filegate) and run the batch there with "
            f"model={self.name!r}.",
            param="custom_llm_provider",
            code="no_files_api",
        )

    def check_purpose(self, purpose: str) -> None:
        self._no_files()

    def check_expires_after(self, expires_after: ExpiresAfter) -> None:
        self._no_files()

    async def create_file(self, source: Any, **kwargs: Any) -> ProviderFile:
        self._no_files()

    async def list_files(self, **kwargs: Any) -> ProviderPage:
        return ProviderPage(data=[], has_more=False)

    async def retrieve_file(self, file_id: str) -> ProviderFile:
        self._no_files()

    async def delete_file(self, file_id: str) -> None:
        self._no_files()

    async def file_content(
        self, file_id: str, byte_range: ByteRange | None = None
    ) -> ProviderContent:
        self._no_files()

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


def _env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (HTTP(S)_PROXY, NO_PROXY), as the
    httpx clients of the other providers use it."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


def _body(raw: bytes) -> Any:
    """The answer as JSON when it is JSON (it goes into the output line as an object)."""
    if len(raw) > MAX_ANSWER_BYTES:
        return raw[:1024].decode("utf-8", "replace")
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")
