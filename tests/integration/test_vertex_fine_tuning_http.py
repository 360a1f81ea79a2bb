"""Fine-tuning jobs on Vertex AI end to end: the openai SDK against a filegate server whose
Vertex deployment talks to the fake Vertex AI's tuningJobs over fake-gcs-server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from fine_tuning_support import answer
from gcs_support import FakeGCS, running_fake_gcs, vertex_gateway_env

from filegate.server.models import fine_tuning as models
from tests.fakes.harness import FakeVertexProcess, running_fake_vertex

BUCKET = "vertex-ft-e2e"
PREFIX = "gw"
MODEL = "gemini-2.5-flash"
MIN_EXAMPLES = 16


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
        env["FILEGATE_FINE_TUNING_CACHE_SECONDS"] = "0"
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


def upload(client: openai.OpenAI, n: int = MIN_EXAMPLES) -> str:
    lines = [
        {
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": f"What is {i} + {i}?"},
                {"role": "assistant", "content": str(2 * i)},
            ]
        }
        for i in range(n)
    ]
    data = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    return client.files.create(file=("train.jsonl", data), purpose="fine-tune").id


def until(client: openai.OpenAI, job_id: str, status: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status == status:
            return job
        assert time.monotonic() < deadline, f"{job_id} stayed {job.status}"
        time.sleep(0.1)


def _answers_as_documented(gateway: Any, job_id: str) -> None:
    """The job, the list, events and checkpoints of a Vertex job, as the wire has them:
    OpenAI's schemas and the models filegate's OpenAPI document is built from."""
    base = f"{gateway.base_url}/vertex_ai/v1/fine_tuning/jobs"
    with httpx.Client(headers=gateway.headers, timeout=60) as c:
        answer(c.get(f"{base}/{job_id}"), "FineTuningJob", models.FineTuningJob)
        answer(
            c.get(base), "ListPaginatedFineTuningJobsResponse", models.ListFineTuningJobsResponse
        )
        answer(
            c.get(f"{base}/{job_id}/events"),
            "ListFineTuningJobEventsResponse",
            models.ListFineTuningJobEventsResponse,
        )
        answer(
            c.get(f"{base}/{job_id}/checkpoints"),
            "ListFineTuningJobCheckpointsResponse",
            models.ListFineTuningJobCheckpointsResponse,
        )


def test_the_life_of_a_vertex_tuning_job_through_the_gateway(
    client: openai.OpenAI, fake: FakeVertexProcess, gateway: Any
) -> None:
    fake.config(tuning_min_examples=MIN_EXAMPLES)
    training, validation = upload(client), upload(client)
    job = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=training,
        validation_file=validation,
        suffix="sums",
        hyperparameters={"n_epochs": 2},
        metadata={"team": "blue"},
    )
    assert job.id.startswith("ftjob-") and job.status in ("validating_files", "queued")
    assert (job.training_file, job.validation_file) == (training, validation)
    assert job.metadata == {"team": "blue"}
    [vertex] = fake.jobs("tuning")
    spec = vertex["supervisedTuningSpec"]
    assert spec["trainingDatasetUri"].startswith(f"gs://{BUCKET}/{PREFIX}/")
    assert spec["validationDatasetUri"].startswith(f"gs://{BUCKET}/{PREFIX}/")
    assert spec["hyperParameters"]["epochCount"] in (2, "2")
    assert vertex["tunedModelDisplayName"] == "sums"

    while (state := fake.jobs("tuning")[0]["state"]) != "JOB_STATE_SUCCEEDED":
        fake.advance(vertex["name"])
        assert state not in ("JOB_STATE_FAILED", "JOB_STATE_CANCELLED"), fake.jobs("tuning")
    done = until(client, job.id, "succeeded")
    assert done.fine_tuned_model and "/endpoints/" in done.fine_tuned_model
    assert done.finished_at and done.result_files == []
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert checkpoints and all(c.fine_tuning_job_id == job.id for c in checkpoints)
    events = client.fine_tuning.jobs.list_events(job.id).data
    assert events and vertex["name"] not in " ".join(e.message for e in events)
    assert job.id in [j.id for j in client.fine_tuning.jobs.list(limit=5)]
    _answers_as_documented(gateway, job.id)


def test_cancel_and_a_batch_file_refused(client: openai.OpenAI, fake: FakeVertexProcess) -> None:
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=upload(client))
    client.fine_tuning.jobs.cancel(job.id)
    name = fake.jobs("tuning")[-1]["name"]
    fake.advance(name)
    assert until(client, job.id, "cancelled").fine_tuned_model is None
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.pause(job.id)

    request = {
        "custom_id": "r-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
    }
    line = json.dumps(request).encode() + b"\n"
    batch_file = client.files.create(file=("b.jsonl", line), purpose="batch").id
    with pytest.raises(openai.BadRequestError) as exc:
        client.fine_tuning.jobs.create(model=MODEL, training_file=batch_file)
    assert exc.value.body["param"] == "training_file"  # type: ignore[index]
    assert len(fake.jobs("tuning")) == 1
