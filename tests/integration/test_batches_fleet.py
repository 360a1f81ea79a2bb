"""Batches across gateways and crashes: three gateways on one PostgreSQL catalog (a batch
created via A is retrieved via B, its output read via C, all with the openai SDK), and a
gateway killed with SIGKILL while the provider is making a batch leaves no visible batch."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from batches_support import HOLD, batch_server, create, line, read_lines, sdk, upload
from upstream_support import Fake

from tests.conftest import ServerProcess, wait_ready
from tests.postgres import postgres_url

__all__ = ["postgres_url"]


def _execute(url: str, sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(scope="module")
def database(postgres_url: str) -> Iterator[str]:
    base, name = postgres_url.rsplit("/", 1)
    fresh = f"{name}_batches_{uuid.uuid4().hex[:6]}"
    _execute(postgres_url, f'CREATE DATABASE "{fresh}"')
    yield f"{base}/{fresh}"
    _execute(postgres_url, f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


@pytest.fixture(scope="module")
def fleet(
    fake: Fake, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    base = tmp_path_factory.mktemp("batches-fleet")
    env = {"FILEGATE_DATABASE_URL": database}
    servers = [batch_server(fake, base / f"g{i}", env=env, cache=1.5, wait=False) for i in range(3)]
    try:
        for srv in servers:
            wait_ready(srv, timeout=60)
        yield servers
    finally:
        for srv in servers:
            srv.stop()


def test_created_via_a_retrieved_via_b_output_via_c(fake: Fake, fleet: list[ServerProcess]) -> None:
    fake.reset()
    fake.config(**HOLD)
    a, b, c = (sdk(s) for s in fleet)
    file_id = upload(a, [line(i) for i in range(4)])
    batch = create(a, file_id)
    assert b.batches.retrieve(batch.id).input_file_id == file_id
    fake.batch(fake.batches()[0]["id"], status="completed")
    time.sleep(1.6)  # past the shared retrieve cache
    done = b.batches.retrieve(batch.id)
    assert done.status == "completed" and done.output_file_id
    # Every gateway names the same output file: it was mapped once, in the catalog.
    for client in (a, c):
        assert client.batches.retrieve(batch.id).output_file_id == done.output_file_id
    lines = read_lines(c, done.output_file_id)
    assert [x["custom_id"] for x in lines] == [f"req-{i}" for i in range(4)]
    assert [x.id for x in c.batches.list()] == [batch.id]


def test_many_gateways_polling_at_once_map_the_output_once(
    fake: Fake, fleet: list[ServerProcess]
) -> None:
    fake.reset()
    fake.config(**HOLD)
    clients = [sdk(s) for s in fleet]
    batch = create(clients[0], upload(clients[0], [line(0)]))
    fake.batch(fake.batches()[0]["id"], status="completed")
    time.sleep(1.6)
    seen: list[str | None] = []

    def poll(client: Any) -> None:
        seen.append(client.batches.retrieve(batch.id).output_file_id)

    threads = [threading.Thread(target=poll, args=(c,)) for c in clients * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and seen[0] is not None
    outputs = [f for f in clients[1].files.list(purpose="batch_output") if batch.id in f.filename]
    assert len(outputs) == 1


def test_kill_during_create_leaves_no_visible_batch(fake: Fake, tmp_path: Path) -> None:
    fake.reset()
    fake.config(**HOLD)
    data = tmp_path / "data"
    env = {"FILEGATE_DATA_DIR": str(data)}
    first = batch_server(fake, tmp_path / "one", env=env)
    client = sdk(first)
    file_id = upload(client, [line(0)])
    fake.fault(op="batch_create", delay=30, times=1)
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            create(client, file_id)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=attempt)
    worker.start()
    deadline = time.monotonic() + 20
    while not fake.requests(op="batch_create"):
        assert time.monotonic() < deadline, "the create never reached the provider"
        time.sleep(0.05)
    first.proc.kill()  # SIGKILL: no clean-up of any kind
    first.proc.wait()
    worker.join()
    assert errors  # the client saw the connection go
    again = batch_server(fake, tmp_path / "two", env=env)
    try:
        after = sdk(again)
        assert after.batches.list().data == []
        # The gateway works on: the same file makes a batch, the only one listed.
        made = create(after, file_id)
        assert [b.id for b in after.batches.list()] == [made.id]
    finally:
        again.stop()
