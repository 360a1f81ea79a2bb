"""The metrics beyond HTTP requests, on real server processes: upstream requests, their
latency and retries by deployment and operation; file bytes by target; the catalog's
gauges, refreshed by the sweeper; and a scrape of a gateway holding 100,000 files."""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from batches_support import HOLD, create, line, upload
from batches_support import sdk as batch_sdk
from upstream_support import AZURE_KEY, OPENAI_KEY, Fake, client, config_kwargs, post_file

from filegate.catalog.sql import SQLCatalog
from tests.conftest import MASTER_KEY, ServerProcess, start_server
from tests.integration.test_metrics import scrape

FAST_SWEEP = {"FILEGATE_SWEEP_INTERVAL": "0.2", "FILEGATE_BATCH_CACHE_SECONDS": "0"}


@pytest.fixture(scope="module")
def srv(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("metrics-backends")
    kwargs = config_kwargs(base / "filegate.yaml", fake)
    kwargs["env"].update({**FAST_SWEEP, "FILEGATE_LOG_FORMAT": "json"})
    server = start_server(base, **kwargs)
    yield server
    server.stop()


def delta(after: dict[str, float], before: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


def upstream(deployment: str, operation: str, status: str) -> str:
    labels = f'deployment="{deployment}",operation="{operation}",status="{status}"'
    return f"filegate_upstream_requests_total{{{labels}}}"


def moved(direction: str, target: str) -> str:
    return f'filegate_target_bytes_total{{direction="{direction}",target="{target}"}}'


def wait_for(server: ServerProcess, name: str, value: float, timeout: float = 20) -> float:
    """The gauge ``name`` once the sweeper has brought it to ``value``."""
    deadline = time.monotonic() + timeout
    while True:
        seen = scrape(server).get(name)
        if seen == value or time.monotonic() > deadline:
            return -1.0 if seen is None else seen
        time.sleep(0.1)


def settled(server: ServerProcess, timeout: float = 20) -> dict[str, float]:
    """A scrape whose gauges were counted after this call began (nothing stale)."""
    asked = time.time()
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(server)
        if samples.get("filegate_totals_refreshed_timestamp_seconds", 0) > asked:
            return samples
        assert time.monotonic() < deadline, "the sweeper never refreshed the gauges"
        time.sleep(0.1)


def test_upstream_requests_latency_retries_and_bytes_by_target(
    srv: ServerProcess, fake: Fake
) -> None:
    data = b"provider bytes\n" * 1000
    before = scrape(srv)
    with client(srv) as c:
        made = post_file(c, data, path="/openai/v1/files")
        assert made.status_code == 200, made.text
        file_id = made.json()["id"]
        # One 500 from the upstream: the deployment's one retry gets the bytes.
        fake.fault(op="content", status=500, times=1)
        got = c.get(f"/v1/files/{file_id}/content")
        assert got.status_code == 200 and got.content == data
    after = scrape(srv)

    assert delta(after, before, upstream("openai", "files.create", "200")) == 1
    assert delta(after, before, upstream("openai", "files.content", "500")) == 1
    assert delta(after, before, upstream("openai", "files.content", "200")) == 1
    retries = 'filegate_upstream_retries_total{deployment="openai",operation="files.content"}'
    assert delta(after, before, retries) == 1
    count = (
        "filegate_upstream_request_duration_seconds_count"
        '{deployment="openai",operation="files.content"}'
    )
    assert delta(after, before, count) == 2
    # Out: the multipart body (the file and its framing); in: the file as downloaded.
    assert len(data) < delta(after, before, moved("out", "openai")) < len(data) + 2048
    assert delta(after, before, moved("in", "openai")) >= len(data)
    # Label values are the bounded sets, never an id.
    assert not any(file_id in name for name in after)
    # Neither the scrape nor the JSON log holds a key: the gateway's or an upstream's.
    text = httpx.get(f"{srv.base_url}/metrics", headers=srv.headers).text
    log = srv.log()
    assert '"logger":"filegate.access"' in log
    for secret in (OPENAI_KEY, AZURE_KEY, MASTER_KEY):
        assert secret not in text and secret not in log


def test_embedded_bytes_count_at_the_blob_store(srv: ServerProcess) -> None:
    data = b"e" * 50_000
    before = scrape(srv)
    with client(srv) as c:
        made = post_file(c, data, custom_llm_provider="filegate").json()
        assert c.get(f"/v1/files/{made['id']}/content").content == data
    after = scrape(srv)
    assert delta(after, before, moved("out", "store:local")) == len(data)
    assert delta(after, before, moved("in", "store:local")) == len(data)


def test_gauges_follow_the_catalog_at_each_sweep(srv: ServerProcess, fake: Fake) -> None:
    start = settled(srv)
    files, stored = start["filegate_stored_files"], start["filegate_stored_bytes"]
    sizes = [1000, 2000, 3000]
    with client(srv) as c:
        ids = [post_file(c, b"g" * n, custom_llm_provider="filegate").json()["id"] for n in sizes]
        assert wait_for(srv, "filegate_stored_files", files + 3) == files + 3
        assert wait_for(srv, "filegate_stored_bytes", stored + sum(sizes)) == stored + sum(sizes)
        for file_id in ids:
            assert c.delete(f"/v1/files/{file_id}").status_code == 200
        assert wait_for(srv, "filegate_stored_files", files) == files

        uploads = start["filegate_uploads_in_progress"]
        body = {
            "purpose": "assistants",
            "filename": "u.txt",
            "bytes": 10,
            "mime_type": "text/plain",
        }
        upload_id = c.post("/v1/uploads", json=body).json()["id"]
        assert wait_for(srv, "filegate_uploads_in_progress", uploads + 1) == uploads + 1
        assert c.post(f"/v1/uploads/{upload_id}/cancel").status_code == 200
        assert wait_for(srv, "filegate_uploads_in_progress", uploads) == uploads

    fake.config(**HOLD)
    batches = start["filegate_batches_in_progress"]
    openai_client = batch_sdk(srv)
    made = create(openai_client, upload(openai_client, [line(0)]))
    assert made.status == "validating"
    # Not final as last seen (a cancel would only make it "cancelling", still running).
    assert wait_for(srv, "filegate_batches_in_progress", batches + 1) == batches + 1
    refreshed = scrape(srv)["filegate_totals_refreshed_timestamp_seconds"]
    assert time.time() - refreshed < 10


N_FILES = 100_000


def seed_catalog(db: Path, n: int) -> None:
    """``n`` READY files of 1..1000 bytes, written straight into the catalog: the scrape
    must not care how they came."""

    async def migrate() -> None:
        await (await SQLCatalog.open(f"sqlite:///{db}")).aclose()

    asyncio.run(migrate())
    with sqlite3.connect(db) as conn:
        conn.execute(
            """
            WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
            INSERT INTO files (id, owner, filename, purpose, bytes, content_type, created_at,
                               status, state, blob_key)
            SELECT printf('file-%026d', i), NULL, 'seed.txt', 'assistants', i % 1000 + 1,
                   'text/plain', 1700000000 + i, 'processed', 'ready', printf('file-%026d', i)
            FROM seq
            """,
            (n,),
        )


def test_a_scrape_of_100k_files_answers_in_under_50ms(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    seed_catalog(db, N_FILES)
    expected_bytes = sum(i % 1000 + 1 for i in range(1, N_FILES + 1))
    server = start_server(tmp_path, env={**FAST_SWEEP, "FILEGATE_DATABASE_URL": f"sqlite:///{db}"})
    try:
        assert wait_for(server, "filegate_stored_files", N_FILES) == N_FILES
        assert scrape(server)["filegate_stored_bytes"] == expected_bytes
        with httpx.Client(headers=server.headers, timeout=30) as c:
            timings = []
            for _ in range(50):
                started = time.perf_counter()
                resp = c.get(f"{server.base_url}/metrics")
                timings.append(time.perf_counter() - started)
                assert resp.status_code == 200
        median = statistics.median(timings)
        print(
            f"scrape of {N_FILES} files: median {median * 1000:.2f} ms, "
            f"max {max(timings) * 1000:.2f} ms ({len(resp.content)} bytes)"
        )
        # The target, on the median: the gauges are read, the catalog is not,
        # so the scrape's cost does not depend on the file count at all.
        assert median < 0.050, timings
    finally:
        server.stop()
