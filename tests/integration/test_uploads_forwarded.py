"""Uploads forwarded to a provider's own Uploads API (OpenAI, Azure v1, Azure dated preview).

An upload with one target that has an Uploads API is mirrored upstream: created
with ours, each part sent on as it arrives (no local blob), completed upstream
with the md5, cancelled upstream. Clients only ever see filegate's ids. Azure's
GA dated API, several targets and JSONL purposes keep the assembled path
(test_uploads_shared.py).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from support import assert_error, catalog_execute, wait_until
from uploads_support import (
    add_part,
    blob_names,
    check_upload,
    complete,
    completed,
    create,
    md5,
    part_rows,
    post_part,
    upload_row,
)
from upstream_support import (
    AZURE_KEY,
    FILEGATE_ID,
    Fake,
    config_kwargs,
    deployments_yaml,
    spool_files,
)

from tests.conftest import ServerProcess, start_server

UPLOAD_ID = re.compile(r"upload_[0-9A-HJKMNP-TV-Z]{26}")
PART_ID = re.compile(r"part_[0-9A-HJKMNP-TV-Z]{26}")
PREVIEW_VERSION = "2025-04-01-preview"
# Deployments whose uploads are forwarded, and the fake's api for each.
FORWARDED = {"openai": "openai", "azure-v1": "azure-v1", "azure-preview": "azure-classic"}


@pytest.fixture(scope="module")
def gw(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The shared deployments plus an Azure one on a dated preview version; files stay here
    unless routed; the sweep runs every 0.2 s."""
    base = tmp_path_factory.mktemp("forwarded")
    kwargs: dict[str, Any] = config_kwargs(base / "filegate.yaml", fake)
    (base / "filegate.yaml").write_text(
        deployments_yaml(fake)
        + "  - name: azure-preview\n"
        + "    provider: azure\n"
        + f"    api_base: {fake.url}\n"
        + f"    api_key: {AZURE_KEY}\n"
        + f"    api_version: '{PREVIEW_VERSION}'\n"
        + "    timeout: 30\n"
        + "    max_retries: 1\n"
        + "default_target: filegate\n",
        encoding="utf-8",
    )
    kwargs["env"] = {**kwargs["env"], "FILEGATE_SWEEP_INTERVAL": "0.2"}
    srv = start_server(base, **kwargs)
    yield srv
    srv.stop()


@pytest.fixture()
def c(fake: Fake, gw: ServerProcess) -> Iterator[httpx.Client]:
    fake.reset()
    with httpx.Client(base_url=gw.base_url, headers=gw.headers, timeout=60) as one:
        yield one


def sdk_for(gw: ServerProcess, deployment: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gw.base_url}/v1",
        api_key=gw.master_key or "unused",
        max_retries=0,
        timeout=120,
        default_query={"model": deployment},
    )


def remote_upload(fake: Fake) -> dict[str, Any]:
    (upload,) = fake.uploads()
    return upload


@pytest.mark.parametrize("deployment", sorted(FORWARDED))
def test_sdk_chunked_upload_is_forwarded(
    fake: Fake, gw: ServerProcess, c: httpx.Client, deployment: str, tmp_path: Path
) -> None:
    data = os.urandom(5 * 1024 * 1024 + 12345)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    before = blob_names(gw.data_dir)
    client = sdk_for(gw, deployment)
    upload = client.uploads.upload_file_chunked(
        file=path,
        mime_type="text/plain",
        purpose="assistants",
        part_size=1024 * 1024,
        md5=md5(data),
    )
    done = check_upload(upload.model_dump(), "completed")
    assert UPLOAD_ID.fullmatch(done["id"]), done
    file = done["file"]
    assert FILEGATE_ID.fullmatch(file["id"]), file
    assert file["bytes"] == len(data) and file["filename"] == "big.bin"

    api = FORWARDED[deployment]
    log = fake.requests(api=api)
    ops = [e["op"] for e in log]
    # One upstream upload, every part sent on before the complete, no Files-API create;
    # at Azure, the complete then waits through the new file's two processing steps.
    polls = ["retrieve"] * 2 if api.startswith("azure") else []
    assert ops == ["upload_create", *["upload_part"] * 6, "upload_complete", *polls], ops
    parts = [e for e in log if e["op"] == "upload_part"]
    assert all(e["status"] == 200 and e["content_length"] == e["body_bytes"] for e in parts)
    assert sum(e["multipart"]["file"]["size"] for e in parts) == len(data)
    assert all(e["multipart"]["fields"] == ["data"] for e in parts)
    remote = remote_upload(fake)
    assert remote["status"] == "completed"
    assert remote["file"]["bytes"] == len(data)
    (stored,) = fake.files()
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored["origin"] == "upload"

    # The file lives upstream only; the gateway serves it by its own id.
    assert c.get(f"/v1/files/{file['id']}/content").content == data
    r = c.get(f"/v1/files/{file['id']}")
    assert r.status_code == 200 and r.json()["id"] == file["id"]
    assert stored["id"] not in r.text and remote["id"] not in r.text
    assert blob_names(gw.data_dir) == before
    assert spool_files(gw) == []
    assert part_rows(gw.data_dir, done["id"]) == []
    assert c.delete(f"/v1/files/{file['id']}").status_code == 200
    assert fake.files() == []


def test_parts_go_upstream_as_they_arrive(fake: Fake, gw: ServerProcess, c: httpx.Client) -> None:
    chunks = [os.urandom(n) for n in (70_000, 1, 300_000)]
    data = b"".join(chunks)
    before = blob_names(gw.data_dir)
    created = c.post(
        "/v1/uploads",
        params={"custom_llm_provider": "openai"},
        json={
            "filename": "f.txt",
            "purpose": "user_data",
            "bytes": len(data),
            "mime_type": "text/plain",
        },
    )
    assert created.status_code == 200, created.text
    uid = check_upload(created.json(), "pending")["id"]
    assert UPLOAD_ID.fullmatch(uid)
    remote = remote_upload(fake)
    texts = [created.text]
    ids = []
    for i, chunk in enumerate(chunks, 1):
        r = post_part(c, uid, chunk)
        assert r.status_code == 200, r.text
        texts.append(r.text)
        ids.append(r.json()["id"])
        assert PART_ID.fullmatch(ids[-1])
        # Sent on at once, before any complete; nothing kept here.
        assert len(fake.requests(op="upload_part", status=200)) == i
        assert blob_names(gw.data_dir) == before and spool_files(gw) == []
    assert fake.requests(op="upload_complete") == []
    # Completed in another order than sent: the provider's part ids follow ours.
    order = [2, 0, 1]
    r = complete(c, uid, [ids[i] for i in order], md5(b"".join(chunks[i] for i in order)))
    assert r.status_code == 200, r.text
    texts.append(r.text)
    done = check_upload(r.json(), "completed")
    assert c.get(f"/v1/files/{done['file']['id']}/content").content == b"".join(
        chunks[i] for i in order
    )
    (entry,) = fake.requests(op="upload_complete")
    assert entry["upload_id"] == remote["id"]
    # The provider's ids never reach the client.
    remote_parts = {e["path"] for e in fake.requests(op="upload_part")}
    assert remote_parts == {f"/v1/uploads/{remote['id']}/parts"}
    stored = fake.files()[0]["id"]
    for text in texts:
        assert remote["id"] not in text and stored not in text
        for found in re.findall(r':"((?:upload|part|file)[-_][A-Za-z0-9]+)"', text):
            assert (
                UPLOAD_ID.fullmatch(found)
                or PART_ID.fullmatch(found)
                or FILEGATE_ID.fullmatch(found)
            ), found


def test_md5_mismatch_keeps_the_upload_completable(
    fake: Fake, gw: ServerProcess, c: httpx.Client
) -> None:
    data = b"forwarded bytes"
    uid = create(c, len(data), custom_llm_provider="openai")["id"]
    parts = [add_part(c, uid, data[:5]), add_part(c, uid, data[5:])]
    assert_error(complete(c, uid, parts, md5(b"other")), 400, param="md5")
    assert upload_row(gw.data_dir, uid)["status"] == "pending"
    assert remote_upload(fake)["status"] == "pending"
    # Our own bytes check: refused before the upstream hears of it.
    assert_error(complete(c, uid, parts[:1]), 400, code="bytes_mismatch")
    assert len(fake.requests(op="upload_complete")) == 1
    assert fake.files() == []
    done = completed(c, uid, parts, md5(data))
    assert c.get(f"/v1/files/{done['file']['id']}/content").content == data
    assert_error(complete(c, uid, parts), 400, code="upload_completed")


def test_cancel_goes_upstream(fake: Fake, gw: ServerProcess, c: httpx.Client) -> None:
    uid = create(c, 6, custom_llm_provider="openai")["id"]
    part = add_part(c, uid, b"abc")
    r = c.post(f"/v1/uploads/{uid}/cancel")
    assert r.status_code == 200, r.text
    check_upload(r.json(), "cancelled")
    (entry,) = fake.requests(op="upload_cancel")
    assert entry["status"] == 200
    assert remote_upload(fake)["status"] == "cancelled"
    assert remote_upload(fake)["id"] not in r.text
    assert_error(post_part(c, uid, b"def"), 400, code="upload_cancelled")
    assert_error(complete(c, uid, [part]), 400, code="upload_cancelled")
    assert len(fake.requests(op="upload_part")) == 1


def test_expiry_sweep_cancels_upstream(fake: Fake, gw: ServerProcess, c: httpx.Client) -> None:
    uid = create(c, 6, purpose="assistants", custom_llm_provider="azure", model="azure-v1")["id"]
    add_part(c, uid, b"abc")
    catalog_execute(
        gw.data_dir, "UPDATE uploads SET expires_at = created_at - 1 WHERE id = ?", [uid]
    )
    assert wait_until(lambda: bool(fake.requests(op="upload_cancel")), timeout=20)
    assert remote_upload(fake)["status"] == "cancelled"
    assert wait_until(lambda: upload_row(gw.data_dir, uid)["status"] == "expired")
    assert wait_until(lambda: part_rows(gw.data_dir, uid) == [])


@pytest.mark.parametrize(("status", "times", "mapped"), [(500, 2, 502), (403, 1, 403)])
def test_upstream_part_failure_then_retry(
    fake: Fake, gw: ServerProcess, c: httpx.Client, status: int, times: int, mapped: int
) -> None:
    data = os.urandom(200_000)
    uid = create(c, len(data), custom_llm_provider="openai")["id"]
    first = add_part(c, uid, data[:1000])
    fake.fault(op="upload_part", status=status, times=times)
    r = post_part(c, uid, data[1000:])
    assert r.status_code == mapped, r.text
    assert len(fake.requests(op="upload_part")) == 1 + times
    assert spool_files(gw) == []
    assert len(part_rows(gw.data_dir, uid)) == 1
    # The client resends the part; it goes through this time.
    second = add_part(c, uid, data[1000:])
    done = completed(c, uid, [first, second], md5(data))
    assert c.get(f"/v1/files/{done['file']['id']}/content").content == data


def test_upstream_refusing_the_upload_create(
    fake: Fake, gw: ServerProcess, c: httpx.Client
) -> None:
    fake.fault(op="upload_create", status=400)
    r = c.post(
        "/v1/uploads",
        params={"custom_llm_provider": "openai"},
        json={"filename": "x", "purpose": "user_data", "bytes": 1, "mime_type": "text/plain"},
    )
    assert r.status_code == 400, r.text
    assert fake.uploads() == []


def test_several_targets_and_ga_azure_are_assembled(
    fake: Fake, gw: ServerProcess, c: httpx.Client
) -> None:
    data = b"two copies"
    for routing in ({"target_model_names": "openai,openai-b"}, {"custom_llm_provider": "azure"}):
        fake.reset()
        uid = create(c, len(data), purpose="assistants", **routing)["id"]
        part = add_part(c, uid, data)
        assert fake.requests() == []
        done = completed(c, uid, [part])
        assert c.get(f"/v1/files/{done['file']['id']}/content").content == data
        assert fake.requests(op="upload_create") == []
        assert len(fake.requests(op="create")) == (2 if "target_model_names" in routing else 1)
