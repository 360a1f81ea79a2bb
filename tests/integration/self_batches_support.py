"""Helpers for the batches filegate runs itself on an OpenAI-compatible model server.

A real ``filegate serve`` whose deployment ``local-llm`` (provider ``openai_compatible``)
points at the fake model server (tests/fakes/model_server.py), driven with the openai SDK.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import openai
import yaml

from tests.conftest import ServerProcess, start_server
from tests.fakes.harness import FakeModelServerProcess

DEPLOYMENT = "local-llm"
CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"


def chat_line(i: int, text: str | None = None) -> dict[str, Any]:
    return {
        "custom_id": f"c-{i}",
        "method": "POST",
        "url": CHAT,
        "body": {"model": "llama", "messages": [{"role": "user", "content": text or f"line-{i}"}]},
    }


def embedding_line(i: int) -> dict[str, Any]:
    return {
        "custom_id": f"e-{i}",
        "method": "POST",
        "url": EMBEDDINGS,
        "body": {"model": "embed", "input": f"text number {i}"},
    }


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


def write_config(
    path: Path, llm_url: str, *, concurrency: int = 4, extra: list[dict[str, Any]] | None = None
) -> Path:
    deployments = [
        {
            "name": DEPLOYMENT,
            "provider": "openai_compatible",
            "api_base": f"{llm_url}/v1",
            "batch_concurrency": concurrency,
            "max_batches_running": 2,
            "max_retries": 4,
            "timeout": 20,
        },
        *(extra or []),
    ]
    path.write_text(yaml.safe_dump({"deployments": deployments}))
    return path


def self_server(
    base: Path,
    llm: FakeModelServerProcess,
    *,
    env: dict[str, str] | None = None,
    concurrency: int = 4,
    extra: list[dict[str, Any]] | None = None,
    **kw: Any,
) -> ServerProcess:
    base.mkdir(parents=True, exist_ok=True)
    config = write_config(base / "filegate.yaml", llm.url, concurrency=concurrency, extra=extra)
    child = {
        "FILEGATE_CONFIG": str(config),
        "FILEGATE_BATCH_LEASE_SECONDS": "2",
        "FILEGATE_BATCH_CACHE_SECONDS": "0",
        **(env or {}),
    }
    return start_server(base, env=child, **kw)


def sdk(server: ServerProcess, key: str | None = None, base: str = "/v1") -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.base_url}{base}",
        api_key=key or server.master_key or "unused",
        max_retries=0,
        timeout=60,
    )


def upload(client: openai.OpenAI, lines: list[dict[str, Any]]) -> str:
    """An input file in filegate's own store."""
    made = client.files.create(
        file=("input.jsonl", jsonl(lines)),
        purpose="batch",
        extra_body={"custom_llm_provider": "filegate"},
    )
    return made.id


def create(client: openai.OpenAI, file_id: str, endpoint: str = CHAT, **kwargs: Any) -> Any:
    extra = kwargs.pop("extra_body", {"model": DEPLOYMENT})
    return client.batches.create(
        input_file_id=file_id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
        extra_body=extra,
        **kwargs,
    )


def wait_for(
    client: openai.OpenAI, batch_id: str, statuses: set[str], timeout: float = 60, **more: int
) -> Any:
    """Poll until the batch has one of ``statuses`` (and at least ``more["done"]`` lines)."""
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        counts = batch.request_counts
        done = (counts.completed + counts.failed) if counts else 0
        if batch.status in statuses and done >= more.get("done", 0):
            return batch
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id}: {batch.status} ({counts}), not {statuses}")
        time.sleep(0.05)


def read_lines(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    return [json.loads(x) for x in client.files.content(file_id).text.splitlines()]
