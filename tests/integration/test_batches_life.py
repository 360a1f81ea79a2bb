"""A batch's whole life through filegate, with the official openai SDK, on OpenAI and Azure.

A real ``filegate serve`` in front of the fake upstream (tests/fakes/batches.py), whose
batches move only when an admin call moves them (``batch_in_progress_seconds: null``).
Every Batch object filegate answers is checked against OpenAI's published schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from batches_support import (
    BATCH_ID,
    CHAT,
    HOLD,
    batch_server,
    create,
    http,
    line,
    only_upstream_batch,
    read_lines,
    sdk,
    upload,
)
from support import assert_error
from tenants_support import make_key
from upstream_support import FILEGATE_ID, Fake

from filegate.server.models import batches as models
from tests.conftest import ServerProcess
from tests.fakes.spec_schemas import assert_valid

DEPLOYMENTS = ("openai", "azure", "azure-v1")


@pytest.fixture(scope="module")
def server(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = batch_server(fake, tmp_path_factory.mktemp("batches-life"))
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.reset()
    fake.config(**HOLD)


@pytest.fixture
def key(server: ServerProcess) -> str:
    """A fresh tenant per test, so listings hold only what the test made."""
    return make_key(server)[0]


def _wire(server: ServerProcess, batch_id: str, key: str) -> dict[str, Any]:
    with http(server, key) as c:
        r = c.get(f"/v1/batches/{batch_id}")
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    assert_valid("Batch", doc)
    models.Batch.model_validate_json(r.content)  # what the OpenAPI document says
    return doc


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_whole_life_with_output_and_error_files(
    fake: Fake, server: ServerProcess, key: str, deployment: str
) -> None:
    client = sdk(server, key)
    lines = [line(i) for i in range(5)]
    lines[2] = line(2, fail={"status": 429, "code": "rate_limit_exceeded"})
    file_id = upload(client, lines, deployment)
    batch = create(client, file_id, metadata={"job": "nightly"})
    assert BATCH_ID.fullmatch(batch.id)
    assert batch.input_file_id == file_id and batch.metadata == {"job": "nightly"}
    assert batch.status == "validating" and batch.output_file_id is None
    assert batch.endpoint == CHAT and batch.completion_window == "24h"

    upstream = only_upstream_batch(fake)
    assert upstream["input_file_id"] != file_id  # the provider's own copy
    assert upstream["metadata"] == {"job": "nightly"}
    assert upstream["surface"] == ("openai" if deployment == "openai" else "azure")

    running = _wire(server, batch.id, key)
    assert running["status"] == "in_progress" and running["in_progress_at"] is not None
    assert running["request_counts"]["total"] == 5
    assert running["id"] == batch.id and running["input_file_id"] == file_id

    fake.batch(upstream["id"], status="completed")
    done = _wire(server, batch.id, key)
    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 5, "completed": 4, "failed": 1}
    out_id, err_id = done["output_file_id"], done["error_file_id"]
    assert FILEGATE_ID.fullmatch(out_id) and FILEGATE_ID.fullmatch(err_id)
    # Mapped once: the same ids on every look, and no file record made twice.
    again = client.batches.retrieve(batch.id)
    assert (again.output_file_id, again.error_file_id) == (out_id, err_id)
    outputs = client.files.list(purpose="batch_output").data
    mine = [f.id for f in outputs if f.filename.startswith(batch.id)]
    assert sorted(mine) == sorted([out_id, err_id])

    assert [o["custom_id"] for o in read_lines(client, out_id)] == [
        "req-0",
        "req-1",
        "req-3",
        "req-4",
    ]
    for out in read_lines(client, out_id):
        assert out["response"]["status_code"] == 200
        number = out["custom_id"].removeprefix("req-")
        assert out["response"]["body"]["choices"][0]["message"]["content"] == f"echo: q{number}"
    errors = read_lines(client, err_id)
    assert [e["custom_id"] for e in errors] == ["req-2"]
    assert errors[0]["response"]["status_code"] == 429

    meta = client.files.retrieve(out_id)
    assert meta.purpose == "batch_output" and meta.bytes > 0
    assert meta.filename == f"{batch.id}_output.jsonl"
    whole = client.files.content(out_id).content
    assert len(whole) == meta.bytes
    with http(server, key) as c:
        part = c.get(f"/v1/files/{out_id}/content", headers={"Range": "bytes=5-24"})
    assert part.status_code == 206, part.text
    assert part.content == whole[5:25]
    assert part.headers["content-range"] == f"bytes 5-24/{meta.bytes}"

    # Deletable like any file; the batch keeps naming it, as OpenAI's does.
    assert client.files.delete(out_id).deleted
    with http(server, key) as c:
        assert_error(c.get(f"/v1/files/{out_id}/content"), 404)
    assert out_id not in {f["id"] for f in fake.files()}
    assert client.batches.retrieve(batch.id).output_file_id == out_id


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_cancel_forwards_and_answers_the_new_state(
    fake: Fake, server: ServerProcess, key: str, deployment: str
) -> None:
    fake.config(batch_cancelling_seconds=None)
    client = sdk(server, key)
    batch = create(client, upload(client, [line(i) for i in range(3)], deployment))
    upstream = only_upstream_batch(fake)
    fake.batch(upstream["id"], status="in_progress", requests=1)
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.id == batch.id and cancelling.status == "cancelling"
    assert cancelling.cancelling_at is not None
    assert fake.requests(op="batch_cancel")[-1]["batch_id"] == upstream["id"]
    fake.batch(upstream["id"], status="cancelled")
    cancelled = client.batches.retrieve(batch.id)
    assert cancelled.status == "cancelled"
    # What had run before the cancel is in the output.
    assert [o["custom_id"] for o in read_lines(client, cancelled.output_file_id or "")] == ["req-0"]
    # Cancelling a finished batch: the provider's refusal (4xx) is passed on.
    fake.reset()
    fake.config(**HOLD)
    finished = create(client, upload(client, [line(0)], deployment))
    fake.batch(only_upstream_batch(fake)["id"], status="completed")
    assert client.batches.retrieve(finished.id).status == "completed"
    with http(server, key) as c:
        refused = c.post(f"/v1/batches/{finished.id}/cancel")
    assert refused.status_code in (400, 409), refused.text
    assert_error(refused, refused.status_code)
    assert "Cannot cancel a batch with status 'completed'" in refused.json()["error"]["message"]


def test_failed_batch_shows_the_providers_errors(
    fake: Fake, server: ServerProcess, key: str
) -> None:
    client = sdk(server, key)
    fake.config(batch_max_requests=1)
    batch = create(client, upload(client, [line(0), line(1)]))
    failed = _wire(server, batch.id, key)
    assert failed["status"] == "failed" and failed["failed_at"] is not None
    assert failed["errors"]["object"] == "list" and failed["errors"]["data"]
    assert failed["output_file_id"] is None and failed["error_file_id"] is None


def test_output_expires_after_passes_through(fake: Fake, server: ServerProcess, key: str) -> None:
    client = sdk(server, key)
    batch = create(
        client,
        upload(client, [line(0)]),
        extra_body={"output_expires_after": {"anchor": "created_at", "seconds": 7200}},
    )
    sent = fake.requests(op="batch_create")[-1]["json"]
    assert sent["output_expires_after"] == {"anchor": "created_at", "seconds": 7200}
    fake.batch(only_upstream_batch(fake)["id"], status="completed")
    done = client.batches.retrieve(batch.id)
    out = client.files.retrieve(done.output_file_id or "")
    assert out.expires_at is not None and out.expires_at - out.created_at in range(7100, 7300)


def test_retrieve_cache_spares_the_provider(fake: Fake, tmp_path_factory: Any) -> None:
    cached = batch_server(fake, tmp_path_factory.mktemp("batches-cache"), cache=30)
    try:
        client = sdk(cached)
        batch = create(client, upload(client, [line(0)]))
        before = len(fake.requests(op="batch_retrieve"))
        for _ in range(10):
            assert client.batches.retrieve(batch.id).status == "validating"
        assert len(fake.requests(op="batch_retrieve")) == before
    finally:
        cached.stop()


def test_embedded_file_is_copied_once_and_reused(
    fake: Fake, server: ServerProcess, key: str
) -> None:
    client = sdk(server, key)
    file_id = upload(client, [line(i) for i in range(3)], "filegate")
    assert fake.files() == []
    first = create(client, file_id, extra_body={"custom_llm_provider": "openai"})
    copies = fake.files(purpose="batch")
    assert len(copies) == 1 and copies[0]["bytes"] == client.files.retrieve(file_id).bytes
    second = create(client, file_id, extra_body={"model": "openai"})
    assert len(fake.files(purpose="batch")) == 1
    inputs = {b["input_file_id"] for b in fake.batches()}
    assert inputs == {copies[0]["id"]}
    assert first.input_file_id == second.input_file_id == file_id
    # The file is still one file, listed once, with its bytes where they were.
    assert [f.id for f in client.files.list(purpose="batch").data] == [file_id]
    assert client.files.content(file_id).content.count(b"\n") == 3


def test_failure_after_a_lazy_copy_keeps_the_copy_and_makes_no_batch(
    fake: Fake, server: ServerProcess, key: str
) -> None:
    client = sdk(server, key)
    file_id = upload(client, [line(0)], "filegate")
    fake.fault(op="batch_create", status=500, times=2)
    with http(server, key) as c:
        r = c.post(
            "/v1/batches",
            json={
                "input_file_id": file_id,
                "endpoint": CHAT,
                "completion_window": "24h",
                "custom_llm_provider": "openai",
            },
        )
    assert_error(r, 502)
    assert client.batches.list().data == []
    assert len(fake.files(purpose="batch")) == 1
    made = create(client, file_id, extra_body={"custom_llm_provider": "openai"})
    assert len(fake.files(purpose="batch")) == 1
    assert [b.id for b in client.batches.list().data] == [made.id]


def test_routing_picks_the_copy_and_refuses_contradictions(
    fake: Fake, server: ServerProcess, key: str
) -> None:
    client = sdk(server, key)
    at_azure = upload(client, [line(0)], "azure")
    # No choice: the file's own deployment.
    create(client, at_azure)
    assert only_upstream_batch(fake)["surface"] == "azure"
    with http(server, key) as c:
        body = {"input_file_id": at_azure, "endpoint": CHAT, "completion_window": "24h"}
        # The file is not at OpenAI, and not in filegate's store to copy from.
        assert_error(
            c.post("/v1/batches", json={**body, "custom_llm_provider": "openai"}),
            400,
            param="input_file_id",
            code="file_not_at_deployment",
        )
        # A path prefix and a field that disagree.
        assert_error(
            c.post("/openai/v1/batches", json={**body, "custom_llm_provider": "azure"}),
            400,
            code="provider_mismatch",
        )
        # model naming a deployment at another provider than the one asked for.
        assert_error(
            c.post("/v1/batches", json={**body, "custom_llm_provider": "azure", "model": "openai"}),
            400,
            code="provider_mismatch",
        )
        # Under the provider prefix that holds it: fine.
        ok = c.post("/azure/v1/batches", json=body)
        assert ok.status_code == 200, ok.text
        # The header says the same as the field.
        hdr = c.post(
            "/v1/batches",
            json={**body, "custom_llm_provider": "azure"},
            headers={"custom-llm-provider": "openai"},
        )
        assert_error(hdr, 400, code="provider_mismatch")
        embedded = upload(client, [line(0)], "filegate")
        refused = c.post(
            "/v1/batches",
            json={
                "input_file_id": embedded,
                "endpoint": CHAT,
                "completion_window": "24h",
                "custom_llm_provider": "filegate",
            },
        )
        assert_error(refused, 400, code="no_batch_deployment")
        # Listing under a provider prefix shows that provider's batches only.
        listed = c.get("/openai/v1/batches").json()
        assert listed["data"] == []
        assert len(c.get("/azure/v1/batches").json()["data"]) == 2
