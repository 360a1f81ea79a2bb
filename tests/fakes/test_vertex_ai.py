"""Tests of the fake Vertex AI (tests/fakes/vertex_ai.py) as a process over fake-gcs-server.

Clients: raw ``httpx`` for the wire details, Google's own ``google-genai`` SDK (Vertex mode)
to prove its shapes parse, and filegate's Vertex output converter on the lines it writes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import types
from google.oauth2.credentials import Credentials

from filegate.providers.vertex_ai.batch_lines import custom_id_labels, openai_to_vertex
from filegate.providers.vertex_ai.output_lines import vertex_to_openai
from tests.fakes.harness import (
    LOCATION,
    VERTEX_PROJECT,
    VERTEX_PROJECT_NUMBER,
    VERTEX_TOKEN,
    FakeVertexProcess,
    running_fake_vertex,
)
from tests.integration.gcs_support import FakeGCS, running_fake_gcs

BUCKET = "vertex-fake"
MODEL = "publishers/google/models/gemini-2.5-flash"
NAME = re.compile(
    rf"projects/{VERTEX_PROJECT_NUMBER}/locations/{LOCATION}/batchPredictionJobs/\d{{19}}"
)
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
SUCCEEDED, RUNNING, PENDING = "JOB_STATE_SUCCEEDED", "JOB_STATE_RUNNING", "JOB_STATE_PENDING"
CANCELLED, FAILED = "JOB_STATE_CANCELLED", "JOB_STATE_FAILED"
ENDED = {SUCCEEDED, FAILED, CANCELLED, "JOB_STATE_EXPIRED"}


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGCS]:
    with running_fake_gcs(tmp_path_factory.mktemp("gcs") / "gcs.log") as gcs:
        gcs.create_bucket(BUCKET)
        yield gcs


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory, gcs: FakeGCS) -> Iterator[FakeVertexProcess]:
    with running_fake_vertex(tmp_path_factory.mktemp("vertex"), gcs.url) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _reset(fake: FakeVertexProcess) -> None:
    fake.reset()


@pytest.fixture
def http(fake: FakeVertexProcess) -> Iterator[httpx.Client]:
    with fake.http() as client:
        yield client


def chat_line(custom_id: str, text: str) -> bytes:
    line = {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": text}]},
    }
    converted = openai_to_vertex(json.dumps(line).encode(), 1)
    assert converted is not None
    return converted


def put_lines(gcs: FakeGCS, name: str, lines: list[bytes]) -> str:
    gcs.put(BUCKET, name, b"\n".join(lines) + b"\n")
    return f"gs://{BUCKET}/{name}"


def batch_body(uri: str, prefix: str = "out", **extra: Any) -> dict[str, Any]:
    return {
        "displayName": "job",
        "model": MODEL,
        "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": [uri]}},
        "outputConfig": {
            "predictionsFormat": "jsonl",
            "gcsDestination": {"outputUriPrefix": f"gs://{BUCKET}/{prefix}"},
        },
        **extra,
    }


def create(http: httpx.Client, fake: FakeVertexProcess, body: dict[str, Any]) -> dict[str, Any]:
    r = http.post(fake.api("batchPredictionJobs"), json=body)
    assert r.status_code == 200, r.text
    job: dict[str, Any] = r.json()
    return job


def read_output(gcs: FakeGCS, job: dict[str, Any]) -> list[dict[str, Any]]:
    directory = job["outputInfo"]["gcsOutputDirectory"]
    data = gcs.read(BUCKET, f"{directory}/predictions.jsonl".removeprefix(f"gs://{BUCKET}/"))
    return [json.loads(line) for line in data.splitlines()]


def genai_client(fake: FakeVertexProcess) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project=VERTEX_PROJECT,
        location=LOCATION,
        credentials=Credentials(token=VERTEX_TOKEN),  # type: ignore[no-untyped-call]
        http_options=types.HttpOptions(base_url=fake.url, api_version="v1"),
    )


# =================================================================================================
# Batch prediction
# =================================================================================================


def test_batch_life_step_by_step(fake: FakeVertexProcess, gcs: FakeGCS, http: httpx.Client) -> None:
    fake.config(auto_advance=False, output_order="input")
    ids = ["req-1", "Request #2 (not a label value)", "req-3"]
    lines = [chat_line(c, f"marker-{i}") for i, c in enumerate(ids)]
    bad = json.dumps({"request": {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}})
    uri = put_lines(gcs, "in/life.jsonl", [*lines, bad.encode()])
    job = create(http, fake, batch_body(uri, labels={"team": "a"}))
    assert NAME.fullmatch(job["name"]) and job["state"] == PENDING
    assert TIME.fullmatch(job["createTime"]) and job["updateTime"] == job["createTime"]
    assert job["model"] == MODEL and job["modelVersionId"] == "1" and job["labels"] == {"team": "a"}
    assert "outputInfo" not in job and "completionStats" not in job and "startTime" not in job

    running = fake.advance(job["name"])
    assert running["state"] == RUNNING and TIME.fullmatch(running["startTime"])
    directory = running["outputInfo"]["gcsOutputDirectory"]
    assert directory == f"gs://{BUCKET}/out/prediction-model-{job['createTime']}"
    assert "completionStats" not in running  # Gemini batch jobs report no live progress

    fake.advance(job["name"])
    done = http.get(f"{fake.url}/v1/{job['name']}").json()
    assert done["state"] == SUCCEEDED and TIME.fullmatch(done["endTime"])
    assert done["completionStats"] == {"successfulCount": "3", "failedCount": "1"}
    out = read_output(gcs, done)
    assert [list(o)[:3] for o in out] == [["status", "processed_time", "request"]] * 4
    for i, line in enumerate(out[:3]):
        assert line["status"] == ""
        assert line["request"]["labels"] == custom_id_labels(ids[i])
        text = line["response"]["candidates"][0]["content"]["parts"][0]["text"]
        assert text == f"echo: marker-{i}"
        assert line["response"]["usageMetadata"]["totalTokenCount"] == 1 + 2
    assert out[3]["status"] == (
        'Bad Request: {"error": {"code": 400, "message": "Please use a valid role: user, '
        'model.", "status": "INVALID_ARGUMENT"}}'
    )
    assert "response" not in out[3]
    # filegate's own converter reads every line back with its custom_id.
    data = gcs.read(BUCKET, f"{directory}/predictions.jsonl".removeprefix(f"gs://{BUCKET}/"))
    converted = [
        json.loads(vertex_to_openai(raw, n) or b"{}") for n, raw in enumerate(data.splitlines(), 1)
    ]
    assert [c["custom_id"] for c in converted[:3]] == ids
    assert converted[0]["response"]["body"]["choices"][0]["message"]["content"] == "echo: marker-0"
    assert converted[3]["error"] == {
        "code": "invalid_argument",
        "message": "Please use a valid role: user, model.",
    }


def test_genai_sdk_drives_batches(fake: FakeVertexProcess, gcs: FakeGCS) -> None:
    uri = put_lines(gcs, "in/sdk.jsonl", [chat_line("a", "sdk")])
    with genai_client(fake) as client:
        job = client.batches.create(
            model="gemini-2.5-flash",
            src=uri,
            config={"dest": f"gs://{BUCKET}/sdk", "display_name": "sdk"},
        )
        assert job.name and NAME.fullmatch(job.name) and job.model == MODEL
        assert job.state == types.JobState.JOB_STATE_PENDING
        fake.wait_state(job.name, {SUCCEEDED})
        got = client.batches.get(name=job.name)
        assert got.state == types.JobState.JOB_STATE_SUCCEEDED and got.completion_stats
        assert got.completion_stats.successful_count == 1 and got.dest and got.dest.gcs_uri
        other = client.batches.create(
            model="gemini-2.5-flash", src=uri, config={"dest": f"gs://{BUCKET}/sdk"}
        )
        assert other.name
        listed = [j.name for j in client.batches.list(config={"page_size": 1})]
        assert listed == [other.name, job.name]  # newest first, across two pages
        client.batches.cancel(name=other.name)
        assert client.batches.get(name=other.name).state == types.JobState.JOB_STATE_CANCELLING
        fake.wait_state(other.name, {CANCELLED})
        cancelled = client.batches.get(name=other.name)
        assert cancelled.error and cancelled.error.code == 1
        deleted = client.batches.delete(name=job.name)
        assert deleted.done is True
        with pytest.raises(genai.errors.ClientError) as err:
            client.batches.get(name=job.name)
        assert err.value.code == 404


def test_list_pages_and_filters(fake: FakeVertexProcess, gcs: FakeGCS, http: httpx.Client) -> None:
    fake.config(auto_advance=False)
    assert http.get(fake.api("batchPredictionJobs")).json() == {}  # an empty list is {}
    uri = put_lines(gcs, "in/list.jsonl", [chat_line("a", "x")])
    names = []
    for i in range(5):
        body = batch_body(uri, displayName=f"nightly-{i}" if i % 2 else f"adhoc-{i}")
        body["labels"] = {"parity": "odd" if i % 2 else "even"}
        names.append(create(http, fake, body)["name"])
    fake.force(names[0], SUCCEEDED)
    seen, token = [], None
    while True:
        params = {"pageSize": 2, **({"pageToken": token} if token else {})}
        page = http.get(fake.api("batchPredictionJobs"), params=params).json()
        seen += [j["name"] for j in page["batchPredictionJobs"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == names[::-1]

    def listed(expr: str) -> list[str]:
        r = http.get(fake.api("batchPredictionJobs"), params={"filter": expr})
        assert r.status_code == 200, r.text
        return [j["name"] for j in r.json().get("batchPredictionJobs", [])]

    assert listed('state="JOB_STATE_SUCCEEDED"') == [names[0]]
    assert listed("state!=JOB_STATE_SUCCEEDED AND labels.parity=odd") == [names[3], names[1]]
    assert listed('display_name:"nightly-*"') == [names[3], names[1]]
    assert listed('NOT display_name:"nightly-*" OR labels.parity:odd') == names[::-1]
    assert listed("labels.missing:*") == []
    created = http.get(f"{fake.url}/v1/{names[2]}").json()["createTime"]
    assert listed(f'create_time>"{created}"') == [names[4], names[3]]
    for bad in ("state=", "color=red", "(state=x"):
        r = http.get(fake.api("batchPredictionJobs"), params={"filter": bad})
        assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    r = http.get(fake.api("batchPredictionJobs"), params={"pageToken": "!!"})
    assert r.status_code == 400


def test_cancel_mid_run_keeps_finished_lines(
    fake: FakeVertexProcess, gcs: FakeGCS, http: httpx.Client
) -> None:
    fake.config(line_seconds=0.05, flush_lines=3, cancel_seconds=0.2, output_order="input")
    uri = put_lines(gcs, "in/cancel.jsonl", [chat_line(f"c{i}", f"n{i}") for i in range(40)])
    job = create(http, fake, batch_body(uri))
    deadline = time.monotonic() + 20
    while True:
        view = next(j for j in fake.jobs() if j["name"] == job["name"])
        if view["__counts"]["succeeded"] >= 4:
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    directory = view["outputInfo"]["gcsOutputDirectory"]
    partial = gcs.read(BUCKET, f"{directory}/predictions.jsonl".removeprefix(f"gs://{BUCKET}/"))
    assert len(partial.splitlines()) >= 3  # flushed while it ran
    r = http.post(f"{fake.url}/v1/{job['name']}:cancel")
    assert (r.status_code, r.json()) == (200, {})
    assert http.get(f"{fake.url}/v1/{job['name']}").json()["state"] == "JOB_STATE_CANCELLING"
    again = http.post(f"{fake.url}/v1/{job['name']}:cancel")
    assert again.status_code == 400 and again.json()["error"]["status"] == "FAILED_PRECONDITION"
    done = fake.wait_state(job["name"], {CANCELLED})
    assert done["error"] == {"code": 1, "message": "CANCELED"}
    stats = done["completionStats"]
    ok, rest = int(stats["successfulCount"]), int(stats["incompleteCount"])
    assert ok + rest == 40 and 4 <= ok < 40
    assert [
        line["request"]["contents"][0]["parts"][0]["text"] for line in read_output(gcs, done)
    ] == [f"n{i}" for i in range(ok)]


def test_delete_is_a_long_running_operation(
    fake: FakeVertexProcess, gcs: FakeGCS, http: httpx.Client
) -> None:
    fake.config(auto_advance=False, delete_seconds=0.3)
    uri = put_lines(gcs, "in/delete.jsonl", [chat_line("a", "x")])
    job = create(http, fake, batch_body(uri))
    busy = http.delete(f"{fake.url}/v1/{job['name']}")
    assert busy.status_code == 400 and busy.json()["error"]["status"] == "FAILED_PRECONDITION"
    fake.force(job["name"], SUCCEEDED)
    op = http.delete(f"{fake.url}/v1/{job['name']}").json()
    assert re.fullmatch(
        rf"projects/{VERTEX_PROJECT_NUMBER}/locations/{LOCATION}/operations/\d+", op["name"]
    )
    assert op["metadata"]["@type"].endswith("aiplatform.v1.DeleteOperationMetadata")
    assert "done" not in op and http.get(f"{fake.url}/v1/{job['name']}").status_code == 200
    time.sleep(0.35)
    assert http.get(f"{fake.url}/v1/{job['name']}").status_code == 404  # done without a poll
    polled = http.get(f"{fake.url}/v1/{op['name']}").json()
    assert polled["done"] is True
    assert polled["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}
    assert http.get(f"{fake.url}/v1/{job['name']}").status_code == 404
    missing = http.get(fake.api("operations/42"))
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"


def test_missing_input_fails_the_job(fake: FakeVertexProcess, http: httpx.Client) -> None:
    uri = f"gs://{BUCKET}/in/nowhere.jsonl"
    job = create(http, fake, batch_body(uri))
    done = fake.wait_state(job["name"], ENDED)
    assert (
        done["state"] == FAILED and done["error"]["code"] == 3 and uri in done["error"]["message"]
    )
    assert "outputInfo" not in done and TIME.fullmatch(done["endTime"])


def test_unreadable_lines(fake: FakeVertexProcess, gcs: FakeGCS, http: httpx.Client) -> None:
    fake.config(output_order="reversed")
    uri = put_lines(gcs, "in/garbage.jsonl", [chat_line("a", "first"), b"{not json", b""])
    done = fake.wait_state(create(http, fake, batch_body(uri))["name"], ENDED)
    assert done["completionStats"] == {"successfulCount": "1", "failedCount": "1"}
    out = read_output(gcs, done)
    assert out[0]["request"] == "{not json" and out[0]["status"].startswith("Bad Request: ")
    assert out[1]["status"] == ""  # reversed: the first line is written last
    fake.config(invalid_json_line="fail_job")
    failed = fake.wait_state(create(http, fake, batch_body(uri))["name"], ENDED)
    assert failed["state"] == FAILED and "line 2" in failed["error"]["message"]


def test_forced_states(fake: FakeVertexProcess, gcs: FakeGCS, http: httpx.Client) -> None:
    fake.config(auto_advance=False)
    uri = put_lines(gcs, "in/force.jsonl", [chat_line("a", "x"), chat_line("b", "y")])
    jobs = [create(http, fake, batch_body(uri))["name"] for _ in range(4)]
    done = fake.force(jobs[0], SUCCEEDED)
    assert done["completionStats"] == {"successfulCount": "2"} and len(read_output(gcs, done)) == 2
    failed = fake.force(jobs[1], FAILED, {"code": 8, "message": "quota"})
    assert failed["error"] == {"code": 8, "message": "quota"}
    assert fake.force(jobs[2], "JOB_STATE_EXPIRED")["state"] == "JOB_STATE_EXPIRED"
    paused = fake.force(jobs[3], "JOB_STATE_PAUSED")
    fake.advance(jobs[3])
    time.sleep(0.1)
    assert (
        http.get(f"{fake.url}/v1/{jobs[3]}").json()["state"]
        == paused["state"]
        == "JOB_STATE_PAUSED"
    )


def test_line_faults(fake: FakeVertexProcess, gcs: FakeGCS, http: httpx.Client) -> None:
    fake.fault(op="predict", match="throttle-me", status=429, times=None)
    uri = put_lines(gcs, "in/faults.jsonl", [chat_line("a", "throttle-me"), chat_line("b", "fine")])
    done = fake.wait_state(create(http, fake, batch_body(uri))["name"], ENDED)
    assert done["completionStats"] == {"successfulCount": "1", "failedCount": "1"}
    failed = next(o for o in read_output(gcs, done) if o["status"])
    assert failed["status"].startswith(
        'Too Many Requests: {"error": {"code": 429, "message": "Quota'
    )
    assert '"status": "RESOURCE_EXHAUSTED"' in failed["status"]


# =================================================================================================
# Requests, errors, faults
# =================================================================================================


def test_auth_projects_and_unknown_paths(fake: FakeVertexProcess) -> None:
    url = fake.api("batchPredictionJobs")
    missing = httpx.get(url)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    err = missing.json()["error"]
    assert (err["code"], err["status"]) == (401, "UNAUTHENTICATED")
    assert err["details"][0]["reason"] == "CREDENTIALS_MISSING"
    wrong = httpx.get(url, headers={"authorization": "Bearer nope"}).json()["error"]
    assert wrong["details"][0]["reason"] == "ACCESS_TOKEN_TYPE_UNSUPPORTED"
    assert wrong["message"].startswith("Request had invalid authentication credentials.")
    fake.config(token_prefixes=["tok-"])
    assert httpx.get(url, headers={"authorization": "Bearer tok-7"}).status_code == 200
    by_number = url.replace(VERTEX_PROJECT, VERTEX_PROJECT_NUMBER)
    assert (
        httpx.get(by_number, headers={"authorization": f"Bearer {VERTEX_TOKEN}"}).status_code == 200
    )
    other = httpx.get(
        url.replace(VERTEX_PROJECT, "someone-else"),
        headers={"authorization": f"Bearer {VERTEX_TOKEN}"},
    )
    assert other.status_code == 403 and other.json()["error"]["status"] == "PERMISSION_DENIED"
    assert "aiplatform.batchPredictionJobs.list" in other.json()["error"]["message"]
    page = httpx.get(f"{fake.url}/v1/projects/{VERTEX_PROJECT}/nothing")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert [e["op"] for e in fake.requests()] == ["batch_list"] * 5


def test_create_validation(fake: FakeVertexProcess, gcs: FakeGCS, http: httpx.Client) -> None:
    fake.config(auto_advance=False)
    url = fake.api("batchPredictionJobs")
    uri = put_lines(gcs, "in/valid.jsonl", [chat_line("a", "x")])

    def error(body: Any, raw: bytes | None = None) -> dict[str, Any]:
        r = http.post(url, content=raw) if raw is not None else http.post(url, json=body)
        assert r.status_code == 400, r.text
        err: dict[str, Any] = r.json()["error"]
        assert err["status"] == "INVALID_ARGUMENT" and err["code"] == 400
        return err

    unknown = error({**batch_body(uri), "colour": "red"})
    assert unknown["message"] == (
        "Invalid JSON payload received. Unknown name \"colour\" at 'batch_prediction_job': "
        "Cannot find field."
    )
    assert error({**batch_body(uri), "displayName": 5})["message"] == (
        "Invalid value at 'batch_prediction_job.display_name' (TYPE_STRING), 5"
    )
    assert error(None, b"{oops")["message"].startswith("Invalid JSON payload received.")
    missing = error({"model": MODEL})
    fields = [v["field"] for v in missing["details"][0]["fieldViolations"]]
    assert fields == [
        "batch_prediction_job.display_name",
        "batch_prediction_job.input_config",
        "batch_prediction_job.output_config",
    ]
    assert missing["message"].startswith(
        "List of found errors:\t1.Field: batch_prediction_job.display_name; Message: Required "
        "field is not set.\t"
    )
    assert error(batch_body("s3://x/y"))["details"][0]["fieldViolations"][0]["field"] == (
        "batch_prediction_job.input_config.gcs_source.uris"
    )
    assert "malformed" in error(batch_body(uri, model="gemini-2.5-flash"))["message"]
    snake = {
        "display_name": "snake",
        "model": MODEL,
        "input_config": {"instances_format": "jsonl", "gcs_source": {"uris": [uri]}},
        "output_config": {
            "predictions_format": "jsonl",
            "gcs_destination": {"output_uri_prefix": f"gs://{BUCKET}/o"},
        },
        "state": "JOB_STATE_SUCCEEDED",  # output only: ignored
    }
    made = create(http, fake, snake)
    assert made["displayName"] == "snake" and made["state"] == PENDING
    assert made["inputConfig"] == {"instancesFormat": "jsonl", "gcsSource": {"uris": [uri]}}
    fake.config(publisher_models=["gemini-2.5-pro"], max_active_batch_jobs=1)
    gone = http.post(url, json=batch_body(uri))
    assert (
        gone.status_code == 404
        and "Publisher Model `projects/123456789012" in gone.json()["error"]["message"]
    )
    fake.config(publisher_models=None)
    full = http.post(url, json=batch_body(uri))
    assert full.status_code == 429 and full.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_api_faults_and_request_log(
    fake: FakeVertexProcess, gcs: FakeGCS, http: httpx.Client
) -> None:
    uri = put_lines(gcs, "in/log.jsonl", [chat_line("a", "x")])
    job = create(http, fake, batch_body(uri))
    fake.fault(op="batch_get", status=503, times=2)
    url = f"{fake.url}/v1/{job['name']}"
    for _ in range(2):
        r = http.get(url)
        assert r.status_code == 503
        assert r.json() == {
            "error": {
                "code": 503,
                "message": "The service is currently unavailable.",
                "status": "UNAVAILABLE",
            }
        }
    assert http.get(url).status_code == 200
    fake.fault(
        op="batch_list",
        status=429,
        body={"error": {"code": 429, "message": "slow down"}},
        retry_after=3,
    )
    r = http.get(fake.api("batchPredictionJobs"))
    assert (r.status_code, r.headers["retry-after"], r.json()["error"]["message"]) == (
        429,
        "3",
        "slow down",
    )
    fake.fault(op="batch_get", drop=True)
    with pytest.raises(httpx.TransportError):
        http.get(url)
    fake.fault(op="batch_create", delay=0.3)
    started = time.monotonic()
    create(http, fake, batch_body(uri))
    assert time.monotonic() - started >= 0.3
    log = fake.requests()
    assert [e["op"] for e in log] == [
        "batch_create",
        *["batch_get"] * 3,
        "batch_list",
        "batch_get",
        "batch_create",
    ]
    assert (
        log[0]["body"]["displayName"] == "job" and log[0]["job"] == job["name"].rsplit("/", 1)[-1]
    )
    assert log[1]["fault"]["status"] == 503 and log[5]["dropped"] is True
    assert log[0]["headers"]["authorization"] == f"Bearer {VERTEX_TOKEN}"


# =================================================================================================
# Tuning
# =================================================================================================


def example(question: str, answer: str) -> bytes:
    return json.dumps(
        {
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                {"role": "user", "parts": [{"text": question}]},
                {"role": "model", "parts": [{"text": answer}]},
            ],
        }
    ).encode()


@pytest.mark.filterwarnings("ignore:The SDK's tuning implementation is experimental")
def test_tuning_life_through_the_sdk(
    fake: FakeVertexProcess, gcs: FakeGCS, http: httpx.Client
) -> None:
    train = put_lines(gcs, "tune/train.jsonl", [example(f"q{i}", f"a {i}") for i in range(10)])
    valid = put_lines(gcs, "tune/valid.jsonl", [example("q", "a")])
    with genai_client(fake) as client:
        job = client.tunings.tune(
            base_model="gemini-2.5-flash",
            training_dataset=types.TuningDataset(gcs_uri=train),
            config=types.CreateTuningJobConfig(
                epoch_count=2,
                learning_rate_multiplier=0.5,
                adapter_size=types.AdapterSize.ADAPTER_SIZE_FOUR,
                tuned_model_display_name="mine",
                validation_dataset=types.TuningValidationDataset(gcs_uri=valid),
            ),
        )
        assert job.name and re.fullmatch(
            rf"projects/{VERTEX_PROJECT_NUMBER}/locations/{LOCATION}/tuningJobs/\d{{19}}", job.name
        )
        assert job.state == types.JobState.JOB_STATE_PENDING
        wire = fake.requests(op="tuning_create")[0]["body"]
        assert wire["supervisedTuningSpec"]["hyperParameters"]["adapterSize"] == "ADAPTER_SIZE_FOUR"
        fake.wait_state(job.name, {SUCCEEDED})
        done = client.tunings.get(name=job.name)
        assert done.state == types.JobState.JOB_STATE_SUCCEEDED and done.tuned_model
        assert done.tuned_model.model and re.fullmatch(
            r"projects/123456789012/locations/us-central1/models/\d+@1", done.tuned_model.model
        )
        assert done.tuned_model.endpoint and "/endpoints/" in done.tuned_model.endpoint
        assert done.tuned_model.checkpoints and len(done.tuned_model.checkpoints) == 2
        stats = done.tuning_data_stats and done.tuning_data_stats.supervised_tuning_data_stats
        assert stats and stats.tuning_dataset_example_count == 10
        raw = http.get(f"{fake.url}/v1/{job.name}").json()
        assert (
            raw["tuningDataStats"]["supervisedTuningDataStats"]["tuningDatasetExampleCount"] == "10"
        )
        assert raw["supervisedTuningSpec"]["hyperParameters"]["epochCount"] == "2"
        assert [j.name for j in client.tunings.list()] == [job.name]
        # The tuned model serves batch prediction.
        uri = put_lines(gcs, "in/tuned.jsonl", [chat_line("t", "tuned")])
        batch = create(http, fake, batch_body(uri, model=done.tuned_model.model))
        finished = fake.wait_state(batch["name"], ENDED)
        assert finished["state"] == SUCCEEDED
        assert read_output(gcs, finished)[0]["response"]["modelVersion"] == "gemini-2.5-flash"


def test_tuning_errors_and_cancel(
    fake: FakeVertexProcess, gcs: FakeGCS, http: httpx.Client
) -> None:
    url = fake.api("tuningJobs")
    bad_uri = http.post(
        url,
        json={
            "baseModel": "gemini-2.5-flash",
            "supervisedTuningSpec": {"trainingDatasetUri": f"gs://{BUCKET}/t.csv"},
        },
    )
    assert bad_uri.status_code == 400
    assert bad_uri.json()["error"]["message"] == (
        "List of found errors:\t1.Field: tuning_job.supervised_tuning_spec.training_dataset_uri; "
        "Message: training_dataset_uri should be a GCS object of type JSONL.\t"
    )
    lines = [example("q", "a"), b'{"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}']
    uri = put_lines(gcs, "tune/bad.jsonl", lines)
    r = http.post(
        url,
        json={
            "base_model": "gemini-2.5-flash",
            "supervised_tuning_spec": {"training_dataset_uri": uri},
        },
    )
    assert r.status_code == 200, r.text
    failed = fake.wait_state(r.json()["name"], ENDED)
    assert failed["state"] == FAILED and failed["error"]["code"] == 3
    assert failed["error"]["message"] == (
        f'Invalid training dataset {uri}: line 2: contents[0].role must be "user" or "model", '
        'not "assistant".'
    )
    assert "tunedModel" not in failed
    fake.config(tuning_min_examples=2)
    one = put_lines(gcs, "tune/one.jsonl", [example("q", "a")])
    r = http.post(
        url,
        json={"baseModel": "gemini-2.5-flash", "supervisedTuningSpec": {"trainingDatasetUri": one}},
    )
    short = fake.wait_state(r.json()["name"], ENDED)
    assert short["state"] == FAILED and "has 1 examples; at least 2" in short["error"]["message"]
    fake.config(auto_advance=False, tuning_min_examples=1)
    good = put_lines(gcs, "tune/good.jsonl", [example("q", "a")])
    job = http.post(
        url,
        json={
            "baseModel": "gemini-2.5-flash",
            "supervisedTuningSpec": {"trainingDatasetUri": good},
        },
    ).json()
    assert http.post(f"{fake.url}/v1/{job['name']}:cancel").json() == {}
    fake.advance(job["name"])
    cancelled = fake.wait_state(job["name"], {CANCELLED})
    assert (
        cancelled["error"] == {"code": 1, "message": "CANCELED"} and "tunedModel" not in cancelled
    )
    page = http.get(url, params={"pageSize": 1}).json()
    assert len(page["tuningJobs"]) == 1 and page["nextPageToken"]
    assert http.get(f"{fake.url}/v1/{job['name']}x").status_code == 404
    assert (
        http.delete(f"{fake.url}/v1/{job['name']}").status_code == 404
    )  # tuning jobs have no delete


def test_admin_rejects_bad_settings(fake: FakeVertexProcess) -> None:
    for bad in (
        {"batch_states": [{"state": "JOB_STATE_PENDING", "seconds": 1}]},
        {"output_order": "sideways"},
        {"nonsense": 1},
    ):
        r = httpx.post(f"{fake.url}/__admin/config", json=bad)
        assert r.status_code == 400 and r.json()["error"]
    r = httpx.post(f"{fake.url}/__admin/faults", json={"op": "batch_get"})
    assert r.status_code == 400
    r = httpx.post(f"{fake.url}/__admin/state", json={"name": "1", "state": SUCCEEDED})
    assert r.status_code == 404


def test_command_line_settings(tmp_path: Path, gcs: FakeGCS) -> None:
    with running_fake_vertex(tmp_path, gcs.url, "--token", "other", "--project", "p2") as fake:
        for version in ("v1", "v1beta1"):
            r = httpx.get(
                f"{fake.url}/{version}/projects/p2/locations/europe-west4/tuningJobs",
                headers={"authorization": "Bearer other"},
            )
            assert (r.status_code, r.json()) == (200, {})
        assert (
            httpx.get(fake.api("tuningJobs"), headers={"authorization": "Bearer other"}).status_code
            == 403
        )
