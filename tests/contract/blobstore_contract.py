"""The BlobStore contract: one suite, run by a tiny subclass per backend.

A subclass provides the ``spec`` fixture (the URL and environment of a fresh,
empty store) and may add backend-specific tests; everything here must hold for
every backend.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import pytest

from filegate.blobstores import BlobStore, open_blobstore
from filegate.records import ByteRange

MiB = 1024 * 1024
PROBE = Path(__file__).with_name("memory_probe.py")


class StoreSpec(NamedTuple):
    """How to open a store: its URL and the standard variables it needs."""

    url: str
    env: dict[str, str]


class SourceFailed(Exception):
    """What a failing upload source raises."""


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for i in range(0, len(data), size):
        yield bytes(view[i : i + size])


async def failing(good_bytes: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    block = os.urandom(chunk)
    for _ in range(good_bytes // chunk):
        yield block
    raise SourceFailed("the client went away")


async def read(store: BlobStore, key: str, byte_range: ByteRange | None = None) -> bytes:
    return b"".join([chunk async for chunk in await store.get(key, byte_range)])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStoreContract:
    # Sizes of the memory test: big enough that buffering would show.
    BIG = 200 * 1000 * 1000
    MAX_GROWTH = 50 * 1000 * 1000

    @pytest.fixture
    def spec(self) -> StoreSpec:
        raise NotImplementedError("a backend's subclass provides the spec")

    @pytest.fixture
    async def store(self, spec: StoreSpec) -> AsyncIterator[BlobStore]:
        store = open_blobstore(spec.url, spec.env)
        yield store
        await store.aclose()

    @pytest.mark.parametrize(
        ("chunk", "size"),
        [
            (7, 50_000),
            (4096, 1_000_000),
            (64 * 1024, 3_000_000),
            (3 * MiB + 1, 10 * MiB + 5),
            # Ends exactly on a multipart part / resumable chunk boundary.
            (MiB, 16 * MiB),
        ],
    )
    async def test_round_trip(self, store: BlobStore, chunk: int, size: int) -> None:
        data = os.urandom(size)
        stored = await store.put("file-round", chunked(data, chunk))
        assert (stored.size, stored.sha256) == (size, sha256(data))
        assert await read(store, "file-round") == data

    async def test_empty_blob(self, store: BlobStore) -> None:
        stored = await store.put("file-empty", chunked(b"", 1))
        assert (stored.size, stored.sha256) == (0, sha256(b""))
        assert await read(store, "file-empty") == b""

    async def test_empty_chunks_are_harmless(self, store: BlobStore) -> None:
        async def gappy() -> AsyncIterator[bytes]:
            for part in (b"", b"ab", b"", b"c", b""):
                yield part

        assert (await store.put("file-gappy", gappy())).size == 3
        assert await read(store, "file-gappy") == b"abc"

    async def test_20mb_blob(self, store: BlobStore) -> None:
        data = os.urandom(20 * 1000 * 1000)
        stored = await store.put("file-20mb", chunked(data, 256 * 1024))
        assert (stored.size, stored.sha256) == (len(data), sha256(data))
        assert sha256(await read(store, "file-20mb")) == sha256(data)

    async def test_ranges(self, store: BlobStore) -> None:
        data = os.urandom(3 * MiB + 11)
        last = len(data) - 1
        await store.put("file-ranges", chunked(data, 64 * 1024))
        cases = {
            "first byte": (0, 0),
            "last byte": (last, last),
            "middle": (MiB - 5, 2 * MiB + 7),
            "whole": (0, last),
            "tail": (last - 99, last),
        }
        for name, (start, end) in cases.items():
            got = await read(store, "file-ranges", ByteRange(start, end))
            assert got == data[start : end + 1], name

    async def test_missing_key_raises_before_any_byte(self, store: BlobStore) -> None:
        # Raised by the await itself, so a caller can still answer 404.
        with pytest.raises(FileNotFoundError):
            await store.get("file-missing")
        with pytest.raises(FileNotFoundError):
            await store.get("file-missing", ByteRange(0, 9))

    async def test_delete_is_idempotent(self, store: BlobStore) -> None:
        await store.put("file-del", chunked(b"bytes", 2))
        await store.delete("file-del")
        await store.delete("file-del")
        await store.delete("file-never-existed")
        with pytest.raises(FileNotFoundError):
            await store.get("file-del")

    async def test_failing_source_leaves_nothing(self, store: BlobStore) -> None:
        # Past one multipart part / resumable chunk, so a partial upload exists.
        with pytest.raises(SourceFailed):
            await store.put("file-fail", failing(10 * MiB))
        with pytest.raises(FileNotFoundError):
            await store.get("file-fail")

    async def test_failed_overwrite_keeps_the_old_bytes(self, store: BlobStore) -> None:
        await store.put("file-keep", chunked(b"old bytes", 4))
        with pytest.raises(SourceFailed):
            await store.put("file-keep", failing(6 * MiB))
        assert await read(store, "file-keep") == b"old bytes"

    async def test_cancelled_put_leaves_nothing(self, store: BlobStore) -> None:
        gate = asyncio.Event()

        async def stalls() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield os.urandom(MiB)
            await gate.wait()  # the client stops sending
            yield b"never"

        task = asyncio.ensure_future(store.put("file-cancel", stalls()))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
        with pytest.raises(FileNotFoundError):
            await store.get("file-cancel")

    async def test_overwrite_replaces(self, store: BlobStore) -> None:
        # A put over an existing key replaces it whole (last writer wins).
        await store.put("file-over", chunked(b"first version, longer", 5))
        stored = await store.put("file-over", chunked(b"second", 5))
        assert (stored.size, stored.sha256) == (6, sha256(b"second"))
        assert await read(store, "file-over") == b"second"

    async def test_keys_with_dots_dashes_underscores(self, store: BlobStore) -> None:
        keys = ["file-01JABC.part-3", "a.b.c", "x_y-z.jsonl", "9"]
        for key in keys:
            await store.put(key, chunked(key.encode(), 3))
        for key in keys:
            assert await read(store, key) == key.encode()

    @pytest.mark.parametrize("key", ["", "../up", "a/b", ".hidden", "a..b", "sp ace"])
    async def test_unsafe_keys_are_refused(self, store: BlobStore, key: str) -> None:
        with pytest.raises(ValueError):
            await store.put(key, chunked(b"x", 1))

    async def test_check(self, store: BlobStore) -> None:
        await store.check()

    async def test_sweep_incomplete_counts(self, store: BlobStore) -> None:
        assert await store.sweep_incomplete(older_than=3600) >= 0

    async def test_closing_a_read_early(self, store: BlobStore) -> None:
        data = os.urandom(4 * MiB)
        await store.put("file-early", chunked(data, MiB))
        stream = await store.get("file-early")
        first = await anext(stream)
        assert data.startswith(first)
        await stream.aclose()  # type: ignore[attr-defined]
        await store.delete("file-early")

    async def test_parallel_puts(self, store: BlobStore) -> None:
        blobs = {f"file-par-{i}": os.urandom(MiB + i) for i in range(10)}
        results = await asyncio.gather(
            *(store.put(key, chunked(data, 64 * 1024)) for key, data in blobs.items())
        )
        for (key, data), stored in zip(blobs.items(), results, strict=True):
            assert stored.sha256 == sha256(data)
            assert await read(store, key) == data

    def test_memory_stays_flat(self, spec: StoreSpec) -> None:
        """A 200 MB put and get grow RSS by less than 50 MB (measured in a fresh process)."""
        done = subprocess.run(
            [sys.executable, str(PROBE), spec.url, json.dumps(spec.env), str(self.BIG)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (
            f"probe exited {done.returncode}: {done.stderr[-2000:]} {done.stdout[-2000:]}"
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["put_ok"] and result["get_ok"], result
        put_s, get_s = result["put_seconds"], result["get_seconds"]
        put_growth, get_growth = result["put_growth"], result["get_growth"]
        print(
            f"\n{type(self).__name__}: 200 MB put {put_s:.2f} s "
            f"({self.BIG / put_s / 1e6:.0f} MB/s, RSS +{put_growth / 1e6:.1f} MB); "
            f"get {get_s:.2f} s ({self.BIG / get_s / 1e6:.0f} MB/s, "
            f"RSS +{get_growth / 1e6:.1f} MB)"
        )
        assert put_growth < self.MAX_GROWTH, f"put grew RSS by {put_growth / 1e6:.0f} MB"
        assert get_growth < self.MAX_GROWTH, f"get grew RSS by {get_growth / 1e6:.0f} MB"
