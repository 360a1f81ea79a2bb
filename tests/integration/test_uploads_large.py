"""A 2 GiB file through the Uploads API in 64 MiB parts: flat server memory, exact bytes.

The openai SDK's ``upload_file_chunked`` sends the parts from a file on disk; the
server's RSS is sampled throughout the upload, the complete (which streams the 32
parts into one file) and the download, whose bytes are hashed as they arrive.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import struct
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
from support import sdk
from uploads_support import blob_names, blob_path, part_rows

from tests.conftest import RssSampler

MIB = 1024 * 1024
PART = 64 * MIB
PARTS = 32
SIZE = PARTS * PART  # 2 GiB
RSS_BUDGET = 100 * MIB


def write_source(path: Path) -> str:
    """SIZE pseudo-random bytes on disk, never all in memory; return their sha256.

    One random 64 MiB block, with every MiB stamped with its (part, MiB) number, so
    no two MiB of the file are alike and a misplaced or repeated piece changes the hash.
    """
    block = bytearray(os.urandom(PART))
    digest = hashlib.sha256()
    # Hashing and writing both release the GIL: hash in a thread while the block is written.
    with ThreadPoolExecutor(max_workers=1) as pool, path.open("wb") as fh:
        for part in range(PARTS):
            for mib in range(PART // MIB):
                struct.pack_into(">QQ", block, mib * MIB, part, mib)
            hashed = pool.submit(digest.update, block)
            fh.write(block)
            hashed.result()
    return digest.hexdigest()


def idle_rss(pid: int) -> int:
    proc = psutil.Process(pid)
    samples = []
    for _ in range(5):
        samples.append(proc.memory_info().rss)
        time.sleep(0.02)
    return int(statistics.median(samples))


def test_2_gib_in_64_mib_parts(server_factory: Callable[..., Any], tmp_path: Path) -> None:
    srv = server_factory(env={"FILEGATE_LOG_LEVEL": "warning"})
    source = tmp_path / "big.bin"
    timings: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        want = write_source(source)
        timings["generate"] = time.perf_counter() - t0
        assert source.stat().st_size == SIZE
        client = sdk(srv)
        client = client.with_options(timeout=600)
        # Warm the request path once so lazy imports do not count as growth.
        client.files.list()
        baseline = idle_rss(srv.proc.pid)
        with RssSampler(srv.proc.pid) as rss:
            t0 = time.perf_counter()
            upload = client.uploads.upload_file_chunked(
                file=source, mime_type="application/octet-stream", purpose="user_data"
            )
            timings["upload"] = time.perf_counter() - t0
            assert upload.status == "completed" and upload.file is not None
            assert upload.bytes == upload.file.bytes == SIZE
            file_id = upload.file.id
            t0 = time.perf_counter()
            digest = hashlib.sha256()
            received = 0
            with (
                httpx.Client(base_url=srv.base_url, headers=srv.headers, timeout=600) as c,
                c.stream("GET", f"/v1/files/{file_id}/content") as r,
            ):
                assert r.status_code == 200
                assert r.headers["content-length"] == str(SIZE)
                for chunk in r.iter_raw(4 * MIB):
                    digest.update(chunk)
                    received += len(chunk)
            timings["download"] = time.perf_counter() - t0
        growth = rss.peak - baseline
        print(
            f"\n2 GiB upload: generate {timings['generate']:.1f} s, upload+complete "
            f"{timings['upload']:.1f} s, download {timings['download']:.1f} s; server RSS "
            f"idle {baseline / MIB:.0f} MiB, peak {rss.peak / MIB:.0f} MiB, growth "
            f"{growth / MIB:.1f} MiB ({rss.samples} samples)"
        )
        assert received == SIZE
        assert digest.hexdigest() == want
        assert growth < RSS_BUDGET, f"server RSS grew {growth / MIB:.1f} MiB"
        assert rss.samples > 100
        # The 32 parts were dropped once the file was made.
        assert part_rows(srv.data_dir, upload.id) == []
        assert blob_names(srv.data_dir) == {file_id}
        assert blob_path(srv.data_dir, file_id).stat().st_size == SIZE
        assert client.files.delete(file_id).deleted is True
        assert blob_names(srv.data_dir) == set()
    finally:
        # Nothing of this size is left in the temp dirs pytest keeps, whatever happened.
        source.unlink(missing_ok=True)
        srv.stop()
        shutil.rmtree(srv.data_dir, ignore_errors=True)
