"""Helpers shared by the ``test_batches_*.py`` modules (imported as a plain module).

A filegate server with the named deployments of ``upstream_support`` (two OpenAI, Azure
dated, Azure v1) in front of the fake upstream, whose Batch API runs the batches.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import openai
from upstream_support import Fake, config_kwargs

from tests.conftest import ServerProcess, start_server

CHAT = "/v1/chat/completions"
BATCH_ID = re.compile(r"batch_[0-9A-HJKMNP-TV-Z]{26}")
HOLD = {"batch_in_progress_seconds": None}


def line(i: int, fail: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"q{i}"}],
    }
    if fail is not None:
        body["fake_error"] = fail
    return {"custom_id": f"req-{i}", "method": "POST", "url": CHAT, "body": body}


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


def batch_server(
    fake: Fake, base: Path, *, cache: float = 0, env: dict[str, str] | None = None, **kw: Any
) -> ServerProcess:
    """A filegate server at the fake's deployments; retrieves ask the fake every time
    unless ``cache`` says otherwise."""
    base.mkdir(parents=True, exist_ok=True)
    kwargs = config_kwargs(base / "filegate.yaml", fake)
    kwargs["env"].update({"FILEGATE_BATCH_CACHE_SECONDS": str(cache), **(env or {})})
    return start_server(base, **kwargs, **kw)


def sdk(server: ServerProcess, key: str | None = None, base: str = "/v1") -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.base_url}{base}",
        api_key=key or server.master_key or "unused",
        max_retries=0,
        timeout=60,
    )


def http(server: ServerProcess, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else server.headers
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=60)


def upload(client: openai.OpenAI, lines: list[dict[str, Any]], deployment: str = "openai") -> str:
    """A batch input file through filegate, kept at ``deployment`` ("filegate": embedded)."""
    routing = (
        {"custom_llm_provider": "filegate"} if deployment == "filegate" else {"model": deployment}
    )
    made = client.files.create(
        file=("input.jsonl", jsonl(lines)),
        purpose="batch",
        extra_body=routing,
    )
    return made.id


def create(client: openai.OpenAI, file_id: str, **kwargs: Any) -> Any:
    return client.batches.create(
        input_file_id=file_id,
        endpoint=kwargs.pop("endpoint", CHAT),
        completion_window=kwargs.pop("completion_window", "24h"),
        **kwargs,
    )


def only_upstream_batch(fake: Fake) -> dict[str, Any]:
    found = fake.batches()
    assert len(found) == 1, found
    return found[0]


def read_lines(client: openai.OpenAI, file_id: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in client.files.content(file_id).text.splitlines()]
