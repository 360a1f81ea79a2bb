"""Batches filegate runs itself on an OpenAI-compatible model server, through a real server.

``filegate serve`` with an ``openai_compatible`` deployment in front of the fake model server
(a separate process that counts every request and the most it had in flight at once); the
official openai SDK is the client. The input file stays in filegate's store.
"""

from __future__ import annotations

import collections
import itertools
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from self_batches_support import (
    CHAT,
    DEPLOYMENT,
    EMBEDDINGS,
    chat_line,
    create,
    embedding_line,
    read_lines,
    sdk,
    self_server,
    upload,
    wait_for,
)
from support import assert_error
from tenants_support import make_key

from tests.conftest import ServerProcess, free_port
from tests.fakes.harness import FakeModelServerProcess, running_model_server

CONCURRENCY = 4


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeModelServerProcess]:
    with running_model_server(tmp_path_factory.mktemp("model-server")) as fake:
        yield fake


@pytest.fixture(scope="module")
def server(
    llm: FakeModelServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    down = {
        "name": "down-llm",
        "provider": "openai_compatible",
        "api_base": f"http://127.0.0.1:{free_port()}/v1",
        "max_retries": 1,
        "timeout": 5,
    }
    srv = self_server(tmp_path_factory.mktemp("self-batches"), llm, extra=[down])
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(llm: FakeModelServerProcess) -> None:
    llm.reset()


@pytest.fixture
def key(server: ServerProcess) -> str:
    return make_key(server)[0]


def test_a_200_line_chat_batch_completes_each_line_sent_once(
    llm: FakeModelServerProcess, server: ServerProcess, key: str
) -> None:
    llm.config(latency=0.01, jitter=0.01)
    client = sdk(server, key)
    file_id = upload(client, [chat_line(i) for i in range(200)])
    batch = create(client, file_id, metadata={"job": "nightly"})
    assert batch.status == "validating" and batch.input_file_id == file_id
    assert batch.metadata == {"job": "nightly"} and batch.expires_at == batch.created_at + 86400

    done = wait_for(client, batch.id, {"completed", "failed"})
    assert done.status == "completed", done
    assert done.request_counts.model_dump() == {"total": 200, "completed": 200, "failed": 0}
    assert done.in_progress_at and done.finalizing_at and done.completed_at
    assert done.error_file_id is None and done.output_file_id

    out = read_lines(client, done.output_file_id)
    assert [o["custom_id"] for o in out] == [f"c-{i}" for i in range(200)]
    for i, o in enumerate(out):
        assert o["id"].startswith("batch_req_") and o["error"] is None
        assert o["response"]["status_code"] == 200 and o["response"]["request_id"]
        assert o["response"]["body"]["choices"][0]["message"]["content"] == f"echo: line-{i}"
    meta = client.files.retrieve(done.output_file_id)
    assert meta.purpose == "batch_output" and meta.filename == f"{batch.id}_output.jsonl"
    assert meta.bytes == len(client.files.content(done.output_file_id).content)

    stats = llm.stats()
    assert stats["total"] == 200 and stats["by_op"] == {"chat": 200}
    assert stats["repeated_bodies"] == 0 and stats["distinct_bodies"] == 200
    assert 1 < stats["max_in_flight"] <= CONCURRENCY


def test_an_embeddings_batch(llm: FakeModelServerProcess, server: ServerProcess, key: str) -> None:
    client = sdk(server, key)
    file_id = upload(client, [embedding_line(i) for i in range(30)])
    batch = create(client, file_id, endpoint=EMBEDDINGS)
    done = wait_for(client, batch.id, {"completed", "failed"})
    assert done.status == "completed" and done.endpoint == EMBEDDINGS
    out = read_lines(client, done.output_file_id)
    assert sorted(o["custom_id"] for o in out) == sorted(f"e-{i}" for i in range(30))
    for o in out:
        body = o["response"]["body"]
        assert body["object"] == "list" and len(body["data"][0]["embedding"]) == 8
    assert llm.stats()["by_op"] == {"embeddings": 30}


def test_failing_lines_go_to_the_error_file_and_429s_are_retried(
    llm: FakeModelServerProcess, server: ServerProcess, key: str
) -> None:
    llm.fault(op="chat", match="line-3", status=400, times=None)
    llm.fault(op="chat", match="line-5", status=429, retry_after=0.2, times=2)
    llm.fault(op="chat", match="line-7", status=503, times=1)
    client = sdk(server, key)
    file_id = upload(client, [chat_line(i) for i in range(10)])
    done = wait_for(client, create(client, file_id).id, {"completed", "failed"})
    assert done.status == "completed"
    assert done.request_counts.model_dump() == {"total": 10, "completed": 9, "failed": 1}
    errors = read_lines(client, done.error_file_id)
    assert [e["custom_id"] for e in errors] == ["c-3"]
    assert errors[0]["response"]["status_code"] == 400
    assert errors[0]["response"]["body"]["error"]["type"] == "BadRequestError"
    out = {o["custom_id"]: o for o in read_lines(client, done.output_file_id)}
    assert sorted(out) == sorted(f"c-{i}" for i in range(10) if i != 3)
    assert out["c-5"]["response"]["status_code"] == 200
    # A 400 is the line's answer (sent once); 429 twice and 503 once, then an answer.
    sent = collections.Counter(r["status"] for r in llm.requests(op="chat"))
    assert sent == {200: 9, 400: 1, 429: 2, 503: 1}
    # Retry-After (0.2 s) was waited for between the tries of line 5.
    digest = next(r["sha256"] for r in llm.requests(op="chat") if r["status"] == 429)
    tries = sorted(r["time"] for r in llm.requests(op="chat") if r["sha256"] == digest)
    assert len(tries) == 3 and all(b - a >= 0.18 for a, b in itertools.pairwise(tries))


def test_a_deployment_that_is_down_fails_its_lines_with_the_upstreams_error(
    server: ServerProcess, key: str
) -> None:
    client = sdk(server, key)
    file_id = upload(client, [chat_line(i) for i in range(2)])
    batch = create(client, file_id, extra_body={"model": "down-llm"})
    done = wait_for(client, batch.id, {"completed", "failed"}, timeout=90)
    assert done.status == "completed"
    assert done.request_counts.model_dump() == {"total": 2, "completed": 0, "failed": 2}
    assert done.output_file_id is None
    errors = read_lines(client, done.error_file_id)
    assert sorted(e["custom_id"] for e in errors) == ["c-0", "c-1"]
    for e in errors:
        assert e["response"] is None and e["error"]["code"] == "upstream_unreachable"
        assert "down-llm" in e["error"]["message"]


def test_cancel_mid_run_keeps_the_lines_done(
    llm: FakeModelServerProcess, server: ServerProcess, key: str
) -> None:
    llm.config(latency=0.2)
    client = sdk(server, key)
    file_id = upload(client, [chat_line(i) for i in range(200)])
    batch = create(client, file_id)
    wait_for(client, batch.id, {"in_progress"}, done=8)
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    done = wait_for(client, batch.id, {"cancelled"})
    counts = done.request_counts
    assert counts.total == 200 and 8 <= counts.completed < 200 and counts.failed == 0
    out = read_lines(client, done.output_file_id)
    assert len(out) == counts.completed == len({o["custom_id"] for o in out})
    # Nothing was sent after the cancel but what was in flight, and that was kept.
    assert llm.stats()["total"] == counts.completed
    assert_error(
        httpx.post(
            f"{server.api_url}/batches/{batch.id}/cancel",
            headers={"Authorization": f"Bearer {key}"},
        ),
        400,
        code="invalid_state",
    )


def test_a_file_for_another_endpoint_fails_naming_the_line(server: ServerProcess, key: str) -> None:
    client = sdk(server, key)
    file_id = upload(client, [embedding_line(i) for i in range(3)])
    done = wait_for(client, create(client, file_id, endpoint=CHAT).id, {"failed", "completed"})
    assert done.status == "failed" and done.failed_at and done.output_file_id is None
    error = done.errors.data[0]
    assert error.line == 1 and error.code == "mismatched_endpoint"
    assert EMBEDDINGS in (error.message or "")


def test_routing_by_header_and_path_prefix(server: ServerProcess, key: str) -> None:
    client = sdk(server, key)
    file_id = upload(client, [chat_line(0)])
    by_header = create(
        client,
        file_id,
        extra_body={},
        extra_headers={"custom-llm-provider": "openai_compatible"},
    )
    assert wait_for(client, by_header.id, {"completed"}).request_counts.completed == 1
    prefixed = sdk(server, key, base="/openai_compatible/v1")
    by_path = create(prefixed, file_id, extra_body={})
    done = wait_for(prefixed, by_path.id, {"completed"})
    assert done.output_file_id and read_lines(client, done.output_file_id)[0]["custom_id"] == "c-0"
    # Without a choice the file's own store runs nothing: both deployments can, so ask.
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {key}"}) as c:
        r = c.post(
            "/batches",
            json={"input_file_id": file_id, "endpoint": CHAT, "completion_window": "24h"},
        )
    assert_error(r, 400, code="no_batch_deployment")


def test_a_file_cannot_be_kept_at_the_model_server(server: ServerProcess, key: str) -> None:
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {key}"}) as c:
        r = c.post(
            "/files",
            data={"purpose": "batch", "model": DEPLOYMENT},
            files={"file": ("in.jsonl", b"{}\n")},
        )
    assert_error(r, 400, code="no_files_api")


def test_other_tenants_see_nothing(server: ServerProcess, key: str) -> None:
    mine = sdk(server, key)
    other_key = make_key(server)[0]
    other = sdk(server, other_key)
    file_id = upload(mine, [chat_line(i) for i in range(3)])
    done = wait_for(mine, create(mine, file_id).id, {"completed"})
    headers = {"Authorization": f"Bearer {other_key}"}
    with httpx.Client(base_url=server.api_url, headers=headers) as c:
        for method, path in (
            ("GET", f"/batches/{done.id}"),
            ("POST", f"/batches/{done.id}/cancel"),
            ("GET", f"/files/{done.output_file_id}"),
            ("GET", f"/files/{done.output_file_id}/content"),
        ):
            assert_error(c.request(method, path), 404)
        # Another tenant's file cannot be the input of a batch either.
        r = c.post(
            "/batches",
            json={
                "input_file_id": file_id,
                "endpoint": CHAT,
                "completion_window": "24h",
                "model": DEPLOYMENT,
            },
        )
        assert_error(r, 404, param="input_file_id")
    assert [b.id for b in other.batches.list()] == []
    assert done.id in [b.id for b in mine.batches.list()]


def test_kill_9_mid_run_and_restart_completes_each_line_once(
    llm: FakeModelServerProcess, tmp_path: Path
) -> None:
    llm.config(latency=0.05)
    data = tmp_path / "data"
    env = {"FILEGATE_DATA_DIR": str(data)}
    first = self_server(tmp_path / "a", llm, env=env)
    try:
        client = sdk(first)
        file_id = upload(client, [chat_line(i) for i in range(200)])
        batch = create(client, file_id)
        wait_for(client, batch.id, {"in_progress"}, done=40)
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(10)
    finally:
        first.stop()
    sent_before = llm.stats()["total"]
    assert sent_before < 200
    second = self_server(tmp_path / "b", llm, env=env)
    try:
        client = sdk(second)
        done = wait_for(client, batch.id, {"completed"}, timeout=90)
        assert done.request_counts.model_dump() == {"total": 200, "completed": 200, "failed": 0}
        out = read_lines(client, done.output_file_id)
        assert [o["custom_id"] for o in out] == [f"c-{i}" for i in range(200)]
    finally:
        second.stop()
    stats = llm.stats()
    # Only the lines in flight at the kill were sent again.
    assert stats["distinct_bodies"] == 200
    assert stats["total"] - 200 == stats["repeated_bodies"] <= CONCURRENCY


def test_kill_9_with_grouped_commits_resends_at_most_concurrency_lines(
    llm: FakeModelServerProcess, tmp_path: Path
) -> None:
    # Fast answers and 8 in flight: lines finish while a commit runs and are committed
    # in groups. A line answered but not yet committed still holds its slot, so what a
    # kill can leave to send again is at most the 8 slots, whatever the groups.
    concurrency, total = 8, 1500
    llm.config(latency=0.002)
    data = tmp_path / "data"
    env = {"FILEGATE_DATA_DIR": str(data)}
    first = self_server(tmp_path / "a", llm, env=env, concurrency=concurrency)
    try:
        client = sdk(first)
        file_id = upload(client, [chat_line(i) for i in range(total)])
        batch = create(client, file_id)
        # request_counts move while it runs (they are committed with each group).
        wait_for(client, batch.id, {"in_progress"}, done=150)
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(10)
    finally:
        first.stop()
    sent_before = llm.stats()["total"]
    assert sent_before < total
    second = self_server(tmp_path / "b", llm, env=env, concurrency=concurrency)
    try:
        client = sdk(second)
        done = wait_for(client, batch.id, {"completed"}, timeout=120)
        assert done.request_counts.model_dump() == {
            "total": total,
            "completed": total,
            "failed": 0,
        }
        out = read_lines(client, done.output_file_id)
        assert [o["custom_id"] for o in out] == [f"c-{i}" for i in range(total)]
    finally:
        second.stop()
    stats = llm.stats()
    assert stats["distinct_bodies"] == total
    assert stats["max_in_flight"] <= concurrency
    assert stats["total"] - total == stats["repeated_bodies"] <= concurrency


def test_output_expires_after_is_refused_not_dropped(
    llm: FakeModelServerProcess, server: ServerProcess, key: str
) -> None:
    client = sdk(server, key)
    file_id = upload(client, [chat_line(0)])
    before = client.batches.list().data
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {key}"}) as c:
        r = c.post(
            "/batches",
            json={
                "input_file_id": file_id,
                "endpoint": CHAT,
                "completion_window": "24h",
                "model": DEPLOYMENT,
                "output_expires_after": {"anchor": "created_at", "seconds": 86400},
            },
        )
    assert_error(r, 400, param="output_expires_after")
    assert client.batches.list().data == before
