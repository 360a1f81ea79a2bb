"""check_mime_type and UploadService over the real SQLite catalog and local blob store."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from filegate.blobstores.local import LocalBlobStore
from filegate.catalog.sql import SQLCatalog
from filegate.core.files.service import FileService
from filegate.core.files.uploads import (
    COMPLETING_GRACE,
    MAX_PART_BYTES,
    MAX_UPLOAD_BYTES,
    UPLOAD_TTL,
    UploadService,
    check_mime_type,
)
from filegate.core.params import ExpiresAfter
from filegate.core.targets import EMBEDDED_TARGET
from filegate.errors import FileNotFound, InvalidRequest, PayloadTooLarge
from filegate.records import ListQuery, Scope, Upload

ADMIN = Scope()
ALICE = Scope(owner="alice")
BOB = Scope(owner="bob")
MIB = 1024 * 1024


# --------------------------------------------------------------------------- check_mime_type


@pytest.mark.parametrize(
    ("purpose", "mime", "normalized"),
    [
        ("batch", "application/jsonl", "application/jsonl"),
        ("batch", "Application/JSONL; charset=utf-8", "application/jsonl"),
        ("batch", "text/plain", "text/plain"),
        ("fine-tune", "application/x-ndjson", "application/x-ndjson"),
        ("fine-tune", "application/json", "application/json"),
        ("evals", "text/jsonl", "text/jsonl"),
        ("vision", "image/png", "image/png"),
        ("vision", "IMAGE/JPEG", "image/jpeg"),
        ("vision", "image/webp", "image/webp"),
        ("vision", "image/gif", "image/gif"),
        # Purposes without a list take any well-formed type.
        ("assistants", "application/pdf", "application/pdf"),
        ("user_data", "application/octet-stream", "application/octet-stream"),
        ("user_data", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ],
)  # fmt: skip
def test_suitable_mime_types_are_normalized(purpose: str, mime: str, normalized: str) -> None:
    assert check_mime_type(purpose, mime) == normalized


@pytest.mark.parametrize(
    ("purpose", "mime"),
    [
        ("batch", "image/png"),
        ("fine-tune", "application/pdf"),
        ("evals", "image/jpeg"),
        ("vision", "application/jsonl"),
        ("vision", "image/svg+xml"),
        ("vision", "text/plain"),
    ],
)
def test_unsuitable_mime_types_are_refused(purpose: str, mime: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_mime_type(purpose, mime)
    err = info.value
    assert (err.status_code, err.param, err.code) == (400, "mime_type", "unsupported_mime_type")
    assert repr(purpose) in err.message and mime.split(";")[0].lower() in err.message


@pytest.mark.parametrize(
    "mime", ["", "pdf", "text/", "/plain", "text/plain/x", "te xt/plain", "text/pl\x00ain", "é/x"]
)
def test_malformed_mime_types_are_refused(mime: str) -> None:
    for purpose in ("user_data", "batch", "vision"):
        with pytest.raises(InvalidRequest) as info:
            check_mime_type(purpose, mime)
        assert (info.value.param, info.value.code) == ("mime_type", "invalid_value")


def test_a_long_mime_type_is_cut_in_the_message() -> None:
    with pytest.raises(InvalidRequest) as info:
        check_mime_type("user_data", "x" * 10_000)
    assert len(info.value.message) < 200


# --------------------------------------------------------------------------- UploadService


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Env:
    uploads: UploadService
    files: FileService
    catalog: SQLCatalog
    clock: Clock
    root: Path

    def blobs(self) -> list[str]:
        """Names of every blob on disk (temp files included)."""
        return sorted(p.name for p in (self.root / "files").rglob("*") if p.is_file())

    async def visible_files(self) -> list[str]:
        return [r.id for r in (await self.files.page(ListQuery(scope=ADMIN))).data]

    async def status(self, upload_id: str) -> str:
        upload = await self.catalog.uploads.get(upload_id, ADMIN)
        assert upload is not None
        return upload.status


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    catalog = await SQLCatalog.open(f"sqlite:///{tmp_path}/catalog.db")
    clock = Clock()
    files = FileService(
        catalog, LocalBlobStore(tmp_path / "files"), max_file_size=1000, clock=clock
    )
    yield Env(UploadService(catalog.uploads, files), files, catalog, clock, tmp_path)
    await catalog.aclose()


async def gen(*chunks: bytes) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


async def new_upload(
    env: Env,
    nbytes: int,
    *,
    scope: Scope = ALICE,
    purpose: str = "user_data",
    mime_type: str = "text/plain",
    expires_after: ExpiresAfter | None = None,
    max_size: int = MAX_UPLOAD_BYTES,
) -> Upload:
    return await env.uploads.create(
        scope,
        filename="f.txt",
        purpose=purpose,
        nbytes=nbytes,
        mime_type=mime_type,
        expires_after=expires_after,
        targets=[EMBEDDED_TARGET],
        max_size=max_size,
    )


async def add(env: Env, upload: Upload, *chunks: bytes, scope: Scope = ALICE) -> str:
    return (await env.uploads.add_part(scope, upload.id, gen(*chunks))).id


async def complete(
    env: Env, upload: Upload, part_ids: list[str], md5: str | None = None, scope: Scope = ALICE
) -> tuple[Upload, str]:
    done, record = await env.uploads.complete(
        scope, upload.id, part_ids, md5, targets=[EMBEDDED_TARGET], quota=None
    )
    return done, record.id


async def content(env: Env, file_id: str) -> bytes:
    record = await env.files.get(ADMIN, file_id)
    opened = await env.files.open(record)
    return b"".join([c async for c in opened.stream])


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


async def test_create_gives_a_pending_upload(env: Env) -> None:
    upload = await new_upload(env, 10, mime_type="Text/Plain; charset=utf-8")
    assert upload.status == "pending"
    assert upload.expires_at == upload.created_at + UPLOAD_TTL == upload.created_at + 3600
    assert abs(upload.created_at - time.time()) < 5
    assert (upload.mime_type, upload.owner, upload.targets) == ("text/plain", "alice", ["filegate"])
    assert upload.id.startswith("upload_")
    stored = await env.catalog.uploads.get(upload.id, ALICE)
    assert stored == upload
    assert upload.to_openai() == {
        "id": upload.id,
        "object": "upload",
        "bytes": 10,
        "created_at": upload.created_at,
        "expires_at": upload.created_at + 3600,
        "filename": "f.txt",
        "purpose": "user_data",
        "status": "pending",
        "file": None,
    }


async def test_create_limits(env: Env) -> None:
    assert (await new_upload(env, MAX_UPLOAD_BYTES)).bytes == 8 * 1024**3
    assert (await new_upload(env, 0)).bytes == 0
    with pytest.raises(PayloadTooLarge) as info:
        await new_upload(env, MAX_UPLOAD_BYTES + 1)
    assert (info.value.status_code, info.value.param) == (413, "bytes")
    # A tighter cap (a key's max_file_size, or FILEGATE_MAX_UPLOAD_SIZE) wins ...
    with pytest.raises(PayloadTooLarge, match="at most 100 bytes"):
        await new_upload(env, 101, max_size=100)
    # ... but a looser one never lifts the 8 GiB ceiling.
    with pytest.raises(PayloadTooLarge):
        await new_upload(env, MAX_UPLOAD_BYTES + 1, max_size=2 * MAX_UPLOAD_BYTES)
    with pytest.raises(InvalidRequest) as bad:
        await new_upload(env, -1)
    assert bad.value.param == "bytes"
    for filename in ("", "x" * 1025, "é" * 513):
        with pytest.raises(InvalidRequest) as bad:
            await env.uploads.create(
                ALICE,
                filename=filename,
                purpose="user_data",
                nbytes=1,
                mime_type="text/plain",
                expires_after=None,
                targets=[EMBEDDED_TARGET],
                max_size=MAX_UPLOAD_BYTES,
            )
        assert bad.value.param == "filename"
    with pytest.raises(InvalidRequest) as bad:
        await new_upload(env, 1, purpose="vision", mime_type="application/jsonl")
    assert bad.value.code == "unsupported_mime_type"
    # Only the two accepted ones were recorded.
    assert len(await env.catalog.uploads.stale(int(env.clock.now) + 10**6, 0, 100)) == 2
    assert env.blobs() == []


async def test_parts_complete_in_the_named_order(env: Env) -> None:
    upload = await new_upload(env, 12)
    first = await add(env, upload, b"hello", b" ")
    second = await add(env, upload, b"world")
    third = await add(env, upload, b"!")
    assert sorted(env.blobs()) == sorted([first, second, third])
    parts = await env.catalog.uploads.parts(upload.id)
    assert {p.id: p.bytes for p in parts} == {first: 6, second: 5, third: 1}
    assert parts[0].to_openai() == {
        "id": parts[0].id,
        "object": "upload.part",
        "created_at": parts[0].created_at,
        "upload_id": upload.id,
    }
    done, file_id = await complete(env, upload, [second, first, third], md5(b"worldhello !"))
    assert (done.status, done.file_id) == ("completed", file_id)
    assert await content(env, file_id) == b"worldhello !"
    record = await env.files.get(ALICE, file_id)
    assert (record.bytes, record.filename, record.purpose) == (12, "f.txt", "user_data")
    assert record.content_type == "text/plain"
    assert record.sha256 == hashlib.sha256(b"worldhello !").hexdigest()
    # The parts are gone, blobs and rows; only the file's blob is left.
    assert env.blobs() == [file_id]
    assert await env.catalog.uploads.parts(upload.id) == []
    assert await env.status(upload.id) == "completed"
    assert (await env.uploads.get(ALICE, upload.id)).file_id == file_id


async def test_a_completed_file_may_exceed_max_file_size(env: Env) -> None:
    # The gateway's max_file_size (1000 here) is for POST /files; an upload has its own cap.
    upload = await new_upload(env, 3000)
    ids = [await add(env, upload, bytes([i]) * 1000) for i in range(3)]
    _, file_id = await complete(env, upload, ids)
    assert (await env.files.get(ALICE, file_id)).bytes == 3000


async def test_a_part_over_64_mib_is_refused_and_leaves_nothing(env: Env) -> None:
    upload = await new_upload(env, MAX_PART_BYTES + 1)
    chunk = bytes(MIB)
    with pytest.raises(PayloadTooLarge) as info:
        await add(env, upload, *([chunk] * 64), b"x")
    assert (info.value.status_code, info.value.param) == (413, "data")
    assert env.blobs() == []
    assert await env.catalog.uploads.parts(upload.id) == []
    # Exactly 64 MiB is a part.
    part = await add(env, upload, *([chunk] * 64))
    assert [p.bytes for p in await env.catalog.uploads.parts(upload.id)] == [MAX_PART_BYTES]
    assert env.blobs() == [part]
    await env.uploads.cancel(ALICE, upload.id)
    assert env.blobs() == []


async def test_complete_rules(env: Env) -> None:
    upload = await new_upload(env, 6)
    a = await add(env, upload, b"abc")
    b = await add(env, upload, b"def")
    c = await add(env, upload, b"g")
    other = await new_upload(env, 3)
    foreign = await add(env, other, b"xyz")

    async def refused(part_ids: list[str], code: str, md5_: str | None = None) -> str:
        with pytest.raises(InvalidRequest) as info:
            await complete(env, upload, part_ids, md5_)
        assert info.value.status_code == 400
        assert info.value.code == code, info.value.message
        return info.value.message

    assert "3 bytes" in await refused([a], "bytes_mismatch")
    assert "7 bytes" in await refused([a, b, c], "bytes_mismatch")
    assert foreign in await refused([a, foreign], "unknown_part")
    await refused([a, "part_01NOPE0000000000000000000"], "unknown_part")
    await refused([a, a], "invalid_value")
    await refused([], "invalid_value")
    assert "md5 mismatch" in await refused([a, b], "md5_mismatch", md5(b"defabc"))
    # Nothing happened: no file, the parts are all there, it is still pending.
    assert await env.visible_files() == []
    assert sorted(env.blobs()) == sorted([a, b, c, foreign])
    assert await env.status(upload.id) == "pending"
    # And it completes with the right md5 (any case).
    _, file_id = await complete(env, upload, [a, b], md5(b"abcdef").upper())
    assert await content(env, file_id) == b"abcdef"
    # The other upload's part was not touched.
    assert sorted(env.blobs()) == sorted([file_id, foreign])


async def test_nothing_more_after_complete(env: Env) -> None:
    upload = await new_upload(env, 2)
    part = await add(env, upload, b"ok")
    await complete(env, upload, [part])
    for action in (
        lambda: add(env, upload, b"more"),
        lambda: complete(env, upload, [part]),
        lambda: env.uploads.cancel(ALICE, upload.id),
    ):
        with pytest.raises(InvalidRequest) as info:
            await action()
        assert (info.value.code, info.value.param) == ("upload_completed", "upload_id")
    assert await env.status(upload.id) == "completed"
    assert len(await env.visible_files()) == 1


async def test_cancel_drops_the_parts(env: Env) -> None:
    upload = await new_upload(env, 4)
    parts = [await add(env, upload, b"ab"), await add(env, upload, b"cd")]
    assert sorted(env.blobs()) == sorted(parts)
    cancelled = await env.uploads.cancel(ALICE, upload.id)
    assert cancelled.status == "cancelled"
    assert cancelled.to_openai()["status"] == "cancelled"
    assert env.blobs() == []
    assert await env.catalog.uploads.parts(upload.id) == []
    for action in (
        lambda: add(env, upload, b"more"),
        lambda: complete(env, upload, parts),
        lambda: env.uploads.cancel(ALICE, upload.id),
    ):
        with pytest.raises(InvalidRequest) as info:
            await action()
        assert info.value.code == "upload_cancelled"
    assert env.blobs() == []


async def test_expiry_refuses_and_the_sweep_clears(env: Env) -> None:
    upload = await new_upload(env, 4)
    part = await add(env, upload, b"abcd")
    kept = await new_upload(env, 1)
    kept_part = await add(env, kept, b"k")
    assert await env.uploads.sweep() == 0
    # One second before the hour is up it still takes parts; at the hour it does not.
    env.clock.now = upload.expires_at - 1
    assert (await env.uploads.get(ALICE, upload.id)).status == "pending"
    env.clock.now = upload.expires_at
    expired = await env.uploads.get(ALICE, upload.id)
    assert expired.status == "expired" and expired.to_openai()["status"] == "expired"
    for action in (
        lambda: add(env, upload, b"late"),
        lambda: complete(env, upload, [part]),
        lambda: env.uploads.cancel(ALICE, upload.id),
    ):
        with pytest.raises(InvalidRequest) as info:
            await action()
        assert info.value.code == "upload_expired"
    # The refused late part left no blob behind.
    assert sorted(env.blobs()) == sorted([part, kept_part])
    # The sweep marks both expired uploads and removes their parts (the second one may
    # have been created a second later).
    env.clock.now = max(upload.expires_at, kept.expires_at)
    assert await env.uploads.sweep() == 2
    assert await env.status(upload.id) == "expired"
    assert await env.status(kept.id) == "expired"
    assert env.blobs() == []
    assert await env.uploads.sweep() == 0


async def test_the_sweep_spares_open_and_finished_uploads(env: Env) -> None:
    done = await new_upload(env, 1)
    _, file_id = await complete(env, done, [await add(env, done, b"d")])
    open_one = await new_upload(env, 1)
    open_part = await add(env, open_one, b"o")
    assert await env.uploads.sweep() == 0
    assert sorted(env.blobs()) == sorted([file_id, open_part])
    assert await env.status(done.id) == "completed"


async def test_a_stuck_completion_is_swept_after_its_grace(env: Env) -> None:
    upload = await new_upload(env, 1)
    part = await add(env, upload, b"s")
    # A process died half-way through complete(): the upload stays "completing".
    assert await env.catalog.uploads.transition(upload.id, "pending", "completing")
    assert (await env.uploads.get(ALICE, upload.id)).to_openai()["status"] == "pending"
    with pytest.raises(InvalidRequest) as info:
        await add(env, upload, b"x")
    assert info.value.code == "upload_completing"
    env.clock.now = upload.expires_at + COMPLETING_GRACE - 1
    assert await env.uploads.sweep() == 0
    assert env.blobs() == [part]
    env.clock.now = upload.expires_at + COMPLETING_GRACE
    assert await env.uploads.sweep() == 1
    assert await env.status(upload.id) == "expired"
    assert env.blobs() == []


async def test_a_part_that_arrives_after_cancel_is_discarded(env: Env) -> None:
    upload = await new_upload(env, 4)

    async def cancel_meanwhile() -> AsyncIterator[bytes]:
        yield b"ab"
        await env.uploads.cancel(ALICE, upload.id)
        yield b"cd"

    with pytest.raises(InvalidRequest) as info:
        await env.uploads.add_part(ALICE, upload.id, cancel_meanwhile())
    assert info.value.code == "upload_cancelled"
    assert env.blobs() == []
    assert await env.catalog.uploads.parts(upload.id) == []


async def test_other_owners_see_no_upload(env: Env) -> None:
    upload = await new_upload(env, 2)
    part = await add(env, upload, b"hi")
    for action in (
        lambda: env.uploads.get(BOB, upload.id),
        lambda: add(env, upload, b"x", scope=BOB),
        lambda: complete(env, upload, [part], scope=BOB),
        lambda: env.uploads.cancel(BOB, upload.id),
        lambda: env.uploads.get(ALICE, "upload_nope"),
    ):
        with pytest.raises(FileNotFound) as info:
            await action()
        assert info.value.status_code == 404
        assert info.value.param == "upload_id"
    assert env.blobs() == [part]
    # The master scope reaches every upload; the file is still the upload's owner's.
    _, file_id = await complete(env, upload, [part], scope=ADMIN)
    assert await content(env, file_id) == b"hi"
    assert (await env.files.get(ALICE, file_id)).owner == "alice"
    with pytest.raises(FileNotFound):
        await env.files.get(BOB, file_id)


async def test_team_scope_reaches_team_uploads(env: Env) -> None:
    mine = Scope(owner="carol", team="t1")
    mate = Scope(owner="dave", team="t1", team_access=True)
    upload = await new_upload(env, 2, scope=mine)
    part = await add(env, upload, b"hi", scope=mate)
    with pytest.raises(FileNotFound):
        await env.uploads.get(Scope(owner="eve", team="t1"), upload.id)
    _, file_id = await complete(env, upload, [part], scope=mate)
    assert await content(env, file_id) == b"hi"
    # Completed by a team mate, the file is still carol's.
    record = await env.files.get(mine, file_id)
    assert (record.owner, record.team) == ("carol", "t1")


@pytest.mark.parametrize(
    ("purpose", "mime", "lines", "bad_line"),
    [
        (
            "batch",
            "application/jsonl",
            [
                b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}',
                b'{"custom_id": "b", "method": "POST", "url": "/v1/chat/completions", "body": {}}',
                b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}',
            ],
            3,
        ),
        ("fine-tune", "application/jsonl", [b'{"messages": []}', b"[1, 2]", b"{}"], 2),
    ],
)
async def test_jsonl_is_validated_on_complete(
    env: Env, purpose: str, mime: str, lines: list[bytes], bad_line: int
) -> None:
    data = b"\n".join(lines) + b"\n"
    upload = await new_upload(env, len(data), purpose=purpose, mime_type=mime)
    # Cut inside lines, so line numbers must carry across parts.
    cuts = [0, 7, len(lines[0]) + 9, len(data)]
    parts = [await add(env, upload, data[s:e]) for s, e in itertools.pairwise(cuts)]
    with pytest.raises(InvalidRequest) as info:
        await complete(env, upload, parts)
    assert f"line {bad_line} " in info.value.message
    assert info.value.code == "invalid_file"
    assert await env.visible_files() == []
    assert sorted(env.blobs()) == sorted(parts)
    assert await env.status(upload.id) == "pending"
    # A good part of the same length, named instead, completes it.
    if purpose == "batch":
        at = data.rindex(b'"a"')
        good = data[:at] + b'"c"' + data[at + 3 :]
    else:
        good = data.replace(b"[1, 2]", b"{}    ")
    assert len(good) == len(data)
    fixed = await add(env, upload, good)
    _, file_id = await complete(env, upload, [fixed])
    assert await content(env, file_id) == good
    record = await env.files.get(ALICE, file_id)
    if purpose == "batch":
        # Batch files expire after 30 days by default, as on /v1/files.
        assert record.expires_at == record.created_at + 30 * 86400
    assert env.blobs() == [file_id]


async def test_expires_after_reaches_the_file(env: Env) -> None:
    upload = await new_upload(env, 1, expires_after=ExpiresAfter(7200))
    assert upload.file_expires_after == 7200
    assert upload.expires_at == upload.created_at + 3600  # the upload's own expiry is fixed
    _, file_id = await complete(env, upload, [await add(env, upload, b"e")])
    record = await env.files.get(ALICE, file_id)
    assert record.expires_at == record.created_at + 7200


async def test_two_completes_at_once_make_one_file(env: Env) -> None:
    upload = await new_upload(env, 4 * MIB)
    parts = [await add(env, upload, bytes([i]) * MIB) for i in range(4)]
    results = await asyncio.gather(
        complete(env, upload, parts), complete(env, upload, parts), return_exceptions=True
    )
    done = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(done) == 1 and len(failed) == 1, results
    assert isinstance(failed[0], InvalidRequest)
    assert failed[0].code in ("upload_completing", "upload_completed")
    assert await env.visible_files() == [done[0][1]]
    assert env.blobs() == [done[0][1]]


async def test_a_zero_byte_upload(env: Env) -> None:
    upload = await new_upload(env, 0)
    part = await add(env, upload)
    _, file_id = await complete(env, upload, [part], md5(b""))
    assert await content(env, file_id) == b""
    assert (await env.files.get(ALICE, file_id)).bytes == 0


async def test_parts_cannot_pile_up_past_what_completion_could_use(env: Env) -> None:
    upload = await new_upload(env, 10)
    await add(env, upload, b"x" * 10)
    await add(env, upload, b"y" * 10)  # a resent part still fits
    await add(env, upload, b"z" * MAX_PART_BYTES)  # exactly at the cap
    with pytest.raises(InvalidRequest) as info:
        await add(env, upload, b"w")
    assert info.value.code == "upload_parts_exceeded"
    assert len(await env.catalog.uploads.parts(upload.id)) == 3


async def test_an_empty_upload_completes_without_parts(env: Env) -> None:
    upload = await new_upload(env, 0)
    done, record = await env.uploads.complete(
        ALICE, upload.id, [], None, targets=[EMBEDDED_TARGET], quota=None
    )
    assert (done.status, record.bytes) == ("completed", 0)
