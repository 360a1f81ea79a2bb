"""Tests of the fake OpenAI-compatible model server (tests/fakes/model_server.py).

The fake runs as a real process (one per module, reset before every test); the official
``openai`` SDK is its client, raw ``httpx`` where the SDK would hide the wire.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.harness import FakeModelServerProcess, running_model_server


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeModelServerProcess]:
    with running_model_server(tmp_path_factory.mktemp("model-server")) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _reset(fake: FakeModelServerProcess) -> None:
    fake.reset()


def test_chat_answers_follow_the_request(fake: FakeModelServerProcess) -> None:
    client = fake.oai()
    messages = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "line-17 please"}]},
    ]
    r = client.chat.completions.create(model="llama", messages=messages, n=2)  # type: ignore[arg-type]
    assert [c.message.content for c in r.choices] == [
        "echo: line-17 please",
        "echo: line-17 please [1]",
    ]
    assert r.model == "llama" and r.object == "chat.completion" and r.choices[1].index == 1
    assert r.usage and (r.usage.prompt_tokens, r.usage.completion_tokens) == (7, 7)
    body = {"messages": messages, "model": "llama", "n": 2}
    digest = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert r.id == f"chatcmpl-{digest[:24]}"
    cut = client.chat.completions.create(
        model="llama", messages=[{"role": "user", "content": "one two three four"}], max_tokens=3
    )
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == (
        "echo: one two",
        "length",
    )
    as_json = client.chat.completions.create(
        model="llama",
        messages=[{"role": "user", "content": "j"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(as_json.choices[0].message.content or "") == {"echo": "echo: j"}
    called = client.chat.completions.create(
        model="llama",
        messages=[{"role": "user", "content": "t"}],
        tools=[
            {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
        ],
        tool_choice="required",
    )
    choice = called.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls if c.type == "function"] == ["lookup"]


def test_completions_embeddings_responses_models(fake: FakeModelServerProcess) -> None:
    client = fake.oai()
    comp = client.completions.create(model="m", prompt=["alpha", "beta"], stop=["ph"])
    assert [c.text for c in comp.choices] == ["echo: al", "echo: beta"]
    assert comp.id.startswith("cmpl-") and comp.object == "text_completion"
    emb = client.embeddings.create(
        model="e", input=["same", "other", "same"]
    )  # SDK asks for base64
    vectors = [d.embedding for d in emb.data]
    assert len(vectors[0]) == 8 and vectors[0] == vectors[2] != vectors[1]
    assert abs(sum(x * x for x in vectors[0]) - 1) < 1e-4
    floats = httpx.post(f"{fake.url}/v1/embeddings", json={"input": "same", "dimensions": 4}).json()
    assert len(floats["data"][0]["embedding"]) == 4 and floats["usage"] == {
        "prompt_tokens": 1,
        "total_tokens": 1,
    }
    resp = client.responses.create(model="m", input="respond to line-9", instructions="short")
    assert resp.output_text == "echo: respond to line-9" and resp.status == "completed"
    assert resp.usage and resp.usage.input_tokens == 4
    assert [m.id for m in client.models.list()] == ["fake-model"]
    assert httpx.get(f"{fake.url}/health").status_code == 200


def test_errors_in_vllm_and_openai_style(fake: FakeModelServerProcess) -> None:
    url = f"{fake.url}/v1/chat/completions"
    r = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "message": "The request body must be a JSON object.",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
    }
    assert httpx.post(url, json={"messages": []}).json()["error"]["param"] == "messages"
    assert httpx.post(url, json={"messages": [{"role": "u"}], "stream": True}).status_code == 400
    assert (
        httpx.post(
            url, json={"messages": [{"role": "user", "content": "x"}], "stream": True}
        ).json()["error"]["param"]
        == "stream"
    )
    fake.config(models=["only-this"], error_style="openai")
    with pytest.raises(openai.NotFoundError) as err:
        fake.oai().chat.completions.create(
            model="other", messages=[{"role": "user", "content": "x"}]
        )
    assert err.value.body == {
        "message": "The model `other` does not exist.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    assert httpx.get(f"{fake.url}/v1/nothing").json() == {"detail": "Not Found"}
    assert httpx.get(url).status_code == 405
    assert fake.stats()["by_status"] == {"400": 4, "404": 1}


def test_api_key(fake: FakeModelServerProcess) -> None:
    fake.config(api_key="secret")
    with pytest.raises(openai.AuthenticationError) as err:
        fake.oai(api_key="wrong").models.list()
    assert err.value.response.json() == {"error": "Unauthorized"}
    assert [m.id for m in fake.oai(api_key="secret").models.list()] == ["fake-model"]
    assert httpx.get(f"{fake.url}/health").status_code == 200  # outside /v1: no key needed


def test_fault_rules(fake: FakeModelServerProcess) -> None:
    client = fake.oai()

    def ask(text: str) -> str | None:
        r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
        return r.choices[0].message.content

    fake.fault(op="chat", match="line-2", status=429, retry_after=7, skip=1, times=2)
    assert ask("line-2") == "echo: line-2"  # skipped once
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as err:
            ask("line-2 again")
        assert err.value.response.headers["retry-after"] == "7"
        assert err.value.body == {
            "message": "Too many requests; please retry later.",
            "type": "RateLimitError",
            "param": None,
            "code": 429,
        }
    assert ask("line-2 third") == "echo: line-2 third"
    assert ask("line-3") == "echo: line-3"
    fake.fault(op="embeddings", status=503)
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="e", input="x")
    fake.fault(
        status=400, body={"error": {"message": "custom", "type": "x", "param": None, "code": 400}}
    )
    with pytest.raises(openai.BadRequestError) as bad:
        ask("anything")
    assert bad.value.body == {"message": "custom", "type": "x", "param": None, "code": 400}
    fake.fault(op="chat", drop=True)
    with pytest.raises(openai.APIConnectionError):
        ask("dropped")
    fake.fault(op="chat", hang=True)
    with pytest.raises(openai.APITimeoutError):
        fake.oai(timeout=0.5).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "h"}]
        )
    fake.fault(op="chat", delay=0.3)
    started = time.monotonic()
    assert ask("slow") == "echo: slow"
    assert time.monotonic() - started >= 0.3
    deadline = time.monotonic() + 5
    while fake.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.02)  # the hung request ends once the server sees the client gone
    stats = fake.stats()
    assert (stats["dropped"], stats["hung"], stats["in_flight"]) == (1, 1, 0)
    assert stats["by_status"] == {"200": 4, "429": 2, "503": 1, "400": 1}
    log = fake.requests(op="chat")
    assert [e["fault"] is not None for e in log[:4]] == [False, True, True, False]


def test_counts_bodies_and_concurrency(fake: FakeModelServerProcess) -> None:
    fake.config(latency=0.2)

    async def drive() -> None:
        client = openai.AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="x", max_retries=0)
        gate = asyncio.Semaphore(5)

        async def one(i: int) -> None:
            async with gate:
                await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": f"line-{i % 12}"}]
                )

        await asyncio.gather(*(one(i) for i in range(15)))
        await client.close()

    asyncio.run(drive())
    stats = fake.stats()
    assert (stats["total"], stats["max_in_flight"], stats["in_flight"]) == (15, 5, 0)
    assert (stats["distinct_bodies"], stats["repeated_bodies"]) == (12, 3)
    repeated = fake.admin("GET", "bodies", min_count=2)["data"]
    assert sorted(b["body"]["messages"][0]["content"] for b in repeated) == [
        "line-0",
        "line-1",
        "line-2",
    ]
    assert all(b["count"] == 2 and b["statuses"] == [200, 200] for b in repeated)
    # The same body with other key order and spacing counts as the same body.
    before = fake.admin("GET", "bodies", min_count=1)["data"]
    one = next(b for b in before if b["body"]["messages"][0]["content"] == "line-5")
    raw = b'{ "messages": [ {"content": "line-5", "role": "user"} ], "model": "m" }'
    r = httpx.post(
        f"{fake.url}/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
    )
    assert r.headers["x-body-sha256"] == one["sha256"]
    assert next(b for b in fake.bodies() if b["sha256"] == one["sha256"])["count"] == 2
    cleared = fake.admin("DELETE", "stats")
    assert (cleared["total"], cleared["distinct_bodies"], cleared["max_in_flight"]) == (0, 0, 0)


def test_admin_rejects_bad_settings(fake: FakeModelServerProcess) -> None:
    for bad in ({"latency": -1}, {"error_style": "xml"}, {"nope": 1}):
        assert httpx.post(f"{fake.url}/__admin/config", json=bad).status_code == 400
    for bad_fault in (
        {"op": "chat"},
        {"op": "teleport", "status": 500},
        {"status": 99},
        {"status": 500, "times": 0},
    ):
        assert httpx.post(f"{fake.url}/__admin/faults", json=bad_fault).status_code == 400


def test_command_line_settings(tmp_path: Path) -> None:
    args = ("--api-key", "k", "--latency", "0.05", "--models", "a,b", "--embedding-dimensions", "3")
    with running_model_server(tmp_path, *args) as fake:
        client = fake.oai(api_key="k")
        assert [m.id for m in client.models.list()] == ["a", "b"]
        started = time.monotonic()
        emb = client.embeddings.create(model="a", input="x", encoding_format="float")
        assert time.monotonic() - started >= 0.05 and len(emb.data[0].embedding) == 3
        fake.reset()
        assert fake.config()["api_key"] == "k"  # reset goes back to the command line's settings
