"""LiteLLM's own SDK pointed at filegate: files and batches, as a LiteLLM user calls them.

filegate claims to be a drop-in for LiteLLM's Files and Batches APIs, so LiteLLM's
functions (``create_file``, ``create_batch``, ``retrieve_batch``, ``list_batches``,
``cancel_batch``, ``file_content``...) with ``custom_llm_provider="openai"`` and
``api_base`` at a filegate server must work unchanged. The server stands in front of the
fake upstream's OpenAI deployment; every id LiteLLM sees is filegate's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from batches_support import BATCH_ID, CHAT, HOLD, batch_server, jsonl, line, only_upstream_batch
from tenants_support import make_key
from upstream_support import FILEGATE_ID, Fake

from tests.conftest import ServerProcess

# LiteLLM fetches its model price map from GitHub at import unless told to use its copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm")
# LiteLLM maps some calls' errors to its own classes and passes others on as the
# openai SDK raised them (its batch functions do): a 404 is either.
NOT_FOUND = (litellm.exceptions.NotFoundError, openai.NotFoundError)


@pytest.fixture(scope="module")
def server(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = batch_server(fake, tmp_path_factory.mktemp("litellm-sdk"))
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.reset()
    fake.config(**HOLD)


def _opts(server: ServerProcess, key: str) -> dict[str, Any]:
    return {"custom_llm_provider": "openai", "api_base": f"{server.base_url}/v1", "api_key": key}


def test_files_and_a_batch_through_litellms_functions(fake: Fake, server: ServerProcess) -> None:
    key = make_key(server)[0]
    opts = _opts(server, key)
    made = litellm.create_file(
        file=("input.jsonl", jsonl([line(i) for i in range(3)])),
        purpose="batch",
        extra_body={"model": "openai"},
        **opts,
    )
    assert FILEGATE_ID.fullmatch(made.id) and made.purpose == "batch"
    assert litellm.file_retrieve(file_id=made.id, **opts).bytes == made.bytes
    assert made.id in [f.id for f in litellm.file_list(**opts).data]

    batch = litellm.create_batch(
        input_file_id=made.id,
        endpoint=CHAT,
        completion_window="24h",
        metadata={"owner": "litellm"},
        **opts,
    )
    assert BATCH_ID.fullmatch(batch.id)
    assert batch.input_file_id == made.id and batch.metadata == {"owner": "litellm"}
    upstream = only_upstream_batch(fake)
    assert upstream["input_file_id"] != made.id  # the provider's copy, behind filegate's id

    fake.batch(upstream["id"], status="completed")
    done = litellm.retrieve_batch(batch_id=batch.id, **opts)
    assert done.status == "completed" and FILEGATE_ID.fullmatch(done.output_file_id)
    listed = litellm.list_batches(limit=10, **opts)
    assert [b.id for b in listed.data] == [batch.id]

    content = litellm.file_content(file_id=done.output_file_id, **opts)
    outputs = [json.loads(x) for x in content.content.decode().splitlines()]
    assert [o["custom_id"] for o in outputs] == ["req-0", "req-1", "req-2"]
    assert litellm.file_delete(file_id=done.output_file_id, **opts).deleted


def test_cancel_and_another_tenants_batch(fake: Fake, server: ServerProcess) -> None:
    owner, other = make_key(server)[0], make_key(server)[0]
    made = litellm.create_file(
        file=("input.jsonl", jsonl([line(0)])),
        purpose="batch",
        extra_body={"model": "openai"},
        **_opts(server, owner),
    )
    batch = litellm.create_batch(
        input_file_id=made.id, endpoint=CHAT, completion_window="24h", **_opts(server, owner)
    )
    with pytest.raises(NOT_FOUND):
        litellm.retrieve_batch(batch_id=batch.id, **_opts(server, other))
    with pytest.raises(NOT_FOUND):
        litellm.cancel_batch(batch_id=batch.id, **_opts(server, other))
    cancelled = litellm.cancel_batch(batch_id=batch.id, **_opts(server, owner))
    assert cancelled.id == batch.id and cancelled.status in ("cancelling", "cancelled")
    assert only_upstream_batch(fake)["status"] in ("cancelling", "cancelled")


def test_a_batch_from_another_tenants_file_is_a_404(server: ServerProcess) -> None:
    owner, other = make_key(server)[0], make_key(server)[0]
    made = litellm.create_file(
        file=("input.jsonl", jsonl([line(0)])),
        purpose="batch",
        extra_body={"model": "openai"},
        **_opts(server, owner),
    )
    with pytest.raises(NOT_FOUND) as caught:
        litellm.create_batch(
            input_file_id=made.id, endpoint=CHAT, completion_window="24h", **_opts(server, other)
        )
    assert "input_file_id" in str(caught.value) or made.id in str(caught.value)
