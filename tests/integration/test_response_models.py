"""What the routes answer validates against server/models/, the models the document is
built from: the routes write their answers from records (orjson, no per-request
validation), so this is what keeps the document from drifting from the responses."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pydantic
import pytest

from filegate.server.models import admin, errors, files, health, uploads
from filegate.server.models.base import Answer


@pytest.fixture
def client(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=30) as c:
        yield c


def answers(model: type[Answer], resp: httpx.Response, status: int = 200) -> Any:
    """The body of ``resp``, checked against ``model`` (no extra field, no null left out)."""
    assert resp.status_code == status, resp.text
    model.model_validate_json(resp.content)
    return resp.json()


def test_files_answers(client: httpx.Client) -> None:
    expiry = {"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"}
    made = client.post(
        "/v1/files",
        data={"purpose": "user_data", **expiry},
        files={"file": ("in.txt", b"some text", "text/plain")},
    )
    made_file = answers(files.FileObject, made)
    assert "expires_at" in made_file
    plain = answers(
        files.FileObject,
        client.post(
            "/v1/files",
            data={"purpose": "user_data"},
            files={"file": ("n.txt", b"x", "text/plain")},
        ),
    )
    assert "expires_at" not in plain  # left out, not null
    page = answers(files.FileList, client.get("/v1/files", params={"limit": 2}))
    assert page["data"] and page["first_id"] is not None
    empty = answers(files.FileList, client.get("/v1/files", params={"purpose": "vision"}))
    assert empty["first_id"] is None
    answers(files.FileObject, client.get(f"/v1/files/{made_file['id']}"))
    where = answers(
        files.FileObject,
        client.get(f"/v1/files/{made_file['id']}", params={"include": "locations"}),
    )
    assert [w["deployment"] for w in where["locations"]] == ["filegate"]
    located = answers(files.FileList, client.get("/v1/files", params={"include": "locations"}))
    assert all(f["locations"] for f in located["data"])
    for file_id in (made_file["id"], plain["id"]):
        answers(files.FileDeleted, client.delete(f"/files/{file_id}"))
    answers(errors.ErrorResponse, client.get(f"/v1/files/{plain['id']}"), 404)
    answers(errors.ErrorResponse, client.get("/v1/files", params={"limit": "0"}), 400)
    answers(errors.ErrorResponse, httpx.get(f"{client.base_url}/v1/files"), 401)
    answers(errors.ErrorResponse, client.put("/v1/files"), 405)


def test_upload_answers(client: httpx.Client) -> None:
    data = b"hello, parts"
    body = {"filename": "u.txt", "purpose": "user_data", "bytes": len(data)}
    made = answers(
        uploads.Upload, client.post("/v1/uploads", json=body | {"mime_type": "text/plain"})
    )
    assert made["file"] is None
    url = f"/v1/uploads/{made['id']}"
    part = answers(uploads.UploadPart, client.post(f"{url}/parts", files={"data": ("b", data)}))
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    done = answers(
        uploads.Upload, client.post(f"{url}/complete", json={"part_ids": [part["id"]], "md5": md5})
    )
    assert done["status"] == "completed" and done["file"]["bytes"] == len(data)
    answers(errors.ErrorResponse, client.post(f"{url}/cancel"), 400)
    other = answers(
        uploads.Upload, client.post("/uploads", json=body | {"mime_type": "text/plain"})
    )
    cancelled = answers(uploads.Upload, client.post(f"/uploads/{other['id']}/cancel"))
    assert cancelled["status"] == "cancelled"
    answers(files.FileDeleted, client.delete(f"/v1/files/{done['file']['id']}"))


def test_admin_answers(client: httpx.Client, server: Any) -> None:
    tag = secrets.token_hex(4)
    team = answers(
        admin.TeamInfo,
        client.post("/team/new", json={"team_id": f"t-{tag}", "max_files": 5, "metadata": {}}),
    )
    assert team["max_files"] == 5 and "rpm" not in team
    limits = {"max_file_size": "1MiB", "rpm": 100, "allowed_purposes": ["batch"]}
    made = answers(
        admin.GeneratedKey,
        client.post(
            "/key/generate",
            json={"key_alias": f"k-{tag}", "team_id": team["team_id"], "duration": "1h"} | limits,
        ),
    )
    assert made["expires"] is not None and made["max_file_size"] == 1024**2
    bare = answers(admin.GeneratedKey, client.post("/key/generate", json={}))
    assert bare["expires"] is None and bare["key_alias"] is None
    answers(admin.KeyInfoResponse, client.get("/key/info", params={"key": made["token"]}))
    own = httpx.get(
        f"{server.base_url}/key/info", headers={"Authorization": f"Bearer {made['key']}"}
    )
    answers(admin.KeyInfoResponse, own)
    for full in ("true", "false"):
        listed = client.get("/key/list", params={"return_full_object": full, "size": 2})
        answers(admin.KeyListResponse, listed)
    changed = client.post("/key/update", json={"key": made["token"], "rpm": None, "user_id": "u"})
    assert "rpm" not in answers(admin.KeyInfo, changed)
    info = client.get("/team/info", params={"team_id": team["team_id"]})
    assert answers(admin.TeamInfoResponse, info)["keys"] == [made["token"]]
    for each in client.get("/team/list").json():
        admin.TeamInfo.model_validate(each)
    answers(admin.TeamInfo, client.post("/team/update", json={"team_id": team["team_id"]}))
    answers(
        errors.ErrorResponse, client.post("/team/delete", json={"team_ids": [team["team_id"]]}), 400
    )
    deleted = client.post("/key/delete", json={"keys": [made["token"], bare["token"]]})
    answers(admin.DeletedKeys, deleted)
    answers(admin.DeletedTeams, client.post("/team/delete", json={"team_ids": [team["team_id"]]}))
    answers(errors.ErrorResponse, client.post("/key/update", json={"key": "nope"}), 404)
    audit = answers(admin.AuditList, client.get("/audit", params={"limit": 5}))
    assert audit["data"] and audit["data"][0]["object"] == "audit.event"


def test_health_answers(client: httpx.Client) -> None:
    answers(health.Liveliness, client.get("/health/liveliness"))
    answers(health.Readiness, client.get("/health/readiness"))


def test_the_models_catch_drift() -> None:
    """An extra field, a null where a field is left out, a missing one: each is refused."""
    good = {
        "id": "file-x",
        "object": "file",
        "bytes": 1,
        "created_at": 1,
        "filename": "f",
        "purpose": "batch",
        "status": "processed",
    }
    files.FileObject.model_validate(good)
    for bad in ({**good, "extra": 1}, {**good, "expires_at": None}, {"id": "file-x"}):
        with pytest.raises(pydantic.ValidationError):
            files.FileObject.model_validate(bad)
