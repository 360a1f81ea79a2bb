"""Benchmark filegate on each blob store against that store's own client, one run.

    python benchmarks/bench_storage.py [--size-mb 200] [--reps 3]
                                       [--backends local,s3,gcs,azure]
                                       [--out benchmarks/results/storage.json]

For each backend (local disk; S3 on moto; GCS on fake-gcs-server; Azure Blob on
Azurite, the emulators started as the tests start them, from tests/emulators.py) it
starts ``filegate serve`` with ``FILEGATE_STORAGE_URL`` on that backend and moves one
random file of ``--size-mb`` MiB up and down two ways, interleaved per repetition:

- filegate: ``curl -F file=@big.bin`` to ``POST /v1/files`` and ``curl`` of
  ``GET /v1/files/{id}/content`` to a file (the shared ``curl_timed`` helper, which
  samples the server's RSS every 20 ms);
- direct: the backend's own client, in this process, from and to the same disk:
  a plain file copy (with fsync, as filegate's local store does) for local disk;
  obstore (the library filegate uses) for S3 and Azure Blob; for GCS the JSON API
  with httpx (one resumable-upload session sent in a single PUT; ``alt=media``), and
  for uploads also in 8 MiB chunks, as a client streaming bytes of unknown length
  (filegate) must send them: fake-gcs-server's cost per chunk grows with the object.

Every repetition deletes what it stored; the first checks the sha256 of both
downloads. Prints a table (best-time ratio filegate / direct, filegate's peak RSS and
growth over idle), writes every number to JSON, and stops what it started. A backend
whose emulator is not installed is skipped, saying why. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import obstore
from _common import (
    MB,
    REPO,
    Server,
    Transfer,
    best_median,
    curl_timed,
    format_table,
    git_head,
    interrupt_on_sigterm,
    machine_info,
    make_big_file,
    measure,
    start_filegate,
    write_json,
)
from obstore.store import AzureStore, S3Store

# The emulators are started exactly as the tests start them.
sys.path.insert(0, str(REPO))
try:
    import pytest

    from tests import emulators
except ImportError as exc:  # pragma: no cover - only without the test extras
    emulators = None  # type: ignore[assignment]
    EMULATOR_IMPORT_ERROR = f"tests/emulators.py is not importable: {exc}"
else:
    EMULATOR_IMPORT_ERROR = ""

BACKENDS = ("local", "s3", "gcs", "azure")
SCHEMES = {"s3": "s3", "gcs": "gs", "azure": "az"}
COPY_BLOCK = 1 * MB
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "storage.json"


# --------------------------------------------------------------------------- direct clients


class Direct(Protocol):
    """A backend's own client: the bytes to and from the store, no filegate in between."""

    description: str

    def upload(self, src: Path, key: str) -> None: ...
    def download(self, key: str, dst: Path) -> None: ...
    def delete(self, key: str) -> None: ...


class LocalDirect:
    description = "file copy in 1 MiB blocks, fsync on write"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def upload(self, src: Path, key: str) -> None:
        with open(src, "rb") as fin, open(self.root / key, "wb") as fout:
            shutil.copyfileobj(fin, fout, COPY_BLOCK)
            fout.flush()
            os.fsync(fout.fileno())

    def download(self, key: str, dst: Path) -> None:
        with open(self.root / key, "rb") as fin, open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout, COPY_BLOCK)

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)


class ObstoreDirect:
    """obstore's own put (automatic multipart, its default 5 MiB x 12) and get."""

    def __init__(self, store: S3Store | AzureStore, description: str) -> None:
        self.store = store
        self.description = description

    def upload(self, src: Path, key: str) -> None:
        obstore.put(self.store, key, src)

    def download(self, key: str, dst: Path) -> None:
        with open(dst, "wb") as fout:
            for chunk in obstore.get(self.store, key).stream(min_chunk_size=COPY_BLOCK):
                fout.write(chunk)

    def delete(self, key: str) -> None:
        obstore.delete(self.store, key)


class GCSDirect:
    description = "httpx on the JSON API: one resumable session, one PUT; alt=media"

    def __init__(self, endpoint: str, bucket: str, prefix: str) -> None:
        self.client = httpx.Client(base_url=endpoint, timeout=600, trust_env=False)
        self.bucket = bucket
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def upload(self, src: Path, key: str) -> None:
        size = src.stat().st_size
        session = self.client.post(
            f"/upload/storage/v1/b/{self.bucket}/o",
            params={"uploadType": "resumable", "name": self._name(key)},
            headers={"X-Upload-Content-Length": str(size)},
            json={"name": self._name(key)},
        )
        session.raise_for_status()
        with open(src, "rb") as fin:
            done = self.client.put(
                session.headers["location"],
                content=_file_chunks(fin),
                headers={"Content-Length": str(size)},
            )
        done.raise_for_status()

    def download(self, key: str, dst: Path) -> None:
        url = f"/storage/v1/b/{self.bucket}/o/{quote(self._name(key), safe='')}"
        with (
            self.client.stream("GET", url, params={"alt": "media"}) as response,
            open(dst, "wb") as fout,
        ):
            response.raise_for_status()
            for chunk in response.iter_raw(COPY_BLOCK):
                fout.write(chunk)

    def delete(self, key: str) -> None:
        url = f"/storage/v1/b/{self.bucket}/o/{quote(self._name(key), safe='')}"
        self.client.delete(url)


class GCSChunkedDirect(GCSDirect):
    """Resumable upload in 8 MiB chunks, each PUT waiting for the last: how a client
    that streams bytes of unknown length must send them, and how filegate does."""

    description = "httpx on the JSON API: resumable upload in 8 MiB chunks"
    chunk = 8 * MB

    def upload(self, src: Path, key: str) -> None:
        size = src.stat().st_size
        session = self.client.post(
            f"/upload/storage/v1/b/{self.bucket}/o",
            params={"uploadType": "resumable", "name": self._name(key)},
            json={"name": self._name(key)},
        )
        session.raise_for_status()
        offset = 0
        with open(src, "rb") as fin:
            while block := fin.read(self.chunk):
                end = offset + len(block)
                total = str(size) if end >= size else "*"
                sent = self.client.put(
                    session.headers["location"],
                    content=block,
                    headers={"Content-Range": f"bytes {offset}-{end - 1}/{total}"},
                )
                if sent.status_code not in (200, 201, 308):
                    sent.raise_for_status()
                offset = end


def _file_chunks(fin: Any) -> Iterator[bytes]:
    while block := fin.read(COPY_BLOCK):
        yield block


# --------------------------------------------------------------------------- backends


@dataclass
class Backend:
    name: str
    storage_url: str
    env: dict[str, str]
    direct: Direct
    stop: Callable[[], None] = lambda: None
    # More direct clients, uploads only: label -> client.
    more_uploads: dict[str, Direct] = field(default_factory=dict)


class Skip(Exception):
    """A backend that cannot run here (its emulator is not installed)."""


def open_backend(name: str, root: Path) -> Backend:
    """Start the backend's emulator (if any); raise ``Skip`` if it is missing."""
    prefix = "bench"
    if name == "local":
        return Backend(name, "", {}, LocalDirect(root / "direct-local"))
    if emulators is None:
        raise Skip(EMULATOR_IMPORT_ERROR)
    workdir = root / f"emulator-{name}"
    workdir.mkdir()
    try:
        emulator = emulators.STARTERS[name](workdir)
    except pytest.skip.Exception as exc:
        raise Skip(exc.msg) from None
    bucket = emulators.BUCKET
    url = f"{SCHEMES[name]}://{bucket}/{prefix}"
    direct: Direct
    more: dict[str, Direct] = {}
    if name == "s3":
        direct = ObstoreDirect(
            S3Store(
                bucket,
                prefix=prefix,
                config={
                    "endpoint": emulator.endpoint,
                    "region": "us-east-1",
                    "access_key_id": emulator.env["AWS_ACCESS_KEY_ID"],
                    "secret_access_key": emulator.env["AWS_SECRET_ACCESS_KEY"],
                },
                client_options={"allow_http": True},
            ),
            "obstore put (multipart, 5 MiB x 12) / get",
        )
    elif name == "azure":
        direct = ObstoreDirect(
            AzureStore(
                bucket,
                prefix=prefix,
                config={
                    "account_name": emulators.AZURITE_ACCOUNT,
                    "account_key": emulators.AZURITE_KEY,
                    "endpoint": emulator.endpoint,
                },
                client_options={"allow_http": True},
            ),
            "obstore put (blocks, 5 MiB x 12) / get",
        )
    else:
        direct = GCSDirect(emulator.endpoint, bucket, prefix)
        more["8 MiB chunks"] = GCSChunkedDirect(emulator.endpoint, bucket, prefix)
    return Backend(name, url, dict(emulator.env), direct, emulator.stop, more)


# --------------------------------------------------------------------------- transfers


def direct_timed(server: str, op: str, rep: int, run: Callable[[], None], nbytes: int) -> Transfer:
    """One direct transfer in this process, with this process's RSS and CPU sampled."""
    with measure(os.getpid()) as usage:
        t0 = time.perf_counter()
        run()
        seconds = time.perf_counter() - t0
    return Transfer(
        server=server,
        op=op,
        rep=rep,
        seconds=seconds,
        wall_seconds=seconds,
        bytes=nbytes,
        http_code=200,
        **usage.fields(),
    )


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(4 * MB):
            hasher.update(block)
    return hasher.hexdigest()


def sha256_download(server: Server, file_id: str) -> str:
    hasher = hashlib.sha256()
    url = f"{server.base_url}/v1/files/{file_id}/content"
    with httpx.stream("GET", url, headers=server.headers, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes(COPY_BLOCK):
            hasher.update(chunk)
    return hasher.hexdigest()


def run_backend(
    backend: Backend, root: Path, big: Path, size: int, digest: str, reps: int
) -> tuple[list[Transfer], dict[str, Any]]:
    extra = {"FILEGATE_STORAGE_URL": backend.storage_url} if backend.storage_url else {}
    server_root = root / f"filegate-{backend.name}"
    server_root.mkdir()
    server = start_filegate(server_root, size + 64 * MB, {**extra, **backend.env})
    transfers: list[Transfer] = []
    checks: dict[str, Any] = {}
    out = root / f"direct-{backend.name}.out"
    try:
        where = backend.storage_url or "file://<data dir>/files"
        print(f"{backend.name}: filegate on {server.base_url}, storage {where}")
        for rep in range(reps):
            key = f"direct-{rep}"
            t, body = curl_timed(
                server,
                "upload",
                rep,
                ["-F", "purpose=user_data", "-F", f"file=@{big}", f"{server.base_url}/v1/files"],
                size,
            )
            transfers.append(t)
            file_id = json.loads(body)["id"]
            d_up = direct_timed(
                "direct", "upload", rep, partial(backend.direct.upload, big, key), size
            )
            transfers.append(d_up)
            for label, client in backend.more_uploads.items():
                more_key = f"{key}-{label.replace(' ', '-')}"
                transfers.append(
                    direct_timed(
                        f"direct ({label})",
                        "upload",
                        rep,
                        partial(client.upload, big, more_key),
                        size,
                    )
                )
                client.delete(more_key)
            t_down, _ = curl_timed(
                server, "download", rep, [f"{server.base_url}/v1/files/{file_id}/content"], size
            )
            transfers.append(t_down)
            d_down = direct_timed(
                "direct", "download", rep, partial(backend.direct.download, key, out), size
            )
            transfers.append(d_down)
            print(
                f"  rep {rep}: upload filegate {t.seconds:6.2f} s / direct {d_up.seconds:6.2f} s"
                f" | download filegate {t_down.seconds:6.2f} s / direct {d_down.seconds:6.2f} s"
                f" | filegate RSS growth {t.rss_growth_mb:.0f} / {t_down.rss_growth_mb:.0f} MiB",
                flush=True,
            )
            if rep == 0:
                checks["filegate_sha256_ok"] = sha256_download(server, file_id) == digest
                checks["direct_sha256_ok"] = sha256_file(out) == digest
                if not (checks["filegate_sha256_ok"] and checks["direct_sha256_ok"]):
                    raise RuntimeError(
                        f"{backend.name}: a download differs from the source {checks}"
                    )
            out.unlink(missing_ok=True)
            httpx.delete(
                f"{server.base_url}/v1/files/{file_id}", headers=server.headers, timeout=120
            ).raise_for_status()
            backend.direct.delete(key)
    finally:
        server.stop()
        out.unlink(missing_ok=True)
    return transfers, checks


# --------------------------------------------------------------------------- report


def summarize(transfers: list[Transfer]) -> dict[str, Any]:
    """Per operation and direct client: best and median times, ratios, RSS, CPU."""
    summary: dict[str, Any] = {}
    for op in ("upload", "download"):
        fg = [t for t in transfers if t.op == op and t.server == "filegate"]
        fg_best, fg_median = best_median([t.seconds for t in fg])
        clients = sorted({t.server for t in transfers if t.op == op and t.server != "filegate"})
        for client in clients:
            direct = [t for t in transfers if t.op == op and t.server == client]
            d_best, d_median = best_median([t.seconds for t in direct])
            name = op if client == "direct" else f"{op} vs {client}"
            summary[name] = {
                "op": op,
                "direct": client,
                "filegate_best_s": fg_best,
                "filegate_median_s": fg_median,
                "direct_best_s": d_best,
                "direct_median_s": d_median,
                "ratio_best": fg_best / d_best if d_best else None,
                "ratio_median": fg_median / d_median if d_median else None,
                "filegate_best_mib_s": max(t.mb_per_s for t in fg),
                "direct_best_mib_s": max(t.mb_per_s for t in direct),
                "filegate_rss_peak_mib": max(t.rss_peak_mb for t in fg),
                "filegate_rss_growth_mib": max(t.rss_growth_mb for t in fg),
                "filegate_cpu_s_median": best_median([t.cpu_s for t in fg])[1],
                "direct_client_rss_growth_mib": max(t.rss_growth_mb for t in direct),
            }
    return summary


def table(results: dict[str, Any], size_mib: float) -> str:
    header = [
        "backend / operation",
        "filegate best s",
        "direct best s",
        "ratio best (median)",
        "filegate MiB/s",
        "direct MiB/s",
        "fg RSS peak MiB",
        "fg RSS growth MiB",
        "fg CPU s",
    ]
    rows: list[list[str]] = []
    for name, result in results.items():
        if "skipped" in result:
            rows.append([f"{name}: skipped ({result['skipped']})", *["-"] * (len(header) - 1)])
            continue
        for s in result["summary"].values():
            rows.append(
                [
                    f"{name} {s['op']} {size_mib:,.0f} MiB"
                    + ("" if s["direct"] == "direct" else f" vs {s['direct']}"),
                    f"{s['filegate_best_s']:.2f}",
                    f"{s['direct_best_s']:.2f}",
                    f"{s['ratio_best']:.2f}x ({s['ratio_median']:.2f}x)",
                    f"{s['filegate_best_mib_s']:.0f}",
                    f"{s['direct_best_mib_s']:.0f}",
                    f"{s['filegate_rss_peak_mib']:.0f}",
                    f"{s['filegate_rss_growth_mib']:.1f}",
                    f"{s['filegate_cpu_s_median']:.2f}",
                ]
            )
    return format_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200, help="file size in MiB (200)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per transfer (3)")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help=f"comma-separated ({','.join(BACKENDS)})"
    )
    parser.add_argument("--tmp-dir", default=None, help="where the file and stores go")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(unknown)}")
    size = args.size_mb * MB
    started = time.time()
    machine = machine_info(("uvicorn", "uvloop", "starlette", "obstore", "httpx", "moto"))
    results: dict[str, Any] = {}
    with (
        interrupt_on_sigterm(),
        tempfile.TemporaryDirectory(prefix="bench-storage-", dir=args.tmp_dir) as tmp,
    ):
        root = Path(tmp)
        big = root / "big.bin"
        print(f"writing {args.size_mb} MiB of random bytes to {big} ...", flush=True)
        make_big_file(big, size)
        digest = sha256_file(big)
        for name in names:
            try:
                backend = open_backend(name, root)
            except Skip as exc:
                reason = str(exc)
                print(f"{name}: skipped: {reason}")
                results[name] = {"skipped": reason}
                continue
            try:
                transfers, checks = run_backend(backend, root, big, size, digest, args.reps)
            finally:
                with contextlib.suppress(Exception):
                    backend.stop()
            results[name] = {
                "storage_url": backend.storage_url or "file://<data dir>/files",
                "direct_clients": {
                    "direct": backend.direct.description,
                    **{f"direct ({k})": v.description for k, v in backend.more_uploads.items()},
                },
                "checks": checks,
                "summary": summarize(transfers),
                "transfers": [{**asdict(t), "mib_per_s": t.mb_per_s} for t in transfers],
            }
    print()
    print(table(results, args.size_mb))
    doc = {
        "benchmark": "bench_storage",
        "size_bytes": size,
        "reps": args.reps,
        "started": started,
        "finished": time.time(),
        "git_commit_end": git_head(),
        "machine": machine,
        "load_avg_end": list(os.getloadavg()),
        "notes": [
            "filegate: curl -F upload / curl download to a file, server RSS sampled every 20 ms",
            "direct: the backend's own client in the benchmark process, same disk",
            "ratio = filegate seconds / direct seconds (lower is better)",
        ],
        "backends": results,
    }
    write_json(args.out, doc)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
