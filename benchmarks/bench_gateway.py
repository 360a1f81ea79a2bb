"""Benchmark filegate against the floor (a minimal streaming sink) in one run.

    python benchmarks/bench_gateway.py [--size-mb 1024] [--duration 10]
                                       [--out benchmarks/results/gateway.json]

Starts a real ``filegate serve`` process and ``benchmarks/floor_sink.py`` on
fresh temp directories, measures small-request throughput with ``wrk`` (or an
asyncio httpx client when wrk is missing) and large uploads and downloads with
``curl`` while sampling each server's RSS, prints a table of filegate vs floor
with PASS/FAIL beside the targets of issue 2, writes every number to JSON, and
stops what it started. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
from _common import (
    MB,
    LoadResult,
    Server,
    Transfer,
    add_client_arg,
    add_load_args,
    add_output_args,
    best_median,
    check_alive,
    curl_timed,
    floor_upload,
    format_table,
    guarded_run,
    idle_rss,
    make_big_file,
    measure_load,
    new_report,
    note_end,
    pick_client,
    small_requests_json,
    start_filegate,
    start_floor,
    targets_line,
    temp_base,
    tools_ok,
    upload_form,
    write_json,
)

# Targets from issue 2 ("Tests and proof", benchmarks/).
TARGET_RETRIEVE_RPS = 1500.0
TARGET_TRANSFER_RATIO = 1.5
TARGET_RSS_GROWTH_MB = 50.0


# --------------------------------------------------------------------------- large transfers


def run_transfers(
    filegate: Server, floor: Server, big: Path, size: int, reps: int
) -> list[Transfer]:
    results: list[Transfer] = []
    fg_id: str | None = None
    floor_name = "big.bin"
    floor_path = floor.data_dir / floor_name
    # Interleave the two servers so slow phases of a noisy machine hit both.
    for rep in range(1, reps + 1):
        if fg_id is not None:
            httpx.delete(f"{filegate.base_url}/v1/files/{fg_id}", headers=filegate.headers)
        t, body = curl_timed(
            filegate,
            "upload",
            rep,
            upload_form(filegate, big),
            size,
        )
        record = json.loads(body)
        if record.get("bytes") != size:
            raise RuntimeError(f"filegate stored {record.get('bytes')} bytes, expected {size}")
        fg_id = str(record["id"])
        results.append(t)
        print(
            f"  upload   rep {rep}: filegate {t.seconds:7.2f} s ({t.mb_per_s:6.0f} MiB/s)", end=""
        )
        floor_path.unlink(missing_ok=True)
        t, _ = curl_timed(
            floor,
            "upload",
            rep,
            floor_upload(floor, big, floor_name),
            size,
        )
        results.append(t)
        print(f" | floor {t.seconds:7.2f} s ({t.mb_per_s:6.0f} MiB/s)", flush=True)
    for rep in range(1, reps + 1):
        t, _ = curl_timed(
            filegate, "download", rep, [f"{filegate.base_url}/v1/files/{fg_id}/content"], size
        )
        results.append(t)
        print(
            f"  download rep {rep}: filegate {t.seconds:7.2f} s ({t.mb_per_s:6.0f} MiB/s)", end=""
        )
        t, _ = curl_timed(floor, "download", rep, [f"{floor.base_url}/download/{floor_name}"], size)
        results.append(t)
        print(f" | floor {t.seconds:7.2f} s ({t.mb_per_s:6.0f} MiB/s)", flush=True)
    return results


# --------------------------------------------------------------------------- report


def summarize(
    small: dict[str, LoadResult], transfers: list[Transfer], list_files: int
) -> tuple[list[list[str]], dict[str, Any]]:
    rows: list[list[str]] = []
    summary: dict[str, Any] = {"targets": {}}

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    if small:
        fg_triv, fl_triv = small["filegate_trivial"], small["floor_trivial"]
        rows.append(
            [
                "trivial GET req/s (liveliness | /ping)",
                f"{fg_triv.rps:,.0f}",
                f"{fl_triv.rps:,.0f}",
                f"{fg_triv.rps / fl_triv.rps:.2f}x",
                "",
                "",
            ]
        )
        listed = f"list ?limit=20 ({list_files} files)"
        for key, label in (("retrieve", "retrieve"), ("list", listed)):
            r = small[key]
            ok = r.rps >= TARGET_RETRIEVE_RPS
            is_retrieve = key == "retrieve"
            rows.append(
                [
                    f"{label} req/s",
                    f"{r.rps:,.0f}",
                    f"{fl_triv.rps:,.0f} (ping)",
                    f"{r.rps / fl_triv.rps:.2f}x",
                    f">= {TARGET_RETRIEVE_RPS:,.0f}" if is_retrieve else "",
                    verdict(ok) if is_retrieve else "",
                ]
            )
            rows.append(
                [
                    f"{label} p50 / p99 ms",
                    f"{r.p50_ms:.2f} / {r.p99_ms:.2f}",
                    f"{fl_triv.p50_ms:.2f} / {fl_triv.p99_ms:.2f}",
                    "",
                    "",
                    "",
                ]
            )
            if is_retrieve:
                summary["targets"]["retrieve_rps"] = {
                    "value": r.rps,
                    "target": f">= {TARGET_RETRIEVE_RPS}",
                    "pass": ok,
                }
            if r.errors:
                rows.append([f"  {label}: {r.errors} errors / non-2xx!", "", "", "", "", ""])

    for op in ("upload", "download"):
        fg = [t for t in transfers if t.server == "filegate" and t.op == op]
        fl = [t for t in transfers if t.server == "floor" and t.op == op]
        if not fg or not fl:
            continue
        size_label = f"{fg[0].bytes / MB:,.0f} MiB"
        fg_best, fg_med = best_median([t.seconds for t in fg])
        fl_best, fl_med = best_median([t.seconds for t in fl])
        ratio_best, ratio_med = fg_best / fl_best, fg_med / fl_med
        ok = ratio_best <= TARGET_TRANSFER_RATIO
        rows.append(
            [
                f"{op} {size_label} best s",
                f"{fg_best:.2f}",
                f"{fl_best:.2f}",
                f"{ratio_best:.2f}x",
                f"<= {TARGET_TRANSFER_RATIO}x",
                verdict(ok),
            ]
        )
        rows.append(
            [
                f"{op} {size_label} median s",
                f"{fg_med:.2f}",
                f"{fl_med:.2f}",
                f"{ratio_med:.2f}x",
                "",
                "",
            ]
        )
        rows.append(
            [
                f"{op} best MiB/s",
                f"{fg[0].bytes / MB / fg_best:,.0f}",
                f"{fl[0].bytes / MB / fl_best:,.0f}",
                "",
                "",
                "",
            ]
        )
        fg_cpu = statistics.median(t.cpu_s for t in fg)
        fl_cpu = statistics.median(t.cpu_s for t in fl)
        fg_user = statistics.median(t.cpu_user_s for t in fg)
        fl_user = statistics.median(t.cpu_user_s for t in fl)
        rows.append(
            [
                f"{op} server CPU s, median (user)",
                f"{fg_cpu:.2f} ({fg_user:.2f})",
                f"{fl_cpu:.2f} ({fl_user:.2f})",
                f"{fg_cpu / fl_cpu:.2f}x" if fl_cpu else "",
                "",
                "",
            ]
        )
        fg_peak = max(t.rss_peak_mb for t in fg)
        fl_peak = max(t.rss_peak_mb for t in fl)
        fg_growth = max(t.rss_growth_mb for t in fg)
        fl_growth = max(t.rss_growth_mb for t in fl)
        rss_ok = fg_growth < TARGET_RSS_GROWTH_MB
        rows.append([f"{op} server peak RSS MiB", f"{fg_peak:.0f}", f"{fl_peak:.0f}", "", "", ""])
        rows.append(
            [
                f"{op} RSS growth over idle MiB",
                f"{fg_growth:.1f}",
                f"{fl_growth:.1f}",
                "",
                f"< {TARGET_RSS_GROWTH_MB:.0f}",
                verdict(rss_ok),
            ]
        )
        summary[op] = {
            "filegate_best_s": fg_best,
            "filegate_median_s": fg_med,
            "floor_best_s": fl_best,
            "floor_median_s": fl_med,
            "ratio_best": ratio_best,
            "ratio_median": ratio_med,
            "filegate_cpu_s_median": fg_cpu,
            "floor_cpu_s_median": fl_cpu,
            "filegate_cpu_user_s_median": fg_user,
            "floor_cpu_user_s_median": fl_user,
            "filegate_peak_rss_mb": fg_peak,
            "floor_peak_rss_mb": fl_peak,
            "filegate_rss_growth_mb": fg_growth,
            "floor_rss_growth_mb": fl_growth,
        }
        summary["targets"][f"{op}_ratio"] = {
            "value": ratio_best,
            "target": f"<= {TARGET_TRANSFER_RATIO}",
            "pass": ok,
        }
        summary["targets"][f"{op}_rss_growth_mb"] = {
            "value": fg_growth,
            "target": f"< {TARGET_RSS_GROWTH_MB}",
            "pass": rss_ok,
        }
    return rows, summary


HEADER = ("operation", "filegate", "floor", "ratio", "target", "verdict")


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--size-mb", type=int, default=1024, help="large file size in MiB [1024]")
    add_load_args(p)
    p.add_argument("--list-files", type=int, default=100, help="files stored for list [100]")
    add_client_arg(p)
    p.add_argument("--skip-small", action="store_true", help="skip the small-request phase")
    p.add_argument("--skip-large", action="store_true", help="skip the large-transfer phase")
    add_output_args(p, "gateway")
    return p.parse_args(argv)


def small_phase(
    filegate: Server, floor: Server, args: argparse.Namespace, client: str
) -> dict[str, LoadResult]:
    with httpx.Client(base_url=filegate.base_url, headers=filegate.headers, timeout=30) as http:
        first_id = ""
        for i in range(max(1, args.list_files)):
            r = http.post(
                "/v1/files",
                data={"purpose": "user_data"},
                files={"file": (f"small-{i}.txt", b"hello filegate\n" * 4, "text/plain")},
            )
            r.raise_for_status()
            first_id = first_id or str(r.json()["id"])
        for path in (f"/v1/files/{first_id}", "/v1/files?limit=20"):
            http.get(path).raise_for_status()

    targets = {
        "filegate_trivial": (filegate, "/health/liveliness"),
        "floor_trivial": (floor, "/ping"),
        "retrieve": (filegate, f"/v1/files/{first_id}"),
        "list": (filegate, "/v1/files?limit=20"),
    }
    results: dict[str, LoadResult] = {}
    for key, (server, path) in targets.items():
        res = measure_load(
            client,
            server.base_url + path,
            server.headers,
            args.duration,
            args.threads,
            args.connections,
            args.warmup,
        )
        results[key] = res
        print(
            f"  {key:17s} {res.rps:9,.0f} req/s  p50 {res.p50_ms:6.2f} ms  p99 {res.p99_ms:6.2f} ms"
            + (f"  ERRORS {res.errors}" if res.errors else ""),
            flush=True,
        )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    size = args.size_mb * MB
    client = pick_client(args.client)
    if not tools_ok(client, None if args.skip_large else "it is needed for the large transfers"):
        return 2
    # The source file, filegate's current and next copy, the floor's copy, a margin.
    base = temp_base(args.tmp_dir, 0 if args.skip_large else 4 * size + 512 * MB)
    if base is None:
        return 2

    root = Path(tempfile.mkdtemp(prefix="filegate-bench-", dir=base))
    report = new_report(
        {
            "size_bytes": size,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "reps": args.reps,
            "connections": args.connections,
            "threads": args.threads,
            "list_files": args.list_files,
            "client": client,
            "client_note": (
                "wrk"
                if client == "wrk"
                else "asyncio httpx client (wrk not used); "
                "the Python client itself limits the rates"
            ),
            "tmp_dir": str(base),
        }
    )
    print(f"filegate benchmark: temp dir {root}, load client {client}")
    if client != "wrk":
        print("  NOTE: wrk not used; small-request numbers come from an asyncio httpx client")
    ok = False
    with guarded_run(root) as servers:
        filegate = start_filegate(root, max_file_size=size + 64 * MB)
        servers.append(filegate)
        floor = start_floor(root)
        servers.append(floor)
        report["idle_rss_mb"] = {
            "filegate": idle_rss(filegate.pid) / MB,
            "floor": idle_rss(floor.pid) / MB,
        }
        small: dict[str, LoadResult] = {}
        transfers: list[Transfer] = []
        if not args.skip_small:
            print(
                f"small requests ({client}, {args.connections} connections, "
                f"{args.duration:g} s each):",
                flush=True,
            )
            small = small_phase(filegate, floor, args, client)
        if not args.skip_large:
            big = root / "big.bin"
            print(f"writing a {args.size_mb} MiB random file ...", end="", flush=True)
            print(f" {make_big_file(big, size):.1f} s", flush=True)
            print(f"large transfers ({args.reps} reps, curl):", flush=True)
            transfers = run_transfers(filegate, floor, big, size, args.reps)
        check_alive(servers)
        rows, summary = summarize(small, transfers, args.list_files)
        report["small_requests"] = small_requests_json(small)
        report["transfers"] = [
            asdict(t) | {"mib_per_s": t.mb_per_s, "cpu_s": t.cpu_s} for t in transfers
        ]
        report["summary"] = summary
        report["table"] = rows
        note_end(report)
        table = format_table(HEADER, rows)
        print()
        print(table)
        print()
        print(targets_line(summary))
        write_json(args.out, report)
        print(f"results written to {args.out}")
        ok = True
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
