"""Helpers shared by the benchmark scripts (bench_gateway.py, bench_providers.py,
bench_uploads.py, bench_storage.py).

Processes (spawn, wait until ready, stop; filegate and the floor sink), small-request
load tests (``wrk``, or an asyncio httpx client when wrk is missing), large transfers
timed with ``curl`` while a background thread samples the server's RSS and CPU, the
run's frame (options, preflight checks, temp dir, clean-up on error or Ctrl-C), machine
info, the result table and the JSON file. The scripts import this module by name: run
them as ``python benchmarks/NAME.py``.
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
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
# Inherited variables that would change what a started server talks to; every server
# gets them only from its caller, explicitly.
_STRIPPED_ENV_PREFIXES = ("FILEGATE_", "OPENAI_", "AZURE_")


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


def clean_env(
    extra: Mapping[str, str] | None = None, strip: Sequence[str] = _STRIPPED_ENV_PREFIXES
) -> dict[str, str]:
    """This process's environment without the ``strip`` prefixes, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(strip))}
    env.update(extra or {})
    return env


def spawn(cmd: Sequence[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            list(cmd), env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def wait_ready(server: Server, path: str, timeout: float = 60.0) -> None:
    """Poll ``path`` until it answers 200; on failure (or Ctrl-C) stop the server, raise.

    The caller gets no Server back when this raises, so it could not stop it.
    """
    deadline = time.monotonic() + timeout
    try:
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
    except BaseException:
        server.stop()
        raise


def launch(
    name: str,
    port: int,
    cmd: Sequence[str],
    env: dict[str, str],
    log_path: Path,
    data_dir: Path,
    ready_path: str,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Server:
    """Spawn ``cmd`` (listening on ``port``) and wait until ``ready_path`` answers 200."""
    server = Server(
        name,
        f"http://127.0.0.1:{port}",
        spawn(cmd, env, log_path),
        log_path,
        data_dir,
        dict(headers or {}),
    )
    wait_ready(server, ready_path, timeout=timeout)
    return server


def start_filegate(
    root: Path, max_file_size: int, extra_env: Mapping[str, str] | None = None
) -> Server:
    """``python -m filegate serve`` on a free port with a fresh data dir under ``root``.

    Without ``extra_env`` it has no provider deployment (the caller's OPENAI_* and
    AZURE_* variables are not passed on), so files go to the embedded store.
    """
    port = free_port()
    data_dir = root / "filegate-data"
    env = clean_env(
        {
            "FILEGATE_DATA_DIR": str(data_dir),
            "FILEGATE_MASTER_KEY": MASTER_KEY,
            "FILEGATE_LOG_LEVEL": "warning",
            "FILEGATE_MAX_FILE_SIZE": str(max_file_size),
            **(extra_env or {}),
        }
    )
    cmd = [sys.executable, "-m", "filegate", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return launch(
        "filegate",
        port,
        cmd,
        env,
        root / "filegate.log",
        data_dir,
        "/health/readiness",
        {"Authorization": f"Bearer {MASTER_KEY}"},
    )


def launch_script(
    name: str,
    script: Path,
    args: Sequence[str],
    log_path: Path,
    data_dir: Path,
    ready_path: str,
    env: Mapping[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Server:
    """``python SCRIPT --port PORT ARGS...`` on a free port, with ``env`` added to ours."""
    port = free_port()
    cmd = [sys.executable, str(script), "--port", str(port), *args]
    return launch(name, port, cmd, clean_env(env), log_path, data_dir, ready_path, headers)


def start_floor(root: Path) -> Server:
    """``benchmarks/floor_sink.py`` (the floor) on a free port, storing under ``root``."""
    data_dir = root / "floor-data"
    args = ["--dir", str(data_dir), "--log-level", "warning"]
    return launch_script(
        "floor", HERE / "floor_sink.py", args, root / "floor.log", data_dir, "/ping"
    )


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so ``finally`` blocks stop the servers."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stop_all(servers: Iterable[Server]) -> None:
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


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
    url: str,
    headers: dict[str, str],
    duration: float,
    threads: int,
    connections: int,
    timeout: float | None = None,
    script: Path | None = None,
) -> LoadResult:
    """One wrk run; ``timeout`` (seconds) replaces wrk's 2 s per-request timeout.

    ``script``: a wrk Lua script (e.g. ``wrk_rotate_script``'s) choosing each request.
    """
    # wrk takes whole seconds only.
    seconds = max(1, round(duration))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if timeout is not None:
        cmd.append(f"--timeout={max(1, round(timeout))}s")
    if script is not None:
        cmd += ["-s", str(script)]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + (timeout or 0) + 60)
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
    timeout: float | None = None,
    script: Path | None = None,
) -> LoadResult:
    """A warm-up run, then the measured one. ``timeout``, ``script``: wrk only."""
    if client == "wrk":
        if warmup > 0:
            run_wrk(url, headers, warmup, threads, connections, timeout, script)
        return run_wrk(url, headers, duration, threads, connections, timeout, script)
    if script is not None:
        raise RuntimeError("a request script needs wrk (--client wrk)")
    if warmup > 0:
        asyncio.run(_httpx_load(url, headers, warmup, connections))
    return asyncio.run(_httpx_load(url, headers, duration, connections))


def wrk_rotate_script(path: Path, paths: Sequence[str]) -> Path:
    """A wrk Lua script that sends GET to each of ``paths`` in turn, round and round.

    Each wrk thread starts at its own offset, so the threads do not move in step.
    """
    if not paths or any('"' in p or "\\" in p or "\n" in p for p in paths):
        raise ValueError("paths must be non-empty and plain")
    listed = ",\n".join(f'  "{p}"' for p in paths)
    path.write_text(
        f"local paths = {{\n{listed}\n}}\n"
        "local n = #paths\n"
        "local i = 0\n"
        "local thread_count = 0\n"
        "function setup(thread)\n"
        "  thread_count = thread_count + 1\n"
        "  thread:set('offset', thread_count * 7919)\n"
        "end\n"
        "function init(args)\n"
        "  i = (offset or 0) % n\n"
        "end\n"
        "function request()\n"
        "  i = i % n + 1\n"
        "  return wrk.format('GET', paths[i])\n"
        "end\n"
    )
    return path


def pick_client(requested: str) -> str:
    """``auto`` -> wrk when installed, else httpx."""
    if requested == "auto":
        return "wrk" if shutil.which("wrk") else "httpx"
    return requested


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
class Usage:
    """What one process spent during a ``measure`` block: RSS (idle before, peak), CPU."""

    idle: int = 0
    peak: int = 0
    samples: int = 0
    cpu_user_s: float = 0.0
    cpu_sys_s: float = 0.0

    def fields(self) -> dict[str, Any]:
        """The ``rss_*`` and ``cpu_*`` fields of a Transfer (or any result like it)."""
        return {
            "rss_idle_mb": self.idle / MB,
            "rss_peak_mb": self.peak / MB,
            "rss_growth_mb": max(0, self.peak - self.idle) / MB,
            "rss_samples": self.samples,
            "cpu_user_s": self.cpu_user_s,
            "cpu_sys_s": self.cpu_sys_s,
        }


@contextlib.contextmanager
def measure(pid: int) -> Iterator[Usage]:
    """The idle RSS first, then the RSS (sampled) and CPU seconds of ``pid`` in the block."""
    proc = psutil.Process(pid)
    usage = Usage(idle=idle_rss(pid))
    cpu_before = proc.cpu_times()
    with RssSampler(pid) as sampler:
        yield usage
    cpu_after = proc.cpu_times()
    usage.peak, usage.samples = sampler.peak, sampler.samples
    usage.cpu_user_s = cpu_after.user - cpu_before.user
    usage.cpu_sys_s = cpu_after.system - cpu_before.system


class Rates:
    """``cpu_s`` and ``mb_per_s`` of a measured result (a dataclass with these fields)."""

    seconds: float
    bytes: int
    cpu_user_s: float
    cpu_sys_s: float

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s

    @property
    def mb_per_s(self) -> float:
        return self.bytes / MB / self.seconds if self.seconds else float("nan")


@dataclass
class Transfer(Rates):
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
    with measure(server.pid) as usage:
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1900)
        wall = time.perf_counter() - t0
    if out.returncode != 0:
        body_file.unlink(missing_ok=True)
        raise RuntimeError(f"curl failed ({out.returncode}): {out.stderr}\n{server.log_tail()}")
    code_s, total_s, up_s, down_s = out.stdout.split()
    moved = int(float(up_s if op == "upload" else down_s))
    body = ""
    if op == "upload" or int(code_s) != 200:
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
        **usage.fields(),
    )
    return transfer, body


def upload_form(
    server: Server, src: Path, purpose: str = "user_data", ctype: str = "application/octet-stream"
) -> list[str]:
    """curl arguments for ``POST /v1/files`` of ``src`` (streamed from disk), as the
    quick start sends it."""
    return [
        "-F",
        f"purpose={purpose}",
        "-F",
        f"file=@{src};filename={src.name};type={ctype}",
        f"{server.base_url}/v1/files",
    ]


def floor_upload(floor: Server, src: Path, name: str) -> list[str]:
    """curl arguments for the floor's ``POST /upload`` of ``src`` as a raw body.

    ``-T`` streams from disk, where ``--data-binary @file`` would first read the whole
    file into curl's memory.
    """
    return [
        "-X",
        "POST",
        "-H",
        "Content-Type: application/octet-stream",
        "-T",
        str(src),
        f"{floor.base_url}/upload?name={name}",
    ]


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


# --------------------------------------------------------------------------- report


def machine_info(
    packages: Sequence[str] = ("uvicorn", "uvloop", "httptools", "starlette"),
) -> dict[str, Any]:
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
        "git_commit": git_head(),
        "git_dirty_files": len(dirty.splitlines()) if dirty else 0,
        "packages": {name: package_version(name) for name in packages},
        "wrk": cmd("wrk", "--version").splitlines()[0] if shutil.which("wrk") else None,
        "curl": cmd("curl", "--version").splitlines()[0] if shutil.which("curl") else None,
    }


def git_head() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, cwd=REPO
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def best_median(values: Sequence[float]) -> tuple[float, float]:
    return min(values), statistics.median(values)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    table = [list(header), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def line(r: Sequence[str]) -> str:
        cells = [
            r[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)),
        ]
        return " | ".join(cells).rstrip()

    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def small_requests_json(small: Mapping[str, LoadResult]) -> dict[str, dict[str, Any]]:
    """Load results for the JSON report, wrk's own output under ``wrk_output``."""
    return {
        k: {kk: vv for kk, vv in asdict(v).items() if kk != "raw"} | {"wrk_output": v.raw}
        for k, v in small.items()
    }


def targets_line(summary: Mapping[str, Any]) -> str:
    verdicts = [t["pass"] for t in summary["targets"].values()]
    return f"targets: {sum(verdicts)}/{len(verdicts)} PASS" + (
        "" if all(verdicts) else " (see FAIL rows)"
    )


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


# --------------------------------------------------------------------------- the run


def add_load_args(p: argparse.ArgumentParser) -> None:
    """Options of the small-request and large-transfer phases (gateway, providers)."""
    p.add_argument("--duration", type=float, default=10.0, help="seconds per load test [10]")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per load test [2]")
    p.add_argument("--reps", type=int, default=3, help="repetitions per large transfer [3]")
    p.add_argument("--connections", type=int, default=32, help="load-test connections [32]")
    p.add_argument("--threads", type=int, default=1, help="wrk threads [1]")


def add_client_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--client",
        choices=("auto", "wrk", "httpx"),
        default="auto",
        help="load client: wrk if installed (auto), else an asyncio httpx client",
    )


def add_output_args(p: argparse.ArgumentParser, name: str) -> None:
    """``--tmp-dir`` and ``--out`` (default ``benchmarks/results/NAME.json``)."""
    p.add_argument(
        "--tmp-dir", type=Path, default=None, help="where temp data goes [system temp dir]"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=HERE / "results" / f"{name}.json",
        help=f"JSON results file [benchmarks/results/{name}.json]",
    )


def tools_ok(client: str | None, curl_for: str | None) -> bool:
    """wrk when ``client`` is wrk, curl when ``curl_for`` says what for; else say so."""
    if client == "wrk" and not shutil.which("wrk"):
        print("wrk not found; use --client httpx", file=sys.stderr)
        return False
    if curl_for is not None and not shutil.which("curl"):
        print(f"curl not found; {curl_for}", file=sys.stderr)
        return False
    return True


def temp_base(tmp_dir: Path | None, need: int) -> Path | None:
    """The temp dir (created); None, saying so, when it has less than ``need`` bytes free."""
    base = tmp_dir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(base).free
    if free < need:
        print(f"not enough disk in {base}: {free / MB:,.0f} MiB free, need {need / MB:,.0f}")
        return None
    return base


def new_report(settings: dict[str, Any]) -> dict[str, Any]:
    """The JSON report's head: start time, command line, settings, machine."""
    return {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": settings,
        "machine": machine_info(),
    }


def note_end(report: dict[str, Any], say_head_moved: bool = True) -> None:
    """Record the commit and load average at the end (and say if HEAD moved)."""
    end_commit = git_head()
    report["machine"]["git_commit_at_end"] = end_commit
    report["machine"]["load_avg_at_end"] = list(os.getloadavg())
    if say_head_moved and end_commit != report["machine"]["git_commit"]:
        print(f"NOTE: HEAD moved during the run (now {end_commit[:12]})")


def check_alive(servers: Iterable[Server]) -> None:
    for server in servers:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} died:\n{server.log_tail()}")


@contextlib.contextmanager
def guarded_run(root: Path) -> Iterator[list[Server]]:
    """The body of a run: the servers it appends are stopped and ``root`` deleted at the end.

    An error (or Ctrl-C, or SIGTERM) is reported with the servers' log tails and not
    raised: the caller knows the run failed because its body did not reach its end.
    """
    servers: list[Server] = []
    try:
        with interrupt_on_sigterm():
            yield servers
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
    except Exception as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        for server in servers:
            tail = server.log_tail()
            if tail:
                print(f"--- {server.name} log tail ---\n{tail}", file=sys.stderr)
    finally:
        stop_all(reversed(servers))
        shutil.rmtree(root, ignore_errors=True)
