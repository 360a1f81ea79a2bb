"""VertexAIProvider's batches against the fake Vertex AI over fake-gcs-server.

The provider talks to both as it would to Google: Vertex AI with a bearer token from a
service-account key (exchanged at a local token endpoint), GCS's JSON API for the copies
and the job's output. Each test drives the job with the fake's admin API.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gcs_support import FakeGCS, running_fake_gcs, running_token_server

from filegate.errors import (
    FilegateError,
    FileNotFound,
    InvalidRequest,
    RangeNotSatisfiable,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from filegate.providers.base import ProviderBatch, ProviderFile, batching
from filegate.providers.vertex_ai.provider import VertexAIProvider
from filegate.records import ByteRange, ExpiresAfter
from tests.fakes.harness import VERTEX_PROJECT_NUMBER, FakeVertexProcess, running_fake_vertex

BUCKET = "vertex-batches"
PREFIX = "fg"
MODEL = "gemini-2.5-flash"
PUBLISHER_MODEL = f"publishers/google/models/{MODEL}"
PENDING, RUNNING = "JOB_STATE_PENDING", "JOB_STATE_RUNNING"
SUCCEEDED, CANCELLED = "JOB_STATE_SUCCEEDED", "JOB_STATE_CANCELLED"


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGCS]:
    with running_fake_gcs(tmp_path_factory.mktemp("gcs") / "gcs.log") as fake:
        fake.create_bucket(BUCKET)
        yield fake


@pytest.fixture(scope="module")
def account() -> Iterator[dict[str, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with running_token_server(key.public_key(), 3600) as tokens:
        yield {
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": "key-1",
            "private_key": pem,
            "client_email": "filegate@test-project.iam.gserviceaccount.com",
            "token_uri": tokens.url,
        }


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory, gcs: FakeGCS) -> Iterator[FakeVertexProcess]:
    with running_fake_vertex(tmp_path_factory.mktemp("vertex"), gcs.url) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _reset(fake: FakeVertexProcess) -> None:
    fake.reset()
    # The token endpoint issues tok-1, tok-2, ...
    fake.config(token_prefixes=["tok-"], auto_advance=False, output_order="input")


def make_provider(
    fake: FakeVertexProcess, gcs: FakeGCS, account: dict[str, str], **kwargs: Any
) -> VertexAIProvider:
    options: dict[str, Any] = {
        "vertex_project": "test-project",
        "vertex_location": "us-central1",
        "vertex_credentials": json.dumps(account),
        "gcs_bucket_name": BUCKET,
        "gcs_prefix": PREFIX,
        "storage_endpoint": gcs.url,
        "vertex_api_base": fake.url,
        "max_retries": 0,
        "timeout": 30,
    }
    return VertexAIProvider(**(options | kwargs))


@pytest.fixture
async def provider(
    fake: FakeVertexProcess, gcs: FakeGCS, account: dict[str, str]
) -> AsyncIterator[VertexAIProvider]:
    made = make_provider(fake, gcs, account)
    try:
        yield made
    finally:
        await made.aclose()


class Source:
    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    async def chunks(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self.data), 1000):
            yield self.data[i : i + 1000]


def line(custom_id: str, text: str, model: str = MODEL) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": text}]},
    }


async def upload(provider: VertexAIProvider, records: list[dict[str, Any]]) -> ProviderFile:
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    return await provider.create_file(
        Source(data),
        filename="in.jsonl",
        purpose="batch",
        content_type="application/jsonl",
        expires_after=None,
    )


async def create(provider: VertexAIProvider, file_id: str, **kwargs: Any) -> ProviderBatch:
    options: dict[str, Any] = {
        "input_file_id": file_id,
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        "metadata": None,
        "output_expires_after": None,
    }
    return await provider.create_batch(**(options | kwargs))


async def read(
    provider: VertexAIProvider, file_id: str, byte_range: ByteRange | None = None
) -> bytes:
    content = await provider.file_content(file_id, byte_range)
    return b"".join([chunk async for chunk in content.chunks()])


def lines_of(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(x) for x in data.splitlines()]


def gcs_object(gcs: FakeGCS, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = gcs.http.get(f"/storage/v1/b/{BUCKET}/o/{quote(name, safe='')}").json()
    return doc


IDS = ["req-1", "Request #2 (not a label value)", "req-3", "req-4"]


async def test_a_batch_runs_from_pending_to_completed_with_output_and_error_files(
    provider: VertexAIProvider, fake: FakeVertexProcess, gcs: FakeGCS
) -> None:
    copy = await upload(provider, [line(c, f"marker-{i}") for i, c in enumerate(IDS)])
    fake.fault(op="predict", match="marker-2", status=400, body="Unsupported prompt.")
    metadata = {"team": "blue", "Owner": "Ann Lee", "purpose": "a sentence, not a label"}
    batch = await create(provider, copy.id, metadata=metadata)

    assert batch.status == "validating" and batch.metadata == metadata
    assert batch.id.startswith(f"projects/{VERTEX_PROJECT_NUMBER}/locations/us-central1/")
    assert batch.input_file_id == copy.id and batch.endpoint == "/v1/chat/completions"
    assert batch.model == MODEL and batch.created_at > 0
    assert batch.request_counts == {"total": 4, "completed": 0, "failed": 0}
    assert batch.output_file_id is None and batch.error_file_id is None

    [sent] = fake.requests(op="batch_create")
    body = sent["body"]
    assert sent["headers"]["authorization"] == "Bearer tok-1"
    assert body["model"] == PUBLISHER_MODEL
    assert body["inputConfig"] == {"instancesFormat": "jsonl", "gcsSource": {"uris": [copy.id]}}
    prefix = body["outputConfig"]["gcsDestination"]["outputUriPrefix"]
    assert prefix.startswith(f"gs://{BUCKET}/{PREFIX}/batch-output/")
    assert body["outputConfig"]["predictionsFormat"] == "jsonl"
    # Only the pair that is a valid Vertex label travels as one; the caller keeps the rest.
    assert body["labels"] == {"team": "blue", "filegate_lines": "4"}

    fake.advance(batch.id)
    running = await provider.retrieve_batch(batch.id)
    assert running.status == "in_progress" and running.timestamps["in_progress_at"] > 0
    assert running.output_file_id is None

    fake.advance(batch.id)
    done = await provider.retrieve_batch(batch.id)
    assert done.status == "completed" and set(done.timestamps) == {"in_progress_at", "completed_at"}
    assert done.request_counts == {"total": 4, "completed": 3, "failed": 1}
    assert done.metadata is None and done.errors is None
    assert done.output_file_id is not None and done.error_file_id is not None
    # The output is read where the job put it, a directory below the prefix that was sent.
    directory = done.raw["outputInfo"]["gcsOutputDirectory"]
    assert directory.startswith(f"{prefix}/prediction-model-") and directory != prefix
    assert done.output_file_id.endswith(directory) and done.error_file_id.endswith(directory)

    output = await read(provider, done.output_file_id)
    out = lines_of(output)
    assert [o["custom_id"] for o in out] == [IDS[0], IDS[1], IDS[3]]
    for o, i in zip(out, (0, 1, 3), strict=True):
        assert o["error"] is None and o["response"]["status_code"] == 200
        body_out = o["response"]["body"]
        assert body_out["object"] == "chat.completion" and body_out["model"] == MODEL
        assert body_out["choices"][0]["message"]["content"] == f"echo: marker-{i}"
    errors = lines_of(await read(provider, done.error_file_id))
    assert [e["custom_id"] for e in errors] == [IDS[2]]
    assert errors[0]["response"] is None
    assert errors[0]["error"] == {"code": "invalid_argument", "message": "Unsupported prompt."}

    info = await provider.retrieve_file(done.output_file_id)
    job_id = batch.id.rsplit("/", 1)[-1]
    assert info.bytes == len(output) and info.purpose == "batch_output"
    assert info.filename == f"batch_{job_id}_output.jsonl" and info.created_at > 0
    error_info = await provider.retrieve_file(done.error_file_id)
    assert error_info.bytes == len(await read(provider, done.error_file_id))


async def test_output_ranges_are_exact_slices_of_the_converted_lines(
    provider: VertexAIProvider, fake: FakeVertexProcess
) -> None:
    copy = await upload(provider, [line(f"r{i}", "x" * (1 + i * 37)) for i in range(30)])
    batch = await create(provider, copy.id)
    fake.force(batch.id, SUCCEEDED)
    done = await provider.retrieve_batch(batch.id)
    assert done.output_file_id is not None and done.error_file_id is None
    whole = await read(provider, done.output_file_id)
    total = len(whole)
    for start, end in ((0, 0), (5, 120), (total // 2, total - 1), (total - 3, total + 500)):
        content = await provider.file_content(done.output_file_id, ByteRange(start, end))
        assert content.status_code == 206
        stop = min(end, total - 1)
        assert content.headers["content-range"] == f"bytes {start}-{stop}/{total}"
        got = b"".join([c async for c in content.chunks()])
        assert got == whole[start : stop + 1]
        assert content.headers["content-length"] == str(len(got))
    with pytest.raises(RangeNotSatisfiable):
        await provider.file_content(done.output_file_id, ByteRange(total, total + 10))
    # Once its size is known, a full read says how long it is.
    full = await provider.file_content(done.output_file_id)
    assert full.headers["content-length"] == str(total)
    await full.aclose()


async def test_shards_are_read_in_order_and_sizes_follow_them(
    provider: VertexAIProvider, fake: FakeVertexProcess, gcs: FakeGCS
) -> None:
    copy = await upload(provider, [line(f"s{i}", f"shard text {i}") for i in range(6)])
    batch = await create(provider, copy.id)
    fake.force(batch.id, SUCCEEDED)
    done = await provider.retrieve_batch(batch.id)
    assert done.output_file_id is not None
    first = await provider.retrieve_file(done.output_file_id)  # sizes kept in the shard
    directory = done.raw["outputInfo"]["gcsOutputDirectory"].removeprefix(f"gs://{BUCKET}/")
    kept = gcs_object(gcs, f"{directory}/predictions.jsonl")["metadata"]
    assert kept["filegate_output_bytes"] == str(first.bytes)
    # Large jobs write several shards; anything else in the directory is not output.
    raw = gcs.read(BUCKET, f"{directory}/predictions.jsonl").splitlines(keepends=True)
    gcs.http.delete(f"/storage/v1/b/{BUCKET}/o/{quote(f'{directory}/predictions.jsonl', safe='')}")
    gcs.put(BUCKET, f"{directory}/predictions_00002.jsonl", b"".join(raw[4:]))
    gcs.put(BUCKET, f"{directory}/predictions_00001.jsonl", b"".join(raw[:4]))
    gcs.put(BUCKET, f"{directory}/errors_stats.json", b'{"not": "output"}')
    gcs.put(BUCKET, f"{directory}/sub/predictions.jsonl", raw[0])
    out = lines_of(await read(provider, done.output_file_id))
    assert [o["custom_id"] for o in out] == [f"s{i}" for i in range(6)]
    again = await provider.retrieve_file(done.output_file_id)
    assert again.bytes == first.bytes

    # A shard rewritten invalidates the kept sizes, even at the same length.
    def fingerprint() -> str:
        meta = gcs_object(gcs, f"{directory}/predictions_00001.jsonl")["metadata"]
        return str(meta["filegate_shards"])

    before = fingerprint()
    same_length = raw[5].replace(b"shard text 5", b"shard text X")
    gcs.put(BUCKET, f"{directory}/predictions_00002.jsonl", raw[4] + same_length)
    rewritten = await read(provider, done.output_file_id)
    assert lines_of(rewritten)[-1]["response"]["body"]["choices"][0]["message"]["content"] == (
        "echo: shard text X"
    )
    assert (await provider.retrieve_file(done.output_file_id)).bytes == len(rewritten)
    assert fingerprint() != before
    gcs.put(BUCKET, f"{directory}/predictions_00002.jsonl", raw[4])
    shorter = await provider.retrieve_file(done.output_file_id)
    assert shorter.bytes == len(await read(provider, done.output_file_id)) < first.bytes


async def test_cancel_moves_through_cancelling_and_keeps_what_was_predicted(
    provider: VertexAIProvider, fake: FakeVertexProcess
) -> None:
    copy = await upload(provider, [line(c, "cancel me") for c in IDS])
    batch = await create(provider, copy.id)
    cancelling = await provider.cancel_batch(batch.id)
    assert cancelling.status == "cancelling" and cancelling.timestamps["cancelling_at"] > 0
    [sent] = fake.requests(op="batch_cancel")
    assert sent["path"].endswith(f"{batch.id}:cancel")
    # Asked again while it is cancelling: the batch as it stands, not an error.
    assert (await provider.cancel_batch(batch.id)).status == "cancelling"
    fake.advance(batch.id)
    cancelled = await provider.retrieve_batch(batch.id)
    assert cancelled.status == "cancelled" and "cancelled_at" in cancelled.timestamps
    assert cancelled.errors is None and cancelled.output_file_id is None
    assert (await provider.cancel_batch(batch.id)).status == "cancelled"

    other = await create(provider, copy.id)
    fake.force(other.id, SUCCEEDED)
    with pytest.raises(InvalidRequest) as exc:
        await provider.cancel_batch(other.id)
    assert exc.value.code == "invalid_status" and "completed" in exc.value.message


async def test_failed_partial_and_expired_jobs(
    provider: VertexAIProvider, fake: FakeVertexProcess
) -> None:
    copy = await upload(provider, [line(c, "states") for c in IDS[:2]])
    failed = await create(provider, copy.id)
    fake.force(failed.id, "JOB_STATE_FAILED", {"code": 3, "message": "Bad input file."})
    got = await provider.retrieve_batch(failed.id)
    assert got.status == "failed" and "failed_at" in got.timestamps
    assert got.errors == {
        "object": "list",
        "data": [
            {
                "code": "vertex_ai_invalid_argument",
                "message": "Bad input file.",
                "param": None,
                "line": None,
            }
        ],
    }
    partial = await create(provider, copy.id)
    fake.fault(op="predict", match="states", status=500, times=1)
    fake.force(partial.id, "JOB_STATE_PARTIALLY_SUCCEEDED")
    got = await provider.retrieve_batch(partial.id)
    assert got.status == "completed" and got.request_counts == {
        "total": 2,
        "completed": 1,
        "failed": 1,
    }
    assert got.output_file_id and got.error_file_id
    expired = await create(provider, copy.id)
    fake.force(expired.id, "JOB_STATE_EXPIRED")
    assert (await provider.retrieve_batch(expired.id)).status == "expired"
    queued = await create(provider, copy.id)
    fake.force(queued.id, "JOB_STATE_QUEUED")
    assert (await provider.retrieve_batch(queued.id)).status == "validating"


async def test_a_file_with_two_models_is_refused_naming_the_line(
    provider: VertexAIProvider, fake: FakeVertexProcess, gcs: FakeGCS
) -> None:
    records = [line("a", "one"), line("b", "two", model=f"vertex_ai/{MODEL}")]
    records += [line("c", "three", model="gemini-2.0-flash-001"), line("d", "four")]
    copy = await upload(provider, records)
    for _ in range(2):  # the second time from what the copy's metadata kept
        with pytest.raises(InvalidRequest) as exc:
            await create(provider, copy.id)
        assert exc.value.status_code == 400 and exc.value.param == "input_file_id"
        assert "Line 3 uses model 'gemini-2.0-flash-001'" in exc.value.message
        assert "'gemini-2.5-flash'" in exc.value.message
    assert fake.requests(op="batch_create") == []
    name = copy.id.removeprefix(f"gs://{BUCKET}/")
    assert "Line 3" in gcs_object(gcs, name)["metadata"]["filegate_model_problem"]

    no_model = await upload(
        provider,
        [
            line("a", "x"),
            {**line("b", "y"), "body": {"messages": [{"role": "user", "content": "y"}]}},
        ],
    )
    with pytest.raises(InvalidRequest) as exc:
        await create(provider, no_model.id)
    assert "Line 2 has no model" in exc.value.message

    # The model found once is kept: a later batch over the same copy reads no lines.
    good = await upload(provider, [line("a", "x"), line("b", "y")])
    await create(provider, good.id)
    name = good.id.removeprefix(f"gs://{BUCKET}/")
    assert gcs_object(gcs, name)["metadata"]["filegate_model"] == PUBLISHER_MODEL
    tuned = f"projects/{VERTEX_PROJECT_NUMBER}/locations/us-central1/models/123"
    other = await upload(provider, [line("a", "x", model=tuned)])
    with pytest.raises(InvalidRequest) as exc:  # the fake knows no such tuned model
        await create(provider, other.id)
    assert exc.value.code == "model_not_found" and "does not exist" in exc.value.message
    assert fake.requests(op="batch_create")[-1]["body"]["model"] == tuned


async def test_inputs_that_cannot_be_a_batch(
    provider: VertexAIProvider, fake: FakeVertexProcess
) -> None:
    plain = await provider.create_file(
        Source(b"hello"),
        filename="a.txt",
        purpose="user_data",
        content_type="text/plain",
        expires_after=None,
    )
    with pytest.raises(InvalidRequest) as exc:
        await create(provider, plain.id)
    assert exc.value.param == "input_file_id" and "purpose 'batch'" in exc.value.message
    for missing in (f"gs://{BUCKET}/{PREFIX}/nothing.jsonl", "file-abc", "gs://"):
        with pytest.raises(FileNotFound) as nf:
            await create(provider, missing)
        assert nf.value.param == "input_file_id"
    copy = await upload(provider, [line("a", "x")])
    with pytest.raises(InvalidRequest) as exc:
        await create(provider, copy.id, endpoint="/v1/embeddings")
    assert exc.value.param == "endpoint"
    assert fake.requests(op="batch_create") == []


async def test_unknown_and_malformed_batch_ids_are_not_found(provider: VertexAIProvider) -> None:
    name = f"projects/{VERTEX_PROJECT_NUMBER}/locations/us-central1/batchPredictionJobs/1234"
    for batch_id in (name, "1234", "../../tuningJobs/1", f"{name}/../../x", "batch_abc"):
        with pytest.raises(FileNotFound):
            await provider.retrieve_batch(batch_id)
        with pytest.raises(FileNotFound):
            await provider.cancel_batch(batch_id)


async def test_forged_output_ids_name_no_file(
    provider: VertexAIProvider, fake: FakeVertexProcess, gcs: FakeGCS
) -> None:
    gcs.create_bucket("someone-else")
    gcs.put("someone-else", "fg/dir/predictions.jsonl", b'{"request": {}, "status": "x"}\n')
    for forged in (
        "vertex_batch_output:1:gs://someone-else/fg/dir",
        f"vertex_batch_output:1:gs://{BUCKET}/outside/dir",
        f"vertex_batch_other:1:gs://{BUCKET}/{PREFIX}/dir",
        f"vertex_batch_output:1:gs://{BUCKET}/{PREFIX}/no-such-dir",
    ):
        with pytest.raises(FileNotFound):
            await provider.retrieve_file(forged)
        with pytest.raises(FileNotFound):
            await provider.file_content(forged)
        with pytest.raises(FileNotFound):
            await provider.delete_file(forged)


async def test_deleting_both_halves_removes_the_output(
    provider: VertexAIProvider, fake: FakeVertexProcess, gcs: FakeGCS
) -> None:
    copy = await upload(provider, [line(c, f"del-{i}") for i, c in enumerate(IDS[:3])])
    fake.fault(op="predict", match="del-1", status=400)
    batch = await create(provider, copy.id)
    fake.force(batch.id, SUCCEEDED)
    done = await provider.retrieve_batch(batch.id)
    assert done.output_file_id and done.error_file_id
    directory = done.raw["outputInfo"]["gcsOutputDirectory"].removeprefix(f"gs://{BUCKET}/")
    await provider.delete_file(done.output_file_id)
    with pytest.raises(FileNotFound):
        await provider.retrieve_file(done.output_file_id)
    with pytest.raises(FileNotFound):
        await provider.file_content(done.output_file_id)
    assert [e["custom_id"] for e in lines_of(await read(provider, done.error_file_id))] == [IDS[1]]
    assert gcs.objects(BUCKET, f"{directory}/")
    await provider.delete_file(done.error_file_id)
    assert gcs.objects(BUCKET, f"{directory}/") == []
    with pytest.raises(FileNotFound):
        await provider.retrieve_file(done.error_file_id)


async def test_upstream_faults_map_to_gateway_errors(
    fake: FakeVertexProcess, gcs: FakeGCS, account: dict[str, str]
) -> None:
    provider = make_provider(fake, gcs, account, max_retries=2, timeout=2)
    try:
        copy = await upload(provider, [line("a", "x")])
        # A create is never sent twice, even on a 5xx, whatever max_retries says.
        fake.fault(op="batch_create", status=500, times=1)
        with pytest.raises(UpstreamError) as exc:
            await create(provider, copy.id)
        assert exc.value.status_code == 502 and exc.value.code == "internal"
        assert len(fake.requests(op="batch_create")) == 1
        fake.fault(op="batch_create", status=502, times=1)
        with pytest.raises(UpstreamError):
            await create(provider, copy.id)
        fake.fault(op="batch_create", status=429, times=1)
        with pytest.raises(RateLimited) as rl:
            await create(provider, copy.id)
        assert rl.value.code == "resource_exhausted"
        fake.config(max_active_batch_jobs=0)
        with pytest.raises(RateLimited) as rl:
            await create(provider, copy.id)
        assert "Quota exceeded" in rl.value.message
        fake.config(max_active_batch_jobs=None)

        batch = await create(provider, copy.id)
        # Reads are retried.
        fake.fault(op="batch_get", status=503, times=2)
        assert (await provider.retrieve_batch(batch.id)).status == "validating"
        fake.fault(op="batch_get", status=503, times=3)
        with pytest.raises(UpstreamError) as exc:
            await provider.retrieve_batch(batch.id)
        assert exc.value.status_code == 502
        fake.fault(op="batch_get", hang=True, times=3)
        with pytest.raises(UpstreamTimeout) as timeout:
            await provider.retrieve_batch(batch.id)
        assert timeout.value.status_code == 504
        fake.fault(op="batch_create", hang=True, times=1)
        with pytest.raises(UpstreamTimeout):
            await create(provider, copy.id)
        fake.fault(op="batch_cancel", status=403, times=1)
        with pytest.raises(FilegateError) as denied:
            await provider.cancel_batch(batch.id)
        assert denied.value.status_code == 403
    finally:
        await provider.aclose()


async def test_batches_need_a_project(
    fake: FakeVertexProcess, gcs: FakeGCS, account: dict[str, str]
) -> None:
    anonymous = make_provider(fake, gcs, account, vertex_project=None, vertex_credentials=None)
    named = make_provider(fake, gcs, account, vertex_project=None)  # from the key's project_id
    try:
        assert batching(anonymous) is None
        assert batching(named) is named
    finally:
        await anonymous.aclose()
        await named.aclose()


async def test_output_expires_after_is_refused_not_dropped(
    provider: VertexAIProvider, fake: FakeVertexProcess
) -> None:
    copy = await upload(provider, [line("req-1", "marker-1")])
    with pytest.raises(InvalidRequest) as caught:
        await create(provider, copy.id, output_expires_after=ExpiresAfter(86400))
    assert caught.value.param == "output_expires_after"
    assert fake.requests(op="batch_create") == []  # nothing was started upstream
