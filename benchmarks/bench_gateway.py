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
from _catalog import drop_postgres_db
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
    new_report,
    note_end,
    pick_client,
    start_filegate,
    start_floor,
    targets_line,
    temp_base,
    tools_ok,
    upload_form,
    write_json,
)
from _small import SmallReport, interleaved, open_setup, paging, sweep

# Targets from issue 2 ("Tests and proof", benchmarks/).
TARGET_TRANSFER_RATIO = 1.5
TARGET_RSS_GROWTH_MB = 50.0
# Targets from issue 17: small requests against a bare server, flat with size.
TARGET_FLOOR_RATIO = 0.8
TARGET_FLAT_RATIO = 1.3
TARGET_SWEEP_RATIO = 2.0


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


def summarize_transfers(transfers: list[Transfer]) -> tuple[list[list[str]], dict[str, Any]]:
    rows: list[list[str]] = []
    summary: dict[str, Any] = {"targets": {}}

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

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


# --------------------------------------------------------------------------- small requests


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize_small(
    small: SmallReport, sizes: Sequence[int]
) -> tuple[list[list[str]], dict[str, Any]]:
    """Rows of filegate vs the floor per catalog and size, flatness, paging, sweep.

    Rates are medians over the repetitions; a ratio is the median of each
    repetition's own ratio (its two runs were side by side in time).
    """
    rows: list[list[str]] = []
    summary: dict[str, Any] = {"targets": {}, "small": {}}

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    def runs(catalog: str, size: int, op: str, server: str) -> dict[int, LoadResult]:
        return {
            r.rep: r.result
            for r in small.runs
            if (r.catalog, r.size, r.op, r.server) == (catalog, size, op, server)
        }

    def cpu(catalog: str, size: int, op: str, server: str) -> dict[int, float]:
        return {
            r.rep: r.cpu_us_per_request
            for r in small.runs
            if (r.catalog, r.size, r.op, r.server) == (catalog, size, op, server)
        }

    catalogs = sorted({r.catalog for r in small.runs}, key=["sqlite", "postgres"].index)
    for catalog in catalogs:
        for size in sizes:
            for op in ("trivial", "retrieve", "list"):
                fg, fl = runs(catalog, size, op, "filegate"), runs(catalog, size, op, "floor")
                if not fg or not fl:
                    continue
                reps = sorted(set(fg) & set(fl))
                ratio = _median([fg[k].rps / fl[k].rps for k in reps])
                fg_rps, fl_rps = (
                    _median([r.rps for r in fg.values()]),
                    _median([r.rps for r in fl.values()]),
                )
                targeted = op != "trivial" and catalog == "sqlite"
                ok = ratio >= TARGET_FLOOR_RATIO
                label = {
                    "trivial": "trivial GET (liveliness | /ping)",
                    "retrieve": "retrieve",
                    "list": "list ?limit=20",
                }[op]
                rows.append(
                    [
                        f"{catalog} {size:,}: {label} req/s",
                        f"{fg_rps:,.0f}",
                        f"{fl_rps:,.0f}",
                        f"{ratio:.2f}x",
                        f">= {TARGET_FLOOR_RATIO}x floor" if targeted else "",
                        verdict(ok) if targeted else "",
                    ]
                )
                rows.append(
                    [
                        f"{catalog} {size:,}: {label} p50 / p99 ms",
                        f"{_median([r.p50_ms for r in fg.values()]):.2f} / "
                        f"{_median([r.p99_ms for r in fg.values()]):.2f}",
                        f"{_median([r.p50_ms for r in fl.values()]):.2f} / "
                        f"{_median([r.p99_ms for r in fl.values()]):.2f}",
                        "",
                        "",
                        "",
                    ]
                )
                fg_cpu, fl_cpu = cpu(catalog, size, op, "filegate"), cpu(catalog, size, op, "floor")
                # As a rate ratio: the floor's CPU per request over filegate's.
                cpu_ratio = _median([fl_cpu[k] / fg_cpu[k] for k in reps])
                rows.append(
                    [
                        f"{catalog} {size:,}: {label} server CPU us/request",
                        f"{_median(list(fg_cpu.values())):,.0f}",
                        f"{_median(list(fl_cpu.values())):,.0f}",
                        f"{cpu_ratio:.2f}x",
                        "",
                        "",
                    ]
                )
                errors = sum(r.errors for r in [*fg.values(), *fl.values()])
                if errors:
                    rows.append([f"  {label}: {errors} errors / non-2xx!", "", "", "", "", ""])
                key = f"{catalog}_{size}_{op}"
                summary["small"][key] = {
                    "filegate_rps_median": fg_rps,
                    "floor_rps_median": fl_rps,
                    "ratio_median": ratio,
                    "ratios": [fg[k].rps / fl[k].rps for k in reps],
                    "filegate_cpu_us_per_request_median": _median(list(fg_cpu.values())),
                    "floor_cpu_us_per_request_median": _median(list(fl_cpu.values())),
                    "cpu_ratio_median": cpu_ratio,
                    "filegate_p99_ms_median": _median([r.p99_ms for r in fg.values()]),
                    "floor_p99_ms_median": _median([r.p99_ms for r in fl.values()]),
                    "errors": errors,
                }
                if targeted:
                    summary["targets"][f"{key}_vs_floor"] = {
                        "value": ratio,
                        "target": f">= {TARGET_FLOOR_RATIO}",
                        "pass": ok,
                    }
        # Flat with size: the largest catalog against the smallest, filegate alone.
        if len(sizes) > 1:
            lo, hi = min(sizes), max(sizes)
            for op in ("retrieve", "list"):
                small_runs, big_runs = (
                    runs(catalog, lo, op, "filegate"),
                    runs(catalog, hi, op, "filegate"),
                )
                reps = sorted(set(small_runs) & set(big_runs))
                if not reps:
                    continue
                slower = _median([small_runs[k].rps / big_runs[k].rps for k in reps])
                ok = slower <= TARGET_FLAT_RATIO
                rows.append(
                    [
                        f"{catalog} {op} at {hi:,} vs {lo:,} (req/s {lo:,} / {hi:,})",
                        f"{_median([r.rps for r in big_runs.values()]):,.0f}",
                        f"{_median([r.rps for r in small_runs.values()]):,.0f} ({lo:,})",
                        f"{slower:.2f}x",
                        f"<= {TARGET_FLAT_RATIO}x",
                        verdict(ok),
                    ]
                )
                summary["targets"][f"{catalog}_{op}_flat_{hi}_vs_{lo}"] = {
                    "value": slower,
                    "target": f"<= {TARGET_FLAT_RATIO}",
                    "pass": ok,
                }
    for page in small.paging:
        catalog = page["catalog"]
        first = page["wrk"]["first"]
        last = page["wrk"]["last"]
        slower = _median([a["rps"] / b["rps"] for a, b in zip(first, last, strict=True)])
        ok = slower <= TARGET_FLAT_RATIO
        rows.append(
            [
                f"{catalog} walk {page['files_walked']:,} files, ms/page first | last",
                f"{page['first_pages_ms']:.2f}",
                f"{page['last_pages_ms']:.2f}",
                f"{page['last_pages_ms'] / page['first_pages_ms']:.2f}x",
                "",
                "",
            ]
        )
        rows.append(
            [
                f"{catalog} first | last page (limit=20) req/s",
                f"{_median([a['rps'] for a in first]):,.0f}",
                f"{_median([b['rps'] for b in last]):,.0f}",
                f"{slower:.2f}x",
                f"<= {TARGET_FLAT_RATIO}x",
                verdict(ok),
            ]
        )
        summary["targets"][f"{catalog}_paging_flat"] = {
            "value": slower,
            "target": f"<= {TARGET_FLAT_RATIO}",
            "pass": ok,
        }
    for sw in small.sweeps:
        catalog = sw["catalog"]
        without = min(sw["without_before"]["p99_ms"], sw["without_after"]["p99_ms"])
        during = sw["during"]["p99_ms"]
        ok = during / without <= TARGET_SWEEP_RATIO and sw["left_after_timeout"] == 0
        rows.append(
            [
                f"{catalog} retrieve p99 ms during | without a sweep of {sw['doomed']:,}",
                f"{during:.2f}",
                f"{without:.2f}",
                f"{during / without:.2f}x",
                f"<= {TARGET_SWEEP_RATIO}x",
                verdict(ok),
            ]
        )
        rows.append(
            [
                f"{catalog} sweep of {sw['doomed']:,} files: s (req/s during | without)",
                f"{sw['sweep_s']:.1f}",
                f"{sw['during']['rps']:,.0f} | "
                f"{min(sw['without_before']['rps'], sw['without_after']['rps']):,.0f}",
                "",
                "",
                "" if not sw["left_after_timeout"] else f"{sw['left_after_timeout']:,} LEFT",
            ]
        )
        summary["targets"][f"{catalog}_sweep_p99"] = {
            "value": during / without,
            "target": f"<= {TARGET_SWEEP_RATIO}",
            "pass": ok,
        }
    return rows, summary


HEADER = ("operation", "filegate", "floor", "ratio", "target", "verdict")


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--size-mb", type=int, default=1024, help="large file size in MiB [1024]")
    add_load_args(p)
    p.set_defaults(threads=2)
    p.add_argument(
        "--catalog",
        nargs="+",
        choices=("sqlite", "postgres"),
        default=["sqlite"],
        help="catalogs filegate runs on: sqlite, postgres (127.0.0.1:5432, trust) [sqlite]",
    )
    p.add_argument(
        "--catalog-size",
        nargs="+",
        type=int,
        default=[1000],
        help="files in each catalog, filled in bulk over 100 tenants [1000]",
    )
    p.add_argument("--small-reps", type=int, default=3, help="rounds of small requests [3]")
    p.add_argument("--rotate-ids", type=int, default=100, help="files retrieve rotates over [100]")
    p.add_argument("--page-limit", type=int, default=100, help="page size of the paging walk [100]")
    p.add_argument(
        "--skip-paging",
        action="store_true",
        help="skip the paging walk (it runs on a catalog whose key has 100,000 files or more)",
    )
    p.add_argument(
        "--sweep", type=int, default=100_000, help="files expiring at once; 0 skips [100000]"
    )
    p.add_argument("--sweep-timeout", type=float, default=900, help="seconds [900]")
    add_client_arg(p)
    p.add_argument("--skip-small", action="store_true", help="skip the small-request phase")
    p.add_argument("--skip-large", action="store_true", help="skip the large-transfer phase")
    add_output_args(p, "gateway")
    return p.parse_args(argv)


def small_phase(
    root: Path,
    args: argparse.Namespace,
    servers: list[Server],
    databases: list[str],
) -> SmallReport:
    report = SmallReport()
    sizes = sorted(set(args.catalog_size))
    print("filling catalogs:", flush=True)
    setups = [
        open_setup(
            root, catalog, size, rotate=args.rotate_ids, databases=databases, servers=servers
        )
        for catalog in args.catalog
        for size in sizes
    ]
    report.fills = [
        {"catalog": s.catalog, "size": s.size, "seconds": s.filled.seconds} for s in setups
    ]
    print(
        f"small requests (wrk -t{args.threads} -c{args.connections}, "
        f"{args.duration:g} s each after {args.warmup:g} s warm-up, {args.small_reps} rounds):",
        flush=True,
    )
    report.runs = interleaved(setups, args, say=lambda line: print(line, flush=True))
    if not args.skip_paging:
        for setup in setups:
            if len(setup.filled.own_ids) >= 100_000:
                print(f"paging ({setup.name}):", flush=True)
                report.paging.append(paging(setup, args, say=lambda x: print(x, flush=True)))
    # The small-request setups stay idle from here on; stop them to free the CPU.
    for setup in setups:
        for server in (setup.floor, setup.filegate):
            server.stop()
    if args.sweep > 0:
        for catalog in args.catalog:
            print(f"sweep ({catalog}, {args.sweep:,} files expiring at once):", flush=True)
            setup = open_setup(
                root,
                catalog,
                min(sizes),
                rotate=args.rotate_ids,
                databases=databases,
                servers=servers,
                doomed=args.sweep,
                sweep_interval=1.0,
            )
            report.sweeps.append(sweep(setup, args, say=lambda x: print(x, flush=True)))
            setup.floor.stop()
            setup.filegate.stop()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    size = args.size_mb * MB
    client = pick_client(args.client)
    if not args.skip_small and client != "wrk":
        print("the small-request phase needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
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
            "small_reps": args.small_reps,
            "connections": args.connections,
            "threads": args.threads,
            "catalogs": args.catalog,
            "catalog_sizes": sorted(set(args.catalog_size)),
            "rotate_ids": args.rotate_ids,
            "page_limit": args.page_limit,
            "sweep_files": args.sweep,
            "client": client,
            "tmp_dir": str(base),
        }
    )
    print(f"filegate benchmark: temp dir {root}")
    ok = False
    databases: list[str] = []
    try:
        with guarded_run(root) as servers:
            rows: list[list[str]] = []
            summary: dict[str, Any] = {"targets": {}}
            if not args.skip_small:
                small = small_phase(root, args, servers, databases)
                rows, summary = summarize_small(small, sorted(set(args.catalog_size)))
                report["small_requests"] = small.json()
            if not args.skip_large:
                large = root / "large"
                large.mkdir()
                filegate = start_filegate(large, max_file_size=size + 64 * MB)
                servers.append(filegate)
                floor = start_floor(large)
                servers.append(floor)
                report["idle_rss_mb"] = {
                    "filegate": idle_rss(filegate.pid) / MB,
                    "floor": idle_rss(floor.pid) / MB,
                }
                big = large / "big.bin"
                print(f"writing a {args.size_mb} MiB random file ...", end="", flush=True)
                print(f" {make_big_file(big, size):.1f} s", flush=True)
                print(f"large transfers ({args.reps} reps, curl):", flush=True)
                transfers = run_transfers(filegate, floor, big, size, args.reps)
                check_alive([filegate, floor])
                large_rows, large_summary = summarize_transfers(transfers)
                rows += large_rows
                summary["targets"].update(large_summary.pop("targets"))
                summary.update(large_summary)
                report["transfers"] = [
                    asdict(t) | {"mib_per_s": t.mb_per_s, "cpu_s": t.cpu_s} for t in transfers
                ]
            report["summary"] = summary
            report["table"] = rows
            note_end(report)
            print()
            print(format_table(HEADER, rows))
            print()
            print(targets_line(summary))
            write_json(args.out, report)
            print(f"results written to {args.out}")
            ok = True
    finally:
        for url in databases:
            try:
                drop_postgres_db(url)
            except Exception as exc:
                print(f"could not drop {url.rsplit('/', 1)[1]}: {exc}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
