"""The fake upstream's Batch API (tests/fakes/batches.py), OpenAI's and Azure's.

Driven with the official ``openai`` SDK (``OpenAI`` at ``/v1`` and at Azure's ``/openai/v1``,
``AzureOpenAI`` at the dated surface) and raw ``httpx`` where a test needs the exact wire; every
object the fake answers is checked against OpenAI's published schema.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import RssSampler
from tests.fakes import jobs_support as support
from tests.fakes.jobs_support import read_lines, wire
from tests.fakes.spec_schemas import assert_valid, validator
from tests.integration.upstream_support import AZURE_KEY, OPENAI_KEY, Fake, running_fake

OPENAI_AUTH = {"authorization": f"Bearer {OPENAI_KEY}"}
HOLD = {"batch_in_progress_seconds": None}
DASHED_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Endpoint -> the spec's schema for one response body, and a request body for it.
ENDPOINT_BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "/v1/chat/completions": (
        "CreateChatCompletionResponse",
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]},
    ),
    "/v1/embeddings": (
        "CreateEmbeddingResponse",
        {"model": "text-embedding-3-small", "input": ["one", "two"], "dimensions": 4},
    ),
    "/v1/completions": (
        "CreateCompletionResponse",
        {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi"},
    ),
    "/v1/responses": ("Response", {"model": "gpt-4o-mini", "input": "What is 2+2?"}),
    "/v1/moderations": ("CreateModerationResponse", {"input": ["is this fine?"]}),
    "/v1/images/generations": ("ImagesResponse", {"model": "gpt-image-1", "prompt": "a cat"}),
    "/v1/videos": ("VideoResource", {"model": "sora-2", "prompt": "a wave", "seconds": "4"}),
}


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fake]:
    with running_fake(tmp_path_factory.mktemp("fake-batches")) as f:
        yield f


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.admin("POST", "reset")


def line(i: int, url: str = "/v1/chat/completions", **body: Any) -> dict[str, Any]:
    payload = body or {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"q{i}"}]}
    return {"custom_id": f"req-{i}", "method": "POST", "url": url, "body": payload}


def upload(client: openai.OpenAI, lines: list[Any], purpose: str = "batch") -> str:
    return support.upload(client, lines, purpose)


def processed_azure_file(fake: Fake, lines: list[Any]) -> str:
    return support.processed_azure_file(fake, lines, "batch")


# =================================================================================================
# OpenAI: the whole life of a batch
# =================================================================================================


def test_openai_batch_completes_with_output_and_error_files(fake: Fake) -> None:
    client = fake.oai()
    lines = [line(i) for i in range(5)]
    lines[2]["body"]["fake_error"] = {"status": 429, "code": "rate_limit_exceeded"}
    file_id = upload(client, lines)
    created = wire(
        client.batches.with_raw_response.create,
        input_file_id=file_id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"job": "nightly"},
    )
    assert_valid("Batch", created)
    assert re.fullmatch(r"batch_[0-9a-f]{32}", created["id"])
    assert created["status"] == "validating" and created["errors"] is None
    assert created["expires_at"] == created["created_at"] + 86_400
    assert created["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert created["metadata"] == {"job": "nightly"}
    assert created["output_file_id"] is None and created["in_progress_at"] is None

    done = wire(client.batches.with_raw_response.retrieve, created["id"])
    assert_valid("Batch", done)
    assert done["status"] == "completed" and done["model"] == "gpt-4o-mini"
    assert done["request_counts"] == {"total": 5, "completed": 4, "failed": 1}
    stamps = [done[k] for k in ("created_at", "in_progress_at", "finalizing_at", "completed_at")]
    assert stamps == sorted(stamps) and None not in stamps
    assert all(done[k] is None for k in ("failed_at", "expired_at", "cancelling_at"))

    outputs = read_lines(client, done["output_file_id"])
    assert [o["custom_id"] for o in outputs] == ["req-0", "req-1", "req-3", "req-4"]
    for out in outputs:
        assert re.fullmatch(r"batch_req_[0-9a-f]{32}", out["id"]) and out["error"] is None
        assert set(out) == {"id", "custom_id", "response", "error"}
        assert out["response"]["status_code"] == 200
        assert re.fullmatch(r"[0-9a-f]{32}", out["response"]["request_id"])
        body = out["response"]["body"]
        assert_valid("CreateChatCompletionResponse", body)
        number = out["custom_id"].removeprefix("req-")
        assert body["choices"][0]["message"]["content"] == f"echo: q{number}"
    usage = done["usage"]
    assert usage["input_tokens"] == sum(
        o["response"]["body"]["usage"]["prompt_tokens"] for o in outputs
    )
    assert usage["output_tokens"] == sum(
        o["response"]["body"]["usage"]["completion_tokens"] for o in outputs
    )
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]

    (failed,) = read_lines(client, done["error_file_id"])
    assert failed["custom_id"] == "req-2" and failed["error"] is None
    assert failed["response"]["status_code"] == 429
    assert failed["response"]["body"]["error"]["code"] == "rate_limit_exceeded"

    for file_id, kind in ((done["output_file_id"], "output"), (done["error_file_id"], "error")):
        meta = wire(client.files.with_raw_response.retrieve, file_id)
        assert_valid("OpenAIFile", meta)
        assert (meta["purpose"], meta["status"]) == ("batch_output", "processed")
        assert meta["filename"] == f"{created['id']}_{kind}.jsonl"
    assert {f.id for f in client.files.list(purpose="batch_output")} == {
        done["output_file_id"],
        done["error_file_id"],
    }
    # The SDK's typed view agrees with the wire.
    typed = client.batches.retrieve(created["id"])
    assert (typed.status, typed.request_counts and typed.request_counts.failed) == ("completed", 1)


def test_only_the_files_with_lines_are_made(fake: Fake) -> None:
    client = fake.oai()
    clean = client.batches.create(
        input_file_id=upload(client, [line(0)]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    done = client.batches.retrieve(clean.id)
    assert done.output_file_id and done.error_file_id is None
    broken = [line(0, fake_error=True, model="gpt-4o-mini", messages=[])]
    all_failed = client.batches.create(
        input_file_id=upload(client, broken),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    done = client.batches.retrieve(all_failed.id)
    assert done.status == "completed" and done.output_file_id is None and done.error_file_id
    assert done.request_counts is not None and done.request_counts.failed == 1


@pytest.mark.parametrize("endpoint", list(ENDPOINT_BODIES))
def test_every_endpoint_answers_in_its_own_shape(fake: Fake, endpoint: str) -> None:
    client = fake.oai()
    schema, body = ENDPOINT_BODIES[endpoint]
    file_id = upload(client, [line(i, endpoint, **body) for i in range(2)])
    batch = client.batches.create(
        input_file_id=file_id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
    )
    done = wire(client.batches.with_raw_response.retrieve, batch.id)
    assert_valid("Batch", done)
    assert done["request_counts"] == {"total": 2, "completed": 2, "failed": 0}
    for out in read_lines(client, done["output_file_id"]):
        assert_valid(schema, out["response"]["body"])


def test_input_file_bytes_are_kept_when_the_file_is_deleted(fake: Fake) -> None:
    client = fake.oai()
    fake.config(batch_validating_seconds=None)
    file_id = upload(client, [line(i) for i in range(3)])
    batch = client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    client.files.delete(file_id)
    fake.config(batch_validating_seconds=0)
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.input_file_id == file_id
    assert len(read_lines(client, str(done.output_file_id))) == 3


# =================================================================================================
# Time control: held statuses, admin moves, timed steps
# =================================================================================================


def test_held_statuses_move_only_when_told(fake: Fake) -> None:
    client = fake.oai()
    fake.config(
        batch_validating_seconds=None, batch_in_progress_seconds=None, batch_finalizing_seconds=None
    )
    batch = client.batches.create(
        input_file_id=upload(client, [line(i) for i in range(6)]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    assert [client.batches.retrieve(batch.id).status for _ in range(2)] == ["validating"] * 2

    view = fake.batch(batch.id, status="in_progress")
    assert view["status"] == "in_progress" and view["request_counts"]["total"] == 6
    assert view["requests_done"] == 0 and view["in_progress_at"] is not None
    fake.batch(batch.id, requests=2)
    mid = wire(client.batches.with_raw_response.retrieve, batch.id)
    assert_valid("Batch", mid)
    assert mid["request_counts"] == {"total": 6, "completed": 2, "failed": 0}
    assert mid["output_file_id"] is None  # files appear when the batch is done

    fake.batch(batch.id, status="finalizing")
    fin = client.batches.retrieve(batch.id)
    assert fin.status == "finalizing" and fin.output_file_id is None
    assert fin.request_counts is not None and fin.request_counts.completed == 6
    fake.config(batch_finalizing_seconds=0)  # a held status lets go once its time is set
    assert client.batches.retrieve(batch.id).status == "completed"


def test_in_progress_runs_requests_as_its_time_passes(fake: Fake) -> None:
    client = fake.oai()
    fake.config(batch_in_progress_seconds=2)
    start = time.monotonic()
    batch = client.batches.create(
        input_file_id=upload(client, [line(i) for i in range(40)]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    seen: list[tuple[str, int]] = []
    while time.monotonic() - start < 30:
        b = client.batches.retrieve(batch.id)
        assert b.request_counts is not None
        elapsed = time.monotonic() - start
        seen.append((b.status, b.request_counts.completed))
        # never ahead of the time it has had: 40 requests over 2 seconds
        assert b.request_counts.completed <= math.ceil(40 * elapsed / 2), (elapsed, seen)
        if b.status == "completed":
            break
        time.sleep(0.05)
    assert seen[-1] == ("completed", 40)
    counts = [c for _, c in seen]
    assert counts == sorted(counts)  # requests only ever finish, never un-finish
    assert {s for s, _ in seen} <= {"in_progress", "finalizing", "completed"}
    assert any(s == "in_progress" and 0 < c < 40 for s, c in seen), seen


def test_cancel_keeps_what_finished(fake: Fake) -> None:
    client = fake.oai()
    fake.config(**HOLD, batch_cancelling_seconds=None)
    batch = client.batches.create(
        input_file_id=upload(client, [line(i) for i in range(5)]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    assert client.batches.retrieve(batch.id).status == "in_progress"
    fake.batch(batch.id, requests=2)
    cancelling = wire(client.batches.with_raw_response.cancel, batch.id)
    assert_valid("Batch", cancelling)
    assert cancelling["status"] == "cancelling" and cancelling["cancelling_at"] is not None
    assert client.batches.retrieve(batch.id).status == "cancelling"
    fake.config(batch_cancelling_seconds=0)
    done = wire(client.batches.with_raw_response.retrieve, batch.id)
    assert_valid("Batch", done)
    assert done["status"] == "cancelled" and done["cancelled_at"] >= done["cancelling_at"]
    assert done["request_counts"] == {"total": 5, "completed": 2, "failed": 0}
    assert [o["custom_id"] for o in read_lines(client, done["output_file_id"])] == [
        "req-0",
        "req-1",
    ]
    assert done["error_file_id"] is None
    assert client.batches.cancel(batch.id).status == "cancelled"  # cancelling again: a no-op

    finished = client.batches.create(
        input_file_id=upload(client, [line(0)]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    fake.batch(finished.id, status="completed")
    with pytest.raises(openai.BadRequestError) as err:
        client.batches.cancel(finished.id)
    assert err.value.body == {
        "message": "Cannot cancel a batch with status 'completed'.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_status",
    }


def test_cancel_while_validating_leaves_no_files(fake: Fake) -> None:
    client = fake.oai()
    fake.config(batch_validating_seconds=None)
    batch = client.batches.create(
        input_file_id=upload(client, [line(0)]), endpoint="/v1/completions", completion_window="24h"
    )
    assert client.batches.cancel(batch.id).status == "cancelling"
    done = client.batches.retrieve(batch.id)
    assert done.status == "cancelled" and done.in_progress_at is None
    assert (done.output_file_id, done.error_file_id) == (None, None)


def test_expiry_by_time_reports_the_unrun_requests(fake: Fake) -> None:
    client = fake.oai()
    # expires_at is whole seconds, so a 3 s window leaves at least 2 s to run one request first
    fake.config(**HOLD, batch_completion_window_seconds=3)
    batch = client.batches.create(
        input_file_id=upload(client, [line(i) for i in range(4)]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    assert batch.expires_at == batch.created_at + 3
    fake.batch(batch.id, requests=1)
    azure_input = processed_azure_file(fake, [line(0, "/chat/completions")])
    azure = fake.azure().batches.create(
        input_file_id=azure_input, endpoint="/chat/completions", completion_window="24h"
    )
    deadline = time.monotonic() + 10
    while client.batches.retrieve(batch.id).status != "expired":
        assert time.monotonic() < deadline, "the batch never expired"
        time.sleep(0.1)
    done = wire(client.batches.with_raw_response.retrieve, batch.id)
    assert_valid("Batch", done)
    assert done["expired_at"] == done["expires_at"]
    assert done["request_counts"] == {"total": 4, "completed": 1, "failed": 3}
    assert [o["custom_id"] for o in read_lines(client, done["output_file_id"])] == ["req-0"]
    expired = read_lines(client, done["error_file_id"])
    assert [o["custom_id"] for o in expired] == ["req-1", "req-2", "req-3"]
    assert all(o["response"] is None for o in expired)
    assert {o["error"]["code"] for o in expired} == {"batch_expired"}
    # Azure does not expire batches that run past their window.
    assert fake.azure().batches.retrieve(azure.id).status == "in_progress"


def test_admin_forces_failure_and_expiry(fake: Fake) -> None:
    client = fake.oai()
    fake.config(**HOLD)
    ids = [
        client.batches.create(
            input_file_id=upload(client, [line(0), line(1)]),
            endpoint="/v1/chat/completions",
            completion_window="24h",
        ).id
        for _ in range(2)
    ]
    errors = [{"code": "token_limit_exceeded", "message": "Enqueued token limit reached."}]
    view = fake.batch(ids[0], status="failed", errors=errors)
    assert view["status"] == "failed" and view["errors"] == {"object": "list", "data": errors}
    failed = wire(client.batches.with_raw_response.retrieve, ids[0])
    assert_valid("Batch", failed)
    assert failed["failed_at"] is not None
    expired = client.batches.retrieve(fake.batch(ids[1], status="expired")["id"])
    assert expired.status == "expired" and expired.error_file_id
    assert {o["error"]["code"] for o in read_lines(client, expired.error_file_id)} == {
        "batch_expired"
    }


# =================================================================================================
# Validation failures
# =================================================================================================


@pytest.mark.parametrize(
    ("lines", "code", "param", "line_no"),
    [
        ([line(0), b"{not json"], "invalid_json_line", None, 2),
        ([{"method": "POST", "url": "/v1/chat/completions", "body": {}}], "invalid_request",
         "custom_id", 1),
        ([{**line(0), "method": "GET"}], "invalid_request", "method", 1),
        ([line(0), line(1, "/v1/embeddings", model="gpt-4o-mini", input="x")], "url_mismatch",
         "url", 2),
        ([line(0), line(0)], "duplicate_custom_id", "custom_id", 2),
        ([line(0), line(1, model="gpt-4o", messages=[])], "model_mismatch", "body.model", 2),
        ([], "empty_file", None, None),
    ],
)  # fmt: skip
def test_invalid_input_fails_the_batch(
    fake: Fake, lines: list[Any], code: str, param: str | None, line_no: int | None
) -> None:
    client = fake.oai()
    batch = client.batches.create(
        input_file_id=upload(client, lines),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    failed = wire(client.batches.with_raw_response.retrieve, batch.id)
    assert_valid("Batch", failed)
    assert failed["status"] == "failed" and failed["failed_at"] is not None
    assert failed["in_progress_at"] is None
    assert failed["output_file_id"] is None and failed["error_file_id"] is None
    assert failed["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    (error,) = failed["errors"]["data"]
    assert (error["code"], error["param"], error["line"]) == (code, param, line_no)
    assert error["message"]
    assert failed["errors"]["object"] == "list"
    typed = client.batches.retrieve(batch.id)
    assert typed.errors is not None and typed.errors.data is not None
    assert typed.errors.data[0].code == code


def test_too_many_requests_fails_the_batch(fake: Fake) -> None:
    client = fake.oai()
    fake.config(batch_max_requests=2)
    batch = client.batches.create(
        input_file_id=upload(client, [line(i) for i in range(3)]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    failed = client.batches.retrieve(batch.id)
    assert failed.status == "failed" and failed.errors and failed.errors.data
    assert [e.code for e in failed.errors.data] == ["too_many_tasks"]


# =================================================================================================
# Create errors, unknown ids, pagination
# =================================================================================================


def post_batch(fake: Fake, body: Any) -> httpx.Response:
    return httpx.post(f"{fake.url}/v1/batches", json=body, headers=OPENAI_AUTH)


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"custom_llm_provider": "openai"}, "custom_llm_provider", "unknown_parameter"),
        ({"input_file_id": None}, "input_file_id", "missing_required_parameter"),
        ({"endpoint": None}, "endpoint", "missing_required_parameter"),
        ({"completion_window": None}, "completion_window", "missing_required_parameter"),
        ({"endpoint": "/v1/files"}, "endpoint", "invalid_value"),
        ({"endpoint": "/chat/completions"}, "endpoint", "invalid_value"),
        ({"completion_window": "48h"}, "completion_window", "invalid_value"),
        ({"input_file_id": 7}, "input_file_id", "invalid_type"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata",
         "object_above_max_properties"),
        ({"metadata": {"k" * 65: "v"}}, "metadata", "string_above_max_length"),
        ({"metadata": {"k": "v" * 513}}, "metadata.k", "string_above_max_length"),
        ({"metadata": {"k": 1}}, "metadata.k", "invalid_type"),
        ({"metadata": ["k"]}, "metadata", "invalid_type"),
        ({"output_expires_after": {"anchor": "created_at", "seconds": 60}},
         "output_expires_after.seconds", "integer_below_min_value"),
        ({"output_expires_after": {"anchor": "now", "seconds": 3600}},
         "output_expires_after.anchor", "invalid_value"),
        ({"output_expires_after": {"seconds": 3600}}, "output_expires_after.anchor",
         "missing_required_parameter"),
    ],
)  # fmt: skip
def test_openai_create_validation(
    fake: Fake, change: dict[str, Any], param: str, code: str
) -> None:
    client = fake.oai()
    body: dict[str, Any] = {
        "input_file_id": upload(client, [line(0)]),
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        **change,
    }
    r = post_batch(fake, {k: v for k, v in body.items() if v is not None})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert (err["param"], err["code"], err["type"]) == (param, code, "invalid_request_error")
    assert err["message"]
    assert fake.batches() == []


def test_openai_create_refuses_unknown_and_wrong_files(fake: Fake) -> None:
    client = fake.oai()
    with pytest.raises(openai.NotFoundError) as missing:
        client.batches.create(
            input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert missing.value.body == {
        "message": "No such File object: file-nope",
        "type": "invalid_request_error",
        "param": "input_file_id",
        "code": None,
    }
    tuning = upload(client, [line(0)], purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as wrong:
        client.batches.create(
            input_file_id=tuning, endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert isinstance(wrong.value.body, dict) and wrong.value.body["param"] == "input_file_id"
    azure_file = processed_azure_file(fake, [line(0)])
    with pytest.raises(openai.NotFoundError):  # another surface's file is unknown here
        client.batches.create(
            input_file_id=azure_file, endpoint="/v1/chat/completions", completion_window="24h"
        )
    r = httpx.post(f"{fake.url}/v1/batches", content=b"{oops", headers=OPENAI_AUTH)
    assert r.status_code == 400 and "parse the JSON body" in r.json()["error"]["message"]
    assert fake.batches() == []


def test_unknown_batches_are_404_on_every_operation(fake: Fake) -> None:
    client = fake.oai()
    for call in (client.batches.retrieve, client.batches.cancel):
        with pytest.raises(openai.NotFoundError) as err:
            call("batch_nope")
        assert err.value.body == {
            "message": "No batch found with id 'batch_nope'.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    azure_batch = fake.azure().batches.create(
        input_file_id=processed_azure_file(fake, [line(0, "/chat/completions")]),
        endpoint="/chat/completions",
        completion_window="24h",
    )
    with pytest.raises(openai.NotFoundError):  # surfaces do not share batches
        client.batches.retrieve(azure_batch.id)
    assert client.batches.list().data == []


def test_list_pages_newest_first_exactly_once(fake: Fake) -> None:
    client = fake.oai()
    file_id = upload(client, [line(0)])
    made = [
        client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        ).id
        for _ in range(25)
    ]
    first = wire(client.batches.with_raw_response.list, limit=10)
    assert_valid("ListBatchesResponse", first)
    assert [b["id"] for b in first["data"]] == made[::-1][:10]
    assert (first["first_id"], first["last_id"], first["has_more"]) == (
        made[-1],
        made[-10],
        True,
    )
    last = wire(client.batches.with_raw_response.list, limit=10, after=made[5])
    assert [b["id"] for b in last["data"]] == made[4::-1] and last["has_more"] is False
    default = client.batches.list()
    assert len(default.data) == 20 and default.has_more is True
    assert [b.id for b in client.batches.list(limit=7)] == made[::-1]  # auto-pagination
    empty = wire(client.batches.with_raw_response.list, after="batch_unknown")
    assert empty == {"object": "list", "data": [], "first_id": None, "last_id": None,
                     "has_more": False}  # fmt: skip
    for query, code in (("limit=0", "integer_below_min_value"),
                        ("limit=101", "integer_above_max_value"),
                        ("limit=many", "invalid_type")):  # fmt: skip
        r = httpx.get(f"{fake.url}/v1/batches?{query}", headers=OPENAI_AUTH)
        assert (r.status_code, r.json()["error"]["code"]) == (400, code), query


def test_output_expires_after_sets_the_output_files_expiry(fake: Fake) -> None:
    client = fake.oai()
    batch = client.batches.create(
        input_file_id=upload(client, [line(0)]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
        output_expires_after={"anchor": "created_at", "seconds": 7200},
    )
    done = client.batches.retrieve(batch.id)
    out = client.files.retrieve(str(done.output_file_id))
    assert out.expires_at == out.created_at + 7200


# =================================================================================================
# Faults and the request log
# =================================================================================================


def test_faults_on_batch_operations(fake: Fake) -> None:
    client = fake.oai()
    file_id = upload(client, [line(0)])
    fake.fault(op="batch_create", status=500)
    with pytest.raises(openai.InternalServerError):
        client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert fake.batches() == []  # a failed create makes nothing
    batch = client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    fake.fault(op="batch_retrieve", status=429, headers={"retry-after": "3"})
    with pytest.raises(openai.RateLimitError) as limited:
        client.batches.retrieve(batch.id)
    assert limited.value.response.headers["retry-after"] == "3"
    fake.fault(op="batch_list", drop=True)
    with pytest.raises(openai.APIConnectionError):
        client.batches.list()
    fake.fault(op="batch_cancel", delay=0.5)
    start = time.monotonic()
    fake.config(**HOLD)
    held = client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert client.batches.cancel(held.id).status == "cancelling"
    assert time.monotonic() - start >= 0.5
    logged = [e for e in fake.requests() if e["fault"]]
    assert [e["op"] for e in logged] == ["batch_create", "batch_retrieve", "batch_list",
                                         "batch_cancel"]  # fmt: skip
    assert logged[0]["status"] == 500 and logged[2]["dropped"] is True


def test_cancel_of_a_completed_batch_is_refused_once_faults_are_gone(fake: Fake) -> None:
    client = fake.oai()
    batch = client.batches.create(
        input_file_id=upload(client, [line(0)]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    fake.fault(op="batch_cancel", surface="azure", status=503)  # an Azure fault leaves OpenAI be
    with pytest.raises(openai.BadRequestError):
        client.batches.cancel(batch.id)
    assert len(fake.admin("GET", "faults")["faults"]) == 1


def test_request_log_records_batch_calls(fake: Fake) -> None:
    client = fake.oai(organization="org-fg")
    file_id = upload(client, [line(0)])
    batch = client.batches.create(
        input_file_id=file_id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"a": "b"},
    )
    client.batches.retrieve(batch.id)
    created, retrieved = fake.requests(op="batch_create")[0], fake.requests(op="batch_retrieve")[0]
    assert created["batch_id"] == batch.id and created["status"] == 200
    assert created["json"] == {
        "input_file_id": file_id,
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        "metadata": {"a": "b"},
    }
    assert created["openai_organization"] == "org-fg"
    assert (retrieved["batch_id"], retrieved["path"]) == (batch.id, f"/v1/batches/{batch.id}")
    assert fake.batches()[0]["organization"] == "org-fg"


# =================================================================================================
# Azure
# =================================================================================================


def test_azure_batch_life_on_the_dated_surface(fake: Fake) -> None:
    client = fake.azure()
    lines = [line(i, "/chat/completions", model="gpt-4o-batch", messages=[
        {"role": "user", "content": f"q{i}"}]) for i in range(3)]  # fmt: skip
    file_id = upload(client, lines)
    with pytest.raises(openai.BadRequestError) as pending:  # Azure waits for processing
        client.batches.create(
            input_file_id=file_id, endpoint="/chat/completions", completion_window="24h"
        )
    assert pending.value.body == {
        "code": "invalidPayload",
        "message": f"The input file {file_id} is not yet processed (status 'pending'); wait "
        "until its status is 'processed'.",
    }
    while client.files.retrieve(file_id).status != "processed":
        pass
    created = wire(
        client.batches.with_raw_response.create,
        input_file_id=file_id,
        endpoint="/chat/completions",
        completion_window="24h",
    )
    assert_valid("Batch", created)
    assert re.fullmatch(f"batch_{DASHED_UUID}", created["id"])
    assert (created["output_file_id"], created["error_file_id"]) == ("", "")
    assert "model" not in created and "usage" not in created
    assert created["endpoint"] == "/chat/completions"
    done = wire(client.batches.with_raw_response.retrieve, created["id"])
    assert_valid("Batch", done)
    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 3, "completed": 3, "failed": 0}
    assert re.fullmatch(f"file-{DASHED_UUID}", done["output_file_id"])
    assert re.fullmatch(f"file-{DASHED_UUID}", done["error_file_id"])
    assert client.files.content(done["error_file_id"]).content == b""  # empty, but there
    outputs = read_lines(client, done["output_file_id"])
    assert [o["custom_id"] for o in outputs] == ["req-0", "req-1", "req-2"]
    for out in outputs:
        assert set(out) == {"custom_id", "response", "error"}  # no "id" on Azure
        assert re.fullmatch(DASHED_UUID, out["response"]["request_id"])
        body = out["response"]["body"]
        assert_valid("CreateChatCompletionResponse", body)
        assert body["choices"][0]["content_filter_results"]["hate"]["filtered"] is False
        assert body["prompt_filter_results"][0]["prompt_index"] == 0
    # .data: the GA list has no has_more, so the SDK's auto-pagination would never end.
    listed = client.files.list(purpose="batch_output").data
    assert {f.id for f in listed} == {done["output_file_id"], done["error_file_id"]}
    fake.config(azure_batch_empty_file_ids=False)
    fake.config(batch_validating_seconds=None)
    other = client.batches.create(
        input_file_id=file_id, endpoint="/chat/completions", completion_window="24h"
    )
    assert (other.output_file_id, other.error_file_id) == (None, None)


def test_azure_versions_and_fields(fake: Fake) -> None:
    file_id = processed_azure_file(fake, [line(0, "/v1/responses", model="gpt-4o", input="hi")])
    old = httpx.get(
        f"{fake.url}/openai/batches",
        params={"api-version": "2024-06-01"},
        headers={"api-key": AZURE_KEY},
    )
    assert (old.status_code, old.json()) == (
        404,
        {"error": {"code": "404", "message": "Resource not found"}},
    )
    assert fake.azure(api_version="2024-07-01-preview").batches.list().data == []
    with pytest.raises(openai.BadRequestError) as ga:  # responses batches came later
        fake.azure().batches.create(
            input_file_id=file_id, endpoint="/v1/responses", completion_window="24h"
        )
    assert isinstance(ga.value.body, dict) and "2024-10-21" in ga.value.body["message"]
    newer = fake.azure(api_version="2025-04-01-preview")
    batch = newer.batches.create(
        input_file_id=file_id,
        endpoint="/v1/responses",
        completion_window="24h",
        output_expires_after={"anchor": "created_at", "seconds": 1_209_600},
    )
    done = newer.batches.retrieve(batch.id)
    out = newer.files.retrieve(str(done.output_file_id))
    assert out.expires_at == out.created_at + 1_209_600
    (result,) = read_lines(newer, str(done.output_file_id))
    assert_valid("Response", result["response"]["body"])
    # The GA version does not know output_expires_after: ignored, as Azure ignores unknown fields.
    ga_batch = fake.azure(api_version="2024-10-21").batches.create(
        input_file_id=processed_azure_file(fake, [line(0, "/chat/completions")]),
        endpoint="/chat/completions",
        completion_window="24h",
        output_expires_after={"anchor": "created_at", "seconds": 3600},
    )
    ga_out = fake.azure().batches.retrieve(ga_batch.id).output_file_id
    assert fake.azure().files.retrieve(str(ga_out)).expires_at is None
    with pytest.raises(openai.BadRequestError) as short:  # v1: Azure's 14 to 30 days
        fake.azure_v1().batches.create(
            input_file_id=file_id,
            endpoint="/v1/responses",
            completion_window="24h",
            output_expires_after={"anchor": "created_at", "seconds": 3600},
        )
    assert short.value.body == {
        "code": "invalidPayload",
        "message": "Invalid 'output_expires_after.seconds': integer below minimum value. "
        "Expected a value >= 1209600, but got 3600 instead.",
        "param": "output_expires_after.seconds",
        "type": "invalid_request_error",
        "inner_error": {"code": "invalidPayload"},
    }


def test_azure_errors_and_quirks(fake: Fake) -> None:
    client = fake.azure()
    with pytest.raises(openai.NotFoundError) as missing:
        client.batches.retrieve("batch_nope")
    assert missing.value.body == {
        "code": "notFound",
        "message": "Batch with id 'batch_nope' not found.",
    }
    with pytest.raises(openai.NotFoundError) as missing_v1:
        fake.azure_v1().batches.retrieve("batch_nope")
    assert missing_v1.value.body == {
        "code": "notFound",
        "message": "Batch with id 'batch_nope' not found.",
        "param": "batch_id",
        "type": "invalid_request_error",
        "inner_error": {"code": "notFound"},
    }
    file_id = processed_azure_file(fake, [line(0, "/chat/completions")])
    with pytest.raises(openai.BadRequestError):
        client.batches.create(input_file_id=file_id, endpoint="/v1/files", completion_window="24h")
    # Any other window is taken, and the batch then fails (Azure: "your job will fail").
    window = client.batches.create(
        input_file_id=file_id, endpoint="/chat/completions", completion_window="48h"
    )
    failed = client.batches.retrieve(window.id)
    assert failed.status == "failed" and failed.errors and failed.errors.data
    assert failed.errors.data[0].param == "completion_window"
    done = client.batches.create(
        input_file_id=file_id, endpoint="/chat/completions", completion_window="24h"
    )
    assert client.batches.retrieve(done.id).status == "completed"
    with pytest.raises(openai.ConflictError) as conflict:
        client.batches.cancel(done.id)
    assert conflict.value.body == {
        "code": "unexpectedEntityState",
        "message": "Cannot cancel a batch with status 'completed'.",
    }
    fake.config(azure_deployments=["gpt-4o-batch"])
    unknown = client.batches.create(
        input_file_id=file_id, endpoint="/chat/completions", completion_window="24h"
    )
    failed = client.batches.retrieve(unknown.id)
    assert failed.errors and failed.errors.data
    assert (failed.errors.data[0].code, failed.errors.data[0].line) == ("model_not_found", 1)
    tuning = upload(client, [line(0)], purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as purpose:
        client.batches.create(input_file_id=tuning, endpoint="/chat/completions",
                              completion_window="24h")  # fmt: skip
    assert isinstance(purpose.value.body, dict) and purpose.value.body["code"] == "invalidPayload"


def test_azure_v1_surface_shares_the_dated_store(fake: Fake) -> None:
    v1 = fake.azure_v1()
    fake.config(**HOLD)
    file_id = processed_azure_file(fake, [line(i, "/v1/chat/completions") for i in range(4)])
    batch = v1.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert re.fullmatch(f"batch_{DASHED_UUID}", batch.id)
    assert fake.azure().batches.retrieve(batch.id).status == "in_progress"
    fake.batch(batch.id, requests=1)
    assert v1.batches.cancel(batch.id).status == "cancelling"
    done = wire(v1.batches.with_raw_response.retrieve, batch.id)
    assert_valid("Batch", done)
    assert done["status"] == "cancelled" and done["request_counts"]["completed"] == 1
    assert len(read_lines(v1, done["output_file_id"])) == 1
    assert v1.files.content(done["error_file_id"]).content == b""
    listing = wire(v1.batches.with_raw_response.list)
    assert_valid("ListBatchesResponse", listing)
    assert [b["id"] for b in listing["data"]] == [batch.id]
    bearer = fake.azure_v1(api_key=AZURE_KEY).with_options(
        default_headers={"authorization": f"Bearer {AZURE_KEY}"}
    )
    assert bearer.batches.retrieve(batch.id).id == batch.id
    with pytest.raises(openai.AuthenticationError):
        fake.azure_v1(api_key="wrong").batches.list()
    assert fake.oai().batches.list().data == []


# =================================================================================================
# Admin API
# =================================================================================================


def test_admin_rejects_what_it_cannot_do(fake: Fake) -> None:
    client = fake.oai()
    batch = client.batches.create(
        input_file_id=upload(client, [line(0)]),
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    assert client.batches.retrieve(batch.id).status == "completed"

    def admin(path: str, body: Any) -> httpx.Response:
        return httpx.post(f"{fake.url}/__admin/{path}", json=body)

    for body, says in [
        ({"status": "validating"}, "already completed"),
        ({"status": "sideways"}, "status must be one of"),
        ({"requests": 1}, "requests run only in_progress"),
        ({"speed": 2}, "unknown fields"),
    ]:
        r = admin(f"batches/{batch.id}", body)
        assert r.status_code == 400 and says in r.json()["error"], (body, r.text)
    assert httpx.post(f"{fake.url}/__admin/batches/batch_nope", json={}).status_code == 404
    assert admin("config", {"batch_in_progress_seconds": -1}).status_code == 400
    assert admin("config", {"batch_max_requests": 0}).status_code == 400
    assert (
        admin("faults", {"op": "batch_create", "after_bytes": 10, "drop": True}).status_code == 400
    )
    view = fake.batches()[0]
    assert view["id"] == batch.id and view["surface"] == "openai" and view["requests_done"] == 1
    assert view["durations"] == {
        "validating": 0,
        "in_progress": 0,
        "finalizing": 0,
        "cancelling": 0,
    }
    fake.reset()
    assert fake.batches() == [] and list((fake.state_dir / "batches").iterdir()) == []


# =================================================================================================
# Memory
# =================================================================================================


def test_large_batch_streams_with_flat_memory(fake: Fake, tmp_path: Path) -> None:
    """40 MB of input, 4,000 requests of 10 KB: the fake reads and writes line by line."""
    client = fake.oai()
    src = tmp_path / "big.jsonl"
    with src.open("wb") as out:
        for i in range(4000):
            text = f"{i:05d}" + "x" * 10_000
            out.write(json.dumps(line(i, model="gpt-4o-mini", messages=[
                {"role": "user", "content": text}])).encode() + b"\n")  # fmt: skip
    with src.open("rb") as fh:
        file_id = client.files.create(file=("big.jsonl", fh), purpose="batch").id
    fake.config(batch_validating_seconds=None)
    batch = client.batches.create(
        input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    baseline = fake.rss()
    with RssSampler(fake.proc.pid, interval=0.01) as peak:
        fake.config(batch_validating_seconds=0)
        done = client.batches.retrieve(batch.id, timeout=120)
    assert done.status == "completed"
    assert done.request_counts is not None and done.request_counts.completed == 4000
    assert peak.peak - baseline < 50 << 20, f"RSS grew by {(peak.peak - baseline) >> 20} MB"
    count = 0
    with client.files.with_streaming_response.content(str(done.output_file_id)) as r:
        for raw in r.iter_lines():
            count += bool(raw)
    assert count == 4000


def test_the_schema_checks_reject_what_the_spec_rejects() -> None:
    """The validators used above are not vacuous, and the widening is only what the spec shows."""
    batch = {
        "id": "batch_1",
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-1",
        "completion_window": "24h",
        "status": "validating",
        "created_at": 1,
        "output_file_id": None,  # shown as null in the spec's examples: allowed
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
    }
    assert validator("Batch").is_valid(batch)
    for change in (
        {"status": "done"},
        {"object": "job"},
        {"request_counts": None},  # never null in the examples: still refused
        {"request_counts": {"total": 1}},
        {"usage": {"input_tokens": 1}},
        {"created_at": "yesterday"},
    ):
        assert not validator("Batch").is_valid({**batch, **change}), change
    assert not validator("Batch").is_valid({k: v for k, v in batch.items() if k != "id"})
    status = validator("FineTuningJob").schema["components"]["schemas"]["FineTuningJob"]
    assert "paused" in status["properties"]["status"]["enum"]  # from the pause example
    hp = validator("FineTuneSupervisedHyperparameters")
    assert hp.is_valid({"learning_rate_multiplier": 1.0})  # exclusiveMinimum: true, as 2020-12
    assert not hp.is_valid({"learning_rate_multiplier": 0})
    assert not hp.is_valid({"n_epochs": 51})
