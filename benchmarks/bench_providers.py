"""Benchmark filegate in front of a provider: vs direct, vs the relay floor, vs LiteLLM's proxy.

    python benchmarks/bench_providers.py [--size-mb 200] [--duration 10] [--reps 3]
                                         [--litellm /tmp/litellm-venv/bin/litellm]
                                         [--out benchmarks/results/providers.json]

Starts the fake OpenAI upstream (``tests/fakes/upstream.py``), ``filegate serve`` with
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` pointing at it (so its default target is OpenAI), and,
when installed, LiteLLM's proxy with ``files_settings`` pointing at the same fake; for the
large transfers also ``floor_relay.py`` in front of the fake (the least a spooling relay does).
Measures, in one run and with the same clients for every path, retrieve and list with ``wrk``
and uploads (purposes user_data and batch) and downloads of a large file with ``curl`` while
sampling each server's RSS; prints a table with the ratios floor/direct, filegate/direct,
filegate/floor and filegate/LiteLLM and PASS/FAIL beside the targets of issue 3, writes every
number to JSON, and stops what it started. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from _common import (
    HERE,
    MB,
    REPO,
    LoadResult,
    RssSampler,
    Server,
    Transfer,
    add_client_arg,
    add_load_args,
    add_output_args,
    best_median,
    check_alive,
    clean_env,
    curl_timed,
    format_table,
    free_port,
    guarded_run,
    idle_rss,
    launch,
    launch_script,
    make_big_file,
    measure_load,
    new_report,
    note_end,
    pick_client,
    small_requests_json,
    start_filegate,
    targets_line,
    temp_base,
    tools_ok,
    upload_form,
    write_json,
)

UPSTREAM_KEY = "sk-upstream"  # the fake's default OpenAI key
LITELLM_KEY = "sk-bench-litellm"
DEFAULT_LITELLM = Path("/tmp/litellm-venv/bin/litellm")
VIAS = ("direct", "floor", "filegate", "litellm")
LABELS = {"direct": "direct", "floor": "floor", "filegate": "filegate", "litellm": "LiteLLM"}
PURPOSES = ("user_data", "batch")
# OpenAI's Batch API input limits, which filegate's batch validator enforces too.
BATCH_MAX_LINES = 50_000
BATCH_MAX_BYTES = 200 * MB

# Targets from issue 3 ("Tests and proof", the benchmark bullet).
TARGET_RETRIEVE_VS_LITELLM = 50.0
TARGET_UPLOAD_RATIO = 1.2
TARGET_RSS_GROWTH_MB = 50.0

HEADER = (
    "operation",
    "direct",
    "relay floor",
    "filegate",
    "LiteLLM",
    "floor/direct",
    "fg/direct",
    "fg/floor",
    "fg/LiteLLM",
    "target",
    "verdict",
)


# --------------------------------------------------------------------------- processes


# glibc's malloc for the two reference servers (the fake upstream and the relay
# floor): buffers up to 32 MiB from the heap, which is not trimmed below 256 MiB
# free. Otherwise each 256 KiB network buffer is mapped and faulted in afresh,
# and on this kind of VM its ~68,000 page faults cost a cold process ~0.2 s per
# 200 MiB: "direct" then depended on whether the small-request phase had grown
# the fake's heap first (0.30 s warm, 0.50 s cold). filegate and LiteLLM run
# as shipped: filegate faults 3,000-11,000 times per upload, and with these
# settings (0-1,500 faults) its CPU measured the same.
STEADY_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * MB),
    "MALLOC_TRIM_THRESHOLD_": str(256 * MB),
}


def start_upstream(root: Path) -> Server:
    """The fake OpenAI upstream; as a Server it is the "direct" path."""
    state = root / "upstream-state"
    return launch_script(
        "direct",
        REPO / "tests" / "fakes" / "upstream.py",
        ["--state-dir", str(state), "--log-level", "warning"],
        root / "upstream.log",
        state,
        "/__admin/health",
        STEADY_MALLOC,
        {"Authorization": f"Bearer {UPSTREAM_KEY}"},
    )


def start_gateway(root: Path, upstream: Server, max_file_size: int) -> Server:
    return start_filegate(
        root,
        max_file_size,
        {"OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": f"{upstream.base_url}/v1"},
    )


def start_floor_relay(root: Path, upstream: Server) -> Server:
    """``benchmarks/floor_relay.py`` in front of the fake: the least a spooling relay does."""
    spool = root / "floor-relay-spool"
    args = ["--upstream", upstream.base_url, "--api-key", UPSTREAM_KEY, "--spool", str(spool)]
    return launch_script(
        "floor",
        HERE / "floor_relay.py",
        args,
        root / "floor-relay.log",
        spool,
        "/ping",
        STEADY_MALLOC,
    )


def find_litellm(requested: str | None) -> Path | None:
    """``--litellm PATH``, else /tmp/litellm-venv/bin/litellm, else ``litellm`` on PATH."""
    if requested:
        path = Path(requested)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise SystemExit(f"--litellm {requested}: not an executable file")
        return path
    if DEFAULT_LITELLM.is_file() and os.access(DEFAULT_LITELLM, os.X_OK):
        return DEFAULT_LITELLM
    found = shutil.which("litellm")
    return Path(found) if found else None


def litellm_version(litellm: Path) -> str | None:
    """LiteLLM's version from the interpreter of its own environment (the script's shebang)."""
    try:
        first = litellm.read_bytes()[:512].split(b"\n", 1)[0].decode()
    except (OSError, UnicodeDecodeError):
        return None
    if not first.startswith("#!"):
        return None
    python = first[2:].strip().split()[0]
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def litellm_config(upstream: Server) -> str:
    """The proxy's config: a master key and files_settings at the fake; no database."""
    return (
        "general_settings:\n"
        f"  master_key: {LITELLM_KEY}\n"
        "files_settings:\n"
        "  - custom_llm_provider: openai\n"
        f"    api_base: {upstream.base_url}/v1\n"
        "    api_key: os.environ/OPENAI_API_KEY\n"
    )


# uvicorn's per-request access lines off, as filegate runs at log level warning.
_LITELLM_LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "default": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "WARNING", "propagate": False},
        "uvicorn.error": {"level": "WARNING"},
        "uvicorn.access": {"handlers": ["default"], "level": "WARNING", "propagate": False},
    },
}


def start_litellm(root: Path, litellm: Path, upstream: Server, timeout: float) -> Server:
    port = free_port()
    data_dir = root / "litellm-data"
    data_dir.mkdir()
    config = data_dir / "config.yaml"
    config.write_text(litellm_config(upstream))
    log_config = data_dir / "log_config.json"
    log_config.write_text(json.dumps(_LITELLM_LOG_CONFIG))
    env = clean_env(
        {
            # files_settings serves create only; retrieve, list, content and delete without a
            # model take OpenAI's credentials from the environment, as LiteLLM's docs show.
            "OPENAI_API_KEY": UPSTREAM_KEY,
            "OPENAI_BASE_URL": f"{upstream.base_url}/v1",
            # Offline and quiet: the bundled model cost map, no per-request logs.
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            # Starlette spools uploads to the temp dir: keep them under our root.
            "TMPDIR": str(data_dir),
        },
        strip=("FILEGATE_", "OPENAI_", "AZURE_", "LITELLM_", "DATABASE_URL", "DIRECT_URL"),
    )
    cmd = [
        str(litellm),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log_config",
        str(log_config),
    ]
    return launch(
        "litellm",
        port,
        cmd,
        env,
        root / "litellm.log",
        data_dir,
        "/health/liveliness",
        {"Authorization": f"Bearer {LITELLM_KEY}"},
        timeout=timeout,
    )


def clear_upstream_log(upstream: Server) -> None:
    """The fake keeps every request in memory; clear it so it does not grow across phases."""
    httpx.delete(f"{upstream.base_url}/__admin/requests", timeout=30).raise_for_status()


def upstream_file_count(upstream: Server) -> int:
    r = httpx.get(f"{upstream.base_url}/__admin/files", timeout=30)
    r.raise_for_status()
    return len(r.json()["data"])


def delete_file(server: Server, upstream: Server, file_id: str) -> None:
    """Delete through the path that made it; LiteLLM's ids are the upstream's own."""
    r = httpx.delete(f"{server.base_url}/v1/files/{file_id}", headers=server.headers, timeout=60)
    if r.is_success:
        return
    if server.name == "litellm":
        r = httpx.delete(
            f"{upstream.base_url}/v1/files/{file_id}", headers=upstream.headers, timeout=60
        )
        if r.is_success:
            return
    print(f"  WARNING: could not delete {file_id} via {server.name}: HTTP {r.status_code}")


# --------------------------------------------------------------------------- small requests


def drain(server: Server, url: str, quiet_percent: float = 5.0, limit: float = 60.0) -> None:
    """Wait until the server has finished what the warm-up left queued, and is quiet.

    wrk stops after its time with requests still in flight; a slow server goes on working
    through them, and the measured run would start behind that backlog.
    """
    httpx.get(url, headers=server.headers, timeout=limit)
    proc = psutil.Process(server.pid)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.cpu_percent(interval=0.2) > quiet_percent:
        pass


@dataclass
class ListShape:
    items: int
    has_more: bool | None
    bytes: int


def small_phase(
    servers: dict[str, Server], upstream: Server, args: argparse.Namespace, client: str
) -> tuple[dict[str, LoadResult], dict[str, ListShape]]:
    ids: dict[str, str] = {}
    for via, server in servers.items():
        count = max(1, args.list_files) if via == "filegate" else 1
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as http:
            for i in range(count):
                r = http.post(
                    "/v1/files",
                    data={"purpose": "user_data"},
                    files={"file": (f"small-{via}-{i}.txt", b"hello filegate\n" * 4, "text/plain")},
                )
                if r.status_code != 200:
                    raise RuntimeError(f"{via}: upload gave HTTP {r.status_code}: {r.text[:500]}")
                ids.setdefault(via, str(r.json()["id"]))
    stored = upstream_file_count(upstream)
    if stored < max(1, args.list_files):
        raise RuntimeError(
            f"the upstream holds {stored} files: filegate did not forward its uploads to it"
        )

    shapes: dict[str, ListShape] = {}
    for via, server in servers.items():
        for path in (f"/v1/files/{ids[via]}", "/v1/files?limit=20"):
            r = httpx.get(server.base_url + path, headers=server.headers, timeout=60)
            if r.status_code != 200:
                raise RuntimeError(f"{via}: GET {path} gave HTTP {r.status_code}: {r.text[:500]}")
        page = r.json()
        shapes[via] = ListShape(len(page["data"]), page.get("has_more"), len(r.content))
    clear_upstream_log(upstream)

    path_list = "/v1/files?limit=20"
    results: dict[str, LoadResult] = {}
    for op in ("retrieve", "list"):
        # Interleaved, so a slow phase of a noisy machine hits every path.
        for via, server in servers.items():
            url = server.base_url + ("/v1/files/" + ids[via] if op == "retrieve" else path_list)

            def load(seconds: float, server: Server = server, url: str = url) -> LoadResult:
                return measure_load(
                    client,
                    url,
                    server.headers,
                    seconds,
                    args.threads,
                    args.connections,
                    warmup=0,
                    timeout=args.wrk_timeout,
                )

            if args.warmup > 0:
                load(args.warmup)
                drain(server, url)
            res = load(args.duration)
            drain(server, url)
            clear_upstream_log(upstream)
            results[f"{op}_{via}"] = res
            print(
                f"  {op:8s} {LABELS[via]:8s} {res.rps:9,.0f} req/s  p50 {res.p50_ms:7.2f} ms"
                f"  p99 {res.p99_ms:7.2f} ms" + (f"  ERRORS {res.errors}" if res.errors else ""),
                flush=True,
            )
    return results, shapes


# --------------------------------------------------------------------------- large transfers


_FILLER = (
    "Summarize the following notes in one sentence and keep every number as written. "
    "The quick brown fox jumps over the lazy dog while the benchmark pads this line. "
)


def make_batch_file(path: Path, size: int, max_lines: int = BATCH_MAX_LINES) -> int:
    """A valid batch input file of exactly ``size`` bytes; returns its line count.

    Lines are chat-completion requests with distinct custom_ids, up to ``max_lines`` of
    them, padded in the message content to reach the size. Written in blocks.
    """
    lines = max(1, min(max_lines, size // 1024))
    prefix = (
        '{"custom_id": "request-%06d", "method": "POST", "url": "/v1/chat/completions", '
        '"body": {"model": "gpt-4o-mini", "max_tokens": 16, '
        '"messages": [{"role": "user", "content": "'
    )
    suffix = '"}]}}\n'
    fixed = len(prefix % 0) + len(suffix)
    padding, extra = divmod(size - lines * fixed, lines)
    if padding < 0:
        raise ValueError(f"{size} bytes is too small for {lines} batch lines")
    filler = _FILLER * (padding // len(_FILLER) + 2)
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        block: list[str] = []
        for i in range(lines):
            n = padding + (1 if i < extra else 0)
            block.append(prefix % i + filler[i % len(_FILLER) :][:n] + suffix)
            if len(block) >= 1000:
                fh.write("".join(block))
                block.clear()
        fh.write("".join(block))
        fh.flush()
        os.fsync(fh.fileno())
    written = path.stat().st_size
    if written != size:
        raise RuntimeError(f"batch file is {written} bytes, expected {size}")
    return lines


@dataclass
class Measured:
    """One transfer through one path, plus the fake upstream's RSS while it ran."""

    via: str
    purpose: str
    transfer: Transfer
    upstream_rss_idle_mb: float
    upstream_rss_peak_mb: float

    @property
    def upstream_rss_growth_mb(self) -> float:
        return max(0.0, self.upstream_rss_peak_mb - self.upstream_rss_idle_mb)


def timed(
    server: Server, upstream: Server, op: str, rep: int, args: list[str], size: int
) -> tuple[Transfer, str, float, float]:
    clear_upstream_log(upstream)
    up_idle = idle_rss(upstream.pid, settle=0.1)
    with RssSampler(upstream.pid) as up:
        t, body = curl_timed(server, op, rep, args, size)
    return t, body, up_idle / MB, up.peak / MB


def run_transfers(
    servers: dict[str, Server],
    upstream: Server,
    sources: dict[str, tuple[Path, int]],
    reps: int,
) -> list[Measured]:
    results: list[Measured] = []
    for purpose, (src, size) in sources.items():
        ctype = "application/jsonl" if src.suffix == ".jsonl" else "application/octet-stream"
        ids: dict[str, str] = {}
        print(f"  purpose={purpose}, {size / MB:,.1f} MiB ({src.name}):", flush=True)
        for rep in range(1, reps + 1):
            line = f"    upload   rep {rep}:"
            for via, server in servers.items():
                if via in ids:
                    delete_file(server, upstream, ids.pop(via))
                t, body, up_idle, up_peak = timed(
                    server,
                    upstream,
                    "upload",
                    rep,
                    upload_form(server, src, purpose, ctype),
                    size,
                )
                record = json.loads(body)
                if record.get("bytes") != size or record.get("purpose") != purpose:
                    raise RuntimeError(f"{via} stored {body[:300]}, expected {size} bytes")
                ids[via] = str(record["id"])
                results.append(Measured(via, purpose, t, up_idle, up_peak))
                line += f" {LABELS[via]} {t.seconds:6.2f} s"
            print(line, flush=True)
        for rep in range(1, reps + 1):
            line = f"    download rep {rep}:"
            for via, server in servers.items():
                url = f"{server.base_url}/v1/files/{ids[via]}/content"
                t, _, up_idle, up_peak = timed(server, upstream, "download", rep, [url], size)
                results.append(Measured(via, purpose, t, up_idle, up_peak))
                line += f" {LABELS[via]} {t.seconds:6.2f} s"
            print(line, flush=True)
        for via, server in servers.items():
            delete_file(server, upstream, ids.pop(via))
    return results


# --------------------------------------------------------------------------- report


# The ratio, target and verdict cells of a row that has none.
_BLANK_TAIL = ("",) * (len(HEADER) - 1 - len(VIAS))


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else ""


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def summarize(
    small: dict[str, LoadResult],
    shapes: dict[str, ListShape],
    measured: list[Measured],
    vias: Sequence[str],
    list_files: int,
) -> tuple[list[list[str]], dict[str, Any]]:
    rows: list[list[str]] = []
    summary: dict[str, Any] = {"targets": {}, "skipped_targets": {}}
    has_litellm = "litellm" in vias

    def row(
        label: str,
        values: dict[str, float | None],
        fmt: Callable[[float], str],
        ratios: bool = True,
        target: str = "",
        verdict: str = "",
    ) -> None:
        cells = [fmt(v) if (v := values.get(via)) is not None else "-" for via in VIAS]
        fg, floor, direct = values.get("filegate"), values.get("floor"), values.get("direct")
        pairs = [(floor, direct), (fg, direct), (fg, floor), (fg, values.get("litellm"))]
        shown = [_ratio(a, b) if ratios else "" for a, b in pairs]
        rows.append([label, *cells, *shown, target, verdict])

    def num(v: float) -> str:
        return f"{v:,.0f}"

    def sec(v: float) -> str:
        return f"{v:.2f}"

    def mib(v: float) -> str:
        return f"{v:.1f}"

    if small:
        for op in ("retrieve", "list"):
            label = "retrieve" if op == "retrieve" else f"list ?limit=20 ({list_files} files)"
            res = {via: small[f"{op}_{via}"] for via in vias if f"{op}_{via}" in small}
            rps: dict[str, float | None] = {via: r.rps for via, r in res.items()}
            target = verdict = ""
            if op == "retrieve":
                target = f">= {TARGET_RETRIEVE_VS_LITELLM:.0f}x LiteLLM"
                if has_litellm and res["litellm"].rps == 0:
                    verdict = "N/A"
                    summary["skipped_targets"]["retrieve_rps_vs_litellm"] = (
                        f"LiteLLM completed no requests ({res['litellm'].errors} errors)"
                    )
                elif has_litellm:
                    value = res["filegate"].rps / res["litellm"].rps
                    ok = value >= TARGET_RETRIEVE_VS_LITELLM
                    verdict = _verdict(ok)
                    summary["targets"]["retrieve_rps_vs_litellm"] = {
                        "value": value,
                        "target": f">= {TARGET_RETRIEVE_VS_LITELLM}",
                        "pass": ok,
                    }
                else:
                    verdict = "SKIP"
                    summary["skipped_targets"]["retrieve_rps_vs_litellm"] = "LiteLLM not run"
            row(f"{label} req/s", rps, num, target=target, verdict=verdict)
            rows.append(
                [
                    f"{label} p50 / p99 ms",
                    *(
                        f"{res[v].p50_ms:.2f} / {res[v].p99_ms:.2f}" if v in res else "-"
                        for v in VIAS
                    ),
                    *_BLANK_TAIL,
                ]
            )
            errors = {via: r.errors for via, r in res.items() if r.errors}
            if errors:
                rows.append([f"  {op}: errors / non-2xx {errors}!", *[""] * (len(HEADER) - 1)])
            summary[op] = {
                via: {"rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "errors": r.errors}
                for via, r in res.items()
            }
        rows.append(
            [
                "list: items (has_more) per response",
                *(
                    f"{shapes[v].items} ({str(shapes[v].has_more).lower()})" if v in shapes else "-"
                    for v in VIAS
                ),
                *_BLANK_TAIL,
            ]
        )
        summary["list_response"] = {via: asdict(s) for via, s in shapes.items()}

    for purpose in PURPOSES:
        for op in ("upload", "download"):
            got = {
                via: [
                    m
                    for m in measured
                    if m.via == via and m.purpose == purpose and m.transfer.op == op
                ]
                for via in vias
            }
            got = {via: ms for via, ms in got.items() if ms}
            if "filegate" not in got or "direct" not in got:
                continue
            size_mib = got["filegate"][0].transfer.bytes / MB
            name = f"{op} {purpose}"
            bm = {via: best_median([m.transfer.seconds for m in ms]) for via, ms in got.items()}
            best: dict[str, float | None] = {via: b for via, (b, _) in bm.items()}
            median: dict[str, float | None] = {via: m for via, (_, m) in bm.items()}
            target = verdict = ""
            ratio_best = bm["filegate"][0] / bm["direct"][0]
            if op == "upload":
                ok = ratio_best <= TARGET_UPLOAD_RATIO
                target, verdict = f"<= {TARGET_UPLOAD_RATIO}x direct", _verdict(ok)
                summary["targets"][f"upload_{purpose}_vs_direct"] = {
                    "value": ratio_best,
                    "target": f"<= {TARGET_UPLOAD_RATIO}",
                    "pass": ok,
                }
            row(f"{name} {size_mib:,.0f} MiB best s", best, sec, target=target, verdict=verdict)
            row(f"{name} median s", median, sec)
            cpu: dict[str, float | None] = {
                via: statistics.median(m.transfer.cpu_s for m in ms) for via, ms in got.items()
            }
            row(f"{name} server CPU s, median", cpu, sec)
            peak: dict[str, float | None] = {
                via: max(m.transfer.rss_peak_mb for m in ms) for via, ms in got.items()
            }
            growth: dict[str, float | None] = {
                via: max(m.transfer.rss_growth_mb for m in ms) for via, ms in got.items()
            }
            up_growth: dict[str, float | None] = {
                via: max(m.upstream_rss_growth_mb for m in ms) for via, ms in got.items()
            }
            fg_growth = max(m.transfer.rss_growth_mb for m in got["filegate"])
            rss_ok = fg_growth < TARGET_RSS_GROWTH_MB
            summary["targets"][f"{op}_{purpose}_rss_growth_mb"] = {
                "value": fg_growth,
                "target": f"< {TARGET_RSS_GROWTH_MB}",
                "pass": rss_ok,
            }
            row(f"{name} server peak RSS MiB", peak, num, ratios=False)
            row(
                f"{name} server RSS growth MiB",
                growth,
                mib,
                ratios=False,
                target=f"< {TARGET_RSS_GROWTH_MB:.0f}",
                verdict=_verdict(rss_ok),
            )
            row(f"{name} upstream RSS growth MiB", up_growth, mib, ratios=False)
            summary[f"{op}_{purpose}"] = {
                via: {
                    "best_s": best[via],
                    "median_s": median[via],
                    "best_mib_per_s": size_mib / b if (b := best[via]) else None,
                    "server_cpu_s_median": cpu[via],
                    "server_peak_rss_mb": peak[via],
                    "server_rss_growth_mb": growth[via],
                    "upstream_rss_growth_mb": up_growth[via],
                }
                for via in got
            } | {"filegate_vs_direct_best": ratio_best}
            if "floor" in got:
                floor_best = bm["floor"][0]
                summary[f"{op}_{purpose}"] |= {
                    "floor_vs_direct_best": floor_best / bm["direct"][0],
                    "filegate_vs_floor_best": bm["filegate"][0] / floor_best,
                }
    return rows, summary


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--size-mb", type=int, default=200, help="large file size in MiB [200]")
    add_load_args(p)
    p.add_argument(
        "--wrk-timeout",
        type=float,
        default=30.0,
        help="wrk per-request timeout in seconds; LiteLLM's latency under load "
        "exceeds wrk's default of 2 s [30]",
    )
    p.add_argument("--list-files", type=int, default=100, help="files stored for list [100]")
    p.add_argument(
        "--litellm",
        default=None,
        help=f"the litellm executable [{DEFAULT_LITELLM} if present, else litellm on PATH]",
    )
    p.add_argument("--no-litellm", action="store_true", help="leave LiteLLM out")
    p.add_argument(
        "--litellm-start-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for LiteLLM's proxy to come up [300]",
    )
    add_client_arg(p)
    p.add_argument("--skip-small", action="store_true", help="skip retrieve and list")
    p.add_argument("--skip-large", action="store_true", help="skip uploads and downloads")
    add_output_args(p, "providers")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    size = args.size_mb * MB
    batch_size = min(size, BATCH_MAX_BYTES)
    client = pick_client(args.client)
    if not tools_ok(client, None if args.skip_large else "it is needed for the large transfers"):
        return 2
    litellm = None if args.no_litellm else find_litellm(args.litellm)
    litellm_note = (
        f"LiteLLM: {litellm}"
        if litellm
        else "LiteLLM: left out (--no-litellm)"
        if args.no_litellm
        else f"LiteLLM: not found ({DEFAULT_LITELLM} or litellm on PATH); its columns are empty"
    )

    # Two source files; per purpose at most four copies at the upstream plus one in flight,
    # filegate's spool and Starlette's spool in LiteLLM; a margin.
    base = temp_base(args.tmp_dir, 0 if args.skip_large else 2 * size + 7 * size + 512 * MB)
    if base is None:
        return 2

    root = Path(tempfile.mkdtemp(prefix="filegate-bench-providers-", dir=base))
    report = new_report(
        {
            "size_bytes": size,
            "batch_size_bytes": batch_size,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "reps": args.reps,
            "connections": args.connections,
            "threads": args.threads,
            "wrk_timeout_s": args.wrk_timeout,
            "list_files": args.list_files,
            "client": client,
            "tmp_dir": str(base),
            "litellm": str(litellm) if litellm else None,
        }
    )
    report["notes"] = [litellm_note]
    if litellm:
        report["machine"]["litellm_version"] = litellm_version(litellm)
    print(f"provider benchmark: temp dir {root}, load client {client}")
    print(f"  {litellm_note}")
    if client != "wrk":
        print("  NOTE: wrk not used; small-request numbers come from an asyncio httpx client")
    ok = False
    with guarded_run(root) as servers:
        upstream = start_upstream(root)
        servers.append(upstream)
        filegate = start_gateway(root, upstream, max_file_size=size + 64 * MB)
        servers.append(filegate)
        floor = start_floor_relay(root, upstream)
        servers.append(floor)
        paths: dict[str, Server] = {"direct": upstream, "floor": floor, "filegate": filegate}
        if litellm:
            print("  starting LiteLLM's proxy (it takes a while) ...", end="", flush=True)
            t0 = time.perf_counter()
            paths["litellm"] = start_litellm(root, litellm, upstream, args.litellm_start_timeout)
            servers.append(paths["litellm"])
            print(f" {time.perf_counter() - t0:.0f} s", flush=True)
            report["litellm_config"] = litellm_config(upstream)
            report["notes"].append(
                "LiteLLM runs without a database (no database_url, DATABASE_URL unset): "
                "its /v1/files routes work without one. Create uses files_settings; "
                "retrieve, list, content and delete use OPENAI_API_KEY and OPENAI_BASE_URL "
                "from its environment (both point at the fake)."
            )
        report["idle_rss_mb"] = {name: idle_rss(s.pid) / MB for name, s in paths.items()}
        small: dict[str, LoadResult] = {}
        shapes: dict[str, ListShape] = {}
        measured: list[Measured] = []
        if not args.skip_small:
            print(
                f"small requests ({client}, {args.connections} connections, "
                f"{args.duration:g} s each):",
                flush=True,
            )
            # The floor only relays large transfers: it has no retrieve or list of its own.
            served = {via: server for via, server in paths.items() if via != "floor"}
            small, shapes = small_phase(served, upstream, args, client)
            if "litellm" in shapes and shapes["litellm"].items != shapes["filegate"].items:
                report["notes"].append(
                    f"LiteLLM's list answers {shapes['litellm'].items} files for ?limit=20: "
                    "it does not pass limit on to the upstream, whose default is 10,000."
                )
        if not args.skip_large:
            big, batch = root / "big.bin", root / "batch.jsonl"
            print(f"writing a {args.size_mb} MiB random file ...", end="", flush=True)
            print(f" {make_big_file(big, size):.1f} s", flush=True)
            print(f"writing a {batch_size / MB:,.1f} MiB batch file ...", end="", flush=True)
            t0 = time.perf_counter()
            lines = make_batch_file(batch, batch_size)
            print(f" {lines:,} lines, {time.perf_counter() - t0:.1f} s", flush=True)
            report["settings"]["batch_lines"] = lines
            print(f"large transfers ({args.reps} reps, curl):", flush=True)
            sources = {"user_data": (big, size), "batch": (batch, batch_size)}
            measured = run_transfers(paths, upstream, sources, args.reps)
        check_alive(servers)
        rows, summary = summarize(small, shapes, measured, list(paths), args.list_files)
        report["small_requests"] = small_requests_json(small)
        report["transfers"] = [
            asdict(m.transfer)
            | {
                "via": m.via,
                "purpose": m.purpose,
                "mib_per_s": m.transfer.mb_per_s,
                "cpu_s": m.transfer.cpu_s,
                "upstream_rss_idle_mb": m.upstream_rss_idle_mb,
                "upstream_rss_peak_mb": m.upstream_rss_peak_mb,
                "upstream_rss_growth_mb": m.upstream_rss_growth_mb,
            }
            for m in measured
        ]
        report["summary"] = summary
        report["table"] = rows
        note_end(report)
        print()
        print(format_table(HEADER, rows))
        print()
        print(targets_line(summary))
        for key, why in summary["skipped_targets"].items():
            print(f"  skipped: {key} ({why})")
        for note in report["notes"]:
            print(f"note: {note}")
        write_json(args.out, report)
        print(f"results written to {args.out}")
        ok = True
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
