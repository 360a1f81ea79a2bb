"""Vertex AI batch output through the provider vs the raw shard, in one run.

A ``predictions.jsonl`` of ``--size-mb`` in Vertex's format (one line in ten failed) is
written to fake-gcs-server; then, each ``--reps`` times, the same bytes are read four ways
by ``VertexAIProvider`` in this process: the raw object (direct), the first
``retrieve_file`` of the output file (the one pass that learns both sizes), the converted
output and error files, and the last MiB of the output as a Range (converted from the
start). The table gives the best time of each, its ratio to direct and this process's RSS
growth; every number goes to JSON. Run: ``python benchmarks/bench_vertex_output.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from _common import HERE, MB, REPO, RssSampler, format_table, new_report, note_end, write_json

sys.path.insert(0, str(REPO))
from filegate.providers.vertex_ai.batch_lines import custom_id_labels
from filegate.providers.vertex_ai.provider import VertexAIProvider
from filegate.records import ByteRange
from tests.integration.gcs_support import running_fake_gcs

BUCKET, PREFIX = "bench-vertex", "bench"


def prediction(i: int, text_bytes: int) -> bytes:
    request = {
        "contents": [{"role": "user", "parts": [{"text": f"question {i}"}]}],
        "labels": custom_id_labels(f"request-{i}"),
    }
    record: dict[str, Any] = {"status": "", "processed_time": "2025-01-01T00:00:00.000+00:00"}
    record["request"] = request
    if i % 10 == 9:
        record["status"] = (
            'Bad Request: {"error": {"code": 400, "message": "Refused.", '
            '"status": "INVALID_ARGUMENT"}}'
        )
    else:
        record["response"] = {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "x" * text_bytes}]},
                    "finishReason": "STOP",
                }
            ],
            "modelVersion": "gemini-2.5-flash",
            "responseId": f"r{i}",
            "usageMetadata": {
                "promptTokenCount": 2,
                "candidatesTokenCount": 40,
                "totalTokenCount": 42,
            },
        }
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


async def predictions(size: int, text_bytes: int) -> AsyncIterator[bytes]:
    sent, i, buf = 0, 0, bytearray()
    while sent + len(buf) < size:
        buf += prediction(i, text_bytes)
        i += 1
        if len(buf) >= MB:
            sent += len(buf)
            yield bytes(buf)
            buf.clear()
    if buf:
        yield bytes(buf)


async def drain(stream: AsyncIterator[bytes]) -> int:
    n = 0
    async for chunk in stream:
        n += len(chunk)
    return n


async def timed(run: Callable[[], Awaitable[int]]) -> tuple[float, int, int]:
    """(seconds, bytes, RSS growth) of one run."""
    with RssSampler(os.getpid()) as rss:
        idle = rss.rss()
        start = time.perf_counter()
        n = await run()
        seconds = time.perf_counter() - start
    return seconds, n, max(0, rss.peak - idle)


async def bench(gcs_url: str, size: int, reps: int, text_bytes: int) -> dict[str, Any]:
    provider = VertexAIProvider(
        gcs_bucket_name=BUCKET, gcs_prefix=PREFIX, storage_endpoint=gcs_url, timeout=600
    )
    try:
        results: dict[str, list[tuple[float, int, int]]] = {}
        for rep in range(reps):
            # A fresh directory each time: the size pass is measured, not its kept answer.
            directory = f"{PREFIX}/batch-output/run{rep}/prediction-model-x"
            name = f"{directory}/predictions.jsonl"
            resource = {"name": name, "contentType": "application/jsonl"}
            doc = await provider.gcs.upload(BUCKET, resource, predictions(size, text_bytes))
            source = int(doc["size"])
            out_id = f"vertex_batch_output:1:gs://{BUCKET}/{directory}"
            err_id = f"vertex_batch_error:1:gs://{BUCKET}/{directory}"

            async def direct(name: str = name) -> int:
                response = await provider.gcs.open(BUCKET, name, None)
                try:
                    return await drain(response.aiter_raw())
                finally:
                    await response.aclose()

            async def size_pass(out_id: str = out_id) -> int:
                return (await provider.retrieve_file(out_id)).bytes

            async def content(file_id: str, byte_range: ByteRange | None = None) -> int:
                return await drain((await provider.file_content(file_id, byte_range)).chunks())

            runs: dict[str, Callable[[], Awaitable[int]]] = {
                "direct (raw shard)": direct,
                "size pass (first retrieve)": size_pass,
                "output file": lambda out_id=out_id: content(out_id),
                "error file": lambda err_id=err_id: content(err_id),
            }
            for label, run in runs.items():
                results.setdefault(label, []).append(await timed(run))
            total = (await provider.retrieve_file(out_id)).bytes
            tail = ByteRange(total - MB, total - 1)
            results.setdefault("last MiB of output (Range)", []).append(
                await timed(lambda out_id=out_id, tail=tail: content(out_id, tail))
            )
            await provider.gcs.delete(BUCKET, name)
        return {"source_bytes": source, "runs": results}
    finally:
        await provider.aclose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mb", type=int, default=200, help="prediction shard size [200]")
    p.add_argument("--reps", type=int, default=3, help="repetitions [3]")
    p.add_argument("--text-bytes", type=int, default=1500, help="answer text per line [1500]")
    p.add_argument("--out", type=Path, default=HERE / "results" / "bench_vertex_output.json")
    args = p.parse_args(argv)
    report = new_report(vars(args) | {"out": str(args.out)})
    with tempfile.TemporaryDirectory() as tmp, running_fake_gcs(Path(tmp) / "gcs.log") as gcs:
        gcs.create_bucket(BUCKET)
        measured = asyncio.run(bench(gcs.url, args.size_mb * MB, args.reps, args.text_bytes))
    source = measured["source_bytes"]
    best = {k: min(v) for k, v in measured["runs"].items()}
    direct = best["direct (raw shard)"][0]
    rows = [
        [
            label,
            f"{seconds:.2f}",
            f"{source / MB / seconds:,.0f}",
            f"{seconds / direct:.2f}",
            f"{n / MB:,.1f}",
            f"{max(r[2] for r in measured['runs'][label]) / MB:,.1f}",
        ]
        for label, (seconds, n, _) in best.items()
    ]
    header = ["read", "best s", "source MB/s", "x direct", "MB out", "max RSS growth MB"]
    print(f"Vertex output, {source / MB:,.0f} MiB shard, best of {args.reps}")
    print(format_table(header, rows))
    report["results"] = {
        k: [{"seconds": s, "bytes": n, "rss_growth_bytes": g} for s, n, g in v]
        for k, v in measured["runs"].items()
    }
    report["source_bytes"] = source
    note_end(report)
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
