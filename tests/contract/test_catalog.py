"""One catalog suite, run against SQLite and the machine's PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from filegate.catalog.sql import SQLCatalog
from filegate.core.ids import new_id
from filegate.errors import QuotaExceeded, RateLimited
from filegate.records import (
    BatchRecord,
    BatchState,
    FileRecord,
    FileState,
    FileTotals,
    ListQuery,
    Location,
    Quota,
    Scope,
    Upload,
    UploadPart,
)
from tests.postgres import postgres_url  # noqa: F401 - a fixture

ADMIN = Scope()


def record(owner: str | None = "alice", *, team: str | None = None, **kw: object) -> FileRecord:
    file_id, created = new_id()
    fields: dict[str, object] = {"purpose": "user_data", "bytes": 10, **kw}
    return FileRecord(
        id=file_id,
        filename="f.txt",
        created_at=created,
        owner=owner,
        team=team,
        blob_key=file_id,
        state=FileState.WRITING,
        lease_until=created + 300,
        **fields,
    )  # type: ignore[arg-type]


async def ready(catalog: SQLCatalog, rec: FileRecord, quota: Quota | None = None) -> FileRecord:
    await catalog.insert(rec, quota)
    assert await catalog.publish(rec, quota)
    rec.state = FileState.READY
    return rec


class CatalogContract:
    """Subclasses provide a ``catalog`` fixture on a fresh database."""

    async def test_visible_only_when_ready_and_owned(self, catalog: SQLCatalog) -> None:
        now = int(time.time())
        rec = record()
        await catalog.insert(rec)
        assert await catalog.get(rec.id, ADMIN, now) is None  # still being written
        assert await catalog.publish(rec)
        assert (await catalog.get(rec.id, ADMIN, now)) is not None
        assert (await catalog.get(rec.id, Scope(owner="alice"), now)) is not None
        assert await catalog.get(rec.id, Scope(owner="bob"), now) is None

    async def test_team_access(self, catalog: SQLCatalog) -> None:
        now = int(time.time())
        rec = await ready(catalog, record("alice", team="t1"))
        assert await catalog.get(rec.id, Scope(owner="carol", team="t1"), now) is None
        mate = Scope(owner="carol", team="t1", team_access=True)
        assert await catalog.get(rec.id, mate, now) is not None
        assert (
            await catalog.get(rec.id, Scope(owner="dan", team="t2", team_access=True), now) is None
        )

    async def test_keyset_pages_are_exact(self, catalog: SQLCatalog) -> None:
        now = int(time.time())
        ids = [(await ready(catalog, record("pager"))).id for _ in range(23)]
        for order in ("asc", "desc"):
            seen: list[str] = []
            after = None
            while True:
                page = await catalog.page(
                    ListQuery(scope=Scope(owner="pager"), limit=5, order=order, after=after), now
                )
                seen += [r.id for r in page.data]
                if not page.has_more:
                    break
                after = page.data[-1].id
            assert seen == sorted(ids, reverse=order == "desc")

    async def test_filters(self, catalog: SQLCatalog) -> None:
        now = int(time.time())
        scope = Scope(owner="filters")
        local = await ready(catalog, record("filters", purpose="batch"))
        remote = record("filters")
        remote.blob_key = None
        remote.locations = [Location("oa", "openai", "file-up1", "processed")]
        await ready(catalog, remote)

        def ids(page: object) -> list[str]:
            return [r.id for r in page.data]  # type: ignore[attr-defined]

        assert ids(await catalog.page(ListQuery(scope=scope, purpose="batch"), now)) == [local.id]
        assert ids(await catalog.page(ListQuery(scope=scope, provider="openai"), now)) == [
            remote.id
        ]
        assert ids(await catalog.page(ListQuery(scope=scope, provider="filegate"), now)) == [
            local.id
        ]
        got = await catalog.get(remote.id, scope, now)
        assert got is not None and got.locations[0].provider_file_id == "file-up1"

    async def test_hide_remove_and_sweep_claims(self, catalog: SQLCatalog) -> None:
        now = int(time.time())
        rec = await ready(catalog, record("sweeper"))
        hidden = await catalog.hide(rec.id, Scope(owner="sweeper"), now, now + 300)
        assert hidden is not None and hidden.id == rec.id
        assert await catalog.get(rec.id, ADMIN, now) is None
        assert await catalog.hide(rec.id, ADMIN, now, now + 300) is None
        expired = await ready(catalog, record("sweeper", expires_at=now - 1))
        dead = record("sweeper")
        dead.lease_until = now - 1
        await catalog.insert(dead)
        claimed = {r.id for r in await catalog.claim_doomed(now, now + 300, 100)}
        assert {expired.id, dead.id} <= claimed
        assert rec.id not in claimed  # its delete still holds a live lease
        # Claimed once: a second sweeper finds nothing.
        assert not {expired.id, dead.id} & {
            r.id for r in await catalog.claim_doomed(now, now + 300, 100)
        }
        for r in (rec, expired, dead):
            await catalog.remove(r.id)

    async def test_file_quota_is_exact_under_concurrency(self, catalog: SQLCatalog) -> None:
        quota = Quota(max_files=10)
        recs = [record("quota") for _ in range(20)]
        results = await asyncio.gather(
            *(catalog.insert(r, quota) for r in recs), return_exceptions=True
        )
        assert sum(r is None for r in results) == 10
        assert all(isinstance(r, QuotaExceeded) for r in results if r is not None)

    async def test_byte_quota_and_concurrency_cap(self, catalog: SQLCatalog) -> None:
        quota = Quota(max_stored_bytes=25, max_concurrent_uploads=2)
        await ready(catalog, record("bytes", bytes=10), quota)
        await ready(catalog, record("bytes", bytes=10), quota)
        over = record("bytes", bytes=6)
        await catalog.insert(over, quota)
        with pytest.raises(QuotaExceeded):
            await catalog.publish(over, quota)
        await catalog.remove(over.id)
        await catalog.insert(record("bytes"), quota)
        await catalog.insert(record("bytes"), quota)
        with pytest.raises(RateLimited):
            await catalog.insert(record("bytes"), quota)

    async def test_rate_counters_are_exact(self, catalog: SQLCatalog) -> None:
        counts = await asyncio.gather(*(catalog.tenants.hit("key:r", "rpm", 7) for _ in range(30)))
        assert sorted(counts) == list(range(1, 31))
        assert await catalog.tenants.hit("key:r", "rpm", 8) == 1

    async def test_upload_transitions(self, catalog: SQLCatalog) -> None:
        now = int(time.time())
        up = Upload(
            id=new_id("upload_")[0],
            filename="u",
            purpose="batch",
            bytes=3,
            mime_type="application/jsonl",
            created_at=now,
            expires_at=now + 3600,
        )
        await catalog.uploads.add(up)
        part = UploadPart(id=new_id("part_")[0], upload_id=up.id, created_at=now, bytes=3)
        big = UploadPart(id=new_id("part_")[0], upload_id=up.id, created_at=now, bytes=50)
        assert await catalog.uploads.add_part(big, now, max_total=10) == "full"
        assert await catalog.uploads.add_part(part, now, max_total=10) is True
        assert await catalog.uploads.transition(up.id, "pending", "completing", now=now)
        assert not await catalog.uploads.transition(up.id, "pending", "completing", now=now)
        late = UploadPart(id=new_id("part_")[0], upload_id=up.id, created_at=now, bytes=1)
        assert await catalog.uploads.add_part(late, now, max_total=10) is False
        assert [p.id for p in await catalog.uploads.parts(up.id)] == [part.id]
        assert await catalog.uploads.get(up.id, Scope(owner="someone")) is None

    async def test_totals_count_what_is_stored_and_in_flight(self, catalog: SQLCatalog) -> None:
        now = int(time.time())
        # The catalog fixture's database may hold other tests' records (it is shared
        # within a module), so the totals are checked as changes from where they stood.
        base = await catalog.totals()
        uploads0 = await catalog.uploads.in_progress()
        batches0 = await catalog.batches.in_progress()

        def moved(files: int, nbytes: int, writing: int) -> FileTotals:
            return FileTotals(base.files + files, base.bytes + nbytes, base.writing + writing)

        kept = [await ready(catalog, record(bytes=n)) for n in (100, 250)]
        writing = record(bytes=0)
        await catalog.insert(writing)
        gone = await ready(catalog, record(bytes=7))
        assert await catalog.hide(gone.id, ADMIN, now, now + 60) is not None
        # Deleting and writing records are not stored; the one being written is in flight.
        assert await catalog.totals() == moved(2, 350, 1)
        await catalog.remove(kept[0].id)
        assert await catalog.totals() == moved(1, 250, 1)
        assert await catalog.uploads.in_progress() == uploads0
        up = Upload(
            id=new_id("upload_")[0],
            filename="u",
            purpose="batch",
            bytes=3,
            mime_type="application/jsonl",
            created_at=now,
            expires_at=now + 3600,
        )
        await catalog.uploads.add(up)
        assert await catalog.uploads.in_progress() == uploads0 + 1
        assert await catalog.uploads.transition(up.id, "pending", "cancelled", now=now)
        assert await catalog.uploads.in_progress() == uploads0
        assert await catalog.batches.in_progress() == batches0

    async def test_exclusive(self, catalog: SQLCatalog) -> None:
        async with catalog.exclusive("contract") as mine:
            assert mine

    async def test_batch_run_lines_are_kept_only_from_the_lease_holder(
        self, catalog: SQLCatalog
    ) -> None:
        """The runner's two commits: lines only (``add_lines``), and lines with the state
        and the lease (``commit``); neither writes anything once another process holds
        the batch."""
        batch_id, created = new_id("batch_")
        record = BatchRecord(
            id=batch_id,
            created_at=created,
            deployment="local-llm",
            provider="openai_compatible",
            provider_batch_id="",
            input_file_id="file-x",
            endpoint="/v1/chat/completions",
            state=BatchState(status="in_progress"),
        )
        runs = catalog.batch_runs
        assert (
            await catalog.batches.reserve(
                record, now=created, lease_until=created + 60, key_cap=None, team_cap=None
            )
            is None
        )
        await catalog.batches.publish(record)
        assert await runs.claim(batch_id, "local-llm", "a", now=1000, until=2000)
        assert await runs.add_lines(batch_id, "a", [(1, False, "one"), (2, True, "two")])
        counted = await runs.commit(
            batch_id,
            "a",
            [(3, False, "three")],
            3000,
            lambda s: dataclasses.replace(s, request_counts={"total": 9, "completed": 2}),
        )
        assert counted is not None and counted.request_counts == {"total": 9, "completed": 2}
        # Renewed to 3000: another process cannot take it at 2500, but can at 3001.
        assert not await runs.claim(batch_id, "local-llm", "b", now=2500, until=9000)
        assert await runs.claim(batch_id, "local-llm", "b", now=3001, until=9000)
        assert not await runs.add_lines(batch_id, "a", [(4, False, "late")])
        assert await runs.commit(batch_id, "a", [(5, False, "late")], 9999, lambda s: s) is None
        assert await runs.add_lines(batch_id, "b", [(6, False, "six")])
        assert await runs.done_lines(batch_id) == ({1, 2, 3, 6}, 1)
        assert await runs.results(batch_id, False, 0, 10) == [(1, "one"), (3, "three"), (6, "six")]
        got = await catalog.batches.get(batch_id, ADMIN)
        assert got is not None and got.state.request_counts == {"total": 9, "completed": 2}


class TestSQLite(CatalogContract):
    @pytest.fixture
    async def catalog(self, tmp_path: Path) -> AsyncIterator[SQLCatalog]:
        cat = await SQLCatalog.open(f"sqlite:///{tmp_path}/catalog.db")
        yield cat
        await cat.aclose()


class TestPostgreSQL(CatalogContract):
    @pytest.fixture
    async def catalog(self, postgres_url: str) -> AsyncIterator[SQLCatalog]:  # noqa: F811
        cat = await SQLCatalog.open(postgres_url)
        yield cat
        await cat.aclose()

    async def test_only_one_process_sweeps(self, postgres_url: str) -> None:  # noqa: F811
        one = await SQLCatalog.open(postgres_url)
        two = await SQLCatalog.open(postgres_url)
        try:
            async with one.exclusive("sweep-test") as first, two.exclusive("sweep-test") as second:
                assert (first, second) == (True, False)
            async with two.exclusive("sweep-test") as again:
                assert again
        finally:
            await one.aclose()
            await two.aclose()

    async def test_concurrent_migrations(self, postgres_url: str) -> None:  # noqa: F811
        cats = await asyncio.gather(*(SQLCatalog.open(postgres_url) for _ in range(4)))
        for cat in cats:
            await cat.check()
            await cat.aclose()
