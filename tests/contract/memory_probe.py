"""Put and get one big blob in a fresh process; print time and RSS growth as JSON.

Run by the contract suite's memory test: in the test process itself, memory
freed by earlier tests is reused and would hide growth.

    python memory_probe.py URL ENV_JSON SIZE
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import AsyncIterator

import psutil

from filegate.blobstores import open_blobstore

MiB = 1024 * 1024
CHUNK = 64 * 1024


class PeakRSS:
    """Samples this process's resident memory in a thread; ``stop`` gives peak minus start."""

    def __init__(self) -> None:
        self._proc = psutil.Process()
        self.start = self.peak = self._proc.memory_info().rss
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while self._running:
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(0.005)

    def stop(self) -> int:
        self._running = False
        self._thread.join()
        return self.peak - self.start


async def probe(url: str, env: dict[str, str], size: int) -> dict[str, object]:
    store = open_blobstore(url, env)
    block = os.urandom(MiB)
    expected = hashlib.sha256()

    async def big() -> AsyncIterator[bytes]:
        sent = 0
        while sent < size:
            n = min(CHUNK, size - sent)
            offset = sent % MiB
            # A fresh object per chunk, as a server receiving a body makes.
            chunk = bytes(block[offset : offset + n])
            expected.update(chunk)
            sent += n
            yield chunk

    async def once() -> AsyncIterator[bytes]:
        yield b"warm"

    # Warm up clients, pools and runtimes, so the baseline includes them.
    await store.put("file-warm", once())
    async for _ in await store.get("file-warm"):
        pass

    peak = PeakRSS()
    began = time.perf_counter()
    stored = await store.put("file-big", big())
    put_seconds, put_growth = time.perf_counter() - began, peak.stop()

    peak = PeakRSS()
    began = time.perf_counter()
    got, got_size = hashlib.sha256(), 0
    async for chunk in await store.get("file-big"):
        got.update(chunk)
        got_size += len(chunk)
    get_seconds, get_growth = time.perf_counter() - began, peak.stop()

    await store.delete("file-big")
    await store.aclose()
    return {
        "put_ok": stored.size == size and stored.sha256 == expected.hexdigest(),
        "get_ok": got_size == size and got.hexdigest() == expected.hexdigest(),
        "put_seconds": put_seconds,
        "put_growth": put_growth,
        "get_seconds": get_seconds,
        "get_growth": get_growth,
    }


if __name__ == "__main__":
    url, env_json, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(json.dumps(asyncio.run(probe(url, json.loads(env_json), size))), flush=True)
    # obstore's native runtime can abort while the interpreter tears down
    # (SIGABRT after the work is done); the measurement is complete, so skip that.
    os._exit(0)
