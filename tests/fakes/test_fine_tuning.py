"""The fake upstream's Fine-tuning jobs API (tests/fakes/fine_tuning.py), OpenAI's and Azure's.

Driven with the official ``openai`` SDK (``client.fine_tuning.jobs.*``) against the OpenAI
surface, Azure's dated surface (``AzureOpenAI``) and Azure's v1 surface; every object the fake
answers is checked against OpenAI's published schema where the surface speaks OpenAI's shape.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.fakes import jobs_support as support
from tests.fakes.jobs_support import wire
from tests.fakes.spec_schemas import assert_valid, without_required
from tests.integration.upstream_support import AZURE_KEY, OPENAI_KEY, Fake, running_fake

OPENAI_AUTH = {"authorization": f"Bearer {OPENAI_KEY}"}
HOLD_RUNNING = {"ft_running_seconds": None}
# Azure's v1 job is OpenAI's shape without an organization (Azure's dated spec calls its
# "organisation_id" unused on Azure).
AZURE_V1_JOB = without_required("FineTuningJob", "organization_id")
STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fake]:
    with running_fake(tmp_path_factory.mktemp("fake-fine-tuning")) as f:
        yield f


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.admin("POST", "reset")


def chat(i: int) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": f"question {i}"},
            {"role": "assistant", "content": f"answer {i}"},
        ]
    }


def preference(i: int) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": f"q{i}"}]},
        "preferred_output": [{"role": "assistant", "content": "good"}],
        "non_preferred_output": [{"role": "assistant", "content": "bad"}],
    }


def upload(client: openai.OpenAI, lines: list[Any], purpose: str = "fine-tune") -> str:
    return support.upload(client, lines, purpose)


def azure_file(fake: Fake, lines: list[Any]) -> str:
    return support.processed_azure_file(fake, lines, "fine-tune")


def all_events(client: openai.OpenAI, job_id: str, limit: int) -> list[dict[str, Any]]:
    """Every event, newest first, walking ``after`` by hand and checking each page."""
    out: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = wire(
            client.fine_tuning.jobs.with_raw_response.list_events,
            job_id,
            limit=limit,
            **({"after": after} if after else {}),
        )
        assert_valid("ListFineTuningJobEventsResponse", page)
        assert len(page["data"]) <= limit
        out += page["data"]
        if not page["has_more"]:
            return out
        after = page["data"][-1]["id"]


# =================================================================================================
# OpenAI: the whole life of a job
# =================================================================================================


def test_openai_job_succeeds_with_results_events_and_checkpoints(fake: Fake) -> None:
    client = fake.oai()
    training = upload(client, [chat(i) for i in range(12)])
    validation = upload(client, [chat(i) for i in range(3)])
    created = wire(
        client.fine_tuning.jobs.with_raw_response.create,
        model="gpt-4o-mini",
        training_file=training,
        validation_file=validation,
        suffix="support-bot",
        seed=42,
        metadata={"team": "care"},
        integrations=[{"type": "wandb", "wandb": {"project": "ft"}}],
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
    )
    assert_valid("FineTuningJob", created)
    assert re.fullmatch(r"ftjob-[A-Za-z0-9]{24}", created["id"])
    assert created["status"] == "validating_files"
    assert created["model"] == "gpt-4o-mini-2024-07-18"  # the alias, resolved to its snapshot
    assert (created["fine_tuned_model"], created["finished_at"], created["error"]) == (None,) * 3
    assert created["hyperparameters"] == {
        "batch_size": "auto",
        "learning_rate_multiplier": "auto",
        "n_epochs": 2,
    }
    assert created["seed"] == 42 and created["metadata"] == {"team": "care"}
    assert created["organization_id"] == "org-fakeupstream" and created["result_files"] == []
    assert created["integrations"] == [{"type": "wandb", "wandb": {"project": "ft"}}]

    done = wire(client.fine_tuning.jobs.with_raw_response.retrieve, created["id"])
    assert_valid("FineTuningJob", done)
    assert done["status"] == "succeeded" and done["error"] is None
    assert re.fullmatch(
        r"ft:gpt-4o-mini-2024-07-18:fakeupstream:support-bot:[0-9a-f]{8}", done["fine_tuned_model"]
    )
    assert done["hyperparameters"] == {
        "batch_size": 1,
        "learning_rate_multiplier": 1.8,
        "n_epochs": 2,
    }
    assert done["method"]["supervised"]["hyperparameters"] == done["hyperparameters"]
    assert done["finished_at"] >= done["created_at"] and done["trained_tokens"] > 0
    total_steps = 12 * 2  # 12 examples, batch size 1, 2 epochs

    (result_id,) = done["result_files"]
    meta = wire(client.files.with_raw_response.retrieve, result_id)
    assert_valid("OpenAIFile", meta)
    assert (meta["purpose"], meta["filename"]) == ("fine-tune-results", "step_metrics.csv")
    rows = list(csv.DictReader(io.StringIO(client.files.content(result_id).text)))
    assert [int(r["step"]) for r in rows] == list(range(1, total_steps + 1))
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < losses[0]

    events = all_events(client, created["id"], limit=7)
    assert len({e["id"] for e in events}) == len(events)  # pages never repeat an event
    messages = [e["message"] for e in reversed(events)]  # oldest first
    assert messages[:4] == [
        f"Created fine-tuning job: {created['id']}",
        f"Validating training file: {training} and validation file: {validation}",
        "Files validated, moving job to queued state",
        "Fine-tuning job started",
    ]
    assert messages[-2:] == [
        f"New fine-tuned model created: {done['fine_tuned_model']}",
        "The job has successfully completed",
    ]
    metrics = [e for e in events if e["type"] == "metrics"]
    assert len(metrics) == total_steps and metrics[0]["data"]["step"] == total_steps
    assert {"valid_loss", "train_loss", "total_steps"} <= set(metrics[0]["data"])
    stamps = [e["created_at"] for e in events]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    sdk_events = list(client.fine_tuning.jobs.list_events(created["id"], limit=5))
    assert [e.id for e in sdk_events] == [e["id"] for e in events]  # SDK auto-pagination agrees

    checkpoints = wire(client.fine_tuning.jobs.checkpoints.with_raw_response.list, created["id"])
    assert_valid("ListFineTuningJobCheckpointsResponse", checkpoints)
    assert [c["step_number"] for c in checkpoints["data"]] == [24, 12]  # newest first
    assert checkpoints["first_id"] == checkpoints["data"][0]["id"]
    assert checkpoints["last_id"] == checkpoints["data"][-1]["id"]
    for c in checkpoints["data"]:
        assert c["fine_tuned_model_checkpoint"] == (
            f"{done['fine_tuned_model']}:ckpt-step-{c['step_number']}"
        )
        assert c["fine_tuning_job_id"] == created["id"] and c["metrics"]["step"] == c["step_number"]
    page = client.fine_tuning.jobs.checkpoints.list(created["id"], limit=1)
    assert page.has_more is True and len(page.data) == 1
    rest = client.fine_tuning.jobs.checkpoints.list(created["id"], after=page.data[0].id)
    assert [c.step_number for c in rest.data] == [12] and rest.has_more is False


def test_dpo_and_reinforcement_methods(fake: Fake) -> None:
    client = fake.oai()
    dpo = client.fine_tuning.jobs.create(
        model="gpt-4.1-mini",
        training_file=upload(client, [preference(i) for i in range(10)]),
        method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}},
    )
    done = wire(client.fine_tuning.jobs.with_raw_response.retrieve, dpo.id)
    assert_valid("FineTuningJob", done)
    assert done["status"] == "succeeded"
    assert done["method"]["type"] == "dpo"
    assert done["method"]["dpo"]["hyperparameters"]["beta"] == 0.2
    assert done["method"]["dpo"]["hyperparameters"]["n_epochs"] == 3

    rft = client.fine_tuning.jobs.create(
        model="o4-mini",
        training_file=upload(client, [chat(i) for i in range(10)]),
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": STRING_CHECK,
                "hyperparameters": {"reasoning_effort": "low", "eval_interval": 2},
            },
        },
    )
    done = wire(client.fine_tuning.jobs.with_raw_response.retrieve, rft.id)
    assert_valid("FineTuningJob", done)
    assert done["model"] == "o4-mini-2025-04-16" and done["status"] == "succeeded"
    assert done["method"]["reinforcement"]["grader"] == STRING_CHECK
    assert done["method"]["reinforcement"]["hyperparameters"]["reasoning_effort"] == "low"


# =================================================================================================
# Time control, cancel, pause and resume
# =================================================================================================


def test_held_states_and_admin_moves(fake: Fake) -> None:
    client = fake.oai()
    fake.config(ft_validating_files_seconds=None, ft_queued_seconds=None, **HOLD_RUNNING)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18", training_file=upload(client, [chat(i) for i in range(10)])
    )
    assert client.fine_tuning.jobs.retrieve(job.id).status == "validating_files"
    assert fake.job(job.id, status="queued")["status"] == "queued"
    queued = wire(client.fine_tuning.jobs.with_raw_response.retrieve, job.id)
    assert_valid("FineTuningJob", queued)
    assert queued["hyperparameters"]["n_epochs"] == 3  # resolved once the files are read
    fake.job(job.id, status="running")
    running = client.fine_tuning.jobs.retrieve(job.id)
    assert running.status == "running" and running.estimated_finish is None  # held: no estimate
    view = fake.job(job.id, steps=5)
    assert (view["step"], view["total_steps"]) == (5, 30)
    assert client.fine_tuning.jobs.checkpoints.list(job.id).data == []
    fake.job(job.id, steps=5)  # the end of the first epoch makes a checkpoint
    assert [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job.id).data] == [10]
    fake.config(ft_running_seconds=3600)
    estimated = client.fine_tuning.jobs.retrieve(job.id).estimated_finish
    assert estimated is not None and estimated > running.created_at + 3000
    fake.job(job.id, status="succeeded")
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded" and done.estimated_finish is None
    assert [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job.id).data] == [
        30,
        20,
        10,
    ]


def test_pause_resume_and_cancel(fake: Fake) -> None:
    client = fake.oai()
    fake.config(**HOLD_RUNNING)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, [chat(i) for i in range(10)])
    )
    assert client.fine_tuning.jobs.retrieve(job.id).status == "running"
    fake.job(job.id, steps=3)
    paused = wire(client.fine_tuning.jobs.with_raw_response.pause, job.id)
    assert_valid("FineTuningJob", paused)
    assert paused["status"] == "paused"
    assert client.fine_tuning.jobs.retrieve(job.id).status == "paused"  # stays paused
    with pytest.raises(openai.BadRequestError) as twice:
        client.fine_tuning.jobs.pause(job.id)
    assert twice.value.body == {
        "message": "Cannot pause a fine-tuning job with status 'paused'.",
        "type": "invalid_request_error",
        "param": "fine_tuning_job_id",
        "code": None,
    }
    resumed = client.fine_tuning.jobs.resume(job.id)
    assert resumed.status == "queued"
    assert client.fine_tuning.jobs.retrieve(job.id).status == "running"
    assert fake.job(job.id)["step"] == 3  # training goes on from where it paused
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.resume(job.id)
    cancelled = wire(client.fine_tuning.jobs.with_raw_response.cancel, job.id)
    assert_valid("FineTuningJob", cancelled)
    assert cancelled["status"] == "cancelled" and cancelled["fine_tuned_model"] is None
    assert cancelled["result_files"] == []
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data]
    assert messages[:3] == [
        "Fine-tuning job cancelled",
        "Fine-tuning job started",
        "Fine-tuning job resumed",
    ]
    assert "Fine-tuning job paused" in messages
    for call in (client.fine_tuning.jobs.cancel, client.fine_tuning.jobs.pause):
        with pytest.raises(openai.BadRequestError):
            call(job.id)
    assert fake.files(purpose="fine-tune-results") == []  # a cancelled job leaves no results


def test_running_time_trains_step_by_step(fake: Fake) -> None:
    client = fake.oai()
    fake.config(ft_running_seconds=1.5)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=upload(client, [chat(i) for i in range(20)]),
        hyperparameters={"batch_size": 1},
    )
    seen: list[int] = []
    while True:
        view = fake.job(job.id)
        seen.append(view["step"])
        if view["status"] == "succeeded":
            break
        assert view["status"] == "running"
        time.sleep(0.02)
    assert seen == sorted(seen) and seen[-1] == 60
    assert any(0 < s < 60 for s in seen), seen


# =================================================================================================
# Failures
# =================================================================================================


@pytest.mark.parametrize(
    ("training", "validation", "code", "param"),
    [
        ([chat(i) for i in range(9)] + [b"{nope"], None, "invalid_file_format", "training_file"),
        ([{"prompt_only": 1}] * 10, None, "invalid_file_format", "training_file"),
        ([chat(i) for i in range(5)], None, "invalid_n_examples", "training_file"),
        ([chat(i) for i in range(10)], [b"[1, 2]"], "invalid_file_format", "validation_file"),
    ],
)  # fmt: skip
def test_bad_files_fail_the_job(
    fake: Fake, training: list[Any], validation: list[Any] | None, code: str, param: str
) -> None:
    client = fake.oai()
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=upload(client, training),
        validation_file=upload(client, validation) if validation else openai.NOT_GIVEN,
    )
    failed = wire(client.fine_tuning.jobs.with_raw_response.retrieve, job.id)
    assert_valid("FineTuningJob", failed)
    assert failed["status"] == "failed" and failed["finished_at"] is not None
    assert (failed["error"]["code"], failed["error"]["param"]) == (code, param)
    assert failed["fine_tuned_model"] is None and failed["result_files"] == []
    (last, *_) = client.fine_tuning.jobs.list_events(job.id).data
    assert (last.level, last.message) == ("error", failed["error"]["message"])


def test_dpo_needs_preference_lines(fake: Fake) -> None:
    client = fake.oai()
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=upload(client, [chat(i) for i in range(10)]),
        method={"type": "dpo"},
    )
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed" and failed.error is not None
    assert "input" in failed.error.message and failed.error.param == "training_file"


def test_marker_fails_the_job_after_training(fake: Fake) -> None:
    client = fake.oai()
    lines = [chat(i) for i in range(10)]
    lines[3]["fake_error"] = {"code": "server_error", "message": "The GPU caught fire."}
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=upload(client, lines))
    failed = wire(client.fine_tuning.jobs.with_raw_response.retrieve, job.id)
    assert_valid("FineTuningJob", failed)
    assert failed["error"] == {
        "code": "server_error",
        "message": "The GPU caught fire.",
        "param": None,
    }
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    assert "Fine-tuning job started" in messages and messages[0] == "The GPU caught fire."
    fake.config(ft_validating_files_seconds=None)
    held = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, [chat(i) for i in range(10)])
    )
    view = fake.job(held.id, status="failed", error={"code": "quota", "message": "No quota."})
    assert view["error"] == {"code": "quota", "message": "No quota.", "param": None}
    assert client.fine_tuning.jobs.retrieve(held.id).status == "failed"


# =================================================================================================
# Create errors, unknown ids, listing
# =================================================================================================


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"custom_llm_provider": "openai"}, "custom_llm_provider", "unknown_parameter"),
        ({"model": None}, "model", "missing_required_parameter"),
        ({"training_file": None}, "training_file", "missing_required_parameter"),
        ({"model": "gpt-9-ultra"}, "model", "model_not_available"),
        ({"training_file": "file-nope"}, "training_file", None),
        ({"validation_file": "file-nope"}, "validation_file", None),
        ({"hyperparameters": {"n_epochs": 0}}, "hyperparameters.n_epochs",
         "integer_below_min_value"),
        ({"hyperparameters": {"batch_size": 300}}, "hyperparameters.batch_size",
         "integer_above_max_value"),
        ({"hyperparameters": {"learning_rate_multiplier": 0}},
         "hyperparameters.learning_rate_multiplier", "decimal_below_min_value"),
        ({"hyperparameters": {"n_epochs": "many"}}, "hyperparameters.n_epochs", "invalid_type"),
        ({"hyperparameters": {"warmup": 1}}, "hyperparameters.warmup", "unknown_parameter"),
        ({"hyperparameters": {"n_epochs": 2},
          "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}}},
         "hyperparameters", None),
        ({"method": {"type": "distillation"}}, "method.type", "invalid_value"),
        ({"method": {"type": "dpo", "supervised": {}}}, "method.supervised", None),
        ({"method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 3}}}},
         "method.dpo.hyperparameters.beta", "decimal_above_max_value"),
        ({"method": {"type": "reinforcement", "reinforcement": {}}},
         "method.reinforcement.grader", "missing_required_parameter"),
        ({"method": {"type": "reinforcement", "reinforcement": {"grader": STRING_CHECK}}},
         "method.type", "invalid_value"),
        ({"suffix": "s" * 65}, "suffix", "string_above_max_length"),
        ({"seed": -1}, "seed", "integer_below_min_value"),
        ({"seed": "42"}, "seed", "invalid_type"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata",
         "object_above_max_properties"),
        ({"integrations": [{"type": "slack"}]}, "integrations[0].type", "invalid_value"),
        ({"integrations": [{"type": "wandb", "wandb": {}}]}, "integrations[0].wandb.project",
         "missing_required_parameter"),
        ({"integrations": [{"type": "wandb", "wandb": {"project": "p"}}] * 6}, "integrations",
         "array_above_max_length"),
    ],
)  # fmt: skip
def test_openai_create_validation(
    fake: Fake, change: dict[str, Any], param: str, code: str | None
) -> None:
    client = fake.oai()
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "training_file": upload(client, [chat(i) for i in range(10)]),
        **change,
    }
    r = httpx.post(
        f"{fake.url}/v1/fine_tuning/jobs",
        json={k: v for k, v in body.items() if v is not None},
        headers=OPENAI_AUTH,
    )
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert (err["param"], err["code"], err["type"]) == (param, code, "invalid_request_error")
    assert err["message"]
    assert fake.jobs() == []


def test_openai_create_refuses_missing_and_wrong_files(fake: Fake) -> None:
    client = fake.oai()
    with pytest.raises(openai.BadRequestError) as missing:
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-nope")
    assert missing.value.body == {
        "message": "invalid training_file: file-nope",
        "type": "invalid_request_error",
        "param": "training_file",
        "code": None,
    }
    batch_file = upload(client, [chat(i) for i in range(10)], purpose="batch")
    with pytest.raises(openai.BadRequestError) as purpose:
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=batch_file)
    assert isinstance(purpose.value.body, dict)
    assert (purpose.value.body["param"], purpose.value.body["code"]) == (
        "training_file",
        "invalid_value",
    )
    azure_only = azure_file(fake, [chat(i) for i in range(10)])
    with pytest.raises(openai.BadRequestError):  # another surface's file is unknown here
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=azure_only)
    assert fake.jobs() == []


def test_unknown_jobs_are_404_on_every_operation(fake: Fake) -> None:
    client = fake.oai()
    jobs = client.fine_tuning.jobs
    calls: list[Callable[[str], Any]] = [
        jobs.retrieve,
        jobs.cancel,
        jobs.pause,
        jobs.resume,
        jobs.list_events,
        jobs.checkpoints.list,
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError) as err:
            call("ftjob-nope")
        assert err.value.body == {
            "message": "Could not find fine-tuning job: ftjob-nope",
            "type": "invalid_request_error",
            "param": "fine_tuning_job_id",
            "code": None,
        }
    r = httpx.delete(f"{fake.url}/v1/fine_tuning/jobs/ftjob-nope", headers=OPENAI_AUTH)
    assert r.status_code == 404  # OpenAI has no delete for jobs
    assert r.json()["error"]["message"] == "Invalid URL (DELETE /v1/fine_tuning/jobs/ftjob-nope)"


def test_list_pages_and_filters_by_metadata(fake: Fake) -> None:
    client = fake.oai()
    fake.config(ft_validating_files_seconds=None)
    training = upload(client, [chat(i) for i in range(10)])
    made = []
    for i in range(25):
        metadata = {"team": "a" if i % 2 else "b", "n": str(i)} if i % 5 else None
        made.append(
            client.fine_tuning.jobs.create(
                model="gpt-4o-mini", training_file=training, metadata=metadata
            ).id
        )
    first = wire(client.fine_tuning.jobs.with_raw_response.list, limit=10)
    assert_valid("ListPaginatedFineTuningJobsResponse", first)
    assert [j["id"] for j in first["data"]] == made[::-1][:10] and first["has_more"] is True
    assert [j.id for j in client.fine_tuning.jobs.list(limit=4)] == made[::-1]
    default = client.fine_tuning.jobs.list()
    assert len(default.data) == 20 and default.has_more is True
    team_a = [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "a"})]
    assert team_a == [m for i, m in enumerate(made) if i % 2 and i % 5][::-1]
    both = client.fine_tuning.jobs.list(metadata={"team": "b", "n": "4"})
    assert [j.id for j in both] == [made[4]]
    bare = httpx.get(f"{fake.url}/v1/fine_tuning/jobs?metadata=null&limit=100", headers=OPENAI_AUTH)
    assert [j["id"] for j in bare.json()["data"]] == [m for i, m in enumerate(made) if not i % 5][
        ::-1
    ]
    after = client.fine_tuning.jobs.list(after=made[3])
    assert [j.id for j in after.data] == made[2::-1] and after.has_more is False
    for query, code in (("limit=0", "integer_below_min_value"),
                        ("limit=101", "integer_above_max_value")):  # fmt: skip
        r = httpx.get(f"{fake.url}/v1/fine_tuning/jobs?{query}", headers=OPENAI_AUTH)
        assert (r.status_code, r.json()["error"]["code"]) == (400, code)
    r = httpx.get(f"{fake.url}/v1/fine_tuning/jobs/{made[0]}/events?limit=0", headers=OPENAI_AUTH)
    assert r.status_code == 400


# =================================================================================================
# Faults and the log
# =================================================================================================


def test_faults_on_fine_tuning_operations(fake: Fake) -> None:
    client = fake.oai()
    training = upload(client, [chat(i) for i in range(10)])
    fake.fault(op="ft_create", status=503)
    with pytest.raises(openai.InternalServerError):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    assert fake.jobs() == []
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training)
    fake.fault(op="ft_events", status=429)
    with pytest.raises(openai.RateLimitError):
        client.fine_tuning.jobs.list_events(job.id)
    fake.fault(op="ft_list", drop=True, drop_mode="close")
    with pytest.raises(openai.APIConnectionError):
        client.fine_tuning.jobs.list()
    fake.fault(op="ft_checkpoints", status=500, body={"error": {"message": "boom"}})
    with pytest.raises(openai.InternalServerError) as boom:
        client.fine_tuning.jobs.checkpoints.list(job.id)
    assert boom.value.body == {"message": "boom"}
    fake.fault(op="ft_retrieve", surface="azure", status=500)  # Azure only: OpenAI unharmed
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"
    ops = [e["op"] for e in fake.requests() if e["fault"]]
    assert ops == ["ft_create", "ft_events", "ft_list", "ft_checkpoints"]
    logged = fake.requests(op="ft_create")[-1]
    assert logged["job_id"] == job.id
    assert logged["json"] == {"model": "gpt-4o-mini", "training_file": training}


# =================================================================================================
# Azure
# =================================================================================================


def test_azure_dated_job(fake: Fake) -> None:
    client = fake.azure()
    training = upload(client, [chat(i) for i in range(10)])
    with pytest.raises(openai.BadRequestError) as pending:  # Azure waits for processing
        client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=training)
    assert isinstance(pending.value.body, dict)
    assert pending.value.body["code"] == "invalidPayload"
    while client.files.retrieve(training).status != "processed":
        pass
    fake.config(ft_validating_files_seconds=None, ft_queued_seconds=None)
    raw = client.fine_tuning.jobs.with_raw_response.create(
        model="gpt-4o-mini-2024-07-18", training_file=training, suffix="mine"
    )
    assert raw.status_code == 201
    created = raw.http_response.json()
    assert re.fullmatch(r"ftjob-[0-9a-f]{32}", created["id"])
    assert raw.headers["location"] == f"{fake.url}/openai/fine_tuning/jobs/{created['id']}"
    assert created["status"] == "pending"
    assert created["hyperparameters"] == {
        "batch_size": -1,
        "learning_rate_multiplier": -1,
        "n_epochs": -1,
    }
    for absent in ("fine_tuned_model", "finished_at", "result_files", "organization_id", "error"):
        assert absent not in created
    assert created["model"] == "gpt-4o-mini-2024-07-18"  # Azure does not resolve aliases
    fake.job(created["id"], status="queued")
    assert client.fine_tuning.jobs.retrieve(created["id"]).status == "pending"  # queued, too
    fake.config(ft_queued_seconds=0)
    done = wire(client.fine_tuning.jobs.with_raw_response.retrieve, created["id"])
    assert done["status"] == "succeeded"
    # Azure names the model after the job: "<base>.ft-<the job id's hex>[-<suffix>]"
    hex_id = created["id"].removeprefix("ftjob-")
    assert done["fine_tuned_model"] == f"gpt-4o-mini-2024-07-18.ft-{hex_id}-mine"
    assert done["hyperparameters"] == {
        "batch_size": 1,
        "learning_rate_multiplier": 1.8,
        "n_epochs": 3,
    }
    (result,) = done["result_files"]
    assert re.fullmatch(r"file-[0-9a-f]{32}", result)
    meta = client.files.retrieve(result)
    assert (meta.purpose, meta.filename, meta.status) == (
        "fine-tune-results",
        "results.csv",
        "processed",
    )
    header = client.files.content(result).text.splitlines()[0]
    assert header.startswith("step,train_loss,train_mean_token_accuracy,")
    events = wire(client.fine_tuning.jobs.with_raw_response.list_events, created["id"], limit=100)
    assert_valid("ListFineTuningJobEventsResponse", events)  # events keep OpenAI's shape
    messages = [e["message"] for e in events["data"]]
    assert messages[0] == "Job succeeded."
    assert (
        "Job started." in messages
        and "Job enqueued. Waiting for jobs ahead to complete." in messages
    )
    checkpoints = wire(client.fine_tuning.jobs.checkpoints.with_raw_response.list, created["id"])
    assert_valid("ListFineTuningJobCheckpointsResponse", checkpoints)
    first = checkpoints["data"][0]["fine_tuned_model_checkpoint"]
    assert first == f"{done['fine_tuned_model']}:ckpt-step-30"


def test_azure_dated_delete_pause_and_errors(fake: Fake) -> None:
    client = fake.azure()
    training = azure_file(fake, [chat(i) for i in range(10)])
    fake.config(**HOLD_RUNNING)
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=training)
    url = f"{fake.url}/openai/fine_tuning/jobs/{job.id}"
    headers = {"api-key": AZURE_KEY}
    busy = httpx.delete(url, params={"api-version": "2024-10-21"}, headers=headers)
    assert (busy.status_code, busy.json()) == (409, {"error": {
        "code": "unexpectedEntityState",
        "message": "Cannot delete a fine-tuning job with status 'running'.",
    }})  # fmt: skip
    old = httpx.post(f"{url}/pause", params={"api-version": "2024-10-21"}, headers=headers)
    assert (old.status_code, old.json()["error"]["code"]) == (404, "404")  # not before 2025-04
    newer = fake.azure(api_version="2025-04-01-preview")
    paused = wire(newer.fine_tuning.jobs.with_raw_response.pause, job.id)
    assert paused["status"] == "paused"
    assert newer.fine_tuning.jobs.resume(job.id).status == "pending"  # queued, Azure-named
    assert newer.fine_tuning.jobs.retrieve(job.id).status == "running"
    with pytest.raises(openai.ConflictError) as conflict:
        newer.fine_tuning.jobs.resume(job.id)
    assert conflict.value.body == {
        "code": "unexpectedEntityState",
        "message": "Cannot resume a fine-tuning job with status 'running'.",
    }
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    gone = httpx.delete(url, params={"api-version": "2024-10-21"}, headers=headers)
    assert gone.status_code == 204 and gone.content == b""
    with pytest.raises(openai.NotFoundError) as missing:
        client.fine_tuning.jobs.retrieve(job.id)
    assert missing.value.body == {
        "code": "notFound",
        "message": f"Fine-tuning job with id '{job.id}' not found.",
    }
    with pytest.raises(openai.NotFoundError) as no_file:
        client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file="file-nope")
    assert no_file.value.body == {
        "code": "notFound",
        "message": "File with id 'file-nope' not found.",
    }
    with pytest.raises(openai.BadRequestError) as suffix:  # Azure allows 40 characters
        client.fine_tuning.jobs.create(
            model="gpt-4o-mini-2024-07-18", training_file=training, suffix="s" * 41
        )
    assert isinstance(suffix.value.body, dict) and suffix.value.body["code"] == "invalidPayload"
    bad = azure_file(fake, [b"not json"] * 10)
    fake.config(ft_running_seconds=0)
    failed = client.fine_tuning.jobs.retrieve(
        client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=bad).id
    )
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "jsonlValidationFailed"


def test_azure_v1_jobs(fake: Fake) -> None:
    v1 = fake.azure_v1()
    training = azure_file(fake, [chat(i) for i in range(10)])
    fake.config(**HOLD_RUNNING)
    raw = v1.fine_tuning.jobs.with_raw_response.create(
        model="gpt-4.1-mini-2025-04-14", training_file=training, metadata={"k": "v"}
    )
    assert raw.status_code == 200
    created = raw.http_response.json()
    assert_valid("FineTuningJob", created, AZURE_V1_JOB)
    assert created["status"] == "validating_files" and "organization_id" not in created
    assert re.fullmatch(r"ftjob-[0-9a-f]{32}", created["id"])
    running = wire(v1.fine_tuning.jobs.with_raw_response.retrieve, created["id"])
    assert_valid("FineTuningJob", running, AZURE_V1_JOB)
    assert running["status"] == "running"
    assert fake.azure().fine_tuning.jobs.retrieve(created["id"]).status == "running"  # one store
    assert v1.fine_tuning.jobs.pause(created["id"]).status == "paused"
    assert v1.fine_tuning.jobs.resume(created["id"]).status == "queued"
    fake.job(created["id"], status="succeeded")
    done = wire(v1.fine_tuning.jobs.with_raw_response.retrieve, created["id"])
    assert_valid("FineTuningJob", done, AZURE_V1_JOB)
    assert done["fine_tuned_model"] == "gpt-4.1-mini-2025-04-14.ft-" + created["id"][6:]
    listing = wire(v1.fine_tuning.jobs.with_raw_response.list, metadata={"k": "v"})
    assert_valid("ListPaginatedFineTuningJobsResponse", listing, AZURE_V1_JOB)
    assert [j["id"] for j in listing["data"]] == [created["id"]]
    events = wire(v1.fine_tuning.jobs.with_raw_response.list_events, created["id"], limit=3)
    assert_valid("ListFineTuningJobEventsResponse", events)
    assert all(re.fullmatch(r"ftevent-[0-9a-f]{32}", e["id"]) for e in events["data"])
    r = httpx.delete(
        f"{fake.url}/openai/v1/fine_tuning/jobs/{created['id']}", headers={"api-key": AZURE_KEY}
    )
    assert (r.status_code, r.json()) == (
        404,
        {"error": {"code": "404", "message": "Resource not found"}},
    )
    assert fake.oai().fine_tuning.jobs.list().data == []


# =================================================================================================
# Admin API
# =================================================================================================


def test_admin_rejects_what_it_cannot_do(fake: Fake) -> None:
    client = fake.oai()
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file=upload(client, [chat(i) for i in range(10)])
    )
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"
    for body, says in [
        ({"status": "running"}, "already succeeded"),
        ({"status": "nowhere"}, "status must be one of"),
        ({"steps": 3}, "steps run only while running"),
        ({"speed": 1}, "unknown fields"),
    ]:
        r = httpx.post(f"{fake.url}/__admin/fine_tuning/{job.id}", json=body)
        assert r.status_code == 400 and says in r.json()["error"], (body, r.text)
    assert httpx.post(f"{fake.url}/__admin/fine_tuning/ftjob-nope", json={}).status_code == 404
    assert httpx.post(f"{fake.url}/__admin/config", json={"ft_min_examples": 0}).status_code == 400
    view = fake.jobs()[0]
    assert (view["id"], view["surface"], view["step"], view["total_steps"]) == (
        job.id,
        "openai",
        30,
        30,
    )
    fake.config(ft_models=None)  # null: any model name trains
    other = client.fine_tuning.jobs.create(
        model="my-own-base", training_file=upload(client, [chat(i) for i in range(10)])
    )
    assert client.fine_tuning.jobs.retrieve(other.id).status == "succeeded"
    fake.reset()
    assert fake.jobs() == [] and list((fake.state_dir / "fine_tuning").iterdir()) == []
