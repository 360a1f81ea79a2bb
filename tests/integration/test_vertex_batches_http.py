"""Batches on Vertex AI end to end: the openai SDK against a filegate server whose Vertex
deployment talks to the fake Vertex AI over fake-gcs-server (zero-config from the
environment, VERTEXAI_API_BASE naming the fake)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from gcs_support import FakeGCS, running_fake_gcs, vertex_gateway_env

from tests.fakes.harness import FakeVertexProcess, running_fake_vertex

BUCKET = "vertex-e2e"
PREFIX = "gw"
MODEL = "gemini-2.5-flash"


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGCS]:
    with running_fake_gcs(tmp_path_factory.mktemp("gcs") / "gcs.log") as fake:
        fake.create_bucket(BUCKET)
        yield fake


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory, gcs: FakeGCS) -> Iterator[FakeVertexProcess]:
    with running_fake_vertex(tmp_path_factory.mktemp("vertex"), gcs.url) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    gcs: FakeGCS,
    fake: FakeVertexProcess,
    module_server_factory: Any,
) -> Iterator[Any]:
    key_dir = tmp_path_factory.mktemp("sa")
    with vertex_gateway_env(key_dir, gcs.url, fake.url, f"{BUCKET}/{PREFIX}") as env:
        env["FILEGATE_BATCH_CACHE_SECONDS"] = "0"
        yield module_server_factory(env=env)


@pytest.fixture(autouse=True)
def _reset(fake: FakeVertexProcess) -> None:
    fake.reset()
    fake.config(token_prefixes=["tok-"], auto_advance=False, output_order="input")


@pytest.fixture
def client(gateway: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.base_url}/vertex_ai/v1",
        api_key=gateway.master_key,
        max_retries=0,
        timeout=120,
    )


def upload(client: openai.OpenAI, records: list[dict[str, Any]]) -> str:
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    return client.files.create(file=("in.jsonl", data), purpose="batch").id


def line(custom_id: str, text: str, model: str = MODEL) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": text}]},
    }


def until(client: openai.OpenAI, batch_id: str, status: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status == status:
            return batch
        assert time.monotonic() < deadline, f"{batch_id} stayed {batch.status}"
        time.sleep(0.1)


IDS = ["a-1", "Request #2 (not a label value)", "a-3"]


def test_the_life_of_a_vertex_batch_through_the_gateway(
    client: openai.OpenAI, fake: FakeVertexProcess, gateway: Any
) -> None:
    file_id = upload(client, [line(c, f"e2e-{i}") for i, c in enumerate(IDS)])
    fake.fault(op="predict", match="e2e-1", status=400, body="No.")
    metadata = {"team": "blue", "note": "Any text, not a label"}
    batch = client.batches.create(
        input_file_id=file_id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata=metadata,
    )
    assert batch.id.startswith("batch_") and batch.status == "validating"
    assert batch.input_file_id == file_id and batch.metadata == metadata
    [job] = fake.jobs("batch")
    assert job["inputConfig"]["gcsSource"]["uris"][0].startswith(f"gs://{BUCKET}/{PREFIX}/")
    assert job["labels"] == {"team": "blue", "filegate_lines": "3"}

    fake.advance(job["name"])
    assert until(client, batch.id, "in_progress").in_progress_at
    fake.advance(job["name"])
    done = until(client, batch.id, "completed")
    assert done.metadata == metadata and done.completed_at
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (3, 2)
    assert done.request_counts.failed == 1
    assert done.output_file_id and done.output_file_id.startswith("file-")
    assert done.error_file_id and done.error_file_id.startswith("file-")
    assert client.batches.retrieve(batch.id).output_file_id == done.output_file_id

    output = client.files.content(done.output_file_id).content
    out = [json.loads(x) for x in output.splitlines()]
    assert [o["custom_id"] for o in out] == [IDS[0], IDS[2]]
    assert out[1]["response"]["body"]["choices"][0]["message"]["content"] == "echo: e2e-2"
    errors = [json.loads(x) for x in client.files.content(done.error_file_id).content.splitlines()]
    assert [(e["custom_id"], e["error"]["message"]) for e in errors] == [(IDS[1], "No.")]
    info = client.files.retrieve(done.output_file_id)
    assert info.bytes == len(output) and info.purpose == "batch_output"
    with httpx.Client(base_url=gateway.base_url, headers=gateway.headers, timeout=60) as http:
        r = http.get(f"/v1/files/{done.output_file_id}/content", headers={"Range": "bytes=10-99"})
        assert r.status_code == 206 and r.content == output[10:100]
        assert r.headers["content-range"] == f"bytes 10-99/{len(output)}"
    listed = [b.id for b in client.batches.list(limit=5)]
    assert batch.id in listed


def test_cancel_and_a_file_with_two_models(client: openai.OpenAI, fake: FakeVertexProcess) -> None:
    file_id = upload(client, [line("c-1", "x"), line("c-2", "y")])
    batch = client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert client.batches.cancel(batch.id).status == "cancelling"
    fake.advance(fake.jobs("batch")[-1]["name"])
    cancelled = until(client, batch.id, "cancelled")
    assert cancelled.cancelled_at and cancelled.output_file_id is None

    mixed = upload(client, [line("m-1", "x"), line("m-2", "y", model="gemini-2.0-flash-001")])
    with pytest.raises(openai.BadRequestError) as exc:
        client.batches.create(
            input_file_id=mixed, endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert "Line 2 uses model 'gemini-2.0-flash-001'" in exc.value.message
    assert len(fake.jobs("batch")) == 1
