"""A fine-tuning job's whole life through filegate, with the official openai SDK.

A real ``filegate serve`` in front of the fake upstream (tests/fakes/fine_tuning.py), on
OpenAI, Azure's dated API and Azure's v1 surface; jobs move only when an admin call moves
them. Every job filegate answers is checked against OpenAI's published schema.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fine_tuning_support import (
    HOLD,
    JOB_ID,
    answer,
    ft_server,
    http,
    only_upstream_job,
    sdk,
    training_data,
    upload,
)
from tenants_support import make_key
from upstream_support import FILEGATE_ID, Fake

from filegate.server.models import fine_tuning as models
from tests.conftest import ServerProcess

DEPLOYMENTS = ("openai", "azure", "azure-v1")


@pytest.fixture(scope="module")
def server(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ft_server(fake, tmp_path_factory.mktemp("fine-tuning-life"))
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.reset()
    fake.config(**HOLD)


@pytest.fixture
def key(server: ServerProcess) -> str:
    """A fresh virtual key per test: its listings hold only what the test made."""
    return make_key(server)[0]


def _wire(server: ServerProcess, key: str, job_id: str) -> dict[str, Any]:
    with http(server, key) as c:
        return answer(
            c.get(f"/v1/fine_tuning/jobs/{job_id}"), "FineTuningJob", models.FineTuningJob
        )


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_whole_life_with_result_files(
    fake: Fake, server: ServerProcess, key: str, deployment: str
) -> None:
    client = sdk(server, key)
    training = upload(client, deployment=deployment)
    validation = upload(client, training_data(10), deployment=deployment)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=training,
        validation_file=validation,
        suffix="nightly",
        seed=7,
        hyperparameters={"n_epochs": 2},
        metadata={"team": "search"},
    )
    assert JOB_ID.fullmatch(job.id)
    assert (job.training_file, job.validation_file) == (training, validation)
    assert job.metadata == {"team": "search"} and job.seed == 7
    # Azure's dated API says "pending" for validating and queued jobs alike.
    assert job.status == ("queued" if deployment == "azure" else "validating_files")
    assert job.result_files == []
    assert job.fine_tuned_model is None and job.finished_at is None

    upstream = only_upstream_job(fake)
    # The provider's own ids, never filegate's, went upstream.
    assert upstream["training_file"] != training and upstream["validation_file"] != validation
    assert upstream["surface"] == ("openai" if deployment == "openai" else "azure")
    assert upstream["user_provided_suffix"] == "nightly"
    assert upstream["hyperparameters"]["n_epochs"] == 2

    fake.job(upstream["id"], status="running")
    running = _wire(server, key, job.id)
    assert running["status"] == "running" and running["id"] == job.id
    assert running["training_file"] == training and running["validation_file"] == validation
    assert running["hyperparameters"]["n_epochs"] == 2

    fake.job(upstream["id"], status="succeeded")
    done = _wire(server, key, job.id)
    assert done["status"] == "succeeded" and done["finished_at"] is not None
    assert done["fine_tuned_model"] == fake.job(upstream["id"])["fine_tuned_model"]
    assert done["trained_tokens"] and done["trained_tokens"] > 0
    assert done["metadata"] == {"team": "search"}
    (result,) = done["result_files"]
    assert FILEGATE_ID.fullmatch(result)
    # Mapped once: the same id on every look, and one file record.
    assert client.fine_tuning.jobs.retrieve(job.id).result_files == [result]
    listed = client.fine_tuning.jobs.list().data
    assert [j.id for j in listed] == [job.id] and listed[0].result_files == [result]
    results = client.files.list(purpose="fine-tune-results").data
    assert [f.id for f in results] == [result]

    meta = client.files.retrieve(result)
    assert meta.purpose == "fine-tune-results" and meta.bytes > 0
    assert meta.filename == f"{job.id}_results.csv"
    text = client.files.content(result).text
    assert len(text.encode()) == meta.bytes
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and rows[0]["step"] == "1"
    assert "train_loss" in rows[0]


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_events_newest_first_paginated_with_filegate_ids(
    fake: Fake, server: ServerProcess, key: str, deployment: str
) -> None:
    client = sdk(server, key)
    training = upload(client, deployment=deployment)
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    upstream = only_upstream_job(fake)
    fake.job(upstream["id"], status="running")
    fake.job(upstream["id"], steps=5)
    with http(server, key) as c:
        r = c.get(f"/v1/fine_tuning/jobs/{job.id}/events", params={"limit": 100})
    whole = answer(r, "ListFineTuningJobEventsResponse", models.ListFineTuningJobEventsResponse)
    assert whole["has_more"] is False
    events = whole["data"]
    assert len(events) >= 7
    stamps = [e["created_at"] for e in events]
    assert stamps == sorted(stamps, reverse=True)
    text = " ".join(e["message"] for e in events)
    # The provider's ids are not shown; filegate's are.
    assert upstream["id"] not in text and upstream["training_file"] not in text
    assert job.id in text and training in text
    assert any(e["type"] == "metrics" for e in events)

    first = client.fine_tuning.jobs.list_events(job.id, limit=3)
    assert [e.id for e in first.data] == [e["id"] for e in events[:3]]
    assert first.has_more is True
    second = client.fine_tuning.jobs.list_events(job.id, limit=3, after=first.data[-1].id)
    assert [e.id for e in second.data] == [e["id"] for e in events[3:6]]
    # The SDK's auto-pagination walks every page with ``after``.
    walked = [e.id for e in client.fine_tuning.jobs.list_events(job.id, limit=2)]
    assert walked == [e["id"] for e in events]


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_checkpoints_name_filegate_job(
    fake: Fake, server: ServerProcess, key: str, deployment: str
) -> None:
    client = sdk(server, key)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, deployment=deployment)
    )
    upstream = only_upstream_job(fake)
    fake.job(upstream["id"], status="succeeded")
    page = client.fine_tuning.jobs.checkpoints.list(job.id, limit=2)
    assert len(page.data) == 2 and page.has_more is True
    assert all(c.fine_tuning_job_id == job.id for c in page.data)
    steps = [c.step_number for c in page.data]
    assert steps == sorted(steps, reverse=True)
    rest = client.fine_tuning.jobs.checkpoints.list(job.id, after=page.data[-1].id)
    assert len(rest.data) == 1 and rest.has_more is False
    with http(server, key) as c:
        r = c.get(f"/v1/fine_tuning/jobs/{job.id}/checkpoints")
    doc = answer(
        r, "ListFineTuningJobCheckpointsResponse", models.ListFineTuningJobCheckpointsResponse
    )
    assert doc["first_id"] == page.data[0].id and doc["last_id"] == rest.data[0].id


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_every_answer_is_what_the_document_says(
    fake: Fake, server: ServerProcess, key: str, deployment: str
) -> None:
    """Every operation's answer, at each stage of a job, against OpenAI's schema and the
    model the OpenAPI document is built from."""
    training = upload(sdk(server, key), deployment=deployment)
    job, jobs = "FineTuningJob", "ListPaginatedFineTuningJobsResponse"
    with http(server, key) as c:
        body = {"model": "gpt-4o-mini", "training_file": training}
        made = answer(c.post("/v1/fine_tuning/jobs", json=body), job, models.FineTuningJob)
        one = f"/v1/fine_tuning/jobs/{made['id']}"
        # A fresh job: no metadata, suffix or estimate yet (null, as OpenAI sends them).
        assert made["metadata"] is None and made["estimated_finish"] is None
        answer(c.get("/v1/fine_tuning/jobs"), jobs, models.ListFineTuningJobsResponse)
        upstream = only_upstream_job(fake)["id"]
        fake.job(upstream, status="running")
        fake.job(upstream, steps=3)
        answer(c.get(one), job, models.FineTuningJob)
        if deployment != "azure":  # Azure's dated API cannot pause
            paused = answer(c.post(f"{one}/pause"), job, models.FineTuningJob)
            assert paused["status"] == "paused"
            answer(c.post(f"{one}/resume"), job, models.FineTuningJob)
        fake.job(upstream, status="succeeded")
        done = answer(c.get(one), job, models.FineTuningJob)
        assert done["status"] == "succeeded" and done["result_files"]
        listed = answer(c.get("/v1/fine_tuning/jobs"), jobs, models.ListFineTuningJobsResponse)
        assert [j["id"] for j in listed["data"]] == [made["id"]]
        events = answer(
            c.get(f"{one}/events", params={"limit": 100}),
            "ListFineTuningJobEventsResponse",
            models.ListFineTuningJobEventsResponse,
        )
        assert {e["type"] for e in events["data"]} == {"message", "metrics"}
        checkpoints = answer(
            c.get(f"{one}/checkpoints"),
            "ListFineTuningJobCheckpointsResponse",
            models.ListFineTuningJobCheckpointsResponse,
        )
        assert checkpoints["data"]
        other = c.post("/v1/fine_tuning/jobs", json=body).json()["id"]
        cancelled = c.post(f"/v1/fine_tuning/jobs/{other}/cancel")
        assert answer(cancelled, job, models.FineTuningJob)["status"] == "cancelled"


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_cancel(fake: Fake, server: ServerProcess, key: str, deployment: str) -> None:
    client = sdk(server, key)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, deployment=deployment)
    )
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.id == job.id and cancelled.status == "cancelled"
    assert only_upstream_job(fake)["status"] == "cancelled"
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with http(server, key) as c:
        again = c.post(f"/v1/fine_tuning/jobs/{job.id}/cancel")
    assert again.status_code in (400, 409), again.text
    err = again.json()["error"]
    assert job.id in err["message"] or "cancel" in err["message"]
    assert only_upstream_job(fake)["id"] not in err["message"]


@pytest.mark.parametrize("deployment", ("openai", "azure-v1"))
def test_pause_and_resume(fake: Fake, server: ServerProcess, key: str, deployment: str) -> None:
    client = sdk(server, key)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, deployment=deployment)
    )
    upstream = only_upstream_job(fake)
    fake.job(upstream["id"], status="running")
    paused = client.fine_tuning.jobs.pause(job.id)
    assert paused.id == job.id and paused.status == "paused"
    resumed = client.fine_tuning.jobs.resume(job.id)
    assert resumed.status == "queued"
    assert fake.job(upstream["id"])["status"] == "queued"


def test_pause_on_a_dated_azure_version_without_it_is_a_clear_400(
    fake: Fake, server: ServerProcess, key: str
) -> None:
    client = sdk(server, key)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, deployment="azure")
    )
    fake.job(only_upstream_job(fake)["id"], status="running")
    before = len(fake.requests())
    with http(server, key) as c:
        for action in ("pause", "resume"):
            r = c.post(f"/v1/fine_tuning/jobs/{job.id}/{action}")
            assert r.status_code == 400, r.text
            err = r.json()["error"]
            assert err["code"] == "unsupported_operation" and err["param"] == "fine_tuning_job_id"
            assert action in err["message"] and "'azure'" in err["message"]
    assert len(fake.requests()) == before  # nothing was sent


def test_file_in_filegate_store_is_copied_once_to_the_deployment(
    fake: Fake, server: ServerProcess, key: str
) -> None:
    client = sdk(server, key)
    training = upload(client, deployment="filegate")
    validation = upload(client, training_data(3), "filegate")
    first = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=training,
        validation_file=validation,
        extra_body={"custom_llm_provider": "openai"},
    )
    second = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=training, extra_body={"custom_llm_provider": "openai"}
    )
    jobs = {j["training_file"] for j in fake.jobs()}
    assert len(jobs) == 1  # one copy of the training file, used by both jobs
    copies = fake.files(purpose="fine-tune")
    assert len(copies) == 2  # the training and the validation file, once each
    assert client.files.content(training).content == training_data()
    assert (first.training_file, second.training_file) == (training, training)


def test_failed_job_keeps_the_providers_error(fake: Fake, server: ServerProcess, key: str) -> None:
    client = sdk(server, key)
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client))
    upstream = only_upstream_job(fake)
    fake.job(
        upstream["id"],
        status="failed",
        error={"code": "invalid_training_file", "message": "bad", "param": "training_file"},
    )
    failed = _wire(server, key, job.id)
    assert failed["status"] == "failed" and failed["result_files"] == []
    assert failed["error"] == {
        "code": "invalid_training_file",
        "message": "bad",
        "param": "training_file",
    }
