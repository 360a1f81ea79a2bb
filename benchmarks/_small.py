"""Small requests (issue 17): filegate vs a bare server, as the catalog grows.

For each catalog (SQLite, PostgreSQL) and size, one filegate and one bare server
(``floor_small.py``) read the same database, filled in bulk (``_catalog.py``);
the caller's key is a virtual key, so every request is a tenant's. All setups
run side by side and the load tests are interleaved setup by setup, repetition
by repetition, so a slow phase of the shared machine hits every column alike.

- retrieve: ``GET /v1/files/{id}`` rotating over the key's files (a wrk script),
  spread through the whole id range;
- list: ``GET /v1/files?limit=20`` (the key's first page);
- paging: the key's 100,000 files walked page by page with ``after``, and wrk on
  the first and the last page;
- sweep: 100,000 files expire at once; wrk on retrieve from that moment until the
  sweep has removed them all, against wrk without a sweep before and after.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from _catalog import (
    Filled,
    count_owner_postgres,
    count_owner_sqlite,
    create_postgres_db,
    expire_now_postgres,
    expire_now_sqlite,
    fill_postgres,
    fill_sqlite,
)
from _common import (
    HERE,
    MASTER_KEY,
    LoadResult,
    Server,
    launch_script,
    parse_wrk,
    run_wrk,
    start_filegate,
    wrk_rotate_script,
)

DOOMED_OWNER = "key-bench-expiring"


@dataclass
class Setup:
    """One catalog of one size, with a filegate and a floor reading it."""

    catalog: str  # "sqlite" or "postgres"
    size: int
    root: Path
    url: str  # the database, as a plain URL
    filegate: Server
    floor: Server
    key: str  # the virtual key's secret
    key_id: str
    filled: Filled
    retrieve_script: Path

    @property
    def name(self) -> str:
        return f"{self.catalog} {self.size:,}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def count_owner(self, owner: str) -> int:
        if self.catalog == "sqlite":
            return count_owner_sqlite(self.url.removeprefix("sqlite:///"), owner)
        return count_owner_postgres(self.url, owner)


def _make_key(server: Server) -> tuple[str, str]:
    r = httpx.post(
        f"{server.base_url}/key/generate",
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        json={"key_alias": "bench"},
        timeout=30,
    )
    r.raise_for_status()
    doc = r.json()
    return str(doc["key"]), str(doc["token"])


def open_setup(
    base: Path,
    catalog: str,
    size: int,
    *,
    rotate: int,
    databases: list[str],
    servers: list[Server],
    doomed: int = 0,
    sweep_interval: float | None = None,
    say: Callable[[str], None] = print,
) -> Setup:
    """Start filegate on a fresh catalog, fill it, start the floor on the same database.

    ``databases`` and ``servers`` get what is made at once, so the caller can drop
    and stop them even when a later step fails.
    """
    root = base / f"{catalog}-{size}{'-sweep' if doomed else ''}"
    root.mkdir(parents=True)
    env: dict[str, str] = {}
    if catalog == "postgres":
        url = create_postgres_db()
        databases.append(url)
        env["FILEGATE_DATABASE_URL"] = url
    else:
        url = f"sqlite:///{root / 'filegate-data' / 'catalog.db'}"
    if sweep_interval is not None:
        env["FILEGATE_SWEEP_INTERVAL"] = str(sweep_interval)
    filegate = start_filegate(root, max_file_size=64 * 1024 * 1024, extra_env=env)
    servers.append(filegate)
    key, key_id = _make_key(filegate)
    t0 = time.perf_counter()
    fill = fill_sqlite if catalog == "sqlite" else fill_postgres
    target = url.removeprefix("sqlite:///") if catalog == "sqlite" else url
    filled = fill(target, size, key_id)
    if doomed:
        # Older than every other file, as files made long ago that expire now.
        extra = fill(target, doomed, DOOMED_OWNER, doomed=True, start_ms=filled.start_ms - doomed)
        filled.doomed_ids = extra.doomed_ids
        _make_blobs(root / "filegate-data" / "files" / "blobs", filled.doomed_ids)
    say(
        f"  {catalog} {size:,} files"
        + (f" + {doomed:,} to expire" if doomed else "")
        + f": filled in {time.perf_counter() - t0:.1f} s"
    )
    floor = launch_script(
        "floor-small",
        HERE / "floor_small.py",
        ["--database", url, "--log-level", "warning"],
        root / "floor-small.log",
        root,
        "/ping",
    )
    servers.append(floor)
    rng = random.Random(size)
    ids = rng.sample(filled.own_ids, min(rotate, len(filled.own_ids)))
    script = wrk_rotate_script(root / "retrieve.lua", [f"/v1/files/{i}" for i in ids])
    setup = Setup(catalog, size, root, url, filegate, floor, key, key_id, filled, script)
    _check_same_answers(setup, ids[0])
    return setup


def _make_blobs(blobs: Path, ids: list[str]) -> None:
    """The bytes of files filled in bulk: the sweep must remove real files."""
    for file_id in ids:
        folder = blobs / file_id[-2:]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / file_id).write_bytes(b"x" * 64)


def _check_same_answers(setup: Setup, file_id: str) -> None:
    """The floor must do the same work: the same objects, field for field."""
    for path in (f"/v1/files/{file_id}", "/v1/files?limit=20"):
        docs = []
        for server in (setup.filegate, setup.floor):
            r = httpx.get(server.base_url + path, headers=setup.headers, timeout=30)
            r.raise_for_status()
            docs.append(r.json())
        if docs[0] != docs[1]:
            raise RuntimeError(f"filegate and the floor differ on {path}:\n{docs[0]}\n{docs[1]}")


# --------------------------------------------------------------------------- load tests


@dataclass
class Run:
    catalog: str
    size: int
    op: str  # trivial, retrieve, list
    server: str  # filegate, floor
    rep: int
    result: LoadResult
    # The server's own CPU time (user + system) per answered request during the run:
    # wall-clock rates on this shared machine swing by a quarter from run to run with
    # the host's load, CPU time per request much less.
    cpu_us_per_request: float = float("nan")

    def json(self) -> dict[str, Any]:
        res = {k: v for k, v in asdict(self.result).items() if k != "raw"}
        return {
            "catalog": self.catalog,
            "size": self.size,
            "op": self.op,
            "server": self.server,
            "rep": self.rep,
            **res,
            "cpu_us_per_request": self.cpu_us_per_request,
            "wrk_output": self.result.raw,
        }


def _wrk(
    setup: Setup, server: Server, op: str, args: argparse.Namespace, duration: float
) -> LoadResult:
    script = setup.retrieve_script if op == "retrieve" else None
    path = {
        "trivial": "/health/liveliness" if server is setup.filegate else "/ping",
        "retrieve": "/v1/files",
        "list": "/v1/files?limit=20",
    }[op]
    return run_wrk(
        server.base_url + path,
        setup.headers,
        duration,
        args.threads,
        args.connections,
        script=script,
    )


def interleaved(
    setups: list[Setup], args: argparse.Namespace, say: Callable[[str], None] = print
) -> list[Run]:
    """``args.small_reps`` rounds of every setup x op x server, each after a warm-up."""
    runs: list[Run] = []
    for rep in range(1, args.small_reps + 1):
        for setup in setups:
            ops = ["retrieve", "list"]
            if setup is setups[0]:
                ops.insert(0, "trivial")
            for op in ops:
                # Alternate who goes first, so neither always follows the other.
                pair = [("filegate", setup.filegate), ("floor", setup.floor)]
                if rep % 2 == 0:
                    pair.reverse()
                for who, server in pair:
                    if args.warmup > 0:
                        _wrk(setup, server, op, args, args.warmup)
                    proc = psutil.Process(server.pid)
                    before = proc.cpu_times()
                    res = _wrk(setup, server, op, args, args.duration)
                    after = proc.cpu_times()
                    spent = (after.user - before.user) + (after.system - before.system)
                    cpu_us = spent * 1e6 / res.requests if res.requests else float("nan")
                    runs.append(Run(setup.catalog, setup.size, op, who, rep, res, cpu_us))
                    say(
                        f"  rep {rep} {setup.name:>18s} {op:8s} {who:8s} {res.rps:8,.0f} req/s"
                        f"  p50 {res.p50_ms:6.2f} ms  p99 {res.p99_ms:6.2f} ms"
                        f"  cpu {cpu_us:5.0f} us/req"
                        + (f"  ERRORS {res.errors}" if res.errors else "")
                    )
    return runs


# --------------------------------------------------------------------------- paging


def paging(
    setup: Setup, args: argparse.Namespace, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Walk the key's files with ``after``; then wrk on the first and the last page."""
    own = setup.filled.own_ids
    limit = args.page_limit
    latencies: list[float] = []
    seen: list[str] = []
    after: str | None = None
    with httpx.Client(base_url=setup.filegate.base_url, headers=setup.headers, timeout=60) as http:
        while True:
            params: dict[str, str | int] = {"limit": limit}
            if after is not None:
                params["after"] = after
            t0 = time.perf_counter()
            r = http.get("/v1/files", params=params)
            latencies.append(time.perf_counter() - t0)
            r.raise_for_status()
            doc = r.json()
            seen += [f["id"] for f in doc["data"]]
            if not doc["has_more"]:
                break
            after = doc["last_id"]
    if seen != own[::-1]:
        raise RuntimeError(f"paging saw {len(seen)} files, expected {len(own)} in order")
    edge = max(1, min(10, len(latencies) // 10))
    first_ms = statistics.median(latencies[:edge]) * 1000
    last_ms = statistics.median(latencies[-edge:]) * 1000
    say(
        f"  {setup.name}: walked {len(seen):,} files in {len(latencies):,} pages of {limit}; "
        f"first pages {first_ms:.2f} ms, last pages {last_ms:.2f} ms (median of {edge})"
    )
    # The last full page of 20: after the 21st-oldest id.
    last_path = f"/v1/files?limit=20&after={own[20]}"
    wrk_runs: dict[str, list[dict[str, Any]]] = {"first": [], "last": []}
    for rep in range(1, args.small_reps + 1):
        for which, path in (("first", "/v1/files?limit=20"), ("last", last_path)):
            url = setup.filegate.base_url + path
            if args.warmup > 0:
                run_wrk(url, setup.headers, args.warmup, args.threads, args.connections)
            res = run_wrk(url, setup.headers, args.duration, args.threads, args.connections)
            wrk_runs[which].append({k: v for k, v in asdict(res).items() if k != "raw"})
            say(
                f"  rep {rep} {which} page: {res.rps:8,.0f} req/s  p50 {res.p50_ms:6.2f} ms"
                f"  p99 {res.p99_ms:6.2f} ms" + (f"  ERRORS {res.errors}" if res.errors else "")
            )
    return {
        "catalog": setup.catalog,
        "size": setup.size,
        "files_walked": len(seen),
        "page_limit": limit,
        "pages": len(latencies),
        "page_ms": [x * 1000 for x in latencies],
        "first_pages_ms": first_ms,
        "last_pages_ms": last_ms,
        "wrk": wrk_runs,
    }


# --------------------------------------------------------------------------- sweep


def _wrk_until(
    setup: Setup, args: argparse.Namespace, done: Callable[[], bool], limit_s: float
) -> tuple[LoadResult, float]:
    """wrk on retrieve until ``done()`` (polled) or ``limit_s``; stopped with SIGINT."""
    seconds = max(1, round(limit_s))
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(setup.retrieve_script),
    ]
    for name, value in setup.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    url = setup.filegate.base_url + "/v1/files"
    cmd.append(url)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while proc.poll() is None and not done():
            time.sleep(0.25)
        elapsed = time.perf_counter() - t0
        if proc.poll() is None:
            # wrk prints its statistics for what it has done so far.
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed: {err or out}")
    return parse_wrk(out, url, elapsed), elapsed


def sweep(
    setup: Setup, args: argparse.Namespace, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Retrieve's p99 without a sweep, during the sweep of ``args.sweep`` files, after."""
    doomed = len(setup.filled.doomed_ids)
    window = args.duration
    before = run_wrk(
        setup.filegate.base_url + "/v1/files",
        setup.headers,
        window,
        args.threads,
        args.connections,
        script=setup.retrieve_script,
    )
    say(
        f"  without sweep (before): p50 {before.p50_ms:.2f} ms  p99 {before.p99_ms:.2f} ms"
        f"  {before.rps:,.0f} req/s"
    )
    path = setup.url.removeprefix("sqlite:///")
    t0 = time.perf_counter()
    expire = expire_now_sqlite if setup.catalog == "sqlite" else expire_now_postgres
    expired = expire(path, DOOMED_OWNER)
    if expired != doomed:
        raise RuntimeError(f"expired {expired} files, expected {doomed}")
    left = [doomed]

    def swept() -> bool:
        left[0] = setup.count_owner(DOOMED_OWNER)
        return left[0] == 0

    during, wrk_s = _wrk_until(setup, args, swept, args.sweep_timeout)
    sweep_s = time.perf_counter() - t0
    say(
        f"  during sweep ({doomed - left[0]:,} of {doomed:,} removed in {wrk_s:.1f} s): "
        f"p50 {during.p50_ms:.2f} ms  p99 {during.p99_ms:.2f} ms  {during.rps:,.0f} req/s"
    )
    while left[0] and time.perf_counter() - t0 < args.sweep_timeout:
        time.sleep(1)
        swept()
    sweep_s = time.perf_counter() - t0
    blobs = setup.root / "filegate-data" / "files" / "blobs"
    blobs_left = sum(len(files) for _, _, files in os.walk(blobs))
    after = run_wrk(
        setup.filegate.base_url + "/v1/files",
        setup.headers,
        window,
        args.threads,
        args.connections,
        script=setup.retrieve_script,
    )
    say(
        f"  without sweep (after):  p50 {after.p50_ms:.2f} ms  p99 {after.p99_ms:.2f} ms"
        f"  {after.rps:,.0f} req/s; swept all in {sweep_s:.1f} s, {blobs_left} blobs left"
    )

    def js(r: LoadResult) -> dict[str, Any]:
        return {k: v for k, v in asdict(r).items() if k != "raw"} | {"wrk_output": r.raw}

    return {
        "catalog": setup.catalog,
        "size": setup.size,
        "doomed": doomed,
        "removed_during_wrk": doomed - left[0] if left[0] else doomed,
        "left_after_timeout": left[0],
        "blobs_left": blobs_left,
        "sweep_s": sweep_s,
        "during_wrk_s": wrk_s,
        "without_before": js(before),
        "during": js(during),
        "without_after": js(after),
    }


@dataclass
class SmallReport:
    runs: list[Run] = field(default_factory=list)
    paging: list[dict[str, Any]] = field(default_factory=list)
    sweeps: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {
            "runs": [r.json() for r in self.runs],
            "paging": self.paging,
            "sweeps": self.sweeps,
            "fills": self.fills,
        }
