"""Several gateways on one PostgreSQL catalog and one S3 bucket (moto), through the openai SDK.

Three ``filegate serve`` processes on different ports, started at the same moment on a
fresh database (so their migrations race), share the catalog and an ``s3://`` prefix and
sweep every 0.5 s. A mixed workload of 200 operations runs over all three from a thread
pool: a file created through one gateway is retrieved and listed through the next,
downloaded (sha256 checked) through the third and deleted through the first; some
uploads are cut off half-way. Then a delete through one gateway while another streams
the same file, and finally the bucket against the catalog: no orphans, no unfinished
multipart uploads, nothing on the gateways' local disks.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx
import openai
import psutil
import pytest

from filegate.catalog.sql import _lock_key
from tests.conftest import ServerProcess, start_server, wait_ready
from tests.emulators import BUCKET, Emulator, s3_client, s3_emulator
from tests.postgres import postgres_url

__all__ = ["postgres_url", "s3_emulator"]

GATEWAYS = 3
OPERATIONS = 200
WORKERS = 16
MAX_SIZE = 1_000_000
SWEEP_INTERVAL = 0.5
SEED = 20240606
BIG_SIZE = 20_000_000


@dataclass
class Fleet:
    servers: list[ServerProcess]
    emulator: Emulator
    database_url: str
    prefix: str  # the object keys' prefix in the bucket, without a trailing slash
    clients: list[openai.OpenAI] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clients = [
            openai.OpenAI(
                base_url=s.api_url, api_key=s.master_key or "unused", max_retries=0, timeout=120
            )
            for s in self.servers
        ]

    def bucket_keys(self) -> set[str]:
        """The object names under the fleet's prefix, as filegate's keys."""
        s3 = s3_client(self.emulator)
        keys: set[str] = set()
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=self.prefix + "/"
        ):
            keys.update(
                obj["Key"].removeprefix(self.prefix + "/") for obj in page.get("Contents", [])
            )
        return keys

    def unfinished_multipart_uploads(self) -> list[str]:
        answer = s3_client(self.emulator).list_multipart_uploads(
            Bucket=BUCKET, Prefix=self.prefix + "/"
        )
        return [u["Key"] for u in answer.get("Uploads", [])]

    def catalog_ids(self) -> set[str]:
        """Every live file in the catalog, listed with the master key through gateway A."""
        ids: set[str] = set()
        after: str | None = None
        with httpx.Client(headers=self.servers[0].headers, timeout=60) as http:
            while True:
                params: dict[str, str | int] = {"limit": 100}
                if after:
                    params["after"] = after
                resp = http.get(f"{self.servers[0].api_url}/files", params=params)
                resp.raise_for_status()
                page = resp.json()
                ids.update(f["id"] for f in page["data"])
                if not page["has_more"]:
                    return ids
                after = page["last_id"]


def _admin_execute(url: str, sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(scope="module")
def fresh_database(postgres_url: str) -> Iterator[str]:
    """A database of its own, empty, so the gateways' first migrations really race."""
    base, name = postgres_url.rsplit("/", 1)
    fresh = f"{name}_scale_{uuid.uuid4().hex[:6]}"
    _admin_execute(postgres_url, f'CREATE DATABASE "{fresh}"')
    yield f"{base}/{fresh}"
    _admin_execute(postgres_url, f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


@pytest.fixture(scope="module")
def fleet(
    fresh_database: str,
    s3_emulator: Emulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    prefix = f"scale-{uuid.uuid4().hex[:8]}"
    env = {
        **s3_emulator.env,
        "FILEGATE_DATABASE_URL": fresh_database,
        "FILEGATE_STORAGE_URL": f"s3://{BUCKET}/{prefix}",
        "FILEGATE_SWEEP_INTERVAL": str(SWEEP_INTERVAL),
        "FILEGATE_MAX_FILE_SIZE": "64MB",
    }
    base = tmp_path_factory.mktemp("scale")
    # All three at once, none waiting for another: each migrates the empty database.
    servers = [start_server(base, env=env, wait=False) for _ in range(GATEWAYS)]
    try:
        for srv in servers:
            wait_ready(srv, timeout=60)
        yield Fleet(servers, s3_emulator, fresh_database, prefix)
    finally:
        for srv in servers:
            srv.stop()


# --------------------------------------------------------------------------- the sweep lock


class SweepLockWatch:
    """Samples who holds the sweep's advisory lock in PostgreSQL, in a background thread."""

    def __init__(self, database_url: str, interval: float = 0.005) -> None:
        key = _lock_key("filegate.sweep") & 0xFFFF_FFFF_FFFF_FFFF
        self.classid, self.objid = key >> 32, key & 0xFFFF_FFFF
        self.url = database_url
        self.interval = interval
        self.samples = 0
        self.most_holders = 0
        # PostgreSQL backend pid -> the client port of its connection
        self.holders: dict[int, int] = {}
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._watch())
        except BaseException as exc:
            self.error = exc

    async def _watch(self) -> None:
        conn = await asyncpg.connect(self.url, timeout=5)
        try:
            while not self._stop.is_set():
                rows = await conn.fetch(
                    "SELECT l.pid, a.client_port FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                    "AND l.classid::bigint = $1 AND l.objid::bigint = $2 "
                    "AND l.database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())",
                    self.classid,
                    self.objid,
                )
                self.samples += 1
                self.most_holders = max(self.most_holders, len(rows))
                for row in rows:
                    self.holders[row["pid"]] = row["client_port"]
                await asyncio.sleep(self.interval)
        finally:
            await conn.close()

    def __enter__(self) -> SweepLockWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def sweeping_gateways(self, servers: list[ServerProcess]) -> set[int]:
        """Which gateways (by index) were seen holding the lock, from their local ports."""
        ports = set(self.holders.values())
        seen: set[int] = set()
        for i, srv in enumerate(servers):
            conns = psutil.Process(srv.proc.pid).net_connections(kind="tcp")
            if ports & {c.laddr.port for c in conns if c.laddr}:
                seen.add(i)
        return seen


# --------------------------------------------------------------------------- the workload


@dataclass
class Outcome:
    ops: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # file id -> sha256
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, op: str) -> None:
        with self.lock:
            self.ops[op] += 1


def find_in_listing(
    client: openai.OpenAI,
    file_id: str,
    limit: int,
    order: Literal["asc", "desc"],
    count: Callable[[str], None],
) -> None:
    """Page through the listing until ``file_id`` shows up; check the pages' order.

    Newest first finds a new file on the first page or so; oldest first pages
    through everything listed before it.
    """
    seen: set[str] = set()
    last_created: int | None = None
    page = client.files.list(limit=limit, order=order)
    for _ in range(1000):
        count("list page")
        for f in page.data:
            assert f.id not in seen, f"{f.id} listed twice while paging"
            seen.add(f.id)
            if last_created is not None:
                in_order = (
                    f.created_at <= last_created
                    if order == "desc"
                    else f.created_at >= last_created
                )
                assert in_order, f"pages out of {order} order"
            last_created = f.created_at
            if f.id == file_id:
                return
        if not page.has_next_page():
            break
        page = page.get_next_page()
    raise AssertionError(f"{file_id} not listed after {len(seen)} files")


def lifecycle(fleet: Fleet, n: int, size: int, delete: bool, out: Outcome) -> None:
    """Create through A, retrieve and list through B, download through C, delete through A."""
    a, b, c = (fleet.clients[(n + k) % GATEWAYS] for k in range(3))
    rng = random.Random(SEED + n)
    data = rng.randbytes(size)
    digest = hashlib.sha256(data).hexdigest()
    name = f"scale-{n}.bin"
    created = a.files.create(file=(name, data), purpose="user_data")
    out.count("create")
    assert created.bytes == size and created.filename == name

    got = b.files.retrieve(created.id)
    out.count("retrieve")
    assert (got.id, got.bytes, got.filename) == (created.id, size, name)

    order: Literal["asc", "desc"] = "asc" if n % 2 else "desc"
    find_in_listing(b, created.id, rng.randint(2, 6), order, out.count)
    out.count("list")

    with c.files.with_streaming_response.content(created.id) as response:
        hasher = hashlib.sha256()
        received = 0
        for chunk in response.iter_bytes(256 * 1024):
            hasher.update(chunk)
            received += len(chunk)
    out.count("download")
    assert received == size, f"{created.id}: {received} of {size} bytes"
    assert hasher.hexdigest() == digest, f"{created.id}: sha256 differs"
    if not delete:
        with out.lock:
            out.kept[created.id] = digest
        return

    deleted = a.files.delete(created.id)
    out.count("delete")
    assert deleted.deleted is True and deleted.id == created.id
    with pytest.raises(openai.NotFoundError):
        b.files.content(created.id)
    out.count("content after delete (404)")


def abandoned_upload(fleet: Fleet, n: int, out: Outcome) -> None:
    """A multipart POST whose client goes away after 8 MB of a promised 12 MB."""
    server = fleet.servers[n % GATEWAYS]
    boundary = f"scale{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=purpose\r\n\r\nuser_data\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=file; filename=cut.bin\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    promised = len(head) + 12_000_000 + len(f"\r\n--{boundary}--\r\n")
    chunk = random.Random(SEED - n).randbytes(1_000_000)

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(8):
            yield chunk
        # The gateway is writing the bytes to S3 as a multipart upload by now.
        if wait_for(fleet.unfinished_multipart_uploads, timeout=10):
            out.count("multipart upload seen in flight")
        raise ConnectionAbortedError("client went away")

    headers = {
        **server.headers,
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(promised),
    }
    with pytest.raises((ConnectionAbortedError, httpx.HTTPError)):
        httpx.post(f"{server.api_url}/files", content=body(), headers=headers, timeout=60)
    out.count("abandoned upload")


def plan(rng: random.Random) -> list[tuple[str, int, int, bool]]:
    """(kind, n, size, delete) for exactly OPERATIONS operations, shuffled.

    A deleted lifecycle is 6 operations, a kept one 4 (list counted once however
    many pages it reads), an abandoned upload 1.
    """
    sizes = [0, 1, 255, MAX_SIZE]
    jobs: list[tuple[str, int, int, bool]] = []
    for n in range(30):
        size = sizes[n] if n < len(sizes) else rng.randint(1, MAX_SIZE)
        jobs.append(("lifecycle", n, size, True))
    for n in range(30, 34):
        jobs.append(("lifecycle", n, rng.randint(1, MAX_SIZE), False))
    for n in range(34, 38):
        jobs.append(("abandoned", n, 0, False))
    assert OPERATIONS == 30 * 6 + 4 * 4 + 4
    rng.shuffle(jobs)
    return jobs


def run_workload(fleet: Fleet) -> Outcome:
    out = Outcome()

    def run(job: tuple[str, int, int, bool]) -> None:
        kind, n, size, delete = job
        try:
            if kind == "lifecycle":
                lifecycle(fleet, n, size, delete, out)
            else:
                abandoned_upload(fleet, n, out)
        except BaseException as exc:
            with out.lock:
                out.errors.append(f"{kind} #{n} (size {size}): {type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(run, plan(random.Random(SEED))))
    return out


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something true; return that (or the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


async def query(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def catalog_rows(url: str) -> dict[str, str]:
    """Every file record in the (fleet's own) database: id -> state."""
    return {r["id"]: r["state"] for r in await query(url, "SELECT id, state FROM files")}


def local_files(server: ServerProcess) -> list[Path]:
    return sorted(p for p in server.data_dir.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- the test


def test_three_gateways_share_catalog_and_bucket(fleet: Fleet) -> None:
    a, b, c = fleet.clients
    servers = fleet.servers

    # The race at start-up left one schema, at one revision.
    assert (
        len(asyncio.run(query(fleet.database_url, "SELECT version_num FROM alembic_version"))) == 1
    )

    # 1. The mixed workload over all three gateways.
    with SweepLockWatch(fleet.database_url) as watch:
        started = time.monotonic()
        out = run_workload(fleet)
        workload_s = time.monotonic() - started
        print(f"\n{OPERATIONS} operations in {workload_s:.1f} s: {dict(out.ops)}")
        assert out.errors == []
        counted = sum(
            v
            for k, v in out.ops.items()
            if k not in ("list page", "multipart upload seen in flight")
        )
        assert counted == OPERATIONS, out.ops
        assert out.ops["list page"] > out.ops["list"]
        assert out.ops["multipart upload seen in flight"] == out.ops["abandoned upload"]

        # 2. A delete through C while B streams the same file to a slow reader.
        big = random.Random(SEED).randbytes(BIG_SIZE)
        created = a.files.create(file=("big.bin", big), purpose="user_data")
        s3 = s3_client(fleet.emulator)
        key = f"{fleet.prefix}/{created.id}"
        s3.head_object(Bucket=BUCKET, Key=key)
        hasher = hashlib.sha256()
        received = 0
        deleted_at: int | None = None
        with b.files.with_streaming_response.content(created.id) as response:
            assert response.headers["content-length"] == str(BIG_SIZE)
            for chunk in response.iter_bytes(256 * 1024):
                hasher.update(chunk)
                received += len(chunk)
                if deleted_at is None and received >= 4_000_000:
                    answer = c.files.delete(created.id)
                    assert answer.deleted is True and answer.id == created.id
                    deleted_at = received
                    # Gone from the bucket while the download is still running.
                    with pytest.raises(s3.exceptions.ClientError) as gone:
                        s3.head_object(Bucket=BUCKET, Key=key)
                    assert gone.value.response["Error"]["Code"] == "404"
                time.sleep(0.03)  # a slow reader: the stream takes a few seconds
        # S3 serves a GET that has started from the object as it was when it
        # started, so the delete does not cut this download. (obstore gives each
        # request 30 s; a stream still running then goes on with a ranged GET,
        # which after a delete finds nothing, and the download is cut short: the
        # client sees fewer bytes than Content-Length, never wrong ones.)
        assert deleted_at is not None and deleted_at < BIG_SIZE
        assert received == BIG_SIZE
        assert hasher.hexdigest() == hashlib.sha256(big).hexdigest()
        for client in (a, b, c):
            with pytest.raises(openai.NotFoundError):
                client.files.retrieve(created.id)
            with pytest.raises(openai.NotFoundError):
                client.files.content(created.id)
            with pytest.raises(openai.NotFoundError):
                client.files.delete(created.id)

        # 3. After a few sweeps: the bucket holds exactly the live files.
        time.sleep(4 * SWEEP_INTERVAL)
        live = fleet.catalog_ids()
        assert set(out.kept) <= live
        wait_for(lambda: fleet.bucket_keys() == set(out.kept))
        keys = fleet.bucket_keys()
        assert keys == set(out.kept), (
            f"orphans: {sorted(keys - live)}; missing: {sorted(set(out.kept) - keys)}"
        )
        assert keys <= live
        # ... and the catalog holds exactly those files, every one ready.
        assert asyncio.run(catalog_rows(fleet.database_url)) == dict.fromkeys(out.kept, "ready")
        assert wait_for(lambda: not fleet.unfinished_multipart_uploads()), (
            fleet.unfinished_multipart_uploads()
        )
        for file_id, digest in out.kept.items():
            body = s3.get_object(Bucket=BUCKET, Key=f"{fleet.prefix}/{file_id}")["Body"].read()
            assert hashlib.sha256(body).hexdigest() == digest
        time.sleep(2 * SWEEP_INTERVAL)  # a few more sweeps with the lock watched

    # The upload spools (and everything else on the gateways' disks) are empty.
    for srv in servers:
        assert local_files(srv) == [], srv.data_dir

    # One sweeper at a time, seen from PostgreSQL's lock table.
    assert watch.error is None, watch.error
    assert watch.samples > 100
    assert watch.most_holders == 1, "the sweep lock was never seen held"
    sweepers = watch.sweeping_gateways(servers)
    print(f"sweep lock: {watch.samples} samples, held by gateways {sorted(sweepers)}")
    assert sweepers, watch.holders

    for srv in servers:
        log = srv.log()
        assert srv.proc.poll() is None, log
        assert "Traceback" not in log, log
