"""Benchmark the Uploads API: a large file in parts vs one multipart POST vs the floor.

    python benchmarks/bench_uploads.py [--size-mb 2048] [--part-mb 64] [--parallel 4]
                                       [--reps 1] [--out benchmarks/results/uploads.json]

Starts ``filegate serve`` (fresh temp data dir, FILEGATE_MAX_FILE_SIZE raised above the
file) and ``benchmarks/floor_sink.py``, writes one random file and its parts to disk, and
moves the same bytes four ways, every one with ``curl`` streaming from disk:

- floor: ``POST /upload`` of the raw file to the floor sink (the least this stack can do);
- POST /v1/files: one multipart upload of the whole file;
- Uploads API, sequential: ``POST /v1/uploads``, each part ``POST .../parts`` one after
  the other (as the openai SDK's ``upload_file_chunked`` does), ``POST .../complete``;
- Uploads API, parallel: the same with ``--parallel`` parts in flight at once.

For each: wall time, MiB/s, the server's CPU seconds, and its RSS (idle before, peak
during, growth) sampled every 20 ms; for the Uploads API also the parts and complete
phases apart. Every stored file is checked (bytes, and the catalog's sha256 against the
source's) and deleted before the next run. Prints a table, writes every number to JSON,
and stops what it started. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import (
    MB,
    Rates,
    Server,
    Transfer,
    add_output_args,
    check_alive,
    curl_timed,
    floor_upload,
    format_table,
    guarded_run,
    idle_rss,
    measure,
    new_report,
    note_end,
    start_filegate,
    start_floor,
    temp_base,
    tools_ok,
    upload_form,
    write_json,
)

# Issue 7 sets no speed target for the Uploads API; memory is the one bound it names.
TARGET_RSS_GROWTH_MB = 100.0


# --------------------------------------------------------------------------- setup


def make_source(root: Path, size: int, part_size: int) -> tuple[Path, list[Path], str]:
    """A random file and the same bytes cut into part files; return both and the sha256.

    Written in 4 MiB blocks, never all in memory, and fsynced so the runs start from the
    same state.
    """
    big = root / "big.bin"
    parts: list[Path] = []
    digest = hashlib.sha256()
    block = 4 * MB
    with big.open("wb") as whole:
        left, index = size, 0
        while left > 0:
            path = root / f"part-{index:04d}.bin"
            n = min(part_size, left)
            with path.open("wb") as part:
                done = 0
                while done < n:
                    data = os.urandom(min(block, n - done))
                    digest.update(data)
                    whole.write(data)
                    part.write(data)
                    done += len(data)
                part.flush()
                os.fsync(part.fileno())
            parts.append(path)
            left -= n
            index += 1
        whole.flush()
        os.fsync(whole.fileno())
    return big, parts, digest.hexdigest()


def stored_sha256(filegate: Server, file_id: str) -> str:
    """The sha256 filegate recorded for a file (read from its catalog, no extra I/O)."""
    with sqlite3.connect(filegate.data_dir / "catalog.db", timeout=30) as conn:
        row = conn.execute("SELECT sha256 FROM files WHERE id = ?", (file_id,)).fetchone()
    if row is None:
        raise RuntimeError(f"{file_id} is not in filegate's catalog")
    return str(row[0])


# --------------------------------------------------------------------------- runs


@dataclass
class Run(Rates):
    """One way of moving the file: its time and what the server spent on it."""

    method: str
    rep: int
    seconds: float
    bytes: int
    rss_idle_mb: float
    rss_peak_mb: float
    rss_growth_mb: float
    rss_samples: int
    cpu_user_s: float
    cpu_sys_s: float
    parts_seconds: float | None = None
    complete_seconds: float | None = None
    parts: int = 0
    file_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def from_transfer(method: str, t: Transfer) -> Run:
    return Run(
        method=method,
        rep=t.rep,
        seconds=t.seconds,
        bytes=t.bytes,
        rss_idle_mb=t.rss_idle_mb,
        rss_peak_mb=t.rss_peak_mb,
        rss_growth_mb=t.rss_growth_mb,
        rss_samples=t.rss_samples,
        cpu_user_s=t.cpu_user_s,
        cpu_sys_s=t.cpu_sys_s,
    )


def run_floor(floor: Server, big: Path, size: int, rep: int) -> Run:
    target = floor.data_dir / "big.bin"
    target.unlink(missing_ok=True)
    t, _ = curl_timed(
        floor,
        "upload",
        rep,
        floor_upload(floor, big, "big.bin"),
        size,
    )
    if target.stat().st_size != size:
        raise RuntimeError(f"the floor stored {target.stat().st_size} bytes, expected {size}")
    target.unlink()
    return from_transfer("floor", t)


def run_multipart(filegate: Server, big: Path, size: int, sha256: str, rep: int) -> Run:
    t, body = curl_timed(
        filegate,
        "upload",
        rep,
        upload_form(filegate, big),
        size,
    )
    run = from_transfer("multipart", t)
    record = json.loads(body)
    run.file_id = str(record["id"])
    check_and_delete(filegate, run.file_id, record.get("bytes"), size, sha256)
    return run


def check_and_delete(
    filegate: Server, file_id: str, got_bytes: object, size: int, sha256: str
) -> None:
    if got_bytes != size:
        raise RuntimeError(f"filegate stored {got_bytes} bytes, expected {size}")
    if stored_sha256(filegate, file_id) != sha256:
        raise RuntimeError(f"{file_id}: sha256 differs from the source's")
    r = httpx.delete(f"{filegate.base_url}/v1/files/{file_id}", headers=filegate.headers)
    r.raise_for_status()


def curl_part(filegate: Server, upload_id: str, path: Path) -> str:
    """POST one part with curl (streamed from disk) and return its id."""
    cmd = ["curl", "-sS", "--max-time", "1800", "-w", "\n%{http_code}"]
    for name, value in filegate.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd += [
        "-F",
        f"data=@{path};filename=upload;type=application/octet-stream",
        f"{filegate.base_url}/v1/uploads/{upload_id}/parts",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1900)
    body, _, code = out.stdout.rpartition("\n")
    if out.returncode != 0 or code != "200":
        raise RuntimeError(f"part {path.name}: curl {out.returncode}, HTTP {code}: {body[:300]}")
    return str(json.loads(body)["id"])


def run_uploads(
    filegate: Server, parts: list[Path], size: int, sha256: str, parallel: int, rep: int
) -> Run:
    method = "uploads_sequential" if parallel == 1 else f"uploads_parallel_{parallel}"
    with (
        measure(filegate.pid) as usage,
        httpx.Client(base_url=filegate.base_url, headers=filegate.headers, timeout=1800) as http,
    ):
        t0 = time.perf_counter()
        r = http.post(
            "/v1/uploads",
            json={
                "filename": "big.bin",
                "purpose": "user_data",
                "bytes": size,
                "mime_type": "application/octet-stream",
            },
        )
        r.raise_for_status()
        upload_id = str(r.json()["id"])

        def send(path: Path) -> str:
            return curl_part(filegate, upload_id, path)

        if parallel == 1:
            part_ids = [send(p) for p in parts]
        else:
            with ThreadPoolExecutor(max_workers=parallel) as pool:
                part_ids = list(pool.map(send, parts))
        t1 = time.perf_counter()
        r = http.post(f"/v1/uploads/{upload_id}/complete", json={"part_ids": part_ids})
        t2 = time.perf_counter()
        if r.status_code != 200:
            raise RuntimeError(f"complete gave HTTP {r.status_code}: {r.text[:500]}")
    done = r.json()
    run = Run(
        method=method,
        rep=rep,
        seconds=t2 - t0,
        bytes=size,
        **usage.fields(),
        parts_seconds=t1 - t0,
        complete_seconds=t2 - t1,
        parts=len(part_ids),
        file_id=str(done["file"]["id"]),
        extra={"upload_id": upload_id, "parallel": parallel},
    )
    if done["status"] != "completed":
        raise RuntimeError(f"upload ended {done['status']}")
    check_and_delete(filegate, run.file_id or "", done["file"]["bytes"], size, sha256)
    return run


# --------------------------------------------------------------------------- report

LABELS = {
    "floor": "floor: raw POST (floor_sink)",
    "multipart": "POST /v1/files, one multipart",
}


def label(method: str, part_mb: int) -> str:
    if method in LABELS:
        return LABELS[method]
    if method == "uploads_sequential":
        return f"Uploads API, {part_mb} MiB parts, sequential"
    return f"Uploads API, {part_mb} MiB parts, {method.rsplit('_', 1)[1]} parallel"


HEADER = ("operation", "best s", "median s", "MiB/s", "vs floor", "CPU s", "peak RSS", "growth")


def summarize(
    runs: list[Run], methods: Sequence[str], part_mb: int
) -> tuple[list[list[str]], dict[str, Any]]:
    rows: list[list[str]] = []
    summary: dict[str, Any] = {"methods": {}, "targets": {}}
    floor_best = min((r.seconds for r in runs if r.method == "floor"), default=None)
    for method in methods:
        mine = [r for r in runs if r.method == method]
        if not mine:
            continue
        best = min(r.seconds for r in mine)
        median = statistics.median(r.seconds for r in mine)
        cpu = statistics.median(r.cpu_s for r in mine)
        peak = max(r.rss_peak_mb for r in mine)
        growth = max(r.rss_growth_mb for r in mine)
        ratio = best / floor_best if floor_best else None
        rows.append(
            [
                label(method, part_mb),
                f"{best:.2f}",
                f"{median:.2f}",
                f"{mine[0].bytes / MB / best:,.0f}",
                f"{ratio:.2f}x" if ratio is not None else "",
                f"{cpu:.2f}",
                f"{peak:.0f} MiB",
                f"{growth:.1f} MiB",
            ]
        )
        entry: dict[str, Any] = {
            "best_s": best,
            "median_s": median,
            "mib_per_s_best": mine[0].bytes / MB / best,
            "ratio_to_floor_best": ratio,
            "cpu_s_median": cpu,
            "peak_rss_mb": peak,
            "rss_growth_mb": growth,
        }
        if mine[0].parts_seconds is not None:
            parts_best = min(r.parts_seconds or 0.0 for r in mine)
            complete_best = min(r.complete_seconds or 0.0 for r in mine)
            rows.append(
                [
                    f"  of which {mine[0].parts} parts",
                    f"{parts_best:.2f}",
                    f"{statistics.median(r.parts_seconds or 0.0 for r in mine):.2f}",
                    f"{mine[0].bytes / MB / parts_best:,.0f}",
                    "",
                    "",
                    "",
                    "",
                ]
            )
            rows.append(
                [
                    "  of which complete (assembly)",
                    f"{complete_best:.2f}",
                    f"{statistics.median(r.complete_seconds or 0.0 for r in mine):.2f}",
                    f"{mine[0].bytes / MB / complete_best:,.0f}",
                    "",
                    "",
                    "",
                    "",
                ]
            )
            entry["parts_best_s"] = parts_best
            entry["complete_best_s"] = complete_best
        summary["methods"][method] = entry
        if method != "floor":
            summary["targets"][f"{method}_rss_growth_mb"] = {
                "value": growth,
                "target": f"< {TARGET_RSS_GROWTH_MB}",
                "pass": growth < TARGET_RSS_GROWTH_MB,
            }
    return rows, summary


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--size-mb", type=int, default=2048, help="file size in MiB [2048]")
    p.add_argument("--part-mb", type=int, default=64, help="part size in MiB, at most 64 [64]")
    p.add_argument("--parallel", type=int, default=4, help="parts in flight at once [4]")
    p.add_argument("--reps", type=int, default=1, help="repetitions of each method [1]")
    add_output_args(p, "uploads")
    args = p.parse_args(argv)
    if not 1 <= args.part_mb <= 64:
        p.error("--part-mb must be 1 to 64 (the Uploads API's part limit)")
    if args.parallel < 2:
        p.error("--parallel must be at least 2 (the sequential run is always made)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    size, part_size = args.size_mb * MB, args.part_mb * MB
    if not tools_ok(None, "it sends every upload"):
        return 2
    # The file, its parts, filegate's parts and assembled file, the floor's copy, a margin.
    base = temp_base(args.tmp_dir, 5 * size + 512 * MB)
    if base is None:
        return 2

    root = Path(tempfile.mkdtemp(prefix="filegate-bench-uploads-", dir=base))
    methods = ["floor", "multipart", "uploads_sequential", f"uploads_parallel_{args.parallel}"]
    report = new_report(
        {
            "size_bytes": size,
            "part_bytes": part_size,
            "parallel": args.parallel,
            "reps": args.reps,
            "client": "curl (every body streamed from disk)",
            "tmp_dir": str(base),
        }
    )
    print(f"uploads benchmark: temp dir {root}")
    ok = False
    with guarded_run(root) as servers:
        print(f"writing a {args.size_mb} MiB random file and its parts ...", end="", flush=True)
        t0 = time.perf_counter()
        big, parts, sha256 = make_source(root, size, part_size)
        print(f" {time.perf_counter() - t0:.1f} s ({len(parts)} parts)", flush=True)
        filegate = start_filegate(root, max_file_size=size + 64 * MB)
        servers.append(filegate)
        floor = start_floor(root)
        servers.append(floor)
        report["idle_rss_mb"] = {
            "filegate": idle_rss(filegate.pid) / MB,
            "floor": idle_rss(floor.pid) / MB,
        }
        runners: dict[str, Callable[[int], Run]] = {
            "floor": lambda rep: run_floor(floor, big, size, rep),
            "multipart": lambda rep: run_multipart(filegate, big, size, sha256, rep),
            "uploads_sequential": lambda rep: run_uploads(filegate, parts, size, sha256, 1, rep),
            methods[3]: lambda rep: run_uploads(filegate, parts, size, sha256, args.parallel, rep),
        }
        runs: list[Run] = []
        # Interleaved, and each repetition starts with the next method, so a slow
        # phase of a noisy machine (or the disk still flushing) hits every method.
        for rep in range(1, args.reps + 1):
            shift = (rep - 1) % len(methods)
            for method in methods[shift:] + methods[:shift]:
                run = runners[method](rep)
                runs.append(run)
                phases = (
                    f" (parts {run.parts_seconds:.2f} s + complete {run.complete_seconds:.2f} s)"
                    if run.parts_seconds is not None and run.complete_seconds is not None
                    else ""
                )
                print(
                    f"  rep {rep} {label(method, args.part_mb):45s} {run.seconds:7.2f} s "
                    f"{run.mb_per_s:6.0f} MiB/s  RSS +{run.rss_growth_mb:5.1f} MiB{phases}",
                    flush=True,
                )
        check_alive(servers)
        rows, summary = summarize(runs, methods, args.part_mb)
        report["runs"] = [asdict(r) | {"mib_per_s": r.mb_per_s, "cpu_s": r.cpu_s} for r in runs]
        report["summary"] = summary
        report["table"] = rows
        note_end(report, say_head_moved=False)
        print()
        print(format_table(HEADER, rows))
        verdicts = [t["pass"] for t in summary["targets"].values()]
        print()
        print(
            f"server RSS growth < {TARGET_RSS_GROWTH_MB:.0f} MiB: "
            f"{sum(verdicts)}/{len(verdicts)} PASS"
        )
        write_json(args.out, report)
        print(f"results written to {args.out}")
        ok = True
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
