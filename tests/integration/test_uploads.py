"""The Uploads API on one gateway process: the openai SDK end to end, and every rule over HTTP.

Multi-process, sweep, provider-target and 2 GB cases are in ``test_uploads_shared.py``
and ``test_uploads_large.py``.
"""

from __future__ import annotations

import http.client
import itertools
import os
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from support import (
    Part,
    assert_error,
    catalog_execute,
    list_all,
    multipart,
    multipart_stream,
    new_boundary,
    sdk,
)
from uploads_support import (
    MIB,
    add_part,
    blob_names,
    blob_path,
    check_part,
    check_upload,
    complete,
    completed,
    create,
    md5,
    new_key,
    part_rows,
    post_part,
    upload_row,
)

from tests.conftest import ServerProcess

PART_LIMIT = 64 * MIB


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def keys(server: ServerProcess) -> dict[str, str]:
    """Two virtual keys made with the master key."""
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=30) as admin:
        return {name: new_key(admin, name) for name in ("alice", "bob")}


def as_key(server: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


def download(c: httpx.Client, file_id: str) -> bytes:
    r = c.get(f"/v1/files/{file_id}/content")
    assert r.status_code == 200, r.text
    return r.content


# --------------------------------------------------------------------------- the openai SDK


def test_sdk_upload_file_chunked_from_a_path(server: ServerProcess, tmp_path: Path) -> None:
    data = os.urandom(MIB + 17)
    path = tmp_path / "notes.bin"
    path.write_bytes(data)
    client = sdk(server)
    upload = client.uploads.upload_file_chunked(
        file=path,
        mime_type="application/octet-stream",
        purpose="assistants",
        part_size=256 * 1024,  # 5 parts, the last one 17 bytes
        md5=md5(data),
    )
    assert upload.status == "completed"
    assert (upload.filename, upload.bytes, upload.purpose) == ("notes.bin", len(data), "assistants")
    assert upload.expires_at == upload.created_at + 3600
    assert upload.file is not None
    file = upload.file
    assert (file.bytes, file.filename, file.purpose) == (len(data), "notes.bin", "assistants")
    assert file.status == "processed"
    # The nested file is an ordinary file: retrievable, listed, downloadable.
    assert client.files.retrieve(file.id).model_dump() == file.model_dump()
    assert file.id in [f.id for f in client.files.list()]
    assert client.files.content(file.id).content == data
    # Its parts are gone from the blob store; only the file's blob remains.
    assert blob_path(server.data_dir, file.id).stat().st_size == len(data)
    assert part_rows(server.data_dir, upload.id) == []


def test_sdk_upload_file_chunked_from_bytes(server: ServerProcess) -> None:
    data = b"".join(f"line {i}\n".encode() for i in range(50_000))
    client = sdk(server)
    upload = client.uploads.upload_file_chunked(
        file=data,
        filename="lines.txt",
        bytes=len(data),
        mime_type="text/plain",
        purpose="user_data",
        part_size=100_000,
        md5=md5(data),
    )
    assert upload.status == "completed" and upload.file is not None
    assert upload.file.bytes == len(data)
    assert client.files.content(upload.file.id).content == data
    # A wrong md5 through the SDK: 400 with the server's code.
    with pytest.raises(openai.BadRequestError) as info:
        client.uploads.upload_file_chunked(
            file=b"abc", filename="x.txt", bytes=3, mime_type="text/plain",
            purpose="user_data", md5=md5(b"abd"),
        )  # fmt: skip
    assert info.value.code == "md5_mismatch"


def test_sdk_create_parts_complete_cancel(server: ServerProcess) -> None:
    client = sdk(server)
    upload = client.uploads.create(
        bytes=9, filename="abc.txt", mime_type="text/plain", purpose="user_data"
    )
    assert upload.object == "upload" and upload.status == "pending" and upload.file is None
    assert upload.expires_at == upload.created_at + 3600
    assert (upload.bytes, upload.filename, upload.purpose) == (9, "abc.txt", "user_data")
    parts = [client.uploads.parts.create(upload_id=upload.id, data=d) for d in (b"ghi", b"abc")]
    for part in parts:
        assert (part.object, part.upload_id) == ("upload.part", upload.id)
        assert part.id.startswith("part_")
    third = client.uploads.parts.create(upload_id=upload.id, data=b"def")
    done = client.uploads.complete(
        upload_id=upload.id, part_ids=[parts[1].id, third.id, parts[0].id], md5=md5(b"abcdefghi")
    )
    assert done.status == "completed" and done.id == upload.id
    assert done.expires_at == upload.expires_at and done.created_at == upload.created_at
    assert done.file is not None and done.file.bytes == 9
    assert client.files.content(done.file.id).content == b"abcdefghi"
    with pytest.raises(openai.BadRequestError) as info:
        client.uploads.cancel(upload.id)
    assert info.value.code == "upload_completed"

    other = client.uploads.create(
        bytes=3, filename="c.txt", mime_type="text/plain", purpose="user_data"
    )
    client.uploads.parts.create(upload_id=other.id, data=b"xyz")
    cancelled = client.uploads.cancel(other.id)
    assert cancelled.status == "cancelled" and cancelled.file is None
    assert cancelled.expires_at == other.expires_at
    with pytest.raises(openai.BadRequestError) as info:
        client.uploads.parts.create(upload_id=other.id, data=b"more")
    assert info.value.code == "upload_cancelled"
    with pytest.raises(openai.NotFoundError):
        client.uploads.cancel("upload_doesnotexist")


def test_wire_objects_are_exactly_the_spec(client: httpx.Client, server: ServerProcess) -> None:
    upload = create(client, 4, filename="five.txt", mime_type="text/plain")
    part = add_part(client, upload["id"], b"fi")
    r = post_part(client, upload["id"], b"ve")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    second = check_part(r.json(), upload["id"])
    done = completed(client, upload["id"], [part, second])
    assert {k: done[k] for k in ("id", "bytes", "created_at", "expires_at", "filename")} == {
        k: upload[k] for k in ("id", "bytes", "created_at", "expires_at", "filename")
    }
    file = done["file"]
    assert file["status"] == "processed" and "expires_at" not in file
    assert client.get(f"/v1/files/{file['id']}").json() == file
    assert download(client, file["id"]) == b"five"
    row = upload_row(server.data_dir, upload["id"])
    assert (row["status"], row["file_id"]) == ("completed", file["id"])
    cancelled = create(client, 1)
    r = client.post(f"/v1/uploads/{cancelled['id']}/cancel")
    assert r.status_code == 200
    check_upload(r.json(), "cancelled", nbytes=1)


def test_routes_without_v1(client: httpx.Client) -> None:
    upload = create(client, 4, path="/uploads")
    part = add_part(client, upload["id"], b"nov1", prefix="")
    r = complete(client, upload["id"], [part], prefix="")
    assert r.status_code == 200, r.text
    assert download(client, check_upload(r.json(), "completed")["file"]["id"]) == b"nov1"
    other = create(client, 1, path="/uploads")
    assert client.post(f"/uploads/{other['id']}/cancel").json()["status"] == "cancelled"


def test_expires_after_gives_the_file_an_expiry(server: ServerProcess) -> None:
    client = sdk(server)
    upload = client.uploads.create(
        bytes=2,
        filename="e.txt",
        mime_type="text/plain",
        purpose="user_data",
        expires_after={"anchor": "created_at", "seconds": 7200},
    )
    assert upload.expires_at == upload.created_at + 3600  # the Upload's own hour
    part = client.uploads.parts.create(upload_id=upload.id, data=b"ex")
    done = client.uploads.complete(upload_id=upload.id, part_ids=[part.id])
    assert done.file is not None
    assert done.file.expires_at == done.file.created_at + 7200
    assert client.files.retrieve(done.file.id).expires_at == done.file.expires_at
    # Without expires_after, a batch file gets the 30 days /v1/files gives it.
    line = b'{"custom_id": "1", "method": "POST", "url": "/v1/embeddings", "body": {}}\n'
    batch = client.uploads.upload_file_chunked(
        file=line, filename="b.jsonl", bytes=len(line), mime_type="application/jsonl",
        purpose="batch",
    )  # fmt: skip
    assert batch.file is not None
    assert batch.file.expires_at == batch.file.created_at + 30 * 86400


# --------------------------------------------------------------------------- create rules


def test_at_most_8_gib(client: httpx.Client) -> None:
    body = {"filename": "huge.bin", "purpose": "user_data", "mime_type": "text/plain"}
    r = client.post("/v1/uploads", json={**body, "bytes": 8 * 1024**3 + 1})
    err = assert_error(r, 413, param="bytes", code="file_too_large")
    assert "8589934592" in err["message"]
    # Exactly 8 GiB is fine (no data needs to be sent to see that).
    ok = create(client, 8 * 1024**3, filename="huge.bin", mime_type="text/plain")
    assert client.post(f"/v1/uploads/{ok['id']}/cancel").status_code == 200


@pytest.mark.parametrize(
    ("purpose", "mime_type"),
    [("batch", "image/png"), ("fine-tune", "image/jpeg"), ("vision", "application/jsonl")],
)
def test_mime_type_must_suit_the_purpose(
    client: httpx.Client, purpose: str, mime_type: str
) -> None:
    body = {"filename": "f", "purpose": purpose, "bytes": 10, "mime_type": mime_type}
    err = assert_error(
        client.post("/v1/uploads", json=body), 400, param="mime_type", code="unsupported_mime_type"
    )
    assert mime_type in err["message"] and purpose in err["message"]


def test_suitable_mime_types_are_accepted(client: httpx.Client) -> None:
    for purpose, mime_type in (
        ("batch", "application/jsonl"),
        ("fine-tune", "application/json"),
        ("vision", "image/png"),
        ("assistants", "application/pdf"),
    ):
        upload = create(client, 1, purpose=purpose, mime_type=mime_type)
        assert client.post(f"/v1/uploads/{upload['id']}/cancel").status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"surprise": 1}, "surprise"),
        ({"bytes": "ten"}, "bytes"),
        ({"bytes": -1}, "bytes"),
        ({"bytes": None}, "bytes"),
        ({"filename": None}, "filename"),
        ({"mime_type": "not a mime type"}, "mime_type"),
        ({"purpose": "nonsense"}, "purpose"),
        ({"expires_after": {"anchor": "created_at", "seconds": 7200, "x": 1}}, "expires_after.x"),
        ({"expires_after": {"anchor": "created_at"}}, "expires_after.seconds"),
        ({"expires_after": {"anchor": "created_at", "seconds": 60}}, "expires_after[seconds]"),
        ({"expires_after": {"anchor": "now", "seconds": 7200}}, "expires_after[anchor]"),
        ({"filename": ""}, "filename"),
    ],
)
def test_bad_create_bodies_name_the_field(
    client: httpx.Client, body: dict[str, Any], param: str
) -> None:
    base = {"filename": "f.txt", "purpose": "user_data", "bytes": 10, "mime_type": "text/plain"}
    r = client.post("/v1/uploads", json={**base, **body})
    assert_error(r, 400, param=param)


def test_missing_fields_and_invalid_json(client: httpx.Client) -> None:
    base = {"filename": "f.txt", "purpose": "user_data", "bytes": 10, "mime_type": "text/plain"}
    for name in base:
        partial = {k: v for k, v in base.items() if k != name}
        assert_error(client.post("/v1/uploads", json=partial), 400, param=name)
    for raw in (b"{not json", b"[1, 2]", b'"a string"', b"\xff\xfe"):
        r = client.post("/v1/uploads", content=raw, headers={"Content-Type": "application/json"})
        assert_error(r, 400)
    r = client.post("/v1/uploads", content=b"{oops", headers={"Content-Type": "application/json"})
    assert_error(r, 400, code="invalid_json")
    r = client.post("/v1/uploads", params={"nope": "1"}, json=base)
    assert_error(r, 400, param="nope", code="unknown_parameter")


def test_refused_creates_record_nothing(client: httpx.Client, server: ServerProcess) -> None:
    import sqlite3

    def count() -> int:
        with sqlite3.connect(server.data_dir / "catalog.db", timeout=10) as conn:
            return int(conn.execute("SELECT count(*) FROM uploads").fetchone()[0])

    before = count()
    body = {"filename": "f", "purpose": "vision", "bytes": 1, "mime_type": "text/plain"}
    assert_error(client.post("/v1/uploads", json=body), 400)
    huge = {**body, "bytes": 2**40, "mime_type": "image/png"}
    assert_error(client.post("/v1/uploads", json=huge), 413)
    assert count() == before


# --------------------------------------------------------------------------- part rules


def test_a_part_over_64_mib_is_refused_from_its_content_length(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as c:
        upload = create(c, 1)
    # Only the headers go out: a 413 shows the server did not wait for the body.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("POST", f"/v1/uploads/{upload['id']}/parts")
        for name, value in server.headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Type", "multipart/form-data; boundary=b")
        conn.putheader("Content-Length", str(PART_LIMIT + 2 * MIB))
        conn.endheaders()
        raw = conn.getresponse()
        resp = httpx.Response(raw.status, headers=raw.getheaders(), content=raw.read())
    finally:
        conn.close()
    assert_error(resp, 413, param="data", code="file_too_large")


def test_a_part_over_64_mib_is_refused_while_streaming(
    client: httpx.Client, server: ServerProcess
) -> None:
    upload = create(client, PART_LIMIT + 1)
    before = blob_names(server.data_dir)
    # One byte over, with an exact Content-Length (within the form's overhead allowance).
    body, ctype = multipart(
        [Part("data", b"\0" * (PART_LIMIT + 1), filename="upload", content_type="text/plain")]
    )
    r = client.post(
        f"/v1/uploads/{upload['id']}/parts", content=body, headers={"Content-Type": ctype}
    )
    assert "content-length" in r.request.headers
    assert_error(r, 413, param="data", code="file_too_large")
    del body
    # One byte over, chunked: no Content-Length to go by.
    block = b"\1" * MIB
    boundary = new_boundary()
    stream = multipart_stream(
        [], Part("data", filename="upload"), [*([block] * 64), b"!"], [], boundary
    )
    request = client.build_request(
        "POST",
        f"/v1/uploads/{upload['id']}/parts",
        content=stream,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    assert_error(client.send(request), 413, param="data", code="file_too_large")
    # Nothing of either was kept: no part, no blob, no temp file.
    assert part_rows(server.data_dir, upload["id"]) == []
    assert blob_names(server.data_dir) == before
    tmp = server.data_dir / "files" / "tmp"
    assert [p.name for p in tmp.iterdir() if not p.name.startswith(".probe.")] == []
    # Exactly 64 MiB, chunked, is a part.
    boundary = new_boundary()
    stream = multipart_stream([], Part("data", filename="upload"), [block] * 64, [], boundary)
    r = client.post(
        f"/v1/uploads/{upload['id']}/parts",
        content=stream,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 200, r.text
    part = check_part(r.json(), upload["id"])
    assert blob_path(server.data_dir, part).stat().st_size == PART_LIMIT
    assert client.post(f"/v1/uploads/{upload['id']}/cancel").status_code == 200
    assert not blob_path(server.data_dir, part).exists()


def test_bad_part_requests(client: httpx.Client) -> None:
    upload = create(client, 4)
    url = f"/v1/uploads/{upload['id']}/parts"
    assert_error(client.post(url, content=b"raw"), 400, code="invalid_content_type")
    assert_error(client.post(url, json={"data": "abcd"}), 400, code="invalid_content_type")
    body, ctype = multipart([Part("file", b"abcd", filename="x")])
    assert_error(
        client.post(url, content=body, headers={"Content-Type": ctype}),
        400,
        param="file",
        code="unknown_parameter",
    )
    body, ctype = multipart([])
    assert_error(
        client.post(url, content=body, headers={"Content-Type": ctype}),
        400,
        param="data",
        code="missing_required_parameter",
    )
    body, ctype = multipart([Part("data", b"ab", filename="u"), Part("data", b"cd", filename="u")])
    assert_error(client.post(url, content=body, headers={"Content-Type": ctype}), 400, param="data")
    assert_error(client.post(url, params={"x": "1"}, files={"data": b"ab"}), 400, param="x")
    assert_error(post_part(client, "upload_doesnotexist", b"ab"), 404, param="upload_id")


# --------------------------------------------------------------------------- complete rules


def test_complete_rules(client: httpx.Client, server: ServerProcess) -> None:
    upload = create(client, 6)
    uid = upload["id"]
    a = add_part(client, uid, b"abc")
    b = add_part(client, uid, b"def")
    c = add_part(client, uid, b"g")
    other = create(client, 3)
    foreign = add_part(client, other["id"], b"xyz")

    def refused(part_ids: Any, code: str, md5_: str | None = None) -> dict[str, Any]:
        return assert_error(complete(client, uid, part_ids, md5_), 400, code=code)

    # Declared bytes must equal the named parts' sum: too few, too many.
    assert "3 bytes" in refused([a], "bytes_mismatch")["message"]
    assert "7 bytes" in refused([a, b, c], "bytes_mismatch")["message"]
    # Unknown ids, another upload's ids, repeats, none.
    assert refused([a, "part_made_up"], "unknown_part")["param"] == "part_ids"
    assert foreign in refused([a, foreign], "unknown_part")["message"]
    refused([a, a, b], "invalid_value")
    refused([], "invalid_value")
    # md5 mismatch; the upload stays completable.
    err = refused([a, b], "md5_mismatch", md5(b"defabc"))
    assert err["param"] == "md5" and md5(b"abcdef") in err["message"]
    assert upload_row(server.data_dir, uid)["status"] == "pending"
    assert part_rows(server.data_dir, uid) == sorted([a, b, c])
    done = completed(client, uid, [a, b], md5(b"abcdef"))
    assert download(client, done["file"]["id"]) == b"abcdef"
    # The named parts and the unused one are gone; the other upload's part is kept.
    assert part_rows(server.data_dir, uid) == []
    names = blob_names(server.data_dir)
    assert not {a, b, c} & names and {foreign, done["file"]["id"]} <= names
    # A second complete, a cancel, a part afterwards: all 400.
    assert_error(complete(client, uid, [a, b]), 400, param="upload_id", code="upload_completed")
    assert_error(client.post(f"/v1/uploads/{uid}/cancel"), 400, code="upload_completed")
    assert_error(post_part(client, uid, b"more"), 400, code="upload_completed")
    assert list_all(client).count(done["file"]) == 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"part_ids": "part_x"}, "part_ids"),
        ({"part_ids": [1]}, "part_ids.0"),
        ({"part_ids": None}, "part_ids"),
        ({"part_ids": ["part_x"], "md5": 5}, "md5"),
        ({"part_ids": ["part_x"], "surprise": True}, "surprise"),
        ({}, "part_ids"),
    ],
)
def test_bad_complete_bodies_name_the_field(
    client: httpx.Client, body: dict[str, Any], param: str
) -> None:
    upload = create(client, 1)
    r = client.post(f"/v1/uploads/{upload['id']}/complete", json=body)
    assert_error(r, 400, param=param)
    r = client.post(
        f"/v1/uploads/{upload['id']}/complete",
        content=b'{"part_ids": [',
        headers={"Content-Type": "application/json"},
    )
    assert_error(r, 400, code="invalid_json")


def test_cancel_removes_the_parts(client: httpx.Client, server: ServerProcess) -> None:
    upload = create(client, 8)
    parts = [add_part(client, upload["id"], d) for d in (b"ab", b"cd", b"ef")]
    assert all(blob_path(server.data_dir, p).exists() for p in parts)
    r = client.post(f"/v1/uploads/{upload['id']}/cancel")
    assert r.status_code == 200
    check_upload(r.json(), "cancelled")
    assert not any(blob_path(server.data_dir, p).exists() for p in parts)
    assert part_rows(server.data_dir, upload["id"]) == []
    assert upload_row(server.data_dir, upload["id"])["status"] == "cancelled"
    assert_error(post_part(client, upload["id"], b"gh"), 400, code="upload_cancelled")
    assert_error(complete(client, upload["id"], parts), 400, code="upload_cancelled")
    assert_error(client.post(f"/v1/uploads/{upload['id']}/cancel"), 400, code="upload_cancelled")
    assert part_rows(server.data_dir, upload["id"]) == []


def test_expired_uploads_take_nothing(client: httpx.Client, server: ServerProcess) -> None:
    upload = create(client, 2)
    part = add_part(client, upload["id"], b"ex")
    catalog_execute(
        server.data_dir,
        "UPDATE uploads SET expires_at = created_at - 1 WHERE id = ?",
        [upload["id"]],
    )
    assert_error(post_part(client, upload["id"], b"x"), 400, code="upload_expired")
    assert_error(complete(client, upload["id"], [part]), 400, code="upload_expired")
    assert_error(client.post(f"/v1/uploads/{upload['id']}/cancel"), 400, code="upload_expired")
    # The refused part was not kept.
    assert part_rows(server.data_dir, upload["id"]) == [part]


@pytest.mark.parametrize(
    ("purpose", "good", "bad_line", "fix"),
    [
        (
            "batch",
            b'{"custom_id": "r1", "method": "POST", "url": "/v1/embeddings", "body": {}}\n'
            b'{"custom_id": "r2", "method": "POST", "url": "/v1/embeddings", "body": {}}\n'
            b'{"custom_id": "r3", "method": "POST", "url": "/v1/embeddings", "body": {}}\n',
            3,
            (b'"r3", "method": "POST"', b'"r3", "method": "GETS"'),
        ),
        (
            "fine-tune",
            b'{"messages": [{"role": "user", "content": "hi"}]}\n'
            b'{"messages": [{"role": "user", "content": "yo"}]}\n',
            2,
            (b'{"messages": [{"role": "user", "content": "yo"}]}',
             b'["messages", [{"role": "user", "content": "yo"}]]'),
        ),
    ],
)  # fmt: skip
def test_jsonl_is_validated_on_complete(
    client: httpx.Client,
    server: ServerProcess,
    purpose: str,
    good: bytes,
    bad_line: int,
    fix: tuple[bytes, bytes],
) -> None:
    bad = good.replace(*fix)
    assert len(bad) == len(good) and bad != good
    files_before = list_all(client)
    blobs_before = blob_names(server.data_dir)
    upload = create(client, len(good), filename="in.jsonl", purpose=purpose,
                    mime_type="application/jsonl")  # fmt: skip
    # The bad upload is cut mid-line, so line numbers must carry across parts.
    cuts = [0, 10, len(good) // 2 + 3, len(bad)]
    parts = [add_part(client, upload["id"], bad[s:e]) for s, e in itertools.pairwise(cuts)]
    err = assert_error(complete(client, upload["id"], parts), 400, code="invalid_file")
    assert f"line {bad_line} " in err["message"], err
    # Nothing was stored: no file listed, no blob beyond the parts.
    assert list_all(client) == files_before
    assert blob_names(server.data_dir) - blobs_before == set(parts)
    # The upload is still pending: a good part of the same size, named alone, completes it.
    fixed = add_part(client, upload["id"], good)
    done = completed(client, upload["id"], [fixed])
    assert download(client, done["file"]["id"]) == good
    assert blob_names(server.data_dir) - blobs_before == {done["file"]["id"]}


# --------------------------------------------------------------------------- who may touch it


def test_foreign_uploads_are_404(server: ServerProcess, keys: dict[str, str]) -> None:
    with (
        as_key(server, keys["alice"]) as alice,
        as_key(server, keys["bob"]) as bob,
        httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as admin,
    ):
        upload = create(alice, 4, filename="alice.txt")
        uid = upload["id"]
        a = add_part(alice, uid, b"al")
        bobs = create(bob, 2)
        bob_part = add_part(bob, bobs["id"], b"bo")
        for r in (
            post_part(bob, uid, b"ce"),
            complete(bob, uid, [a, bob_part]),
            bob.post(f"/v1/uploads/{uid}/cancel"),
        ):
            err = assert_error(r, 404, param="upload_id")
            assert uid in err["message"]
        # Bob's part named in Alice's upload is an unknown part, nothing more.
        b = add_part(alice, uid, b"ic")
        assert_error(complete(alice, uid, [a, bob_part]), 400, code="unknown_part")
        # The master key's own upload is not Alice's either.
        masters = create(admin, 1)
        assert_error(post_part(alice, masters["id"], b"m"), 404)
        assert_error(alice.post(f"/v1/uploads/{masters['id']}/cancel"), 404)
        # Nothing Bob did changed Alice's upload; she completes it and owns the file.
        done = completed(alice, uid, [a, b])
        assert download(alice, done["file"]["id"]) == b"alic"
        assert_error(bob.get(f"/v1/files/{done['file']['id']}"), 404)
        assert [f["id"] for f in list_all(bob)] == []
        # The master key reaches everyone's uploads; what it completes stays the owner's.
        bob_part2 = add_part(bob, bobs["id"], b"b!")
        assert_error(complete(admin, bobs["id"], [bob_part, bob_part2]), 400)
        by_admin = completed(admin, bobs["id"], [bob_part2])
        assert download(bob, by_admin["file"]["id"]) == b"b!"
        assert [f["id"] for f in list_all(bob)] == [by_admin["file"]["id"]]
        assert_error(alice.get(f"/v1/files/{by_admin['file']['id']}"), 404)
        other = create(bob, 1)
        assert admin.post(f"/v1/uploads/{other['id']}/cancel").json()["status"] == "cancelled"


# --------------------------------------------------------------------------- concurrency


def test_parts_sent_concurrently_and_out_of_order(
    client: httpx.Client, server: ServerProcess
) -> None:
    rng = random.Random(7)
    chunks = [os.urandom(rng.randrange(1, 600_000)) for _ in range(16)]
    data = b"".join(chunks)
    upload = create(client, len(data))
    order = list(range(len(chunks)))
    rng.shuffle(order)

    def send(i: int) -> tuple[int, str]:
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as c:
            return i, add_part(c, upload["id"], chunks[i])

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = dict(pool.map(send, order))
    assert len(set(ids.values())) == len(chunks)
    done = completed(client, upload["id"], [ids[i] for i in range(len(chunks))], md5(data))
    assert download(client, done["file"]["id"]) == data


def test_two_completes_at_once(client: httpx.Client, server: ServerProcess) -> None:
    data = os.urandom(8 * MIB)
    upload = create(client, len(data))
    part = add_part(client, upload["id"], data)

    def finish(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as c:
            return complete(c, upload["id"], [part])

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(finish, range(2)))
    assert sorted(r.status_code for r in results) == [200, 400], [r.text for r in results]
    ok = next(r for r in results if r.status_code == 200).json()
    failed = next(r for r in results if r.status_code == 400)
    assert_error(failed, 400, param="upload_id")
    assert failed.json()["error"]["code"] in ("upload_completing", "upload_completed")
    assert download(client, ok["file"]["id"]) == data
    assert [f["id"] for f in list_all(client) if f["filename"] == "data.bin"].count(
        ok["file"]["id"]
    ) == 1


def test_a_keys_limits_apply(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=30) as admin:
        r = admin.post(
            "/key/generate",
            json={
                "key_alias": "limited",
                "max_file_size": 1000,
                "max_stored_bytes": 1500,
                "allowed_purposes": ["user_data"],
            },
        )
        assert r.status_code == 200, r.text
        key = r.json()["key"]
    with as_key(server, key) as c:
        # The key's max_file_size caps the declared bytes; its purposes are checked at once.
        body = {"filename": "f", "purpose": "user_data", "mime_type": "text/plain"}
        assert_error(c.post("/v1/uploads", json={**body, "bytes": 1001}), 413, param="bytes")
        batch = {**body, "bytes": 10, "purpose": "batch"}
        assert_error(c.post("/v1/uploads", json=batch), 400, code="purpose_not_allowed")
        first = create(c, 1000)
        done = completed(c, first["id"], [add_part(c, first["id"], b"1" * 1000)])
        # Completing a second one would pass max_stored_bytes: refused, and it stays completable.
        second = create(c, 1000)
        part = add_part(c, second["id"], b"2" * 1000)
        assert_error(complete(c, second["id"], [part]), 403, code="quota_exceeded")
        assert upload_row(server.data_dir, second["id"])["status"] == "pending"
        assert part_rows(server.data_dir, second["id"]) == [part]
        assert [f["id"] for f in list_all(c)] == [done["file"]["id"]]
        assert c.delete(f"/v1/files/{done['file']['id']}").status_code == 200
        again = completed(c, second["id"], [part])
        assert download(c, again["file"]["id"]) == b"2" * 1000
