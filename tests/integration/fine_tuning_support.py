"""Helpers shared by the ``test_fine_tuning_*.py`` modules (imported as a plain module).

A filegate server with the named deployments of ``upstream_support`` (two OpenAI, Azure
dated, Azure v1) in front of the fake upstream, whose fine-tuning jobs API runs the jobs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import openai
from pydantic import BaseModel
from upstream_support import Fake, config_kwargs

from tests.conftest import ServerProcess, start_server
from tests.fakes.spec_schemas import assert_valid

JOB_ID = re.compile(r"ftjob-[0-9A-HJKMNP-TV-Z]{26}")
# Jobs stay where an admin call puts them: validating until told otherwise.
HOLD = {
    "ft_validating_files_seconds": None,
    "ft_queued_seconds": None,
    "ft_running_seconds": None,
}
EXAMPLES = 10  # the fake's ft_min_examples


def chat(i: int) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": f"question {i}"},
            {"role": "assistant", "content": f"answer {i}"},
        ]
    }


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


def training_data(n: int = EXAMPLES) -> bytes:
    return jsonl([chat(i) for i in range(n)])


def ft_server(
    fake: Fake, base: Path, *, env: dict[str, str] | None = None, **kw: Any
) -> ServerProcess:
    """A filegate server at the fake's deployments; every retrieve asks the fake."""
    base.mkdir(parents=True, exist_ok=True)
    kwargs = config_kwargs(base / "filegate.yaml", fake)
    kwargs["env"].update({"FILEGATE_FINE_TUNING_CACHE_SECONDS": "0", **(env or {})})
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


def upload(
    client: openai.OpenAI,
    data: bytes | None = None,
    deployment: str = "openai",
    purpose: str = "fine-tune",
) -> str:
    """A training file through filegate, kept at ``deployment`` ("filegate": embedded)."""
    routing = (
        {"custom_llm_provider": "filegate"} if deployment == "filegate" else {"model": deployment}
    )
    made = client.files.create(
        file=("train.jsonl", data if data is not None else training_data()),
        purpose=purpose,  # type: ignore[arg-type]
        extra_body=routing,
    )
    return made.id


def only_upstream_job(fake: Fake) -> dict[str, Any]:
    found = fake.jobs()
    assert len(found) == 1, found
    return found[0]


def answer(resp: httpx.Response, spec: str, model: type[BaseModel]) -> dict[str, Any]:
    """A 200 answer's body, checked against OpenAI's published schema ``spec`` and against
    filegate's own ``model`` (what the OpenAPI document says: no field missing, none extra,
    none null that the document leaves out)."""
    assert resp.status_code == 200, resp.text
    doc: dict[str, Any] = resp.json()
    assert_valid(spec, doc)
    model.model_validate_json(resp.content)
    return doc
