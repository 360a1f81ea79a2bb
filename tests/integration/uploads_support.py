"""Helpers for the Uploads API tests (``test_uploads*.py``), imported as a plain module."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import httpx

UPLOAD_KEYS = {
    "id",
    "object",
    "bytes",
    "created_at",
    "expires_at",
    "filename",
    "purpose",
    "status",
    "file",
}
PART_KEYS = {"id", "object", "created_at", "upload_id"}
FILE_KEYS = {"id", "object", "bytes", "created_at", "filename", "purpose", "status"}
UPLOAD_TTL = 3600
MIB = 1024 * 1024


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def check_upload(
    obj: dict[str, Any],
    status: str,
    *,
    nbytes: int | None = None,
    filename: str | None = None,
    purpose: str | None = None,
) -> dict[str, Any]:
    """An Upload object exactly as OpenAI's spec has it."""
    assert set(obj) == UPLOAD_KEYS, obj
    assert obj["object"] == "upload"
    assert obj["id"].startswith("upload_")
    assert obj["status"] == status
    assert isinstance(obj["created_at"], int) and isinstance(obj["expires_at"], int)
    assert obj["expires_at"] == obj["created_at"] + UPLOAD_TTL
    if nbytes is not None:
        assert obj["bytes"] == nbytes
    if filename is not None:
        assert obj["filename"] == filename
    if purpose is not None:
        assert obj["purpose"] == purpose
    if status == "completed":
        file = obj["file"]
        assert FILE_KEYS <= set(file) <= FILE_KEYS | {"expires_at", "status_details"}, file
        assert file["object"] == "file" and file["id"].startswith("file-")
        assert file["bytes"] == obj["bytes"]
        assert (file["filename"], file["purpose"]) == (obj["filename"], obj["purpose"])
    else:
        assert obj["file"] is None
    return obj


def check_part(obj: dict[str, Any], upload_id: str) -> str:
    assert set(obj) == PART_KEYS, obj
    assert obj["object"] == "upload.part"
    assert obj["id"].startswith("part_")
    assert obj["upload_id"] == upload_id
    assert isinstance(obj["created_at"], int)
    return str(obj["id"])


def create(
    c: httpx.Client,
    nbytes: int,
    *,
    filename: str = "data.bin",
    purpose: str = "user_data",
    mime_type: str = "application/octet-stream",
    path: str = "/v1/uploads",
    **extra: Any,
) -> dict[str, Any]:
    body = {"filename": filename, "purpose": purpose, "bytes": nbytes, "mime_type": mime_type}
    r = c.post(path, json={**body, **extra})
    assert r.status_code == 200, r.text
    return check_upload(r.json(), "pending", nbytes=nbytes, filename=filename, purpose=purpose)


def post_part(
    c: httpx.Client, upload_id: str, data: bytes, *, prefix: str = "/v1"
) -> httpx.Response:
    return c.post(
        f"{prefix}/uploads/{upload_id}/parts",
        files={"data": ("upload", data, "application/octet-stream")},
    )


def add_part(c: httpx.Client, upload_id: str, data: bytes, *, prefix: str = "/v1") -> str:
    r = post_part(c, upload_id, data, prefix=prefix)
    assert r.status_code == 200, r.text
    return check_part(r.json(), upload_id)


def complete(
    c: httpx.Client,
    upload_id: str,
    part_ids: list[str],
    md5_: str | None = None,
    *,
    prefix: str = "/v1",
) -> httpx.Response:
    body: dict[str, Any] = {"part_ids": part_ids}
    if md5_ is not None:
        body["md5"] = md5_
    return c.post(f"{prefix}/uploads/{upload_id}/complete", json=body)


def completed(
    c: httpx.Client, upload_id: str, part_ids: list[str], md5_: str | None = None
) -> dict[str, Any]:
    r = complete(c, upload_id, part_ids, md5_)
    assert r.status_code == 200, r.text
    return check_upload(r.json(), "completed")


def blob_path(data_dir: Path, key: str) -> Path:
    """Where the local blob store keeps ``key`` (a part id or a file id)."""
    return data_dir / "files" / "blobs" / key[-2:] / key


def blob_names(data_dir: Path) -> set[str]:
    root = data_dir / "files" / "blobs"
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def upload_row(data_dir: Path, upload_id: str) -> dict[str, Any]:
    with sqlite3.connect(data_dir / "catalog.db", timeout=10) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM uploads WHERE id = ?", (upload_id,)).fetchone()
        assert row is not None, upload_id
        return dict(row)


def part_rows(data_dir: Path, upload_id: str) -> list[str]:
    with sqlite3.connect(data_dir / "catalog.db", timeout=10) as conn:
        rows = conn.execute("SELECT id FROM upload_parts WHERE upload_id = ?", (upload_id,))
        return sorted(r[0] for r in rows)


def new_key(admin: httpx.Client, alias: str) -> str:
    r = admin.post("/key/generate", json={"key_alias": alias})
    assert r.status_code == 200, r.text
    return str(r.json()["key"])
