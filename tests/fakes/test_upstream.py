"""Tests of the fake OpenAI / Azure OpenAI Files upstream (tests/fakes/upstream.py).

The fake runs as a real process on a free port (one per module, reset before every test) and is
driven with the official ``openai`` SDK (``OpenAI`` and ``AzureOpenAI``) and raw ``httpx``.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import openai
import pytest

from tests.conftest import RssSampler
from tests.integration.upstream_support import (
    AAD_TOKEN,
    AZURE_KEY,
    CLASSIC_VERSION,
    OPENAI_KEY,
    Fake,
    running_fake,
)

AZURE_VERSION = CLASSIC_VERSION
AZURE_401 = {
    "error": {
        "code": "401",
        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make "
        "sure to provide a valid key for an active subscription and use a correct regional API "
        "endpoint for your resource.",
    }
}


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fake]:
    with running_fake(tmp_path_factory.mktemp("fake-upstream")) as f:
        yield f


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.admin("POST", "reset")


def multipart(
    fields: list[tuple[str, str]],
    file: tuple[str, bytes, str | None] | None,
    boundary: str = "fake-boundary-7MA4YWxkTrZu0gW",
) -> tuple[bytes, dict[str, str]]:
    """A hand-built multipart body (lets a test omit the file part's Content-Type)."""
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    if file is not None:
        filename, data, ctype = file
        out += (
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{filename}"\r\n'
        ).encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), {"content-type": f"multipart/form-data; boundary={boundary}"}


# =================================================================================================
# OpenAI surface
# =================================================================================================


def test_openai_sdk_every_operation(fake: Fake) -> None:
    client = fake.oai()
    created = client.files.create(file=("notes.txt", b"hello upstream"), purpose="assistants")
    assert re.fullmatch(r"file-[A-Za-z0-9]{24}", created.id)
    assert (created.status, created.bytes, created.filename) == ("processed", 14, "notes.txt")
    assert created.purpose == "assistants" and created.expires_at is None

    older = fake.seed(surface="openai", purpose="batch", count=4, created_at=1_700_000_000)
    page = client.files.list(limit=2)
    assert page.has_more is True and len(page.data) == 2 and page.data[0].id == created.id
    ids = [f.id for f in client.files.list(limit=2)]  # auto-pagination must end
    assert ids == [created.id, *[f["id"] for f in reversed(older)]]
    asc = client.files.list(order="asc", limit=1)
    assert asc.data[0].id == older[0]["id"]
    assert [f.id for f in client.files.list(purpose="assistants")] == [created.id]

    assert client.files.retrieve(created.id) == created
    assert client.files.content(created.id).content == b"hello upstream"
    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "file")
    for call in (client.files.retrieve, client.files.delete, client.files.content):
        with pytest.raises(openai.NotFoundError) as err:
            call(created.id)
        assert err.value.body == {
            "message": f"No such File object: {created.id}",
            "type": "invalid_request_error",
            "param": "id",
            "code": None,
        }


def test_openai_expiry(fake: Fake) -> None:
    client = fake.oai()
    batch = client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch")
    assert batch.expires_at == batch.created_at + 2_592_000  # batch files: 30 days by default
    short = client.files.create(
        file=("b.jsonl", b"{}\n"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert short.expires_at == short.created_at + 3600
    gone = fake.seed(surface="openai", expires_at=int(time.time()) - 5)[0]
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(gone["id"])
    assert gone["id"] not in [f.id for f in client.files.list()]


@pytest.mark.parametrize(
    ("fields", "file", "param", "code", "message"),
    [
        ([("purpose", "batches")], True, "purpose", "invalid_value",
         "Invalid value: 'batches'. Supported values are: 'assistants', 'batch', 'fine-tune', "
         "'vision', 'user_data', and 'evals'."),
        ([], True, "purpose", "missing_required_parameter",
         "Missing required parameter: 'purpose'."),
        ([("purpose", "batch")], False, "file", "missing_required_parameter",
         "Missing required parameter: 'file'."),
        ([("purpose", "batch"), ("custom_llm_provider", "openai")], True, "custom_llm_provider",
         "unknown_parameter", "Unknown parameter: 'custom_llm_provider'."),
        ([("purpose", "batch"), ("expires_after[anchor]", "created_at"),
          ("expires_after[seconds]", "60")], True, "expires_after.seconds",
         "integer_below_min_value",
         "Invalid 'expires_after.seconds': integer below minimum value. Expected a value >= "
         "3600, but got 60 instead."),
        ([("purpose", "batch"), ("expires_after[anchor]", "created_at"),
          ("expires_after[seconds]", "2592001")], True, "expires_after.seconds",
         "integer_above_max_value",
         "Invalid 'expires_after.seconds': integer above maximum value. Expected a value <= "
         "2592000, but got 2592001 instead."),
        ([("purpose", "batch"), ("expires_after[anchor]", "now"),
          ("expires_after[seconds]", "3600")], True, "expires_after.anchor", "invalid_value",
         "Invalid value: 'now'. Supported values are: 'created_at'."),
        ([("purpose", "batch"), ("expires_after[anchor]", "created_at")], True,
         "expires_after.seconds", "missing_required_parameter",
         "Missing required parameter: 'expires_after.seconds'."),
    ],
)  # fmt: skip
def test_openai_create_validation(
    fake: Fake, fields: list[tuple[str, str]], file: bool, param: str, code: str, message: str
) -> None:
    body, headers = multipart(fields, ("a.jsonl", b"{}\n", "application/jsonl") if file else None)
    r = httpx.post(
        f"{fake.url}/v1/files",
        content=body,
        headers={**headers, "authorization": f"Bearer {OPENAI_KEY}"},
    )
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }
    assert fake.files() == [] and list((fake.state_dir / "tmp").iterdir()) == []


def test_openai_list_validation_and_unknown_routes(fake: Fake) -> None:
    auth = {"authorization": f"Bearer {OPENAI_KEY}"}
    for query, param, code in [
        ("limit=0", "limit", "integer_below_min_value"),
        ("limit=10001", "limit", "integer_above_max_value"),
        ("limit=ten", "limit", "invalid_type"),
        ("order=sideways", "order", "invalid_value"),
    ]:
        r = httpx.get(f"{fake.url}/v1/files?{query}", headers=auth)
        assert r.status_code == 400, query
        err = r.json()["error"]
        assert (err["param"], err["code"], err["type"]) == (param, code, "invalid_request_error")
    r = httpx.post(f"{fake.url}/v1/files", json={"purpose": "batch"}, headers=auth)
    assert r.status_code == 400 and "expected multipart/form-data" in r.json()["error"]["message"]
    r = httpx.get(f"{fake.url}/v1/uploads/x", headers=auth)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Invalid URL (GET /v1/uploads/x)"


def test_openai_auth_errors(fake: Fake) -> None:
    r = httpx.get(f"{fake.url}/v1/files")
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["message"].startswith("You didn't provide an API key.")
    assert (err["type"], err["param"], err["code"]) == ("invalid_request_error", None, None)
    with pytest.raises(openai.AuthenticationError) as exc:
        fake.oai(api_key="sk-wrong-key-123456").files.list()
    assert exc.value.status_code == 401 and exc.value.code == "invalid_api_key"
    assert exc.value.body == {
        "message": "Incorrect API key provided: sk-************3456. You can find your API key "
        "at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    assert exc.value.response.headers["x-request-id"].startswith("req_")


def test_request_log_records_the_wire(fake: Fake) -> None:
    client = fake.oai(organization="org-fg", project="proj-fg")
    data = b'{"custom_id": "1"}\n' * 100
    created = client.files.create(
        file=("input.jsonl", data, "application/jsonl"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 7200},
    )
    (entry,) = fake.requests(op="create")
    assert (entry["method"], entry["path"], entry["surface"], entry["status"]) == (
        "POST", "/v1/files", "openai", 200,
    )  # fmt: skip
    assert entry["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert entry["headers"]["openai-organization"] == "org-fg"
    assert (entry["openai_organization"], entry["openai_project"]) == ("org-fg", "proj-fg")
    assert entry["content_length"] == entry["body_bytes"] > len(data)
    assert entry["transfer_encoding"] is None and entry["body_complete"] is True
    mp = entry["multipart"]
    assert mp["fields"] == ["purpose", "expires_after[anchor]", "expires_after[seconds]", "file"]
    assert mp["values"] == {
        "purpose": "batch",
        "expires_after[anchor]": "created_at",
        "expires_after[seconds]": "7200",
    }
    assert mp["file"] == {
        "field": "file",
        "filename": "input.jsonl",
        "content_type": "application/jsonl",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert entry["file_id"] == created.id
    (stored,) = fake.files()
    assert (stored["organization"], stored["project"]) == ("org-fg", "proj-fg")

    # A chunked upload (no Content-Length) is recorded as such.
    body, headers = multipart([("purpose", "user_data")], ("c.bin", b"x" * 5000, "text/plain"))
    r = httpx.post(
        f"{fake.url}/v1/files",
        content=iter([body[:1000], body[1000:]]),
        headers={**headers, "authorization": f"Bearer {OPENAI_KEY}"},
    )
    assert r.status_code == 200
    chunked = fake.requests(op="create")[-1]
    assert chunked["transfer_encoding"] == "chunked" and chunked["content_length"] is None
    assert chunked["body_bytes"] == len(body) and chunked["multipart"]["file"]["size"] == 5000
    assert [e["op"] for e in fake.requests()] == ["create", "create"]  # admin calls not logged


# =================================================================================================
# Azure surfaces
# =================================================================================================


def test_azure_classic_sdk_every_operation(fake: Fake) -> None:
    client = fake.azure()
    raw = client.files.with_raw_response.create(
        file=("train.jsonl", b'{"messages": []}\n'), purpose="fine-tune"
    )
    created = raw.parse()
    assert raw.status_code == 201
    assert raw.headers["location"] == f"{fake.url}/openai/files/{created.id}"
    assert raw.headers["apim-request-id"]
    assert re.fullmatch(r"file-[0-9a-f]{32}", created.id)
    assert (created.status, created.purpose, created.bytes) == ("pending", "fine-tune", 17)
    assert [client.files.retrieve(created.id).status for _ in range(3)] == [
        "running", "processed", "processed",
    ]  # fmt: skip

    listing = httpx.get(
        f"{fake.url}/openai/files",
        params={"api-version": AZURE_VERSION},
        headers={"api-key": AZURE_KEY},
    ).json()
    assert set(listing) == {"object", "data"}  # 2024-10-21 FileList: no pagination fields
    assert [f.id for f in client.files.list().data] == [created.id]
    assert client.files.content(created.id).content == b'{"messages": []}\n'
    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)
    with pytest.raises(openai.NotFoundError) as err:
        client.files.retrieve(created.id)
    assert err.value.body == {
        "code": "notFound",
        "message": f"File with id '{created.id}' not found.",
    }

    assistant = client.files.create(file=("doc.pdf", b"%PDF-1.4"), purpose="assistants")
    assert re.fullmatch(r"assistant-[A-Za-z0-9]{24}", assistant.id)
    entries = fake.requests(surface="azure", op="create")
    assert entries[0]["query_params"] == {"api-version": AZURE_VERSION}
    assert entries[0]["headers"]["api-key"] == AZURE_KEY and entries[0]["status"] == 201
    assert entries[0]["api"] == "azure-classic"


def test_azure_auth_and_api_versions(fake: Fake) -> None:
    assert fake.azure(azure_ad_token=AAD_TOKEN).files.list().data == []
    assert fake.requests()[-1]["headers"]["authorization"] == f"Bearer {AAD_TOKEN}"
    with pytest.raises(openai.AuthenticationError):
        fake.azure(api_key="wrong").files.list()

    def get(path: str, **headers: str) -> httpx.Response:
        return httpx.get(f"{fake.url}{path}", headers=headers)

    assert get(f"/openai/files?api-version={AZURE_VERSION}", **{"api-key": "nope"}).json() == (
        AZURE_401
    )
    r = get(f"/openai/files?api-version={AZURE_VERSION}", authorization=f"Bearer {AZURE_KEY}")
    assert r.status_code == 401  # classic: a bearer must be an Entra token
    r = get("/openai/files", **{"api-key": AZURE_KEY})
    assert (r.status_code, r.json()) == (
        404,
        {"error": {"code": "404", "message": "Resource not found"}},
    )
    bad_version = {"error": {"code": "BadRequest", "message": "API version not supported"}}
    r = get("/openai/files?api-version=2099-01-01", **{"api-key": AZURE_KEY})
    assert (r.status_code, r.json()) == (400, bad_version)
    for path in ("/openai/v1/files", "/openai/v1/files?api-version=preview",
                 "/openai/v1/files?api-version=v1"):  # fmt: skip
        assert get(path, authorization=f"Bearer {AZURE_KEY}").status_code == 200, path
    r = get(f"/openai/v1/files?api-version={AZURE_VERSION}", **{"api-key": AZURE_KEY})
    assert (r.status_code, r.json()) == (400, bad_version)
    r = get(f"/openai/deployments?api-version={AZURE_VERSION}", **{"api-key": AZURE_KEY})
    assert r.status_code == 404


def test_azure_v1_surface(fake: Fake) -> None:
    client = fake.azure_v1()
    raw = client.files.with_raw_response.create(file=("b.jsonl", b"{}\n"), purpose="batch")
    created = raw.parse()
    assert raw.status_code == 200 and str(created.status) == "pending"  # v1 spec: createFile -> 200
    fake.seed(surface="azure", count=3, created_at=1_700_000_000)
    page = client.files.list(limit=2)
    assert page.has_more is True and page.data[0].id == created.id
    assert len(list(client.files.list(limit=2))) == 4  # pagination ends
    assert str(client.files.retrieve(created.id).status) == "running"
    assert fake.azure().files.retrieve(created.id).status == "processed"  # one shared store

    body, headers = multipart([("purpose", "vision")], ("a.png", b"\x89PNG", "image/png"))
    r = httpx.post(
        f"{fake.url}/openai/v1/files", content=body, headers={**headers, "api-key": AZURE_KEY}
    )
    assert (r.status_code, r.json()) == (400, {"error": {
        "code": "invalidPayload",
        "message": "Invalid value for purpose.",
        "param": "purpose",
        "type": "invalid_request_error",
        "inner_error": {"code": "invalidPayload"},
    }})  # fmt: skip

    with pytest.raises(openai.BadRequestError) as err:  # Azure allows 14..30 days only
        client.files.create(
            file=("b.jsonl", b"{}\n"),
            purpose="batch",
            expires_after={"anchor": "created_at", "seconds": 3600},
        )
    assert cast(dict[str, Any], err.value.body)["param"] == "expires_after.seconds"
    kept = client.files.create(
        file=("b.jsonl", b"{}\n"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 1_209_600},
    )
    assert kept.expires_at == kept.created_at + 1_209_600
    # Dated api-versions before 2025-03-01-preview do not know expires_after.
    old = fake.azure().files.create(
        file=("b.jsonl", b"{}\n"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 1_209_600},
    )
    assert old.expires_at is None
    new = fake.azure(api_version="2025-03-01-preview").files.create(
        file=("b.jsonl", b"{}\n"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 1_209_600},
    )
    assert new.expires_at == new.created_at + 1_209_600


@pytest.mark.parametrize(
    ("fields", "file", "message"),
    [
        ([("purpose", "vision")], ("a.jsonl", b"{}\n", "application/jsonl"),
         "Invalid value for purpose."),
        ([("purpose", "batch")], ("a.jsonl", b"{}\n", None),
         "The file has no or an empty content type specified."),
        ([("purpose", "fine-tune")], ("train.pdf", b"%PDF", "application/pdf"),
         "fileName contains an invalid filename: wrong suffix."),
    ],
)  # fmt: skip
def test_azure_classic_400_shapes(
    fake: Fake, fields: list[tuple[str, str]], file: tuple[str, bytes, str | None], message: str
) -> None:
    body, headers = multipart(fields, file)
    r = httpx.post(
        f"{fake.url}/openai/files?api-version={AZURE_VERSION}",
        content=body,
        headers={**headers, "api-key": AZURE_KEY},
    )
    assert (r.status_code, r.json()) == (
        400,
        {"error": {"code": "invalidPayload", "message": message}},
    )
    assert "apim-request-id" in r.headers


def test_azure_status_controls(fake: Fake) -> None:
    client = fake.azure()
    fake.admin("POST", "config", {"azure_status_steps": ["processed"]})
    quick = client.files.create(file=("a.jsonl", b"{}\n"), purpose="batch")
    assert str(quick.status) == "pending" and client.files.retrieve(quick.id).status == "processed"

    fake.admin("POST", "config", {"azure_status_steps": []})
    stuck = client.files.create(file=("a.jsonl", b"{}\n"), purpose="batch")
    assert [client.files.retrieve(stuck.id).status for _ in range(3)] == ["pending"] * 3
    fake.admin(
        "POST", "azure-status", {"id": stuck.id, "status": "error", "status_details": "bad line 3"}
    )
    failed = client.files.retrieve(stuck.id)
    assert (failed.status, failed.status_details) == ("error", "bad line 3")
    assert {f.id: f.status for f in client.files.list().data}[stuck.id] == "error"

    fake.admin("POST", "config", {"azure_classic_list": "paginated"})
    listing = httpx.get(
        f"{fake.url}/openai/files?api-version={AZURE_VERSION}&limit=1",
        headers={"api-key": AZURE_KEY},
    ).json()
    assert len(listing["data"]) == 1 and listing["has_more"] is True
    r = httpx.post(f"{fake.url}/__admin/config", json={"no_such_knob": 1})
    assert r.status_code == 400


def test_seed_and_admin_files(fake: Fake) -> None:
    seeded = fake.seed(
        surface="azure", purpose="batch", filename="outside.jsonl", content="a\nb\n", count=3
    )
    assert [f["filename"] for f in seeded] == [
        "outside-0.jsonl", "outside-1.jsonl", "outside-2.jsonl",
    ]  # fmt: skip
    listed = fake.azure().files.list().data
    assert {f.id for f in listed} == {f["id"] for f in seeded}
    assert {f.status for f in listed} == {"processed"}
    assert fake.azure().files.content(seeded[0]["id"]).content == b"a\nb\n"
    admin = {f["id"]: f for f in fake.files()}
    assert admin[seeded[0]["id"]]["sha256"] == hashlib.sha256(b"a\nb\n").hexdigest()
    assert admin[seeded[0]["id"]]["origin"] == "seed"
    own = fake.seed(surface="openai", id="file-outside000000000000000", size=1000)[0]
    assert fake.oai().files.retrieve(own["id"]).bytes == 1000
    assert fake.oai().files.list().data[0].id == own["id"]  # surfaces do not mix


# =================================================================================================
# Faults
# =================================================================================================


def test_fault_status_body_and_headers(fake: Fake) -> None:
    client = fake.oai()
    f = client.files.create(file=("a.txt", b"a"), purpose="user_data")
    fake.fault(op="retrieve", surface="openai", status=500)
    with pytest.raises(openai.InternalServerError) as err:
        client.files.retrieve(f.id)
    assert err.value.body == {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    assert client.files.retrieve(f.id).id == f.id  # times=1: used up

    fake.fault(op="list", status=429, body={"error": {"message": "slow down"}},
               headers={"retry-after": "7"}, times=2)  # fmt: skip
    for _ in range(2):
        r = httpx.get(f"{fake.url}/v1/files", headers={"authorization": f"Bearer {OPENAI_KEY}"})
        assert (r.status_code, r.json(), r.headers["retry-after"]) == (
            429, {"error": {"message": "slow down"}}, "7",
        )  # fmt: skip
    assert client.files.list().data[0].id == f.id

    fake.fault(op="any", surface="azure", status=503)
    assert client.files.list().data  # an Azure fault leaves OpenAI alone
    r = httpx.get(f"{fake.url}/openai/v1/files", headers={"api-key": AZURE_KEY})
    assert (r.status_code, r.json()) == (503, {"error": {
        "code": "serviceUnavailable", "message": "The service is currently not available.",
    }})  # fmt: skip
    assert fake.requests(surface="azure")[0]["fault"]["status"] == 503
    assert fake.admin("GET", "faults")["faults"] == []


def test_fault_delay(fake: Fake) -> None:
    fake.fault(op="list", delay=0.6)
    start = time.monotonic()
    assert fake.oai().files.list().data == []
    assert time.monotonic() - start >= 0.6
    fake.fault(op="list", delay=2.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(
            f"{fake.url}/v1/files", headers={"authorization": f"Bearer {OPENAI_KEY}"}, timeout=0.3
        )


@pytest.mark.parametrize("mode", ["reset", "close"])
def test_fault_drop_gives_a_connection_error(fake: Fake, mode: str) -> None:
    f = fake.seed(surface="openai")[0]
    fake.fault(op="retrieve", drop=True, drop_mode=mode)
    with httpx.Client(headers={"authorization": f"Bearer {OPENAI_KEY}"}) as http:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            http.get(f"{fake.url}/v1/files/{f['id']}")
        assert http.get(f"{fake.url}/v1/files/{f['id']}").status_code == 200
    entry = fake.requests(op="retrieve")[0]
    assert entry["dropped"] is True and entry["status"] is None

    fake.fault(op="delete", drop=True)
    with pytest.raises(openai.APIConnectionError):
        fake.oai().files.delete(f["id"])
    assert fake.oai().files.retrieve(f["id"]).id == f["id"]  # nothing was deleted
    log = fake.log_path.read_text()
    assert "Exception in ASGI application" not in log and "returned without" not in log


def test_fault_drop_mid_upload_leaves_nothing(fake: Fake, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 << 20))
    fake.fault(op="create", after_bytes=1 << 20, drop=True)
    with (
        big.open("rb") as fh,
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)),
    ):
        httpx.post(
            f"{fake.url}/openai/files?api-version={AZURE_VERSION}",
            data={"purpose": "batch"},
            files={"file": ("big.jsonl", fh, "application/jsonl")},
            headers={"api-key": AZURE_KEY},
        )
    (entry,) = fake.requests(op="create")
    assert entry["dropped"] is True and entry["body_bytes"] == 1 << 20
    assert entry["body_complete"] is False and entry["content_length"] > 4 << 20
    assert 0 < entry["multipart"]["file"]["size"] < 1 << 20
    assert fake.files() == [] and list((fake.state_dir / "tmp").iterdir()) == []
    assert fake.azure().files.list().data == []


def test_fault_after_bytes_status_and_stall(fake: Fake) -> None:
    client = fake.oai()
    fake.fault(op="create", after_bytes=100_000, status=503)
    with pytest.raises(openai.InternalServerError) as err:
        client.files.create(file=("a.bin", b"z" * 500_000), purpose="user_data")
    assert err.value.status_code == 503
    (entry,) = fake.requests(op="create")
    assert entry["body_complete"] is True and entry["status"] == 503
    assert entry["body_bytes"] == entry["content_length"]
    assert fake.files() == []

    fake.fault(op="create", after_bytes=1000, delay=0.5)  # stall mid-upload, then carry on
    start = time.monotonic()
    ok = client.files.create(file=("a.bin", b"z" * 50_000), purpose="user_data")
    assert time.monotonic() - start >= 0.5 and ok.bytes == 50_000


def test_fault_content_drop_mid_download(fake: Fake) -> None:
    f = fake.seed(surface="openai", size=1_000_000)[0]
    fake.fault(op="content", after_bytes=300_000, drop=True, drop_mode="close")
    got = bytearray()
    with (
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
        httpx.stream(
            "GET",
            f"{fake.url}/v1/files/{f['id']}/content",
            headers={"authorization": f"Bearer {OPENAI_KEY}"},
        ) as r,
    ):
        assert r.status_code == 200 and r.headers["content-length"] == "1000000"
        for chunk in r.iter_bytes():
            got += chunk
    assert len(got) == 300_000
    assert bytes(got) == fake.oai().files.content(f["id"]).content[:300_000]


# =================================================================================================
# Memory
# =================================================================================================


def test_64mb_upload_and_download_with_flat_memory(fake: Fake, tmp_path: Path) -> None:
    size = 64 << 20
    src = tmp_path / "big.jsonl"
    block = os.urandom(1 << 20)
    with src.open("wb") as out:
        for i in range(64):
            out.write(block[i:] + block[:i])
    with src.open("rb") as fh:
        want = hashlib.file_digest(fh, "sha256").hexdigest()
    fake.oai().files.create(file=("warm.txt", b"warm"), purpose="user_data")  # warm-up
    baseline = fake.rss()
    headers = {"authorization": f"Bearer {OPENAI_KEY}"}
    with RssSampler(fake.proc.pid, interval=0.01) as peak, src.open("rb") as fh:
        r = httpx.post(
            f"{fake.url}/v1/files",
            data={"purpose": "batch"},
            files={"file": ("big.jsonl", fh, "application/jsonl")},
            headers=headers,
            timeout=60,
        )
    assert r.status_code == 200 and r.json()["bytes"] == size
    assert peak.peak - baseline < 50 << 20, f"upload grew RSS by {(peak.peak - baseline) >> 20} MB"
    stored = {f["id"]: f for f in fake.files()}[r.json()["id"]]
    assert stored["sha256"] == want and Path(stored["path"]).stat().st_size == size

    digest = hashlib.sha256()
    with (
        RssSampler(fake.proc.pid, interval=0.01) as peak,
        httpx.stream(
            "GET", f"{fake.url}/v1/files/{r.json()['id']}/content", headers=headers
        ) as resp,
    ):
        for chunk in resp.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == want
    assert peak.peak - baseline < 50 << 20, (
        f"download grew RSS by {(peak.peak - baseline) >> 20} MB"
    )
