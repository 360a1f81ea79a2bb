"""Running the async SDK from synchronous code, with or without a running loop.

The SDK is async underneath. A sync call made where no event loop runs uses
``asyncio.run``. A sync call made inside a running loop (a Jupyter cell, an
async framework calling sync code) cannot start another loop in that thread,
so the coroutine runs on the *portal*: one private event loop in a daemon
thread, created on first use. The caller's thread blocks until the result is
back; the caller's loop is never touched.

Sync streams (``file_content(..., stream=True)``) always live on the portal,
because the open response must outlive the call that opened it; each chunk is
then fetched from the portal on demand, so nothing is buffered.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["Portal", "get_portal", "run_sync", "sync_twin"]

T = TypeVar("T")
P = ParamSpec("P")


class Portal:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self._run, name="filegate-portal", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the portal loop; returns at once."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``factory()`` on the portal loop and wait for its result."""
        if threading.current_thread() is self.thread:
            # Waiting here would block the very loop that must do the work.
            raise RuntimeError("a filegate sync function was called from the SDK's own loop")
        return wait(self.submit(factory()))

    async def acall(self, factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``factory()`` on the portal loop, awaiting it from another loop."""
        return await asyncio.wrap_future(self.submit(factory()))


def wait(future: concurrent.futures.Future[T]) -> T:
    """The future's result; an interrupt (Ctrl-C) while waiting cancels the work."""
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise


_portal: Portal | None = None
_portal_lock = threading.Lock()


def get_portal() -> Portal:
    """The process's portal, started on first use (and again after a fork)."""
    global _portal
    with _portal_lock:
        # A forked child inherits the object but not the thread behind it.
        if _portal is None or _portal.pid != os.getpid():
            _portal = Portal()
        return _portal


def in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run an SDK coroutine to completion from synchronous code."""

    async def main() -> T:
        return await factory()

    if in_running_loop():
        return get_portal().call(main)
    return asyncio.run(main())


def sync_twin(afn: Callable[P, Coroutine[Any, Any, T]], name: str) -> Callable[P, T]:
    """The sync function ``name`` that runs ``afn`` (its docstring and signature kept)."""

    @functools.wraps(afn)
    def fn(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(lambda: afn(*args, **kwargs))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Sync twin of :func:`{afn.__name__}`.\n\n{afn.__doc__}"
    return fn
