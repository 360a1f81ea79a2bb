"""Helpers the Batch and Fine-tuning tests of the fake share: JSONL input files made with the SDK,
and the raw JSON the fake answered (to check against the spec, not the SDK's parse of it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai

from tests.integration.upstream_support import Fake


def jsonl(lines: list[Any]) -> bytes:
    """One line per item: objects as JSON, bytes as they are (for broken lines)."""
    return b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines)


def upload(client: openai.OpenAI, lines: list[Any], purpose: str) -> str:
    made = client.files.create(file=("input.jsonl", jsonl(lines)), purpose=purpose)  # type: ignore[arg-type]
    return made.id


def processed_azure_file(fake: Fake, lines: list[Any], purpose: str) -> str:
    """An Azure file, polled until Azure has processed it (two retrieves by default)."""
    client = fake.azure()
    file_id = upload(client, lines, purpose)
    while client.files.retrieve(file_id).status != "processed":
        pass
    return file_id


def wire(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call an SDK ``with_raw_response`` method and return the JSON the fake sent."""
    body: dict[str, Any] = fn(*args, **kwargs).http_response.json()
    return body


def read_lines(client: openai.OpenAI, file_id: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in client.files.content(file_id).text.splitlines()]
