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
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MASTER_KEY = "sk-bench-master-key"
MB = 1024 * 1024
RSS_INTERVAL = 0.02

# Targets from issue 2 ("Tests and proof", benchmarks/).
TARGET_RETRIEVE_RPS = 1500.0
TARGET_TRANSFER_RATIO = 1.5
TARGET_RSS_GROWTH_MB = 50.0


# --------------------------------------------------------------------------- processes


@dataclass
class Server:
    name: str
    base_url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(cmd: Sequence[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            list(cmd), env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def wait_ready(server: Server, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}"
            )
        try:
            r = httpx.get(server.base_url + path, headers=server.headers, timeout=1)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{server.name} did not become ready:\n{server.log_tail()}")


def start_filegate(root: Path, max_file_size: int) -> Server:
    port = free_port()
    data_dir = root / "filegate-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILEGATE_")}
    env.update(
        {
            "FILEGATE_DATA_DIR": str(data_dir),
            "FILEGATE_MASTER_KEY": MASTER_KEY,
            "FILEGATE_LOG_LEVEL": "warning",
            "FILEGATE_MAX_FILE_SIZE": str(max_file_size),
        }
    )
    cmd = [sys.executable, "-m", "filegate", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log_path = root / "filegate.log"
    server = Server(
        "filegate",
        f"http://127.0.0.1:{port}",
        _spawn(cmd, env, log_path),
        log_path,
        data_dir,
        {"Authorization": f"Bearer {MASTER_KEY}"},
    )
    wait_ready(server, "/health/readiness")
    return server


def start_floor(root: Path) -> Server:
    port = free_port()
    data_dir = root / "floor-data"
    cmd = [
        sys.executable,
        str(HERE / "floor_sink.py"),
        "--port",
        str(port),
        "--dir",
        str(data_dir),
        "--log-level",
        "warning",
    ]
    log_path = root / "floor.log"
    server = Server(
        "floor",
        f"http://127.0.0.1:{port}",
        _spawn(cmd, dict(os.environ), log_path),
        log_path,
        data_dir,
    )
    wait_ready(server, "/ping")
    return server


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# --------------------------------------------------------------------------- small requests


@dataclass
class LoadResult:
    url: str
    client: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    duration_s: float
    raw: str = ""


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_wrk(output: str, url: str, duration: float) -> LoadResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s*50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", output, re.M)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise RuntimeError(f"could not parse wrk output:\n{output}")
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return LoadResult(
        url=url,
        client="wrk",
        rps=float(rps.group(1)),
        p50_ms=_to_ms(p50.group(1)),
        p99_ms=_to_ms(p99.group(1)),
        requests=int(total.group(1)),
        errors=errors,
        duration_s=duration,
        raw=output,
    )


def run_wrk(
    url: str, headers: dict[str, str], duration: float, threads: int, connections: int
) -> LoadResult:
    # wrk takes whole seconds only.
    seconds = max(1, round(duration))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    return parse_wrk(out.stdout, url, seconds)


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def _httpx_load(
    url: str, headers: dict[str, str], duration: float, connections: int
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        start = time.perf_counter()
        deadline = start + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    r = await client.get(url)
                    if r.status_code >= 400:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return LoadResult(
        url=url,
        client="httpx",
        rps=len(latencies) / elapsed,
        p50_ms=_percentile(latencies, 0.50) * 1000,
        p99_ms=_percentile(latencies, 0.99) * 1000,
        requests=len(latencies),
        errors=errors,
        duration_s=elapsed,
    )


def measure_load(
    client: str,
    url: str,
    headers: dict[str, str],
    duration: float,
    threads: int,
    connections: int,
    warmup: float,
) -> LoadResult:
    if client == "wrk":
        if warmup > 0:
            run_wrk(url, headers, warmup, threads, connections)
        return run_wrk(url, headers, duration, threads, connections)
    if warmup > 0:
        asyncio.run(_httpx_load(url, headers, warmup, connections))
    return asyncio.run(_httpx_load(url, headers, duration, connections))


# --------------------------------------------------------------------------- large transfers


class RssSampler:
    """Sample one process's RSS every ``interval`` seconds in a background thread."""

    def __init__(self, pid: int, interval: float = RSS_INTERVAL) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.rss())
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(psutil.Error):
            self.peak = max(self.peak, self.rss())


def idle_rss(pid: int, settle: float = 0.3) -> int:
    """The process's RSS once it is quiet: the median of a few samples."""
    proc = psutil.Process(pid)
    time.sleep(settle)
    samples = []
    for _ in range(5):
        samples.append(int(proc.memory_info().rss))
        time.sleep(RSS_INTERVAL)
    return int(statistics.median(samples))


@dataclass
class Transfer:
    server: str
    op: str
    rep: int
    seconds: float
    wall_seconds: float
    bytes: int
    http_code: int
    rss_idle_mb: float
    rss_peak_mb: float
    rss_growth_mb: float
    rss_samples: int
    cpu_user_s: float
    cpu_sys_s: float

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s

    @property
    def mb_per_s(self) -> float:
        return self.bytes / MB / self.seconds if self.seconds else float("nan")


_CURL_FORMAT = "%{http_code} %{time_total} %{size_upload} %{size_download}"


def curl_timed(
    server: Server, op: str, rep: int, args: list[str], expect_bytes: int
) -> tuple[Transfer, str]:
    """Run one curl transfer while sampling the server's RSS; return it and the body."""
    body_file = server.data_dir.parent / f"curl-{server.name}-{op}-{rep}.out"
    cmd = ["curl", "-sS", "--max-time", "1800", "-o", str(body_file), "-w", _CURL_FORMAT]
    for name, value in server.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd += args
    baseline = idle_rss(server.pid)
    cpu_before = psutil.Process(server.pid).cpu_times()
    with RssSampler(server.pid) as sampler:
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1900)
        wall = time.perf_counter() - t0
    cpu_after = psutil.Process(server.pid).cpu_times()
    if out.returncode != 0:
        raise RuntimeError(f"curl failed ({out.returncode}): {out.stderr}\n{server.log_tail()}")
    code_s, total_s, up_s, down_s = out.stdout.split()
    moved = int(float(up_s if op == "upload" else down_s))
    body = ""
    if op == "upload":
        body = body_file.read_text(errors="replace")
    body_file.unlink(missing_ok=True)
    if int(code_s) != 200:
        raise RuntimeError(f"{server.name} {op} gave HTTP {code_s}: {body[:500]}")
    if moved < expect_bytes:
        raise RuntimeError(f"{server.name} {op} moved {moved} bytes, expected {expect_bytes}")
    transfer = Transfer(
        server=server.name,
        op=op,
        rep=rep,
        seconds=float(total_s),
        wall_seconds=wall,
        bytes=expect_bytes,
        http_code=int(code_s),
        rss_idle_mb=baseline / MB,
        rss_peak_mb=sampler.peak / MB,
        rss_growth_mb=max(0, sampler.peak - baseline) / MB,
        rss_samples=sampler.samples,
        cpu_user_s=cpu_after.user - cpu_before.user,
        cpu_sys_s=cpu_after.system - cpu_before.system,
    )
    return transfer, body


def make_big_file(path: Path, size: int) -> float:
    """Write ``size`` random bytes to disk in 4 MiB blocks (never all in memory)."""
    t0 = time.perf_counter()
    block = 4 * MB
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            n = min(block, left)
            fh.write(os.urandom(n))
            left -= n
        fh.flush()
        os.fsync(fh.fileno())
    return time.perf_counter() - t0


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
            [
                "-F",
                "purpose=user_data",
                "-F",
                f"file=@{big};filename=big.bin;type=application/octet-stream",
                f"{filegate.base_url}/v1/files",
            ],
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
            [
                "-X",
                "POST",
                "-H",
                "Content-Type: application/octet-stream",
                "-T",
                str(big),
                f"{floor.base_url}/upload?name={floor_name}",
            ],
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


def machine_info() -> dict[str, Any]:
    def cmd(*args: str) -> str:
        try:
            out = subprocess.run(args, capture_output=True, text=True, timeout=10, cwd=REPO)
            return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    # Read-only git: --no-optional-locks keeps `status` from touching the index.
    dirty = cmd("git", "--no-optional-locks", "status", "--porcelain")
    import filegate

    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "load_avg": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "filegate_version": filegate.__version__,
        "git_commit": _git_head(),
        "git_dirty_files": len(dirty.splitlines()) if dirty else 0,
        "packages": {
            name: _version(name) for name in ("uvicorn", "uvloop", "httptools", "starlette")
        },
        "wrk": cmd("wrk", "--version").splitlines()[0] if shutil.which("wrk") else None,
        "curl": cmd("curl", "--version").splitlines()[0] if shutil.which("curl") else None,
    }


def _git_head() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, cwd=REPO
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _best_median(values: Sequence[float]) -> tuple[float, float]:
    return min(values), statistics.median(values)


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
        fg_best, fg_med = _best_median([t.seconds for t in fg])
        fl_best, fl_med = _best_median([t.seconds for t in fl])
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


def format_table(rows: list[list[str]]) -> str:
    header = ["operation", "filegate", "floor", "ratio", "target", "verdict"]
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def line(r: list[str]) -> str:
        cells = [
            r[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)),
        ]
        return " | ".join(cells).rstrip()

    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--size-mb", type=int, default=1024, help="large file size in MiB [1024]")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per load test [10]")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per load test [2]")
    p.add_argument("--reps", type=int, default=3, help="repetitions per large transfer [3]")
    p.add_argument("--connections", type=int, default=32, help="load-test connections [32]")
    p.add_argument("--threads", type=int, default=1, help="wrk threads [1]")
    p.add_argument("--list-files", type=int, default=100, help="files stored for list [100]")
    p.add_argument(
        "--client",
        choices=("auto", "wrk", "httpx"),
        default="auto",
        help="load client: wrk if installed (auto), else an asyncio httpx client",
    )
    p.add_argument("--skip-small", action="store_true", help="skip the small-request phase")
    p.add_argument("--skip-large", action="store_true", help="skip the large-transfer phase")
    p.add_argument(
        "--tmp-dir", type=Path, default=None, help="where temp data goes [system temp dir]"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=HERE / "results" / "gateway.json",
        help="JSON results file [benchmarks/results/gateway.json]",
    )
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


@contextlib.contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    size = args.size_mb * MB
    client: str = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "httpx"
    if client == "wrk" and not shutil.which("wrk"):
        print("wrk not found; use --client httpx", file=sys.stderr)
        return 2
    if not args.skip_large and not shutil.which("curl"):
        print("curl not found; it is needed for the large transfers", file=sys.stderr)
        return 2

    base = args.tmp_dir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(base).free
    # The source file, filegate's current and next copy, the floor's copy, a margin.
    need = 4 * size + 512 * MB
    if not args.skip_large and free < need:
        print(f"not enough disk in {base}: {free / MB:,.0f} MiB free, need {need / MB:,.0f}")
        return 2

    root = Path(tempfile.mkdtemp(prefix="filegate-bench-", dir=base))
    servers: list[Server] = []
    report: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {
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
        },
        "machine": machine_info(),
    }
    print(f"filegate benchmark: temp dir {root}, load client {client}")
    if client != "wrk":
        print("  NOTE: wrk not used; small-request numbers come from an asyncio httpx client")
    ok = False
    try:
        with interrupt_on_sigterm():
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
            for server in servers:
                if server.proc.poll() is not None:
                    raise RuntimeError(f"{server.name} died:\n{server.log_tail()}")
            rows, summary = summarize(small, transfers, args.list_files)
            report["small_requests"] = {
                k: {kk: vv for kk, vv in asdict(v).items() if kk != "raw"} | {"wrk_output": v.raw}
                for k, v in small.items()
            }
            report["transfers"] = [
                asdict(t) | {"mib_per_s": t.mb_per_s, "cpu_s": t.cpu_s} for t in transfers
            ]
            report["summary"] = summary
            report["table"] = rows
            end_commit = _git_head()
            report["machine"]["git_commit_at_end"] = end_commit
            report["machine"]["load_avg_at_end"] = list(os.getloadavg())
            if end_commit != report["machine"]["git_commit"]:
                print(f"NOTE: HEAD moved during the run (now {end_commit[:12]})")
            table = format_table(rows)
            print()
            print(table)
            verdicts = [t["pass"] for t in summary["targets"].values()]
            print()
            print(
                f"targets: {sum(verdicts)}/{len(verdicts)} PASS"
                + ("" if all(verdicts) else " (see FAIL rows)")
            )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2) + "\n")
            print(f"results written to {args.out}")
            ok = True
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
    except Exception as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        for server in servers:
            tail = server.log_tail()
            if tail:
                print(f"--- {server.name} log tail ---\n{tail}", file=sys.stderr)
    finally:
        for server in reversed(servers):
            with contextlib.suppress(Exception):
                server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
