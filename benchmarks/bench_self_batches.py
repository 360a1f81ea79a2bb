"""Benchmark a batch filegate runs itself on an OpenAI-compatible model server.

    python benchmarks/bench_self_batches.py [--lines 2000] [--concurrency 8]
                                            [--out benchmarks/results/self_batches.json]

Starts the fake model server (``tests/fakes/model_server.py``, zero latency) and
``filegate serve`` with an ``openai_compatible`` deployment pointing at it. Measures, in one
run, lines per second of:

* the floors: a plain asyncio ``httpx`` client, and a plain ``aiohttp`` one (the faster
  of the usual asyncio clients; filegate sends lines with ``upstream/http1.py``), sending the same line bodies straight to the fake, with the
  same number in flight;
* filegate: a batch over the same lines, from create to ``completed`` (validation, every
  line committed to the catalog, output file written), with filegate's RSS sampled
  (growth over idle).

On a shared machine lines/s move with the load; CPU milliseconds per line (filegate's
process, and the fake's for the same lines) do not, so they are reported beside them.

Targets: at least 0.7x the faster floor's lines/s, RSS growth under 100 MB. Prints a table and
writes every number to JSON; stops what it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml
from _common import (
    HERE,
    MB,
    REPO,
    RssSampler,
    add_output_args,
    clean_env,
    format_table,
    free_port,
    guarded_run,
    idle_rss,
    launch,
    new_report,
    note_end,
    start_filegate,
    write_json,
)

CHAT = "/v1/chat/completions"


def _lines(n: int) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"r{i}",
            "method": "POST",
            "url": CHAT,
            "body": {
                "model": "llama",
                "messages": [{"role": "user", "content": f"question {i}: " + "word " * 40}],
            },
        }
        for i in range(n)
    ]


async def _floor(url: str, lines: list[dict[str, Any]], concurrency: int) -> float:
    """Seconds for a plain client to send every body, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one(line: dict[str, Any]) -> None:
            async with gate:
                r = await client.post(line["url"], content=json.dumps(line["body"]))
                r.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(x) for x in lines))
        return time.perf_counter() - started


async def _floor_aiohttp(url: str, lines: list[dict[str, Any]], concurrency: int) -> float:
    """The same with aiohttp (the faster of the two floors is the stricter comparison)."""
    import aiohttp

    gate = asyncio.Semaphore(concurrency)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(base_url=url) as session:

        async def one(line: dict[str, Any]) -> None:
            async with gate:
                body = json.dumps(line["body"]).encode()
                async with session.post(line["url"], data=body, headers=headers) as r:
                    r.raise_for_status()
                    await r.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(x) for x in lines))
        return time.perf_counter() - started


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--lines", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=8)
    add_output_args(p, "self_batches")
    args = p.parse_args()
    report = new_report({k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()})
    root = Path(args.tmp_dir or "/tmp") / f"bench-self-batches-{int(time.time())}"
    root.mkdir(parents=True)
    lines = _lines(args.lines)
    finished = False
    with guarded_run(root) as servers:
        port = free_port()
        fake = launch(
            "model-server",
            port,
            [sys.executable, "-m", "tests.fakes.model_server", "--port", str(port)],
            clean_env({"PYTHONPATH": str(REPO)}),
            root / "model-server.log",
            root,
            "/__admin/health",
        )
        servers.append(fake)
        config = root / "filegate.yaml"
        deployment = {
            "name": "local-llm",
            "provider": "openai_compatible",
            "api_base": f"{fake.base_url}/v1",
            "batch_concurrency": args.concurrency,
        }
        config.write_text(yaml.safe_dump({"deployments": [deployment]}))
        gate = start_filegate(root, 1024 * MB, {"FILEGATE_CONFIG": str(config)})
        servers.append(gate)

        fake_cpu = _cpu_seconds(fake.proc.pid)
        floor_seconds = asyncio.run(_floor(fake.base_url, lines, args.concurrency))
        floor_fake_cpu = _cpu_seconds(fake.proc.pid) - fake_cpu
        floor_stats = httpx.get(f"{fake.base_url}/__admin/stats").json()
        httpx.delete(f"{fake.base_url}/__admin/stats")
        fake_cpu = _cpu_seconds(fake.proc.pid)
        aio_seconds = asyncio.run(_floor_aiohttp(fake.base_url, lines, args.concurrency))
        aio_fake_cpu = _cpu_seconds(fake.proc.pid) - fake_cpu
        aio_stats = httpx.get(f"{fake.base_url}/__admin/stats").json()
        httpx.delete(f"{fake.base_url}/__admin/stats")

        body = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
        with httpx.Client(base_url=gate.base_url, headers=gate.headers, timeout=600) as c:
            made = c.post(
                "/v1/files",
                data={"purpose": "batch", "custom_llm_provider": "filegate"},
                files={"file": ("in.jsonl", body)},
            )
            made.raise_for_status()
            idle = idle_rss(gate.proc.pid)
            with RssSampler(gate.proc.pid) as rss:
                gate_cpu, fake_cpu = _cpu_seconds(gate.proc.pid), _cpu_seconds(fake.proc.pid)
                started = time.perf_counter()
                batch = c.post(
                    "/v1/batches",
                    json={
                        "input_file_id": made.json()["id"],
                        "endpoint": CHAT,
                        "completion_window": "24h",
                        "model": "local-llm",
                    },
                ).json()
                while True:
                    done = c.get(f"/v1/batches/{batch['id']}").json()
                    if done["status"] in ("completed", "failed", "cancelled", "expired"):
                        break
                    # Ten polls a second: every 20 ms, serving the polls took an
                    # eighth of filegate's CPU (a profile), which the floors never pay.
                    time.sleep(0.1)
                gate_seconds = time.perf_counter() - started
                gate_cpu = _cpu_seconds(gate.proc.pid) - gate_cpu
                gate_fake_cpu = _cpu_seconds(fake.proc.pid) - fake_cpu
            if done["status"] != "completed" or done["request_counts"]["completed"] != len(lines):
                raise RuntimeError(f"the batch did not complete: {done}")
        gate_stats = httpx.get(f"{fake.base_url}/__admin/stats").json()
        finished = True
    if not finished:
        return 1
    floor_rate, gate_rate = len(lines) / floor_seconds, len(lines) / gate_seconds
    aio_rate = len(lines) / aio_seconds
    ratio, aio_ratio = gate_rate / floor_rate, gate_rate / aio_rate
    growth = (rss.peak - idle) / MB
    n = len(lines)
    rows = [
        [
            "lines/s",
            f"{gate_rate:.0f}",
            f"{floor_rate:.0f}",
            f"{ratio:.2f}",
            f"{aio_rate:.0f}",
            f"{aio_ratio:.2f}",
        ],
        ["seconds", f"{gate_seconds:.2f}", f"{floor_seconds:.2f}", "", f"{aio_seconds:.2f}", ""],
        [
            "max in flight",
            str(gate_stats["max_in_flight"]),
            str(floor_stats["max_in_flight"]),
            "",
            str(aio_stats["max_in_flight"]),
            "",
        ],
        [
            "requests sent",
            str(gate_stats["total"]),
            str(floor_stats["total"]),
            "",
            str(aio_stats["total"]),
            "",
        ],
        ["filegate CPU ms/line", f"{gate_cpu * 1000 / n:.2f}", "", "", "", ""],
        [
            "model server CPU ms/line",
            f"{gate_fake_cpu * 1000 / n:.2f}",
            f"{floor_fake_cpu * 1000 / n:.2f}",
            "",
            f"{aio_fake_cpu * 1000 / n:.2f}",
            "",
        ],
        ["filegate RSS growth (MB)", f"{growth:.1f}", "", "", "", ""],
    ]
    print(
        format_table(
            ["measure", "filegate", "floor (httpx)", "ratio", "floor (aiohttp)", "ratio"], rows
        )
    )
    # Judged against the faster floor.
    strict = min(ratio, aio_ratio)
    targets = {"ratio_at_least_0.7": strict >= 0.7, "rss_growth_under_100_mb": growth < 100}
    print("targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in targets.items()))
    report.update(
        {
            "lines": len(lines),
            "filegate": {
                "seconds": gate_seconds,
                "lines_per_s": gate_rate,
                "cpu_ms_per_line": gate_cpu * 1000 / len(lines),
                "model_server_cpu_ms_per_line": gate_fake_cpu * 1000 / len(lines),
                "stats": gate_stats,
            },
            "floor": {
                "seconds": floor_seconds,
                "lines_per_s": floor_rate,
                "model_server_cpu_ms_per_line": floor_fake_cpu * 1000 / len(lines),
                "stats": floor_stats,
            },
            "floor_aiohttp": {
                "seconds": aio_seconds,
                "lines_per_s": aio_rate,
                "model_server_cpu_ms_per_line": aio_fake_cpu * 1000 / n,
                "stats": aio_stats,
            },
            "ratio": ratio,
            "ratio_aiohttp": aio_ratio,
            "filegate_rss_idle_mb": idle / MB,
            "filegate_rss_growth_mb": growth,
            "targets": targets,
        }
    )
    note_end(report)
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
