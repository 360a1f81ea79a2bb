"""Files larger than a provider's Files API takes go up through its Uploads API, in parts.

OpenAI's Files API takes files up to 512 MB; its Uploads API takes up to 8 GB in
parts of at most 64 MB. The deployments here set both limits low
(``files_api_max_bytes``, ``upload_part_bytes``) so that a few megabytes show
the switch: a plain ``POST /v1/files`` becomes create upload, parts, complete
upstream, with the bytes relayed as they arrive and the client seeing one
filegate file.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator

import httpx
import pytest
from support import assert_error
from upstream_support import (
    AZURE_KEY,
    CLASSIC_VERSION,
    CONFIG_ENV,
    FILEGATE_ID,
    OPENAI_KEY,
    Fake,
    spool_files,
    wipe,
    write_config,
)

from tests.conftest import ServerProcess, start_server

LIMIT = 1024 * 1024
PART = 384 * 1024
DATA = os.urandom(2 * LIMIT + 12345)
# The deployments that have an Uploads API, and the fake's api for each.
WITH_UPLOADS = {"openai": "openai", "azure-v1": "azure-v1"}


def _deployment(name: str, provider: str, api_base: str, key: str, version: str | None) -> str:
    lines = [
        f"  - name: {name}",
        f"    provider: {provider}",
        f"    api_base: {api_base}",
        f"    api_key: {key}",
        "    timeout: 30",
        "    max_retries: 1",
        f"    files_api_max_bytes: {LIMIT}",
        f"    upload_part_bytes: {PART}",
    ]
    if version:
        lines.append(f"    api_version: '{version}'")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def gw(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("large-files")
    config = write_config(
        base / "filegate.yaml",
        "deployments:\n"
        + _deployment("openai", "openai", f"{fake.url}/v1", OPENAI_KEY, None)
        + _deployment("azure-v1", "azure", f"{fake.url}/openai/v1", AZURE_KEY, "v1")
        + _deployment("azure", "azure", fake.url, AZURE_KEY, CLASSIC_VERSION)
        + "default_target: openai\n",
    )
    srv = start_server(base, env=dict(CONFIG_ENV), args=["--config", str(config)])
    yield srv
    srv.stop()


@pytest.fixture
def c(fake: Fake, gw: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.base_url, headers=gw.headers, timeout=120) as one:
        wipe(one)
        fake.reset()
        yield one


def post(
    c: httpx.Client, data: bytes, model: str = "openai", purpose: str = "assistants"
) -> httpx.Response:
    return c.post(
        "/v1/files",
        data={"purpose": purpose, "model": model},
        files={"file": ("big.bin", data, "application/octet-stream")},
    )


def ops(fake: Fake) -> list[str]:
    return [e["op"] for e in fake.requests()]


@pytest.mark.parametrize("model", sorted(WITH_UPLOADS))
def test_a_file_over_the_limit_goes_up_in_parts(
    fake: Fake, gw: ServerProcess, c: httpx.Client, model: str
) -> None:
    r = post(c, DATA, model)
    assert r.status_code == 200, r.text
    created = r.json()
    assert FILEGATE_ID.fullmatch(created["id"]) and created["bytes"] == len(DATA)

    parts = math.ceil(len(DATA) / PART)
    # Azure's new file is processed in two steps, which the create waits for.
    polls = ["retrieve"] * 2 if WITH_UPLOADS[model].startswith("azure") else []
    assert ops(fake) == ["upload_create"] + ["upload_part"] * parts + ["upload_complete"] + polls
    assert {e["api"] for e in fake.requests()} == {WITH_UPLOADS[model]}
    (upload,) = fake.uploads()
    assert upload["status"] == "completed"
    assert (upload["bytes"], upload["filename"], upload["purpose"]) == (
        len(DATA),
        "big.bin",
        "assistants",
    )
    sizes = [e["multipart"]["file"]["size"] for e in fake.requests(op="upload_part")]
    assert sizes == [PART] * (parts - 1) + [len(DATA) - PART * (parts - 1)]
    (stored,) = fake.files()
    assert stored["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert c.get(f"/v1/files/{created['id']}/content").content == DATA
    assert c.delete(f"/v1/files/{created['id']}").json()["deleted"] is True
    assert fake.files() == []
    assert spool_files(gw) == []


def test_a_file_at_the_limit_takes_the_files_api(fake: Fake, c: httpx.Client) -> None:
    r = post(c, DATA[:LIMIT])
    assert r.status_code == 200, r.text
    assert ops(fake) == ["create"]
    assert fake.files()[0]["sha256"] == hashlib.sha256(DATA[:LIMIT]).hexdigest()


def test_a_failed_part_is_sent_again_from_the_spool(fake: Fake, c: httpx.Client) -> None:
    # The first two parts go through; the third fails once, after some of its bytes went up.
    fake.fault(op="upload_part", delay=0.01, times=2)
    fake.fault(op="upload_part", status=500, times=1, after_bytes=100_000)
    r = post(c, DATA)
    assert r.status_code == 200, r.text
    parts = math.ceil(len(DATA) / PART)
    statuses = [e["status"] for e in fake.requests(op="upload_part")]
    assert statuses == [200, 200, 500] + [200] * (parts - 2)
    (stored,) = fake.files()
    assert stored["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert c.get(f"/v1/files/{r.json()['id']}/content").content == DATA


def test_a_part_that_keeps_failing_cancels_the_upstream_upload(
    fake: Fake, gw: ServerProcess, c: httpx.Client
) -> None:
    fake.fault(op="upload_part", status=500, times=None)
    r = post(c, DATA)
    assert_error(r, 502)
    assert ops(fake)[-1] == "upload_cancel"
    assert [u["status"] for u in fake.uploads()] == ["cancelled"]
    assert fake.files() == []
    assert c.get("/v1/files").json()["data"] == []
    assert spool_files(gw) == []


def test_an_upload_refused_upstream_is_its_error_at_once(
    fake: Fake, gw: ServerProcess, c: httpx.Client
) -> None:
    """Azure's v1 Uploads API takes no user_data: its 400 comes back, before the
    client has finished sending, and nothing is left anywhere."""
    r = post(c, DATA, "azure-v1", purpose="user_data")
    err = assert_error(r, 400, param="purpose")
    assert "user_data" in err["message"]
    assert ops(fake) == ["upload_create"]
    assert fake.files() == [] and c.get("/v1/files").json()["data"] == []
    assert spool_files(gw) == []


def test_without_an_uploads_api_a_file_over_the_limit_is_a_clear_400(
    fake: Fake, gw: ServerProcess, c: httpx.Client
) -> None:
    r = post(c, DATA, "azure")
    assert_error(r, 400, param="file")
    assert "larger than the 1,048,576 bytes azure's Files API takes" in r.json()["error"]["message"]
    assert fake.files() == [] and fake.uploads() == []
    assert c.get("/v1/files").json()["data"] == []
    assert spool_files(gw) == []
