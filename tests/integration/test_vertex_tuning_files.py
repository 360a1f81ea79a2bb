"""Fine-tune files on Vertex AI through the gateway, against fake-gcs-server: the object a
tuning job reads holds Vertex's supervised-tuning examples (checked by the fake Vertex's own
dataset validator), the client's bytes come back untouched, and a line that cannot be
converted is a 400 naming it, with nothing left in the bucket."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from gcs_support import FakeGCS, running_fake_gcs
from support import assert_error

from tests.fakes.vertex_tuning import check_example

BUCKET = "filegate-tuning"
PREFIX = "tuning/"


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGCS]:
    with running_fake_gcs(tmp_path_factory.mktemp("gcs") / "fake-gcs.log") as fake:
        fake.create_bucket(BUCKET)
        yield fake


@pytest.fixture(scope="module")
def gateway(gcs: FakeGCS, module_server_factory: Callable[..., Any]) -> Any:
    return module_server_factory(
        env={
            "VERTEXAI_PROJECT": "test-project",
            "VERTEXAI_LOCATION": "us-central1",
            "GCS_BUCKET_NAME": f"{BUCKET}/{PREFIX.rstrip('/')}",
            "STORAGE_EMULATOR_HOST": gcs.url,
        }
    )


def _client(gateway: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.base_url}/vertex_ai/v1",
        api_key=gateway.master_key,
        max_retries=0,
        timeout=120,
    )


def _location(gateway: Any, file_id: str) -> str:
    with sqlite3.connect(gateway.data_dir / "catalog.db") as db:
        (row,) = db.execute(
            "SELECT provider_file_id FROM file_locations WHERE file_id = ?", (file_id,)
        ).fetchall()
    return str(row[0]).removeprefix(f"gs://{BUCKET}/")


def _chat(i: int) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": f"What is {i} + {i}? Grüße"},
            {"role": "assistant", "content": str(2 * i), "weight": 1},
        ]
    }


def test_fine_tune_file_is_kept_as_vertex_examples(gateway: Any, gcs: FakeGCS) -> None:
    data = b"".join(json.dumps(_chat(i)).encode() + b"\n" for i in range(25))
    client = _client(gateway)
    made = client.files.create(file=("train.jsonl", data), purpose="fine-tune")
    assert (made.bytes, made.purpose) == (len(data), "fine-tune")
    name = _location(gateway, made.id)
    meta = {o["name"]: o for o in gcs.objects(BUCKET, PREFIX)}[name]["metadata"]
    assert meta["filegate_role"] == "vertex_tuning" and meta["purpose"] == "fine-tune"
    assert gcs.read(BUCKET, meta["filegate_original"]) == data
    examples = gcs.read(BUCKET, name).splitlines()
    assert len(examples) == 25
    for raw in examples:
        problem, _ = check_example(raw)
        assert problem is None, problem
    first = json.loads(examples[3])
    assert first["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
    assert first["contents"][1] == {"role": "model", "parts": [{"text": "6"}]}
    # Content is what the client sent.
    assert client.files.content(made.id).content == data


def test_a_line_that_cannot_convert_is_a_400_naming_it(gateway: Any, gcs: FakeGCS) -> None:
    before = {o["name"] for o in gcs.objects(BUCKET, PREFIX)}
    lines = [json.dumps(_chat(i)) for i in range(5)]
    lines[3] = json.dumps({"prompt": "old format", "completion": "no"})
    data = ("\n".join(lines) + "\n").encode()
    with httpx.Client(base_url=gateway.base_url, headers=gateway.headers, timeout=60) as c:
        r = c.post(
            "/vertex_ai/v1/files",
            data={"purpose": "fine-tune"},
            files={"file": ("train.jsonl", data, "application/jsonl")},
        )
        err = assert_error(r, 400, code="invalid_file")
        assert "Line 4 cannot be used to tune a model on Vertex AI" in err["message"]
        assert "completion has no Vertex AI equivalent" in err["message"]
        listed = c.get("/v1/files", params={"purpose": "fine-tune"}).json()["data"]
    assert all(f["filename"] != "train.jsonl" or f["bytes"] != len(data) for f in listed)
    assert {o["name"] for o in gcs.objects(BUCKET, PREFIX)} == before
