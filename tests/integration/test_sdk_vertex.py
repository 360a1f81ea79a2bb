"""The SDK with ``custom_llm_provider="vertex_ai"``, in-process against fake-gcs-server.

Every function, async and sync: batch files stored in Vertex's format and read back
byte for byte, listing and paging, streamed content, Vertex output read back as
OpenAI's lines; arguments against the environment (zero-config included), Google
credentials as a path, JSON text, a dict or GOOGLE_APPLICATION_CREDENTIALS; a
missing bucket and the options Vertex AI cannot honour, refused before a byte is sent.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gcs_support import FakeGCS, TokenServer, running_fake_gcs, running_token_server

import filegate
from filegate import FileContent, FileDeleted, FileObject, FilePage
from filegate.providers.vertex_ai.batch_lines import custom_id_labels
from filegate.providers.vertex_ai.spec import VERTEX_ENV_VARS

BUCKET = "filegate-sdk-vertex"
ENV = (*VERTEX_ENV_VARS.values(), "OPENAI_API_KEY", "AZURE_API_KEY", "AZURE_API_BASE")


def batch_line(i: int) -> dict[str, Any]:
    return {
        "custom_id": f"req-{i}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {
            "model": "gemini-2.0-flash-001",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": f"What is {i} \N{MULTIPLICATION SIGN} 3? Grüße"},
            ],
            "temperature": 0.2,
            "max_tokens": 32,
        },
    }


# Spacing and key order as a client might write them: content must not be re-serialised.
BATCH = b"".join(
    json.dumps(batch_line(i), ensure_ascii=False, indent=None).encode() + b"\r\n" for i in range(3)
)
NOTES = b"free-form notes \xf0\x9f\x93\x9d\n" * 1000


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGCS]:
    with running_fake_gcs(tmp_path_factory.mktemp("gcs") / "fake-gcs.log") as fake:
        fake.create_bucket(BUCKET)
        yield fake


@pytest.fixture(autouse=True)
def clean_env(gcs: FakeGCS, monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's real Google settings must not leak in; GCS is the emulator.
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    """A folder of the bucket for this test alone."""
    return str(request.node.name).translate({ord(c): "_" for c in "[]/"})


def vertex_kw(prefix: str) -> dict[str, Any]:
    return {
        "custom_llm_provider": "vertex_ai",
        "vertex_project": "test-project",
        "vertex_location": "us-central1",
        "gcs_bucket_name": f"{BUCKET}/{prefix}",
    }


def names(gcs: FakeGCS, prefix: str) -> set[str]:
    return {o["name"] for o in gcs.objects(BUCKET, f"{prefix}/")}


# -- every function, async and sync ----------------------------------------------------------


async def test_every_async_function(gcs: FakeGCS, prefix: str, tmp_path: Path) -> None:
    kw = vertex_kw(prefix)
    path = tmp_path / "requests.jsonl"
    path.write_bytes(BATCH)

    batch = await filegate.acreate_file(path, "batch", **kw)
    assert isinstance(batch, FileObject)
    assert batch.id.startswith(f"gs://{BUCKET}/{prefix}/") and batch.object == "file"
    assert (batch.bytes, batch.filename, batch.purpose) == (len(BATCH), "requests.jsonl", "batch")
    # GCS holds Vertex's lines under the id (custom_id kept), the client's bytes beside them.
    name = batch.id.removeprefix(f"gs://{BUCKET}/")
    vertex = [json.loads(line) for line in gcs.read(BUCKET, name).splitlines()]
    assert len(vertex) == 3 and all(set(v) == {"request"} for v in vertex)
    assert vertex[0]["request"]["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
    assert len(names(gcs, prefix)) == 2

    notes = await filegate.acreate_file(("notes ü.txt", NOTES, "text/plain"), "user_data", **kw)
    assert (notes.bytes, notes.filename, notes.purpose) == (len(NOTES), "notes ü.txt", "user_data")

    got = await filegate.aretrieve_file(batch.id, **kw)
    assert (got.id, got.bytes, got.filename, got.purpose) == (
        batch.id,
        len(BATCH),
        "requests.jsonl",
        "batch",
    )
    assert got.created_at == batch.created_at > 0

    page = await filegate.alist_files(**kw)
    assert isinstance(page, FilePage)
    assert [f.id for f in page.data] == [batch.id, notes.id] and not page.has_more
    assert [f.id for f in (await filegate.afile_list(purpose="user_data", **kw)).data] == [notes.id]

    content = await filegate.afile_content(batch.id, **kw)
    assert isinstance(content, FileContent) and not content.is_stream
    assert content.content == BATCH  # byte for byte, not the Vertex lines
    async with await filegate.afile_content(
        notes.id, stream=True, chunk_size=1000, **kw
    ) as streamed:
        assert streamed.is_stream
        chunks = [chunk async for chunk in streamed.aiter_bytes()]
    assert b"".join(chunks) == NOTES and {len(c) for c in chunks[:-1]} == {1000}
    assert streamed.is_closed
    saved = await filegate.afile_content(batch.id, stream=True, **kw)
    await saved.awrite_to_file(tmp_path / "copy.jsonl")
    assert (tmp_path / "copy.jsonl").read_bytes() == BATCH

    deleted = await filegate.adelete_file(batch.id, **kw)
    assert deleted == FileDeleted(id=batch.id, object="file", deleted=True)
    assert (await filegate.afile_delete(notes.id, **kw)).deleted
    assert names(gcs, prefix) == set()  # the original went with its Vertex object
    with pytest.raises(filegate.FileNotFound):
        await filegate.aretrieve_file(batch.id, **kw)
    with pytest.raises(filegate.FileNotFound):
        await filegate.afile_content(notes.id, stream=True, **kw)


def test_every_sync_function(gcs: FakeGCS, prefix: str, tmp_path: Path) -> None:
    kw = vertex_kw(prefix)
    batch = filegate.create_file(("sync.jsonl", io.BytesIO(BATCH)), "batch", **kw)
    notes = filegate.create_file(NOTES, "user_data", **kw)
    assert (batch.filename, batch.bytes, batch.purpose) == ("sync.jsonl", len(BATCH), "batch")
    assert notes.bytes == len(NOTES)
    assert filegate.retrieve_file(batch.id, **kw).filename == "sync.jsonl"
    assert filegate.file_retrieve(notes.id, **kw).purpose == "user_data"
    assert [f.id for f in filegate.list_files(**kw).data] == [batch.id, notes.id]
    assert [f.id for f in filegate.file_list(purpose="batch", **kw).data] == [batch.id]

    assert filegate.file_content(batch.id, **kw).content == BATCH
    with filegate.file_content(notes.id, stream=True, chunk_size=4096, **kw) as content:
        assert content.is_stream
        assert b"".join(content.iter_bytes()) == NOTES
    assert content.is_closed
    filegate.file_content(batch.id, stream=True, **kw).write_to_file(tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_bytes() == BATCH

    assert filegate.delete_file(batch.id, **kw).deleted is True
    assert filegate.file_delete(notes.id, **kw).deleted is True
    assert names(gcs, prefix) == set()
    with pytest.raises(filegate.FileNotFound):
        filegate.file_content(batch.id, **kw)
    with pytest.raises(filegate.FileNotFound):
        filegate.delete_file(notes.id, **kw)


async def test_pages_and_vertex_output(gcs: FakeGCS, prefix: str) -> None:
    kw = vertex_kw(prefix)
    ids = [(await filegate.acreate_file(b"x%d" % i, "user_data", **kw)).id for i in range(5)]
    page = await filegate.alist_files(limit=2, **kw)
    assert [f.id for f in page.data] == ids[:2] and page.has_more
    assert [f.id async for f in page] == ids
    assert [f.id for f in filegate.list_files(limit=2, after=ids[2], **kw).data] == ids[3:]
    with pytest.raises(filegate.InvalidRequest, match="order=asc") as exc:
        await filegate.alist_files(order="desc", **kw)
    assert exc.value.param == "order"

    # A batch job's output, where Vertex writes it, comes back as OpenAI's output lines.
    out = f"{prefix}/prediction-model-2025-03-01T10:00:00/predictions.jsonl"
    request = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "labels": custom_id_labels("req-7"),
    }
    result = {
        "request": request,
        "status": "",
        "processed_time": "2025-03-01T10:00:05.5+00:00",
        "response": {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "hello"}]}, "finishReason": "STOP"}
            ],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1},
            "modelVersion": "gemini-2.0-flash-001",
            "responseId": "resp-7",
        },
    }
    gcs.put(BUCKET, out, json.dumps(result).encode() + b"\n")
    line = json.loads(filegate.file_content(f"gs://{BUCKET}/{out}", **kw).content)
    assert line["custom_id"] == "req-7" and line["error"] is None
    assert line["response"]["body"]["choices"][0]["message"]["content"] == "hello"
    listed = {f.id: f for f in filegate.list_files(purpose="batch_output", **kw).data}
    assert set(listed) == {f"gs://{BUCKET}/{out}"}

    with pytest.raises(filegate.FileNotFound):
        await filegate.aretrieve_file(f"gs://{BUCKET}/{prefix}/nothing-here", **kw)
    with pytest.raises(filegate.FileNotFound):
        filegate.retrieve_file("file-abc123", **kw)


# -- arguments and the environment -------------------------------------------------------------


async def test_zero_config_from_the_environment(
    gcs: FakeGCS, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERTEXAI_PROJECT", "env-project")
    monkeypatch.setenv("VERTEXAI_LOCATION", "europe-west4")
    monkeypatch.setenv("GCS_BUCKET_NAME", f"{BUCKET}/{prefix}/env")
    f = await filegate.acreate_file(("e.jsonl", BATCH), "batch", custom_llm_provider="vertex_ai")
    assert f.id.startswith(f"gs://{BUCKET}/{prefix}/env/")
    assert filegate.file_content(f.id, custom_llm_provider="vertex_ai").content == BATCH
    listed = filegate.list_files(custom_llm_provider="vertex_ai").data
    assert [x.id for x in listed] == [f.id]

    # Arguments win over the environment, whatever the environment says.
    monkeypatch.setenv("GCS_BUCKET_NAME", "no-such-bucket")
    arg = filegate.create_file(b"a", "user_data", **vertex_kw(f"{prefix}/arg"))
    assert arg.id.startswith(f"gs://{BUCKET}/{prefix}/arg/")
    with pytest.raises(filegate.FileNotFound):
        await filegate.alist_files(custom_llm_provider="vertex_ai")
    # An id names its own bucket; the configured one only decides where files go.
    assert (await filegate.adelete_file(f.id, custom_llm_provider="vertex_ai")).deleted
    assert names(gcs, f"{prefix}/env") == set()


def service_account(tokens: TokenServer, key: rsa.RSAPrivateKey) -> dict[str, str]:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "key-1",
        "private_key": pem,
        "client_email": "sdk@test-project.iam.gserviceaccount.com",
        "token_uri": tokens.url,
    }


async def test_credentials_as_path_json_dict_or_environment(
    gcs: FakeGCS, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with running_token_server(key.public_key(), 3600) as tokens:
        account = service_account(tokens, key)
        path = tmp_path / "sa.json"
        path.write_text(json.dumps(account))
        kw = vertex_kw(prefix)
        f = await filegate.acreate_file(b"secret", "user_data", vertex_credentials=str(path), **kw)
        assert len(tokens.claims) == 1  # a token was fetched with the key and used
        got = filegate.retrieve_file(f.id, vertex_credentials=json.dumps(account), **kw)
        assert got.id == f.id and len(tokens.claims) == 2
        content = await filegate.afile_content(f.id, vertex_credentials=account, **kw)
        assert content.content == b"secret" and len(tokens.claims) == 3

        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
        assert [x.id for x in filegate.list_files(**kw).data] == [f.id]
        assert len(tokens.claims) == 4
        assert {c["iss"] for c in tokens.claims} == {account["client_email"]}

        # The argument wins over GOOGLE_APPLICATION_CREDENTIALS.
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
        with pytest.raises(filegate.ConfigError, match=r"vertex_credentials: cannot read"):
            await filegate.aretrieve_file(f.id, **kw)
        assert (await filegate.adelete_file(f.id, vertex_credentials=account, **kw)).deleted
        assert len(tokens.claims) == 5

        with pytest.raises(filegate.ConfigError, match="vertex_credentials: not valid JSON"):
            filegate.list_files(vertex_credentials="{not json", **kw)
        with pytest.raises(TypeError, match="vertex_credentials must be"):
            filegate.list_files(vertex_credentials=42, **kw)


def test_missing_bucket_names_the_parameter_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERTEXAI_PROJECT", "test-project")
    pattern = r"gcs_bucket_name.*GCS_BUCKET_NAME"
    with pytest.raises(filegate.ConfigError, match=pattern):
        filegate.list_files(custom_llm_provider="vertex_ai")
    with pytest.raises(filegate.ConfigError, match=pattern):
        filegate.create_file(b"x", "batch", custom_llm_provider="vertex_ai", vertex_project="p")
    with pytest.raises(filegate.ConfigError, match=pattern):
        filegate.file_content(f"gs://{BUCKET}/x", custom_llm_provider="vertex_ai", stream=True)


async def test_missing_bucket_async() -> None:
    with pytest.raises(filegate.ConfigError, match=r"gcs_bucket_name.*GCS_BUCKET_NAME"):
        await filegate.aretrieve_file(f"gs://{BUCKET}/x", custom_llm_provider="vertex_ai")


# -- options: honoured or refused, never dropped ----------------------------------------------


async def test_options_vertex_cannot_honour_are_refused(gcs: FakeGCS, prefix: str) -> None:
    kw = vertex_kw(prefix)
    refused = {
        "api_version": "2024-10-21",
        "api_key": "sk-x",
        "api_base": "https://us-central1-aiplatform.googleapis.com",
        "organization": "org",
        "azure_ad_token": "aad",
    }
    for param, value in refused.items():
        with pytest.raises(filegate.InvalidRequest, match=f"does not use {param}") as exc:
            await filegate.acreate_file(BATCH, "batch", **kw, **{param: value})
        assert exc.value.param == param
        with pytest.raises(filegate.InvalidRequest, match=f"does not use {param}"):
            filegate.list_files(**kw, **{param: value})
    with pytest.raises(filegate.InvalidRequest, match="vertex_ai cannot take extra_body") as exc:
        await filegate.acreate_file(BATCH, "batch", extra_body={"x": "1"}, **kw)
    assert exc.value.param == "extra_body"
    with pytest.raises(filegate.InvalidRequest, match="extra_body"):
        filegate.retrieve_file(f"gs://{BUCKET}/x", extra_body={"x": 1}, **kw)
    with pytest.raises(filegate.InvalidRequest, match="expires_after") as exc:
        await filegate.acreate_file(NOTES, "user_data", {"seconds": 7200}, **kw)
    assert exc.value.param == "expires_after"
    with pytest.raises(filegate.InvalidRequest, match="purpose"):
        filegate.create_file(NOTES, "not-a-purpose", **kw)
    with pytest.raises(TypeError, match="'vertex_projekt'"):
        filegate.list_files(vertex_projekt="p", **kw)
    with pytest.raises(TypeError, match="gcs_bucket_name must be a str"):
        filegate.list_files(custom_llm_provider="vertex_ai", gcs_bucket_name=["b"])
    with pytest.raises(filegate.InvalidRequest, match="max_retries"):
        filegate.list_files(max_retries=-1, **kw)
    assert names(gcs, prefix) == set()  # nothing was sent

    # Vertex's arguments are refused by the providers that would ignore them.
    for provider, extra in (
        ("openai", {"api_key": "sk-x"}),
        ("azure", {"api_key": "k", "api_base": "http://127.0.0.1:9"}),
        ("filegate", {}),
    ):
        with pytest.raises(filegate.InvalidRequest, match="does not use gcs_bucket_name"):
            filegate.list_files(custom_llm_provider=provider, gcs_bucket_name=BUCKET, **extra)
        with pytest.raises(filegate.InvalidRequest, match="does not use vertex_credentials"):
            await filegate.alist_files(
                custom_llm_provider=provider, vertex_credentials={"type": "x"}, **extra
            )

    # What Vertex AI does take: extra headers, timeout and retries (for its GCS requests).
    f = await filegate.acreate_file(
        NOTES, "user_data", extra_headers={"X-Trace": "t-1"}, timeout=30, max_retries=0, **kw
    )
    assert (await filegate.adelete_file(f.id, timeout=30, max_retries=1, **kw)).deleted
