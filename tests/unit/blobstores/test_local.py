import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from filegate.blobstores import open_blobstore
from filegate.blobstores.local import LocalBlobStore
from filegate.errors import ConfigError
from filegate.records import ByteRange, Stored


async def gen(*chunks: bytes) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


async def read(store: LocalBlobStore, key: str, r: ByteRange | None = None) -> bytes:
    return b"".join([c async for c in await store.get(key, r)])


async def test_put_get_range_delete(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = os.urandom(3 * 1024 * 1024 + 17)
    parts = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    stored = await store.put("file-A1", gen(*parts))
    assert stored == Stored(len(data), hashlib.sha256(data).hexdigest())
    assert await read(store, "file-A1") == data
    assert await read(store, "file-A1", ByteRange(10, 300_000)) == data[10:300_001]
    assert await read(store, "file-A1", ByteRange(len(data) - 1, len(data) - 1)) == data[-1:]
    await store.delete("file-A1")
    await store.delete("file-A1")  # idempotent
    with pytest.raises(FileNotFoundError):
        await store.get("file-A1")
    assert list((tmp_path / "tmp").iterdir()) == []


async def test_a_scratch_store_without_hashing_keeps_the_same_bytes(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, durable=False, hashing=False)
    data = os.urandom(2 * 1024 * 1024 + 5)
    parts = [data[i : i + 300_000] for i in range(0, len(data), 300_000)]
    assert await store.put("file-S1", gen(*parts)) == Stored(len(data), None)
    assert await read(store, "file-S1") == data


async def test_failed_source_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 2_000_000
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await store.put("file-B1", broken())
    with pytest.raises(FileNotFoundError):
        await store.get("file-B1")
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("key", ["../etc/passwd", "a/b", "", ".hidden", "x" * 300, "a..b"])
async def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(ValueError):
        await store.put(key, gen(b"x"))


async def test_sweep_incomplete_removes_only_old_parts(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    old = tmp_path / "tmp" / "file-C1.abcd.part"
    new = tmp_path / "tmp" / "file-C2.abcd.part"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    past = time.time() - 3600
    os.utime(old, (past, past))
    assert await store.sweep_incomplete(older_than=600) == 1
    assert not old.exists() and new.exists()


async def test_sweep_incomplete_spares_a_live_writer_however_old(tmp_path: Path) -> None:
    """A slow upload's partial file may go unchanged for long; while its writer
    lives (and holds the file), no sweep takes it."""
    store = LocalBlobStore(tmp_path)
    first, rest = os.urandom(2 * 1024 * 1024), os.urandom(1024)
    go_on = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield first  # past one write batch: the partial file exists
        await go_on.wait()
        yield rest

    def partial_file() -> Path:
        while not (found := list((tmp_path / "tmp").glob("file-S1.*.part"))):
            time.sleep(0.01)
        return found[0]

    writing = asyncio.create_task(store.put("file-S1", slow()))
    partial = await asyncio.wait_for(asyncio.to_thread(partial_file), timeout=10)
    past = time.time() - 3 * 3600
    os.utime(partial, (past, past))
    assert await store.sweep_incomplete(older_than=60) == 0
    go_on.set()
    stored = await writing
    assert stored.sha256 == hashlib.sha256(first + rest).hexdigest()
    assert await read(store, "file-S1") == first + rest


async def test_sweep_incomplete_takes_stray_probe_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    old = tmp_path / "tmp" / ".probe.dead"
    old.write_bytes(b"")
    past = time.time() - 3600
    os.utime(old, (past, past))
    fresh = tmp_path / "tmp" / ".probe.live"
    fresh.write_bytes(b"")
    assert await store.sweep_incomplete(older_than=60) == 1
    assert not old.exists() and fresh.exists()


async def test_check(tmp_path: Path) -> None:
    await LocalBlobStore(tmp_path).check()
    assert list((tmp_path / "tmp").iterdir()) == [], "the probe leaves nothing"


def test_open_blobstore_urls(tmp_path: Path) -> None:
    assert isinstance(open_blobstore(f"file://{tmp_path}/a"), LocalBlobStore)
    assert isinstance(open_blobstore(str(tmp_path / "b")), LocalBlobStore)
    for bad in ("ftp://x/y", "file://host/path", "s4://bucket"):
        with pytest.raises(ConfigError, match="storage_url"):
            open_blobstore(bad)


async def test_reader_closed_early_releases_the_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = os.urandom(5 * 1024 * 1024)
    await store.put("file-D1", gen(data))
    stream = await store.get("file-D1")
    first = await anext(stream)
    await stream.aclose()  # a client that went away after the first chunk
    assert first == data[: len(first)]
    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        s = await store.get("file-D1")
        await anext(s)
        await s.aclose()
    await asyncio.sleep(0.2)  # read-ahead threads finish and close their files
    assert len(os.listdir("/proc/self/fd")) <= fds + 1
