"""Self-run batches on a fleet: two gateways on one PostgreSQL catalog run a batch once,
and when the gateway running it is killed, the other takes it over when its lease lapses."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from self_batches_support import chat_line, create, read_lines, sdk, self_server, upload, wait_for

from tests.conftest import ServerProcess, wait_ready
from tests.fakes.harness import FakeModelServerProcess, running_model_server
from tests.postgres import postgres_url

__all__ = ["postgres_url"]
CONCURRENCY = 4


def _execute(url: str, sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    base, name = postgres_url.rsplit("/", 1)
    fresh = f"{name}_selfrun_{uuid.uuid4().hex[:6]}"
    _execute(postgres_url, f'CREATE DATABASE "{fresh}"')
    yield f"{base}/{fresh}"
    _execute(postgres_url, f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeModelServerProcess]:
    with running_model_server(tmp_path_factory.mktemp("model-server")) as fake:
        yield fake


def _fleet(base: Path, llm: FakeModelServerProcess, database: str) -> list[ServerProcess]:
    # One shared store (as a fleet has), one catalog.
    env = {"FILEGATE_DATABASE_URL": database, "FILEGATE_STORAGE_URL": f"file://{base / 'blobs'}"}
    servers = [self_server(base / f"g{i}", llm, env=env, wait=False) for i in range(2)]
    for srv in servers:
        wait_ready(srv, timeout=60)
    return servers


def test_two_gateways_run_one_batch_once(
    llm: FakeModelServerProcess, database: str, tmp_path: Path
) -> None:
    llm.reset()
    llm.config(latency=0.01)
    servers = _fleet(tmp_path, llm, database)
    try:
        a, b = (sdk(s) for s in servers)
        file_id = upload(a, [chat_line(i) for i in range(120)])
        batch = create(a, file_id)
        done = wait_for(b, batch.id, {"completed"}, timeout=90)
        assert done.request_counts.completed == 120
        out = read_lines(b, done.output_file_id)
        assert [o["custom_id"] for o in out] == [f"c-{i}" for i in range(120)]
        stats = llm.stats()
        assert stats["total"] == 120 and stats["repeated_bodies"] == 0
        assert stats["max_in_flight"] <= CONCURRENCY
        assert a.batches.retrieve(batch.id).output_file_id == done.output_file_id
    finally:
        for srv in servers:
            srv.stop()


def test_the_other_gateway_takes_over_when_the_runner_dies(
    llm: FakeModelServerProcess, database: str, tmp_path: Path
) -> None:
    llm.reset()
    llm.config(latency=0.05)
    servers = _fleet(tmp_path, llm, database)
    try:
        a = sdk(servers[0])
        file_id = upload(a, [chat_line(i) for i in range(150)])
        batch = create(a, file_id)
        wait_for(a, batch.id, {"in_progress"}, done=30)
        # Kill the gateway that runs it (the one talking to the model server).
        running = [s for s in servers if _runs(llm, s)]
        assert len(running) == 1
        victim = running[0]
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
        survivor = sdk(next(s for s in servers if s is not victim))
        done = wait_for(survivor, batch.id, {"completed"}, timeout=90)
        out = read_lines(survivor, done.output_file_id)
        assert [o["custom_id"] for o in out] == [f"c-{i}" for i in range(150)]
        stats = llm.stats()
        assert stats["distinct_bodies"] == 150
        # Sent twice: at most the lines in flight when the runner died. A request the
        # kill cut off before its body arrived reached the model server only as a drop.
        sent_again = stats["total"] - stats["dropped"] - 150
        assert sent_again == stats["repeated_bodies"] <= CONCURRENCY
    finally:
        for srv in servers:
            srv.stop()


def _runs(llm: FakeModelServerProcess, server: ServerProcess) -> bool:
    """Whether ``server`` has connections open to the model server (it runs the batch)."""
    port = int(llm.url.rsplit(":", 1)[1])
    conns = psutil.Process(server.proc.pid).net_connections(kind="tcp")
    return any(c.raddr and c.raddr.port == port and c.status == "ESTABLISHED" for c in conns)
