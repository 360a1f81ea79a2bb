"""Azure's file statuses reach clients as OpenAI's, through ``/azure/v1``.

Azure knows seven statuses (``uploaded``, ``pending``, ``running``, ``processed``,
``error``, ``deleting``, ``deleted``); OpenAI's contract has three (``uploaded``,
``processed``, ``error``). Every answer is checked against the file object of OpenAI's
own spec. A create waits (``processing_wait``, bounded) for Azure to finish processing,
as OpenAI's create answers ``processed``; a retrieve right after a create answers the same.
The fake upstream moves each Azure file through its configured steps, one per retrieve.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest
import yaml
from upstream_support import (
    AZURE_KEY,
    CLASSIC_VERSION,
    CLEAN_ENV,
    Fake,
    config_kwargs,
    reset_all,
    sdk,
    start_servers,
    stop_servers,
    write_config,
)

from tests.conftest import ServerProcess

SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "openai-openapi.yaml"
AZURE_STATUSES = ("uploaded", "pending", "running", "processed", "error", "deleting", "deleted")
AS_OPENAI = {
    "uploaded": "uploaded",
    "pending": "uploaded",
    "running": "uploaded",
    "processed": "processed",
    "error": "error",
    "deleting": "error",
    "deleted": "error",
}
WAIT = 0.5  # the processing_wait of the "azure-quick" deployment


@pytest.fixture(scope="module")
def file_schema() -> dict[str, Any]:
    if not SPEC.is_file():
        pytest.skip(f"OpenAI's spec is not beside the repo (expected at {SPEC})")
    with SPEC.open(encoding="utf-8") as f:
        spec = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schema: dict[str, Any] = spec["components"]["schemas"]["OpenAIFile"]
    return schema


@pytest.fixture(scope="module")
def servers(
    fake: Fake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServerProcess]]:
    base = tmp_path_factory.mktemp("statuses")
    quick = write_config(
        base / "quick.yaml",
        "deployments:\n"
        "  - name: azure-quick\n"
        "    provider: azure\n"
        f"    api_base: {fake.url}\n"
        f"    api_key: {AZURE_KEY}\n"
        f"    api_version: '{CLASSIC_VERSION}'\n"
        f"    processing_wait: {WAIT}\n"
        "  - name: azure-default\n"
        "    provider: azure\n"
        f"    api_base: {fake.url}\n"
        f"    api_key: {AZURE_KEY}\n"
        f"    api_version: '{CLASSIC_VERSION}'\n",
    )
    started = start_servers(
        base,
        {
            "cfg": config_kwargs(base / "filegate.yaml", fake),
            "quick": {"env": dict(CLEAN_ENV), "args": ["--config", str(quick)]},
        },
    )
    yield started
    stop_servers(started)


@pytest.fixture(autouse=True)
def _clean(fake: Fake, servers: dict[str, ServerProcess]) -> None:
    reset_all(fake, servers)


def conforms(obj: openai.types.FileObject, schema: dict[str, Any]) -> dict[str, Any]:
    doc = obj.model_dump(exclude_unset=True)
    jsonschema.validate(doc, schema)
    return doc


@pytest.mark.parametrize("azure_status", AZURE_STATUSES)
def test_every_azure_status_is_one_of_openais(
    fake: Fake,
    servers: dict[str, ServerProcess],
    file_schema: dict[str, Any],
    azure_status: str,
) -> None:
    srv = servers["quick"]
    fake.config(azure_initial_status=azure_status, azure_status_steps=[azure_status])
    cl = sdk(srv, base="/azure/v1")
    created = cl.files.create(
        file=("notes.txt", b"some notes", "text/plain"),
        purpose="assistants",
        extra_body={"model": "azure-quick"},
    )
    want = AS_OPENAI[azure_status]
    assert conforms(created, file_schema)["status"] == want
    # Right after the create, a retrieve answers the same (asking Azure again, for a
    # file it has not finished: it has not moved on).
    again = cl.files.retrieve(created.id)
    assert again == created
    listed = [f for f in cl.files.list() if f.id == created.id]
    assert [conforms(f, file_schema)["status"] for f in listed] == [want]
    if azure_status in ("deleting", "deleted"):
        assert "deleted at Azure" in (created.status_details or ""), "why it is an error"
    # The provider's own object, for the master key, speaks OpenAI's statuses too.
    (copy,) = fake.files()
    raw = cl.files.retrieve(copy["id"])
    assert raw.id == copy["id"] and raw.status == want


def test_a_create_waits_for_azure_to_finish(
    fake: Fake, servers: dict[str, ServerProcess], file_schema: dict[str, Any]
) -> None:
    """By default Azure's pending -> running -> processed happens within the create."""
    cl = sdk(servers["quick"], base="/azure/v1")
    created = cl.files.create(
        file=("notes.txt", b"some notes", "text/plain"),
        purpose="assistants",
        extra_body={"model": "azure-default"},
    )
    assert conforms(created, file_schema)["status"] == "processed"
    assert len(fake.requests(op="retrieve")) == 2  # one per step, while the create waited
    assert cl.files.retrieve(created.id) == created
    assert len(fake.requests(op="retrieve")) == 2  # the catalog answered


def test_the_wait_is_bounded(
    fake: Fake, servers: dict[str, ServerProcess], file_schema: dict[str, Any]
) -> None:
    fake.config(azure_status_steps=["running"])  # never done
    cl = sdk(servers["quick"], base="/azure/v1")
    started = time.monotonic()
    created = cl.files.create(
        file=("notes.txt", b"some notes", "text/plain"),
        purpose="assistants",
        extra_body={"model": "azure-quick"},
    )
    took = time.monotonic() - started
    assert conforms(created, file_schema)["status"] == "uploaded"
    assert WAIT <= took < WAIT + 10, took
    polls = len(fake.requests(op="retrieve"))
    assert 1 <= polls <= 10, polls
    # Once Azure is done, a retrieve says so.
    (copy,) = fake.files()
    fake.admin("POST", "azure-status", {"id": copy["id"], "status": "processed", "steps": []})
    assert cl.files.retrieve(created.id).status == "processed"


def test_the_wait_is_configured_per_deployment(tmp_path: Path) -> None:
    from filegate.config import load_settings
    from filegate.errors import ConfigError

    def with_wait(value: str) -> Any:
        path = write_config(
            tmp_path / "c.yaml",
            "deployments:\n  - name: a\n    provider: azure\n    api_base: https://x\n"
            f"    api_key: k\n    processing_wait: {value}\n",
        )
        return load_settings(config_file=path, environ={})

    assert with_wait("0").deployments[0].processing_wait == 0
    assert with_wait("2.5").deployments[0].processing_wait == 2.5
    with pytest.raises(ConfigError, match="processing_wait"):
        with_wait("-1")
