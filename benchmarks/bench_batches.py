"""Benchmark batches through filegate vs straight to the provider (the fake upstream).

    python benchmarks/bench_batches.py [--output-mb 200] [--duration 5] [--connections 16]
                                       [--out benchmarks/results/batches.json]

Starts the fake OpenAI upstream (``tests/fakes/upstream.py``) and ``filegate serve`` with
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` pointing at it. Measures, in one run:

* batch retrieve with ``wrk``: ``GET /v1/batches/{id}`` of an unfinished batch through
  filegate (its default 1.5 s per-batch cache in the catalog) vs the fake's own
  ``GET /v1/batches/{provider id}`` (req/s ratio);
* the download of a batch output file of about ``--output-mb`` MB with ``curl``: through
  filegate (a filegate file whose bytes are streamed from the provider) vs the fake's
  own content URL (time ratio), sampling filegate's RSS (growth over idle).

Prints a table and writes every number to JSON; stops what it started.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx
from _common import (
    HERE,
    MB,
    REPO,
    add_output_args,
    curl_timed,
    format_table,
    guarded_run,
    launch_script,
    measure_load,
    new_report,
    note_end,
    start_filegate,
    write_json,
)

UPSTREAM = REPO / "tests" / "fakes" / "upstream.py"
OPENAI_KEY = "sk-upstream"
CHAT = "/v1/chat/completions"


def _input(path: Path, output_bytes: int) -> int:
    """A batch input whose echoed output is about ``output_bytes``; returns its line count."""
    content = "x" * 100_000
    lines = max(1, output_bytes // (len(content) + 400))
    with path.open("w") as f:
        for i in range(lines):
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
            f.write(json.dumps({"custom_id": f"r{i}", "method": "POST", "url": CHAT, "body": body}))
            f.write("\n")
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--output-mb", type=int, default=200)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    add_output_args(p, "batches")
    args = p.parse_args()
    report = new_report({k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()})
    root = Path(args.tmp_dir or "/tmp") / f"bench-batches-{int(time.time())}"
    root.mkdir(parents=True)
    finished = False
    with guarded_run(root) as servers:
        fake = launch_script(
            "fake",
            UPSTREAM,
            ["--state-dir", str(root / "fake-state")],
            root / "fake.log",
            root / "fake-state",
            "/__admin/health",
            headers={"Authorization": f"Bearer {OPENAI_KEY}"},
        )
        servers.append(fake)
        gate = start_filegate(
            root,
            1024 * MB,
            {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": f"{fake.base_url}/v1"},
        )
        servers.append(gate)
        httpx.post(f"{fake.base_url}/__admin/config", json={"batch_in_progress_seconds": None})
        with httpx.Client(base_url=gate.base_url, headers=gate.headers, timeout=1800) as c:
            src = root / "input.jsonl"
            lines = _input(src, args.output_mb * MB)
            with src.open("rb") as f:
                made = c.post(
                    "/v1/files", data={"purpose": "batch"}, files={"file": ("in.jsonl", f)}
                )
            made.raise_for_status()
            src.unlink()
            batch = c.post(
                "/v1/batches",
                json={
                    "input_file_id": made.json()["id"],
                    "endpoint": CHAT,
                    "completion_window": "24h",
                },
            ).json()
            upstream = httpx.get(f"{fake.base_url}/__admin/batches").json()["data"][0]
            # Unfinished (held in progress): every retrieve is a real one.
            small = {
                "filegate": measure_load(
                    "wrk",
                    f"{gate.base_url}/v1/batches/{batch['id']}",
                    gate.headers,
                    args.duration,
                    args.threads,
                    args.connections,
                    1.0,
                ),
                "direct": measure_load(
                    "wrk",
                    f"{fake.base_url}/v1/batches/{upstream['id']}",
                    fake.headers,
                    args.duration,
                    args.threads,
                    args.connections,
                    1.0,
                ),
            }
            httpx.post(
                f"{fake.base_url}/__admin/batches/{upstream['id']}",
                json={"status": "completed"},
                timeout=1800,
            ).raise_for_status()
            time.sleep(1.6)
            done = c.get(f"/v1/batches/{batch['id']}").json()
            out = c.get(f"/v1/files/{done['output_file_id']}").json()
            provider_out = httpx.get(f"{fake.base_url}/__admin/batches/{upstream['id']}").json()[
                "output_file_id"
            ]
        size = int(out["bytes"])
        through, _ = curl_timed(
            gate, "download", 0, [f"{gate.base_url}/v1/files/{out['id']}/content"], size
        )
        direct, _ = curl_timed(
            fake, "download", 0, [f"{fake.base_url}/v1/files/{provider_out}/content"], size
        )
        finished = True
    if not finished:
        return 1
    rps_ratio = small["filegate"].rps / small["direct"].rps
    time_ratio = through.seconds / direct.seconds
    rows = [
        [
            "retrieve (req/s)",
            f"{small['filegate'].rps:.0f}",
            f"{small['direct'].rps:.0f}",
            f"{rps_ratio:.2f}",
        ],
        [
            f"output download {size / MB:.0f} MB (s)",
            f"{through.seconds:.2f}",
            f"{direct.seconds:.2f}",
            f"{time_ratio:.2f}",
        ],
        ["filegate RSS growth (MB)", f"{through.rss_growth_mb:.1f}", "", ""],
    ]
    print(format_table(["measure", "filegate", "direct", "ratio"], rows))
    report.update(
        {
            "lines": lines,
            "retrieve": {k: v.__dict__ for k, v in small.items()},
            "retrieve_rps_ratio": rps_ratio,
            "download": {"filegate": through.__dict__, "direct": direct.__dict__},
            "download_time_ratio": time_ratio,
            "filegate_rss_growth_mb": through.rss_growth_mb,
        }
    )
    note_end(report)
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
