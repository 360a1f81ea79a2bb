"""FileService over the real SQLite catalog and local blob store."""

import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from filegate.blobstores.local import LocalBlobStore
from filegate.catalog.sql import SQLCatalog
from filegate.core.files.service import LEASE_SECONDS, FileService
from filegate.core.params import BATCH_DEFAULT_EXPIRY, ExpiresAfter
from filegate.core.targets import EMBEDDED_TARGET
from filegate.errors import FileNotFound, InvalidRequest, PayloadTooLarge
from filegate.records import FileRecord, FileState, ListQuery, Scope

ADMIN = Scope()
ALICE = Scope(owner="alice")
BOB = Scope(owner="bob")


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[FileService, Clock, Path]]:
    catalog = await SQLCatalog.open(f"sqlite:///{tmp_path}/catalog.db")
    clock = Clock()
    service = FileService(
        catalog, LocalBlobStore(tmp_path / "files"), max_file_size=10_000, clock=clock
    )
    yield service, clock, tmp_path
    await catalog.aclose()


async def gen(*chunks: bytes) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


def blob_files(root: Path) -> list[Path]:
    return [p for p in (root / "files").rglob("*") if p.is_file()]


async def create(
    service: FileService,
    scope: Scope,
    data: bytes,
    purpose: str = "user_data",
    *,
    hint: bool = True,
    expires: ExpiresAfter | None = None,
) -> str:
    async with service.upload(
        scope,
        filename="f.bin",
        content_type=None,
        purpose=purpose if hint else None,
        targets=[EMBEDDED_TARGET],
    ) as up:
        await up.write(gen(data))
        record = await up.finish(purpose, expires)
    return record.id


async def test_create_get_content_delete(env: tuple[FileService, Clock, Path]) -> None:
    service, _, root = env
    file_id = await create(service, ALICE, b"hello")
    record = await service.get(ALICE, file_id)
    assert (record.bytes, record.state, record.status) == (5, FileState.READY, "processed")
    assert record.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    opened = await service.open(record)
    assert (opened.length, opened.content_range) == (5, None)
    assert b"".join([c async for c in opened.stream]) == b"hello"
    await service.delete(ALICE, file_id)
    with pytest.raises(FileNotFound):
        await service.get(ALICE, file_id)
    with pytest.raises(FileNotFound):
        await service.delete(ALICE, file_id)
    assert blob_files(root) == []


async def test_other_owner_sees_nothing(env: tuple[FileService, Clock, Path]) -> None:
    service, _, _ = env
    file_id = await create(service, ALICE, b"secret")
    with pytest.raises(FileNotFound):
        await service.get(BOB, file_id)
    with pytest.raises(FileNotFound):
        await service.delete(BOB, file_id)
    assert (await service.page(ListQuery(scope=BOB))).data == []
    assert [r.id for r in (await service.page(ListQuery(scope=ADMIN))).data] == [file_id]


async def test_rejected_upload_leaves_nothing(env: tuple[FileService, Clock, Path]) -> None:
    service, _, root = env
    with pytest.raises(PayloadTooLarge):
        await create(service, ALICE, b"x" * 10_001)
    with pytest.raises(InvalidRequest, match="line 2"):
        await create(service, ALICE, b'{"a": 1}\nnot json\n', "fine-tune")
    # The purpose arrived after the bytes: checked from storage, then discarded.
    with pytest.raises(InvalidRequest, match="line 1"):
        await create(service, ALICE, b"[1]\n", "fine-tune", hint=False)
    assert (await service.page(ListQuery(scope=ADMIN))).data == []
    assert blob_files(root) == []


async def test_expiry(env: tuple[FileService, Clock, Path]) -> None:
    service, clock, root = env
    batch_id = await create(
        service,
        ALICE,
        b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n',
        "batch",
    )
    short_id = await create(service, ALICE, b"x", expires=ExpiresAfter(3600))
    batch = await service.get(ALICE, batch_id)
    assert batch.expires_at == batch.created_at + BATCH_DEFAULT_EXPIRY
    clock.now = time.time() + 3601  # past the wall-clock stamps of the files made
    with pytest.raises(FileNotFound):
        await service.get(ALICE, short_id)
    assert [r.id for r in (await service.page(ListQuery(scope=ALICE))).data] == [batch_id]
    assert await service.sweep() == 1
    assert len(blob_files(root)) == 1


async def test_dead_writes_are_swept_after_their_lease(
    env: tuple[FileService, Clock, Path],
) -> None:
    service, clock, root = env
    up = service.upload(
        ALICE, filename="f", content_type=None, purpose="user_data", targets=[EMBEDDED_TARGET]
    )
    await up.__aenter__()
    await up.write(gen(b"abandoned"))  # the process "dies" before finish()
    assert (await service.page(ListQuery(scope=ADMIN))).data == []
    assert await service.sweep() == 0  # its lease still runs
    clock.now += LEASE_SECONDS + 1
    assert await service.sweep() == 1
    assert blob_files(root) == []
    from filegate.errors import StorageUnavailable

    with pytest.raises(StorageUnavailable):
        await up.finish("user_data", None)


async def test_pages_visit_every_file_once(env: tuple[FileService, Clock, Path]) -> None:
    service, _, _ = env
    ids = [await create(service, ALICE, b"x") for _ in range(23)]
    for order in ("asc", "desc"):
        seen: list[str] = []
        after = None
        while True:
            page = await service.page(ListQuery(scope=ALICE, limit=5, order=order, after=after))
            seen += [r.id for r in page.data]
            if not page.has_more:
                break
            after = page.data[-1].id
        assert seen == (sorted(ids) if order == "asc" else sorted(ids, reverse=True))
    assert (await service.page(ListQuery(scope=ALICE, purpose="batch"))).data == []


async def test_sweep_works_in_bounded_batches(
    env: tuple[FileService, Clock, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files expiring together are claimed, freed and dropped a batch at a time:
    each batch two transactions, never more rows than the batch size."""
    import sys

    service, clock, root = env
    module = sys.modules[FileService.__module__]
    monkeypatch.setattr(module, "SWEEP_BATCH", 4)
    doomed = [await create(service, ALICE, b"x", expires=ExpiresAfter(3600)) for _ in range(10)]
    kept = await create(service, BOB, b"stays")
    catalog = service.catalog
    claimed: list[int] = []
    dropped: list[list[str]] = []
    claim, remove_many = catalog.claim_doomed, catalog.remove_many

    async def claim_spy(now: int, lease_until: int, limit: int) -> list[FileRecord]:
        found = await claim(now, lease_until, limit)
        claimed.append(len(found))
        return found

    async def remove_spy(file_ids: Sequence[str]) -> None:
        dropped.append(list(file_ids))
        await remove_many(file_ids)

    monkeypatch.setattr(catalog, "claim_doomed", claim_spy)
    monkeypatch.setattr(catalog, "remove_many", remove_spy)
    # Past every file's expiry: each was stamped with the wall clock when it was made,
    # which on a loaded machine can be a second or more after the test clock's start.
    clock.now = time.time() + 3601
    assert await service.sweep() == 10
    assert claimed == [4, 4, 2]
    assert [len(ids) for ids in dropped] == [4, 4, 2]
    assert sorted(i for ids in dropped for i in ids) == sorted(doomed)
    assert [p.name for p in blob_files(root)] == [kept]
    assert [r.id for r in (await service.page(ListQuery(scope=ADMIN))).data] == [kept]


async def test_sweep_keeps_a_record_whose_bytes_could_not_go(
    env: tuple[FileService, Clock, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, clock, root = env
    ids = [await create(service, ALICE, b"x", expires=ExpiresAfter(3600)) for _ in range(3)]
    delete = service.blobs.delete

    async def delete_but_one(key: str) -> None:
        if key == ids[1]:
            raise OSError("disk went away")
        await delete(key)

    monkeypatch.setattr(service.blobs, "delete", delete_but_one)
    clock.now = time.time() + 3601  # past the wall-clock stamps of the files made
    assert await service.sweep() == 2
    # Its record stays (DELETING), so a later sweep tries again once the lease ends.
    monkeypatch.setattr(service.blobs, "delete", delete)
    assert await service.sweep() == 0
    clock.now += LEASE_SECONDS + 1
    assert await service.sweep() == 1
    assert blob_files(root) == []
