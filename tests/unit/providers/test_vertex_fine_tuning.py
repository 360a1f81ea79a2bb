"""Vertex AI tuning jobs in OpenAI's words: the create body, checked by the fake Vertex's own
parser and validator, and TuningJob resources read back as OpenAI's job, events and
checkpoints."""

from __future__ import annotations

from typing import Any

import pytest

from filegate.errors import InvalidRequest
from filegate.providers.vertex_ai.fine_tuning import (
    job_checkpoints,
    job_events,
    job_from_vertex,
    tuning_body,
)
from tests.fakes.vertex_checks import tuning_violations
from tests.fakes.vertex_schema import TUNING_JOB, parse

TRAIN, VALID = "gs://b/p/01ABC/train.jsonl", "gs://b/p/01ABD/valid.jsonl"
NAME = "projects/123456789012/locations/us-central1/tuningJobs/4567"


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "gemini-2.0-flash-001", "training_file": TRAIN, **extra}


def accepted(job: dict[str, Any]) -> dict[str, Any]:
    spec = parse(job, TUNING_JOB, "tuning_job")
    assert tuning_violations(spec) == []
    return job


def test_body_exact() -> None:
    job = tuning_body(
        body(
            validation_file=VALID,
            hyperparameters={"n_epochs": 3, "learning_rate_multiplier": 0.5, "batch_size": "auto"},
            suffix="support-bot",
            metadata={"team": "search", "Not A Label": "x"},
        )
    )
    assert accepted(job) == {
        "baseModel": "gemini-2.0-flash-001",
        "supervisedTuningSpec": {
            "trainingDatasetUri": TRAIN,
            "validationDatasetUri": VALID,
            "hyperParameters": {"epochCount": 3, "learningRateMultiplier": 0.5},
        },
        "tunedModelDisplayName": "support-bot",
        "labels": {"team": "search"},
    }


def test_supervised_method_hyperparameters() -> None:
    job = tuning_body(
        body(method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2.0}}})
    )
    assert accepted(job)["supervisedTuningSpec"]["hyperParameters"] == {"epochCount": 2}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"method": {"type": "dpo", "dpo": {}}}, "method.type"),
        ({"hyperparameters": {"batch_size": 8}}, "hyperparameters.batch_size"),
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"n_epochs": "3"}}, "hyperparameters.n_epochs"),
        ({"seed": 3}, "seed"),
        ({"integrations": [{"type": "wandb"}]}, "integrations"),
        (
            {
                "hyperparameters": {"n_epochs": 1},
                "method": {"type": "supervised", "supervised": {"hyperparameters": {}}},
            },
            "hyperparameters",
        ),
    ],
)
def test_what_vertex_cannot_take_is_refused(extra: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        tuning_body(body(**extra))
    assert caught.value.param == param


def _job(state: str, **more: Any) -> dict[str, Any]:
    return {
        "name": NAME,
        "baseModel": "gemini-2.0-flash-001",
        "supervisedTuningSpec": {
            "trainingDatasetUri": TRAIN,
            "hyperParameters": {"epochCount": "4", "learningRateMultiplier": 1.0},
        },
        "state": state,
        "createTime": "2026-01-02T03:04:05.123456Z",
        **more,
    }


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("JOB_STATE_PENDING", "validating_files"),
        ("JOB_STATE_QUEUED", "queued"),
        ("JOB_STATE_RUNNING", "running"),
        ("JOB_STATE_CANCELLING", "running"),
        ("JOB_STATE_SUCCEEDED", "succeeded"),
        ("JOB_STATE_FAILED", "failed"),
        ("JOB_STATE_CANCELLED", "cancelled"),
        ("JOB_STATE_SOMETHING_NEW", "running"),
    ],
)
def test_states_map_to_openais(state: str, status: str) -> None:
    assert job_from_vertex(_job(state)).status == status


def test_succeeded_job_names_the_tuned_endpoint() -> None:
    endpoint = "projects/123456789012/locations/us-central1/endpoints/777"
    doc = _job(
        "JOB_STATE_SUCCEEDED",
        startTime="2026-01-02T03:05:00Z",
        endTime="2026-01-02T04:00:00Z",
        tunedModel={
            "model": "projects/123456789012/locations/us-central1/models/88@1",
            "endpoint": endpoint,
            "checkpoints": [
                {"checkpointId": "1", "epoch": "1", "step": "5", "endpoint": endpoint + "1"},
                {"checkpointId": "2", "epoch": "2", "step": "10", "endpoint": endpoint},
            ],
        },
        tuningDataStats={"supervisedTuningDataStats": {"totalBillableTokenCount": "1234"}},
    )
    job = job_from_vertex(doc)
    assert job.fine_tuned_model == endpoint and job.trained_tokens == 1234
    assert job.finished_at == 1767326400 and job.created_at == 1767323045
    assert job.hyperparameters == {
        "batch_size": "auto",
        "learning_rate_multiplier": 1.0,
        "n_epochs": 4,
    }
    assert job.result_files == [] and job.training_file == TRAIN
    events = job_events(doc)
    assert [e["message"] for e in events] == [
        f"New fine-tuned model created: {endpoint}",
        "Fine-tuning job started",
        f"Created fine-tuning job: {NAME}",
    ]
    checkpoints = job_checkpoints(doc)
    assert [c["step_number"] for c in checkpoints] == [10, 5]
    assert checkpoints[0]["fine_tuned_model_checkpoint"] == endpoint
    assert checkpoints[0]["fine_tuning_job_id"] == NAME


def test_failed_job_carries_the_error() -> None:
    doc = _job("JOB_STATE_FAILED", endTime="2026-01-02T04:00:00Z",
               error={"code": 3, "message": "Line 4 of the training dataset is bad"})  # fmt: skip
    job = job_from_vertex(doc)
    assert job.error == {
        "code": "vertex_ai_invalid_argument",
        "message": "Line 4 of the training dataset is bad",
        "param": None,
    }
    assert job_events(doc)[0]["level"] == "error"
