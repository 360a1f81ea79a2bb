"""Cut-through to providers: upstream uploads start while the client still sends.

Store-and-forward costs two transfer times; relaying bytes as they arrive
costs one. Each provider target gets a small bounded queue (so a slow
upstream slows the client down instead of filling memory) and an upload whose
Content-Length is the size predicted from the client's own Content-Length.
The bytes are still spooled: a retry reads the finished spool, and a wrong
prediction (the file was not the last part) cancels the relay, which then
falls back to store-and-forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from filegate.core.targets import Target
from filegate.providers.base import UploadSource
from filegate.records import ExpiresAfter

log = logging.getLogger("filegate")
QUEUE_CHUNKS = 8
StartCopy = Callable[[Target, UploadSource, ExpiresAfter | None], Coroutine[Any, Any, None]]


class TeeSource:
    """One target's view of the bytes: live on the first read, the spool after."""

    def __init__(self, size: int, spooled: Callable[[], Awaitable[UploadSource]]) -> None:
        self.size = size
        self._spooled = spooled
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
        self._live = True
        self._reads = 0

    async def feed(self, chunk: bytes | None) -> None:
        if self._live:
            await self._queue.put(chunk)

    def closed(self, _: object) -> None:
        """``close`` as a done-callback of the copy's task."""
        self.close()

    def close(self) -> None:
        """No more live reads: an attempt that ended, or a copy that ended without reading."""
        self._live = False
        # Emptying the queue frees a feeder waiting on it; later feeds are dropped.
        while not self._queue.empty():
            self._queue.get_nowait()

    async def chunks(self) -> AsyncIterator[bytes]:
        self._reads += 1
        if self._reads == 1:
            try:
                while (chunk := await self._queue.get()) is not None:
                    yield chunk
            finally:
                # The attempt is over (done, failed or cancelled).
                self.close()
            return
        # A retry: from the complete spooled copy.
        source = await self._spooled()
        async for chunk in source.chunks():
            yield chunk


class Relay:
    def __init__(
        self,
        targets: list[Target],
        size_hint: Callable[[], int | None],
        expires_after: ExpiresAfter | None,
        start: StartCopy,
    ) -> None:
        self.targets = targets
        self.expires_after = expires_after
        self._size_hint = size_hint
        self._start = start
        self._tees: list[TeeSource] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = asyncio.Event()
        self._spool: UploadSource | None = None

    @property
    def active(self) -> bool:
        return bool(self._tasks)

    def matches(self, targets: list[Target], expires_after: ExpiresAfter | None) -> bool:
        """Whether the copies under way are the ones the finished request asks for."""
        return self.active and targets == self.targets and expires_after == self.expires_after

    async def tee(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        started = False
        async for chunk in chunks:
            if not started:
                started = True
                size = self._size_hint()
                log.debug(
                    "relay to %s: predicted size %s", [t.deployment for t in self.targets], size
                )
                if size is not None:
                    for target in self.targets:
                        tee = TeeSource(size, self._spooled)
                        self._tees.append(tee)
                        task = asyncio.create_task(self._start(target, tee, self.expires_after))
                        # A copy may end (refused upstream) before it reads a
                        # byte; the feeder must not wait on it then.
                        task.add_done_callback(tee.closed)
                        self._tasks.append(task)
            for tee in self._tees:
                await tee.feed(chunk)
            yield chunk
        # Only now, after every check on the stream has passed, may an upstream
        # request complete: a rejected file never exists upstream.
        for tee in self._tees:
            await tee.feed(None)

    async def spooled(self, source: UploadSource) -> None:
        """The spool is complete; a wrong size prediction turns the relay off."""
        if not self.active:
            return
        if source.size != self._tees[0].size:
            log.debug("relay off: predicted %d bytes, got %d", self._tees[0].size, source.size)
            await self.cancel()
            return
        self._spool = source
        self._ready.set()

    async def _spooled(self) -> UploadSource:
        await self._ready.wait()
        assert self._spool is not None
        return self._spool

    async def wait(self) -> None:
        """Wait for every copy; raise the first failure (the others still finish)."""
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._tees.clear()
