"""Helpers shared by the integration tests (imported as a plain module)."""

from __future__ import annotations

import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

ERROR_KEYS = {"message", "type", "param", "code"}
_UNSET: Any = object()


def sdk(server: Any, api_key: str | None = None) -> openai.OpenAI:
    """The official client pointed at ``server``; no retries, so errors surface at once."""
    return openai.OpenAI(
        base_url=server.api_url,
        api_key=api_key or server.master_key or "unused",
        max_retries=0,
        timeout=60,
    )


def assert_error(
    resp: httpx.Response,
    status: int,
    *,
    param: str | None = _UNSET,
    code: str | None = _UNSET,
    type_: str | None = _UNSET,
) -> dict[str, Any]:
    """Check OpenAI's error envelope exactly and return its inner object."""
    assert resp.status_code == status, f"{resp.status_code}: {resp.text}"
    assert resp.headers.get("x-request-id"), "every response carries x-request-id"
    assert resp.headers.get("content-type", "").startswith("application/json")
    body = resp.json()
    assert list(body) == ["error"], body
    err = body["error"]
    assert set(err) == ERROR_KEYS, err
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["type"], str) and err["type"]
    assert err["param"] is None or isinstance(err["param"], str)
    assert err["code"] is None or isinstance(err["code"], str)
    if param is not _UNSET:
        assert err["param"] == param, err
    if code is not _UNSET:
        assert err["code"] == code, err
    if type_ is not _UNSET:
        assert err["type"] == type_, err
    return dict(err)


@dataclass(frozen=True)
class Part:
    """One multipart part; ``filename`` makes it a file part."""

    name: str
    value: bytes | str = b""
    filename: str | None = None
    content_type: str | None = None

    def head(self, boundary: str) -> bytes:
        disposition = f'form-data; name="{self.name}"'
        if self.filename is not None:
            disposition += f'; filename="{self.filename}"'
        lines = [f"--{boundary}", f"Content-Disposition: {disposition}"]
        if self.content_type is not None:
            lines.append(f"Content-Type: {self.content_type}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    def data(self) -> bytes:
        return self.value.encode("utf-8") if isinstance(self.value, str) else self.value


def new_boundary() -> str:
    return f"filegate-test-{uuid.uuid4().hex}"


def multipart(parts: Iterable[Part], boundary: str | None = None) -> tuple[bytes, str]:
    """A whole multipart/form-data body, in the given part order, and its content type."""
    boundary = boundary or new_boundary()
    body = b"".join(p.head(boundary) + p.data() + b"\r\n" for p in parts)
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def multipart_stream(
    before: Iterable[Part],
    file_part: Part,
    chunks: Iterable[bytes],
    after: Iterable[Part],
    boundary: str,
) -> Iterator[bytes]:
    """A multipart body produced piece by piece: the file's bytes come from ``chunks``."""
    for p in before:
        yield p.head(boundary) + p.data() + b"\r\n"
    yield file_part.head(boundary)
    yield from chunks
    yield b"\r\n"
    for p in after:
        yield p.head(boundary) + p.data() + b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def seeded_chunks(seed: int, size: int, hasher: Any, chunk: int = 1 << 20) -> Iterator[bytes]:
    """``size`` pseudo-random bytes, ``chunk`` at a time (each one numbered), hashed as they
    are produced: a large body that never sits in memory."""
    block = random.Random(seed).randbytes(chunk)
    for i in range(size // chunk):
        piece = i.to_bytes(8, "big") + block[8:]
        hasher.update(piece)
        yield piece


def streamed_upload(
    fields: Iterable[Part], file_part: Part, chunks: Iterable[bytes], size: int
) -> tuple[Iterator[bytes], dict[str, str]]:
    """A multipart body whose file's ``size`` bytes come from ``chunks``, and its headers
    (Content-Type, an exact Content-Length): the body is produced as it is sent."""
    boundary = new_boundary()
    pieces = list(multipart_stream(fields, file_part, [], [], boundary))

    def body() -> Iterator[bytes]:
        yield from pieces[:-2]  # the fields and the file part's headers
        yield from chunks
        yield from pieces[-2:]  # the end of the file part and the closing boundary

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(sum(len(p) for p in pieces) + size),
    }
    return body(), headers


def stray_files(data_dir: Path) -> list[Path]:
    """Files left in the blob store's temp and blob folders (the readiness probe aside)."""
    found: list[Path] = []
    for sub in ("tmp", "blobs"):
        root = data_dir / "files" / sub
        if root.exists():
            found += [
                p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".probe.")
            ]
    return found


def blob_files(data_dir: Path) -> list[Path]:
    root = data_dir / "files" / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def catalog_rows(data_dir: Path) -> list[dict[str, Any]]:
    """Every row of the catalog's ``files`` table, read with the stdlib driver."""
    with sqlite3.connect(data_dir / "catalog.db", timeout=10) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM files")]


def catalog_execute(data_dir: Path, statement: str, params: Iterable[Any] = ()) -> int:
    """Run one write statement on the catalog; return the affected row count."""
    conn = sqlite3.connect(data_dir / "catalog.db", timeout=10)
    try:
        with conn:
            return conn.execute(statement, tuple(params)).rowcount
    finally:
        conn.close()


def wait_until(
    predicate: Callable[[], bool], timeout: float = 15.0, interval: float = 0.05
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def upload(
    client: httpx.Client,
    data: bytes,
    *,
    purpose: str = "user_data",
    filename: str = "data.bin",
    content_type: str = "application/octet-stream",
    path: str = "/v1/files",
    **fields: str,
) -> dict[str, Any]:
    """Upload with httpx's own multipart encoder and return the file object."""
    resp = client.post(
        path,
        data={"purpose": purpose, **fields},
        files={"file": (filename, data, content_type)},
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def list_all(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every visible file, in one request."""
    resp = client.get("/v1/files", params={"limit": 10000, **params})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["data"])


def assert_no_leftovers(data_dir: Path) -> None:
    """Nothing half-written: every record is READY, no temp file, one blob per record."""
    rows = catalog_rows(data_dir)
    assert [r["id"] for r in rows if r["state"] != "ready"] == []
    tmp = data_dir / "files" / "tmp"
    assert [p.name for p in tmp.iterdir() if not p.name.startswith(".probe.")] == []
    assert sorted(p.name for p in blob_files(data_dir)) == sorted(r["blob_key"] for r in rows)
