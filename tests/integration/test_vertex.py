"""Vertex AI through the gateway, against fake-gcs-server speaking GCS's JSON API.

Every file operation; batch lines in Vertex's format in GCS and Vertex output read
back as OpenAI's; a 256 MB upload in flat memory; token refresh against a local
token endpoint with a real RS256 assertion.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import httpx2
import openai
import psutil
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gcs_support import GOOGLE_TOKEN_AUDIENCE, FakeGCS, running_fake_gcs, running_token_server
from support import Part, seeded_chunks, streamed_upload, upload

from filegate.errors import UpstreamError
from filegate.google import tokens as google_auth
from filegate.providers.vertex_ai.batch_lines import custom_id_from_labels
from filegate.providers.vertex_ai.provider import VertexAIProvider
from tests.conftest import RssSampler

BUCKET = "filegate-vertex"
PREFIX = "batches/"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGCS]:
    with running_fake_gcs(tmp_path_factory.mktemp("gcs") / "fake-gcs.log") as fake:
        fake.create_bucket(BUCKET)
        yield fake


def vertex_env(gcs: FakeGCS) -> dict[str, str]:
    # Zero-config, as a LiteLLM user has it; "bucket/prefix" as LiteLLM accepts it.
    return {
        "VERTEXAI_PROJECT": "test-project",
        "VERTEXAI_LOCATION": "us-central1",
        "GCS_BUCKET_NAME": f"{BUCKET}/{PREFIX.rstrip('/')}",
        "STORAGE_EMULATOR_HOST": gcs.url,
    }


@pytest.fixture(scope="module")
def gateway(gcs: FakeGCS, module_server_factory: Callable[..., Any]) -> Any:
    return module_server_factory(env=vertex_env(gcs))


@pytest.fixture
def admin(gateway: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.base_url, headers=gateway.headers, timeout=120) as c:
        yield c


def vertex_sdk(gateway: Any, api_key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.base_url}/vertex_ai/v1",
        api_key=api_key or gateway.master_key,
        max_retries=0,
        timeout=120,
    )


def location(gateway: Any, file_id: str) -> str:
    with sqlite3.connect(gateway.data_dir / "catalog.db") as db:
        rows = db.execute(
            "SELECT provider_file_id FROM file_locations WHERE file_id = ?", (file_id,)
        ).fetchall()
    assert len(rows) == 1, rows
    return str(rows[0][0])


def object_name(gs_id: str) -> str:
    assert gs_id.startswith(f"gs://{BUCKET}/{PREFIX}"), gs_id
    return gs_id.removeprefix(f"gs://{BUCKET}/")


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def realistic_records(n: int = 40) -> list[dict[str, Any]]:
    """System prompts, multi-turn chats, sampling parameters, tools and JSON schemas."""
    records = []
    for i in range(n):
        question = f"Question {i}: what is {i} \N{MULTIPLICATION SIGN} 3? Grüße, 日本"
        body: dict[str, Any] = {"model": "gemini-2.0-flash-001"}
        kind = i % 4
        if kind == 0:
            body["messages"] = [
                {"role": "system", "content": "You are a terse maths tutor."},
                {"role": "user", "content": question},
            ]
            body.update(temperature=0.2, top_p=0.95, max_tokens=64)
        elif kind == 1:
            body["messages"] = [
                {"role": "system", "content": "Answer in French."},
                {"role": "user", "content": "Hello!"},
                {"role": "assistant", "content": "Bonjour !"},
                {"role": "user", "content": [{"type": "text", "text": question}]},
            ]
            body.update(stop=["\n\n"], seed=i, presence_penalty=0.5)
        elif kind == 2:
            body["messages"] = [
                {"role": "user", "content": "Weather in Oslo?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": f"call_{i}",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": f"call_{i}", "content": "-3C, snow"},
                {"role": "user", "content": question},
            ]
            body.update(tools=[WEATHER], tool_choice="auto", temperature=0)
        else:
            schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
            body["messages"] = [
                {"role": "developer", "content": "Reply in JSON."},
                {"role": "user", "content": question},
            ]
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            }
            body["max_completion_tokens"] = 128
        custom_id = f"task-{i:03d}" if i % 3 else f"Task #{i} (retry)"
        records.append(
            {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
        )
    return records


def as_jsonl(records: list[dict[str, Any]]) -> bytes:
    """Bytes a client might really send: mixed spacing, CRLF, raw UTF-8, no final newline."""
    lines = []
    for i, record in enumerate(records):
        compact = i % 2 == 0
        text = json.dumps(
            record, ensure_ascii=not compact, separators=(",", ":") if compact else (", ", ": ")
        )
        lines.append(text.encode() + (b"\r\n" if i % 5 == 0 else b"\n"))
    return b"".join(lines).rstrip(b"\n")


def fake_vertex_run(vertex_lines: list[dict[str, Any]]) -> tuple[bytes, dict[int, str]]:
    """What a Vertex batch job would write: requests echoed, some failed, order shuffled."""
    out = []
    for i, line in enumerate(vertex_lines):
        request = line["request"]
        record: dict[str, Any] = {"processed_time": "2025-03-01T10:00:05.5+00:00"}
        record["request"] = request
        if i % 5 == 4:
            error = {"code": 400, "message": f"bad request {i}", "status": "INVALID_ARGUMENT"}
            record["status"] = f"Bad Request: {json.dumps({'error': error})}"
        else:
            last = request["contents"][-1]["parts"][-1]["text"]
            parts: list[dict[str, Any]] = [{"text": f"re: {last}"}]
            if "tools" in request:
                parts = [{"functionCall": {"name": "get_weather", "args": {"city": "Bergen"}}}]
            record["status"] = ""
            record["response"] = {
                "candidates": [
                    {"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}
                ],
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 3},
                "modelVersion": "gemini-2.0-flash-001",
                "responseId": f"resp-{i}",
            }
        out.append(json.dumps(record).encode())
    order = list(range(len(out)))
    random.Random(4).shuffle(order)
    errors = {i: f"bad request {i}" for i in range(len(out)) if i % 5 == 4}
    return b"\n".join(out[i] for i in order) + b"\n", errors


def test_batch_round_trip(gateway: Any, gcs: FakeGCS, admin: httpx.Client) -> None:
    records = realistic_records()
    data = as_jsonl(records)
    client = vertex_sdk(gateway)
    created = client.files.create(file=("requests ü.jsonl", data), purpose="batch")
    assert created.id.startswith("file-")
    assert (created.bytes, created.filename, created.purpose) == (
        len(data),
        "requests ü.jsonl",
        "batch",
    )

    # GCS holds Vertex lines under the gs:// id the catalog keeps, with the client's
    # filename and purpose as metadata, and the client's bytes untouched beside them.
    name = object_name(location(gateway, created.id))
    items = {o["name"]: o for o in gcs.objects(BUCKET, PREFIX)}
    meta = items[name]["metadata"]
    assert (meta["filename"], meta["purpose"]) == ("requests ü.jsonl", "batch")
    assert gcs.read(BUCKET, meta["filegate_original"]) == data
    vertex_lines = [json.loads(x) for x in gcs.read(BUCKET, name).splitlines()]
    assert len(vertex_lines) == len(records)
    assert [custom_id_from_labels(v["request"]["labels"]) for v in vertex_lines] == [
        r["custom_id"] for r in records
    ]
    first, tools = vertex_lines[0]["request"], vertex_lines[2]["request"]
    assert first["systemInstruction"] == {"parts": [{"text": "You are a terse maths tutor."}]}
    assert first["generationConfig"] == {"temperature": 0.2, "topP": 0.95, "maxOutputTokens": 64}
    assert [c["role"] for c in vertex_lines[1]["request"]["contents"]] == ["user", "model", "user"]
    assert tools["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert tools["contents"][2]["parts"][0]["functionResponse"]["response"] == {
        "output": "-3C, snow"
    }
    assert vertex_lines[3]["request"]["generationConfig"]["responseMimeType"] == "application/json"

    # Content is what the client sent, byte for byte, whole or in part.
    assert client.files.content(created.id).content == data
    part = admin.get(f"/v1/files/{created.id}/content", headers={"Range": "bytes=5-104"})
    assert part.status_code == 206 and part.content == data[5:105]
    assert admin.get(f"/v1/files/{created.id}").json()["bytes"] == len(data)

    # Vertex's output, seeded where a job would write it, comes back as OpenAI's lines.
    output, errors = fake_vertex_run(vertex_lines)
    out_name = f"{PREFIX}prediction-model-2025-03-01T10:00:00/predictions.jsonl"
    gcs.put(BUCKET, out_name, output)
    got = client.files.content(f"gs://{BUCKET}/{out_name}").content
    lines = [json.loads(x) for x in got.splitlines()]
    by_id = {line["custom_id"]: line for line in lines}
    assert len(lines) == len(by_id) == len(records)
    for i, record in enumerate(records):
        line = by_id[record["custom_id"]]
        assert line["id"].startswith("batch_req_")
        if i in errors:
            assert line["response"] is None
            assert line["error"] == {"code": "invalid_argument", "message": errors[i]}
            continue
        assert line["error"] is None
        body = line["response"]["body"]
        assert line["response"]["status_code"] == 200
        assert line["response"]["request_id"] == body["id"] == f"resp-{i}"
        assert body["object"] == "chat.completion" and body["model"] == "gemini-2.0-flash-001"
        assert body["usage"] == {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}
        message = body["choices"][0]["message"]
        if i % 4 == 2:
            assert body["choices"][0]["finish_reason"] == "tool_calls"
            assert message["tool_calls"][0]["function"] == {
                "name": "get_weather",
                "arguments": '{"city":"Bergen"}',
            }
        else:
            assert (
                message["content"]
                == f"re: Question {i}: what is {i} \N{MULTIPLICATION SIGN} 3? Grüße, 日本"
            )

    # Delete takes both objects with it.
    assert client.files.delete(created.id).deleted
    left = {o["name"] for o in gcs.objects(BUCKET, PREFIX)}
    assert name not in left and meta["filegate_original"] not in left
    assert admin.get(f"/v1/files/{created.id}").status_code == 404


def test_file_operations_listing_and_passthrough(
    gateway: Any, gcs: FakeGCS, admin: httpx.Client
) -> None:
    ids = [
        upload(
            admin,
            f"notes {i}".encode(),
            filename=f"notes ü {i}.txt",
            custom_llm_provider="vertex_ai",
        )["id"]
        for i in range(3)
    ]
    expiring = upload(
        admin,
        b"short-lived",
        custom_llm_provider="vertex_ai",
        **{"expires_after[anchor]": "created_at", "expires_after[seconds]": "7200"},
    )
    assert expiring["expires_at"] == expiring["created_at"] + 7200
    stored = {o["name"]: o for o in gcs.objects(BUCKET, PREFIX)}
    obj = stored[object_name(location(gateway, expiring["id"]))]
    # The object carries its expiry, for a bucket lifecycle rule (daysSinceCustomTime).
    assert abs(int(obj["metadata"]["expires_at"]) - expiring["expires_at"]) <= 2
    assert obj.get("customTime", "").startswith("20")
    ids.append(expiring["id"])
    for i, file_id in enumerate(ids[:3]):
        got = admin.get(f"/v1/files/{file_id}").json()
        assert (got["filename"], got["purpose"], got["bytes"]) == (
            f"notes ü {i}.txt",
            "user_data",
            7,
        )
        assert admin.get(f"/vertex_ai/v1/files/{file_id}/content").content == f"notes {i}".encode()
        meta = {o["name"]: o for o in gcs.objects(BUCKET, PREFIX)}[
            object_name(location(gateway, file_id))
        ]
        assert meta["metadata"]["filename"] == f"notes ü {i}.txt"
    listed = {f["id"] for f in admin.get("/vertex_ai/v1/files").json()["data"]}
    assert set(ids) <= listed
    routed = admin.get("/v1/files", params={"custom_llm_provider": "vertex_ai"}).json()["data"]
    assert set(ids) <= {f["id"] for f in routed}

    # With the master key: the bucket prefix itself, page by page, each object once.
    gcs.put(BUCKET, f"{PREFIX}made-elsewhere.jsonl", b'{"a": 1}\n')
    expected = {
        f"gs://{BUCKET}/{o['name']}"
        for o in gcs.objects(BUCKET, PREFIX)
        if (o.get("metadata") or {}).get("filegate_role") != "original"
    }
    seen: list[str] = []
    params: dict[str, Any] = {"passthrough": "true", "limit": 2}
    while True:
        page = admin.get("/vertex_ai/v1/files", params=params).json()
        assert len(page["data"]) <= 2
        seen += [f["id"] for f in page["data"]]
        if not page["has_more"]:
            break
        params["after"] = page["last_id"]
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    desc = admin.get("/vertex_ai/v1/files", params={"passthrough": "true", "order": "desc"})
    assert desc.status_code == 400 and desc.json()["error"]["param"] == "order"

    # A raw gs:// id: the master key reaches it; a tenant learns nothing.
    raw_id = f"gs://{BUCKET}/{PREFIX}made-elsewhere.jsonl"
    client = vertex_sdk(gateway)
    raw = client.files.retrieve(raw_id)
    assert (raw.id, raw.filename, raw.bytes) == (raw_id, "made-elsewhere.jsonl", 9)
    assert client.files.content(raw_id).content == b'{"a": 1}\n'  # not Vertex output: as is
    key = admin.post("/key/generate", json={}).json()["key"]
    tenant = httpx.Client(base_url=gateway.base_url, headers={"Authorization": f"Bearer {key}"})
    with tenant:
        assert tenant.get(f"/vertex_ai/v1/files/{quote(raw_id, safe='')}").status_code == 404
        assert tenant.get("/vertex_ai/v1/files", params={"passthrough": "true"}).status_code == 403
        assert tenant.get(f"/v1/files/{ids[0]}").status_code == 404
    client.files.delete(raw_id)

    for file_id in ids:
        name = object_name(location(gateway, file_id))
        assert admin.delete(f"/v1/files/{file_id}").json()["deleted"] is True
        assert name not in {o["name"] for o in gcs.objects(BUCKET, PREFIX)}
        assert admin.get(f"/v1/files/{file_id}").status_code == 404


def test_a_line_that_cannot_be_transformed_leaves_nothing(
    gateway: Any, gcs: FakeGCS, admin: httpx.Client
) -> None:
    before = {o["name"] for o in gcs.objects(BUCKET)}
    records = realistic_records(6)
    records[4]["body"]["logit_bias"] = {"50256": -100}
    resp = admin.post(
        "/vertex_ai/v1/files",
        data={"purpose": "batch"},
        files={"file": ("bad.jsonl", as_jsonl(records))},
    )
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["message"].startswith("Line 5 cannot be sent to Vertex AI")
    assert "logit_bias" in error["message"] and error["param"] == "file"
    assert {o["name"] for o in gcs.objects(BUCKET)} == before
    assert "bad.jsonl" not in {f["filename"] for f in admin.get("/v1/files").json()["data"]}


def test_missing_bucket_stops_start_up(server_factory: Callable[..., Any]) -> None:
    srv = server_factory(env={"VERTEXAI_PROJECT": "test-project"}, wait=False)
    assert srv.proc.wait(timeout=30) != 0
    assert "GCS_BUCKET_NAME" in srv.log()


def test_256mb_upload_in_flat_memory(gcs: FakeGCS, server_factory: Callable[..., Any]) -> None:
    srv = server_factory(env=vertex_env(gcs))
    size = 256 * MB
    with httpx.Client(base_url=srv.base_url, headers=srv.headers, timeout=300) as client:
        warm = upload(client, b"w" * MB, path="/vertex_ai/v1/files")
        assert client.get(f"/v1/files/{warm['id']}/content").content == b"w" * MB
        baseline = psutil.Process(srv.proc.pid).memory_info().rss
        sent = hashlib.sha256()
        body, headers = streamed_upload(
            [Part("purpose", "user_data")],
            Part("file", filename="big.bin"),
            seeded_chunks(20261125, size, sent, MB),
            size,
        )
        with RssSampler(srv.proc.pid, interval=0.05) as up:
            resp = client.post("/vertex_ai/v1/files", content=body, headers=headers)
        assert resp.status_code == 200, resp.text
        file_id = resp.json()["id"]
        stored = {o["name"]: o for o in gcs.objects(BUCKET, PREFIX)}
        assert int(stored[object_name(location(srv, file_id))]["size"]) == size

        received = hashlib.sha256()
        with (
            RssSampler(srv.proc.pid, interval=0.05) as down,
            client.stream("GET", f"/v1/files/{file_id}/content") as s,
        ):
            assert s.status_code == 200
            for chunk in s.iter_raw():
                received.update(chunk)
        assert received.hexdigest() == sent.hexdigest()
        growth_up, growth_down = (up.peak - baseline) / MB, (down.peak - baseline) / MB
        print(
            f"\n256 MB via vertex_ai: RSS growth upload {growth_up:.1f} MB, "
            f"download {growth_down:.1f} MB"
        )
        assert up.samples >= 3 and down.samples >= 3  # sampled while the bytes moved
        assert growth_up < 50 and growth_down < 50, (growth_up, growth_down)
        client.delete(f"/v1/files/{file_id}")
        client.delete(f"/v1/files/{warm['id']}")


class RecordingTransport(httpx2.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.authorizations: list[str | None] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.authorizations.append(request.headers.get("authorization"))
        return await super().handle_async_request(request)


class Source:
    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    async def chunks(self) -> Any:
        yield self.data


async def test_tokens_from_a_service_account_are_cached_and_refreshed(gcs: FakeGCS) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    lifetime = int(google_auth.REFRESH_MARGIN) + 1  # stale one second after it is issued
    with running_token_server(key.public_key(), lifetime) as tokens:
        account = {
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": "key-1",
            "private_key": pem,
            "client_email": "filegate@test-project.iam.gserviceaccount.com",
            "token_uri": tokens.url,
        }
        transport = RecordingTransport()
        provider = VertexAIProvider(
            vertex_project="test-project",
            vertex_location="us-central1",
            vertex_credentials=json.dumps(account),
            gcs_bucket_name=BUCKET,
            storage_endpoint=gcs.url,
            transport=transport,
        )
        try:
            made = await provider.create_file(
                Source(b"hello"),
                filename="a.txt",
                purpose="user_data",
                content_type="text/plain",
                expires_after=None,
            )
            await asyncio.gather(*(provider.retrieve_file(made.id) for _ in range(5)))
            assert len(tokens.claims) == 1
            assert set(transport.authorizations) == {"Bearer tok-1"}
            await asyncio.sleep(1.2)
            await provider.delete_file(made.id)
            assert len(tokens.claims) == 2
            assert transport.authorizations[-1] == "Bearer tok-2"
        finally:
            await provider.aclose()
        now = time.time()
        for claims, header in zip(tokens.claims, tokens.headers, strict=True):
            assert claims["iss"] == account["client_email"]
            assert claims["aud"] == GOOGLE_TOKEN_AUDIENCE
            assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
            assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - now) < 30
            assert header == {"alg": "RS256", "typ": "JWT", "kid": "key-1"}

        tokens.refused.add(account["client_email"])
        refused = VertexAIProvider(
            vertex_credentials=account,
            gcs_bucket_name=BUCKET,
            storage_endpoint=gcs.url,
            max_retries=0,
        )
        try:
            with pytest.raises(UpstreamError) as exc:
                await refused.retrieve_file(f"gs://{BUCKET}/x")
            assert exc.value.code == "upstream_auth_failed"
        finally:
            await refused.aclose()


def test_credentials_file_and_bad_credentials(tmp_path: Path) -> None:
    from filegate.errors import ConfigError

    bad = tmp_path / "sa.json"
    bad.write_text(json.dumps({"type": "service_account", "client_email": "a", "private_key": "x"}))
    with pytest.raises(ConfigError, match="Unable to load PEM file"):
        VertexAIProvider(vertex_credentials=str(bad), gcs_bucket_name=BUCKET)
    with pytest.raises(ConfigError, match="cannot read"):
        VertexAIProvider(vertex_credentials=str(tmp_path / "missing.json"), gcs_bucket_name=BUCKET)
    with pytest.raises(ConfigError, match="does not have a valid type"):
        VertexAIProvider(vertex_credentials='{"type": "nonsense"}', gcs_bucket_name=BUCKET)
    with pytest.raises(ConfigError, match="gcs_bucket_name"):
        VertexAIProvider(vertex_project="p")
