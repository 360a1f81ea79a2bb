"""Upstream failures through filegate: error mapping, retries, timeouts, drops, partial copies.

The fake upstream injects the faults (``/__admin/faults``); its request log counts
the attempts. The server's deployments retry once (``max_retries: 1``), and
``openai-slow`` times out after one second without retrying.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from support import assert_error, catalog_rows
from upstream_support import (
    FILEGATE_ID,
    Fake,
    client,
    config_kwargs,
    post_file,
    sdk,
    spool_files,
    start_servers,
    stop_servers,
    wipe,
)

from tests.conftest import ServerProcess

DATA = os.urandom(1 << 20)
ATTEMPTS = 2  # max_retries: 1


@pytest.fixture(scope="module")
def srv(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("errors")
    started = start_servers(base, {"cfg": config_kwargs(base / "filegate.yaml", fake)})
    yield started["cfg"]
    stop_servers(started)


@pytest.fixture
def c(fake: Fake, srv: ServerProcess) -> Iterator[httpx.Client]:
    with client(srv) as http:
        wipe(http)
        fake.reset()
        yield http


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_no_record(c: httpx.Client, srv: ServerProcess, fake: Fake) -> None:
    """A failed upload leaves nothing: no listing, no catalog row, no spool file, no copy."""
    assert c.get("/v1/files").json()["data"] == []
    assert catalog_rows(srv.data_dir) == []
    assert spool_files(srv) == []
    assert fake.files() == []
    assert list((fake.state_dir / "tmp").iterdir()) == []


def creates(fake: Fake) -> list[dict[str, Any]]:
    return fake.requests(op="create")


# --- statuses passed through ------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 429])
def test_client_errors_pass_through_in_openais_envelope(
    fake: Fake, srv: ServerProcess, c: httpx.Client, status: int
) -> None:
    headers = {"retry-after": "7", "retry-after-ms": "10"} if status == 429 else {}
    body = {
        "error": {
            "message": f"upstream said {status}",
            "type": "invalid_request_error",
            "param": "file",
            "code": f"upstream_{status}",
        }
    }
    fake.fault(op="create", surface="openai", status=status, times=None, headers=headers, body=body)
    r = post_file(c, DATA, custom_llm_provider="openai")
    err = assert_error(r, status, param="file", code=f"upstream_{status}")
    assert "upstream said" in err["message"]
    if status == 429:
        assert r.headers["retry-after"] == "7"
        assert len(creates(fake)) == ATTEMPTS  # a rate limit is retried first
    else:
        assert len(creates(fake)) == 1
    assert_no_record(c, srv, fake)


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (409, openai.ConflictError),
        (429, openai.RateLimitError),
    ],
)
def test_azure_error_bodies_reach_the_sdk_as_openai_errors(
    fake: Fake,
    srv: ServerProcess,
    c: httpx.Client,
    status: int,
    error_class: type[openai.APIStatusError],
) -> None:
    # The fake's own Azure error body for the status: {"error": {"code", "message"}}.
    fake.fault(op="create", surface="azure", status=status, times=None,
               headers={"retry-after-ms": "10"})  # fmt: skip
    with pytest.raises(error_class) as caught:
        sdk(srv, base="/azure/v1").files.create(
            file=("a.txt", b"to azure", "text/plain"), purpose="assistants"
        )
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
    assert body["message"].startswith("azure: ") and body["code"]
    assert_no_record(c, srv, fake)


def test_azure_inner_error_code_is_the_code(
    fake: Fake, srv: ServerProcess, c: httpx.Client
) -> None:
    fake.fault(
        op="create",
        surface="azure",
        status=400,
        body={
            "error": {
                "code": "invalidPayload",
                "message": "The file could not be parsed.",
                "param": "file",
                "type": "invalid_request_error",
                "inner_error": {"code": "invalidFileFormat"},
            }
        },
    )
    r = post_file(c, b"x", model="azure-v1")
    err = assert_error(r, 400, param="file", code="invalidFileFormat")
    assert err["message"] == "azure: The file could not be parsed."
    # A genuine Azure validation error (fine-tune files need a .jsonl name).
    r = post_file(c, b'{"a": 1}\n', model="azure-v1", purpose="fine-tune", filename="t.txt")
    err = assert_error(r, 400, param="file", code="invalidPayload")
    assert "wrong suffix" in err["message"]
    assert_no_record(c, srv, fake)


@pytest.mark.parametrize(("status", "expected"), [(500, 502), (502, 502), (503, 502), (504, 504)])
def test_server_errors_become_502_after_retries(
    fake: Fake, srv: ServerProcess, c: httpx.Client, status: int, expected: int
) -> None:
    fake.fault(op="create", surface="openai", status=status, times=None)
    r = post_file(c, DATA, custom_llm_provider="openai")
    err = assert_error(r, expected)
    assert err["type"] == ("upstream_error" if expected == 502 else "timeout_error")
    attempts = creates(fake)
    assert len(attempts) == ATTEMPTS
    assert all(e["status"] == status and e["body_complete"] for e in attempts)
    assert_no_record(c, srv, fake)


def test_an_upstream_slower_than_the_timeout_is_a_504(
    fake: Fake, srv: ServerProcess, c: httpx.Client
) -> None:
    # The fake answers (an error, so it makes nothing) only after the 1 s timeout.
    fake.fault(op="create", surface="openai", delay=2.5, status=500, times=None)
    r = post_file(c, DATA, model="openai-slow")
    assert_error(r, 504, code="upstream_timeout")
    # A create that may have reached the upstream is not sent twice.
    assert len(creates(fake)) == 1
    assert c.get("/v1/files").json()["data"] == []
    assert catalog_rows(srv.data_dir) == [] and spool_files(srv) == []

    (raw,) = fake.seed(surface="openai")
    fake.fault(op="retrieve", surface="openai", delay=2.5, status=500, times=None)
    assert_error(c.get(f"/v1/files/{raw['id']}", params={"model": "openai-slow"}), 504)


# --- retries from the spooled copy -------------------------------------------------------------


def test_a_failed_attempt_is_retried_from_the_spool(
    fake: Fake, srv: ServerProcess, c: httpx.Client
) -> None:
    fake.fault(op="create", surface="openai", status=500, times=1)
    r = post_file(c, DATA, custom_llm_provider="openai", filename="retry.bin")
    assert r.status_code == 200, r.text
    assert FILEGATE_ID.fullmatch(r.json()["id"])
    first, second = creates(fake)
    assert (first["status"], second["status"]) == (500, 200)
    for attempt in (first, second):
        assert attempt["content_length"] == attempt["body_bytes"]
        assert attempt["body_complete"] is True
        assert attempt["multipart"]["file"]["sha256"] == sha256(DATA)
    (stored,) = fake.files()
    assert stored["sha256"] == sha256(DATA)
    assert c.get(f"/v1/files/{r.json()['id']}/content").content == DATA
    assert spool_files(srv) == []


def test_a_connection_dropped_mid_upload_is_retried(
    fake: Fake, srv: ServerProcess, c: httpx.Client
) -> None:
    fake.fault(op="create", surface="openai", after_bytes=256 * 1024, drop=True, times=1)
    r = post_file(c, DATA, custom_llm_provider="openai")
    assert r.status_code == 200, r.text
    first, second = creates(fake)
    assert first["dropped"] is True and first["body_bytes"] == 256 * 1024
    assert first["body_complete"] is False
    assert second["status"] == 200 and second["multipart"]["file"]["sha256"] == sha256(DATA)
    (stored,) = fake.files()
    assert stored["sha256"] == sha256(DATA)
    assert spool_files(srv) == []


def test_a_connection_dropped_on_every_attempt_leaves_no_record(
    fake: Fake, srv: ServerProcess, c: httpx.Client
) -> None:
    fake.fault(op="create", surface="openai", after_bytes=256 * 1024, drop=True, times=None)
    r = post_file(c, DATA, custom_llm_provider="openai")
    err = assert_error(r, 502, code="upstream_unreachable")
    # A tenant is not told where the gateway's upstreams are (the SDK names the URL).
    assert fake.url.split("//")[1] not in err["message"], err
    attempts = creates(fake)
    assert len(attempts) == ATTEMPTS and all(e["dropped"] for e in attempts)
    assert_no_record(c, srv, fake)


# --- later operations ----------------------------------------------------------------------


def test_errors_on_later_operations(fake: Fake, srv: ServerProcess, c: httpx.Client) -> None:
    made = post_file(c, DATA, custom_llm_provider="openai").json()
    fake.fault(op="content", surface="openai", status=404, times=None)
    assert_error(c.get(f"/v1/files/{made['id']}/content"), 404)
    fake.admin("DELETE", "faults")
    fake.fault(op="content", surface="openai", status=503, times=None)
    assert_error(c.get(f"/v1/files/{made['id']}/content"), 502)
    fake.admin("DELETE", "faults")
    fake.fault(op="content", surface="openai", status=503, times=1)  # retried, then fine
    assert c.get(f"/v1/files/{made['id']}/content").content == DATA

    # An Azure copy still being processed whose refresh fails: the catalog's status,
    # not an error.
    fake.config(azure_status_steps=["running"])
    pending = post_file(c, b"azure", custom_llm_provider="azure").json()
    assert pending["status"] == "uploaded"
    [azure_copy] = [f for f in fake.files() if f["surface"] == "azure"]
    fake.fault(op="retrieve", surface="azure", status=500, times=None)
    fake.admin("POST", "azure-status", {"id": azure_copy["id"], "status": "processed"})
    r = c.get(f"/v1/files/{pending['id']}")
    assert r.status_code == 200 and r.json()["status"] == "uploaded"
    fake.admin("DELETE", "faults")
    assert c.get(f"/v1/files/{pending['id']}").json()["status"] == "processed"

    # A delete whose first upstream attempt fails is retried; the copy goes.
    fake.fault(op="delete", surface="openai", status=503, times=1)
    assert c.delete(f"/v1/files/{made['id']}").json()["deleted"] is True
    assert [e["status"] for e in fake.requests(op="delete")] == [503, 200]
    assert made["id"] not in [f["id"] for f in c.get("/v1/files").json()["data"]]
    assert [f["surface"] for f in fake.files()] == ["azure"]


# --- several deployments, one failing ------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), [(400, 400), (503, 502)])
def test_a_partial_multi_target_failure_removes_the_copies_made(
    fake: Fake, srv: ServerProcess, c: httpx.Client, status: int, expected: int
) -> None:
    # Both OpenAI deployments share the fake's OpenAI surface, so the failing one is Azure.
    fake.fault(op="create", surface="azure", status=status, times=None)
    r = post_file(c, DATA, target_model_names="openai,azure")
    assert_error(r, expected)
    (made,) = fake.requests(op="create", api="openai")
    assert made["status"] == 200 and made["file_id"]
    assert fake.requests(op="create", api="azure-classic")
    (removed,) = fake.requests(op="delete")
    assert removed["api"] == "openai" and removed["file_id"] == made["file_id"]
    assert removed["status"] == 200
    assert_no_record(c, srv, fake)
