"""The catalog's reads use indexes: plans asked of SQLite and PostgreSQL themselves.

Every shape of retrieve and list (each reach, first page, ``after`` page, purpose
filter, both orders) and the sweep's claim, compiled exactly as the catalog runs
them, on a catalog of a few thousand files over many tenants. A plan that reads
the whole table, or sorts all of a tenant's files for one page, fails here long
before a catalog of a million files makes it slow.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from filegate.catalog.hot import Compiled, compile_for
from filegate.catalog.schema import files
from filegate.catalog.sql import (
    _STORED,
    _WRITING,
    SQLCatalog,
    _doomed_ids,
    _get_stmt,
    _page_stmt,
)
from filegate.core.ids import new_id
from tests.postgres import ADMIN_URL, _run

FILES = 6_000
OWNERS = [f"key-{i:02d}" for i in range(30)]
TEAMS = [f"team-{i:02d}" for i in range(5)]
PURPOSES = ["batch", "user_data", "fine-tune", "assistants", "vision"]

# (name, statement, whether the plan may sort: only the few rows a team page
# merges from its two sides).
SHAPES: list[tuple[str, sa.Select[Any], bool]] = [
    ("retrieve own", _get_stmt("own"), False),
    ("retrieve team", _get_stmt("team"), False),
    ("retrieve master", _get_stmt("all"), False),
]
for _reach in ("own", "team", "all"):
    for _asc in (False, True):
        for _after in (False, True):
            for _purpose in (False, True):
                SHAPES.append(
                    (
                        f"list {_reach} {'asc' if _asc else 'desc'}"
                        f"{' after' if _after else ''}{' purpose' if _purpose else ''}",
                        _page_stmt(_reach, _asc, _after, _purpose, None),
                        _reach == "team",
                    )
                )


def _rows() -> Iterator[tuple[Any, ...]]:
    for i in range(FILES):
        file_id, created = new_id()
        team = TEAMS[i % len(TEAMS)] if i % 3 == 0 else None
        yield (
            file_id,
            OWNERS[i % len(OWNERS)],
            team,
            f"f{i}.jsonl",
            # "evals" is rare: a filter for it must not walk the others' rows.
            "evals" if i % 97 == 0 else PURPOSES[i % (len(PURPOSES) - 1)],
            10,
            "text/plain",
            None,
            created,
            created + 3600 if i % 7 == 0 else None,
            "processed",
            None,
            "ready",
            None,
            file_id,
        )


def _params(ids: list[str]) -> dict[str, Any]:
    return {
        "file_id": ids[100],
        "now": 1,
        "scope_owner": OWNERS[3],
        "scope_team": TEAMS[1],
        "limit": 21,
        "after": ids[len(ids) // 2],
        "purpose_filter": "evals",
        "provider_filter": None,
    }


def _check_no_offset(compiled: Compiled) -> None:
    # SQLite's compiler writes "LIMIT ? OFFSET ?" with the statement's own 0;
    # pages are cut by id (keyset), never by skipping rows.
    if "OFFSET" in compiled.sql:
        offsets = [d for n, d in compiled.binds if n.startswith("param_")]
        assert offsets and set(offsets) == {0}, compiled.sql


def _literal(stmt: sa.Select[Any], dialect: sa.Dialect) -> str:
    """The sweep's claim as the catalog sends it, with a time far in the future."""
    bound = stmt.params(now=10**10)
    return str(bound.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


# --------------------------------------------------------------------------- SQLite


async def _migrate(url: str) -> None:
    catalog = await SQLCatalog.open(url)
    await catalog.aclose()


@pytest.fixture(scope="module")
def sqlite_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("plans") / "catalog.db"
    asyncio.run(_migrate(f"sqlite:///{path}"))
    db = sqlite3.connect(path)
    db.executemany(f"INSERT INTO files VALUES ({', '.join('?' * 15)})", _rows())
    db.commit()
    db.close()
    yield path


def _sqlite_plan(db: sqlite3.Connection, compiled: Compiled, params: dict[str, Any]) -> list[str]:
    rows = db.execute("EXPLAIN QUERY PLAN " + compiled.sql, compiled.args(params)).fetchall()
    return [str(r[3]) for r in rows]


@pytest.mark.parametrize("analyzed", [False, True], ids=["fresh", "analyzed"])
@pytest.mark.parametrize(("name", "stmt", "may_sort"), SHAPES, ids=[s[0] for s in SHAPES])
def test_sqlite_plans_use_indexes(
    sqlite_catalog: Path, name: str, stmt: sa.Select[Any], may_sort: bool, analyzed: bool
) -> None:
    db = sqlite3.connect(sqlite_catalog)
    try:
        # A catalog starts without statistics; the plans must not need them.
        if analyzed:
            db.execute("ANALYZE")
        else:
            db.execute("DROP TABLE IF EXISTS sqlite_stat1")
        db.commit()
        db.close()
        db = sqlite3.connect(sqlite_catalog)
        ids = [r[0] for r in db.execute("SELECT id FROM files ORDER BY id")]
        compiled = compile_for(stmt, sa.create_engine("sqlite://").dialect)
        _check_no_offset(compiled)
        plan = _sqlite_plan(db, compiled, _params(ids))
    finally:
        db.close()
    on_files = [step for step in plan if " files " in f" {step} "]
    assert on_files, plan
    for step in on_files:
        # A SCAN in id order (the master key's unfiltered page) stops at the
        # page's end; any other scan of files reads it all.
        assert step.startswith("SEARCH files USING") or step in (
            "SCAN files USING INDEX sqlite_autoindex_files_1",
        ), (name, plan)
    sorts = [step for step in plan if "TEMP B-TREE FOR ORDER BY" in step]
    if not may_sort:
        assert not sorts, (name, plan)
    else:
        # The merge of a team page's two sides, each cut at the page size.
        assert plan.count("USE TEMP B-TREE FOR ORDER BY") <= 1, plan
    if "purpose" in name:
        assert any("purpose" in step for step in on_files), (name, plan)
    if "after" in name:
        assert any("id<?" in step or "id>?" in step for step in on_files), (name, plan)


def test_sqlite_sweep_claim_uses_indexes(sqlite_catalog: Path) -> None:
    db = sqlite3.connect(sqlite_catalog)
    try:
        sql = _literal(_doomed_ids(500), sa.create_engine("sqlite://").dialect)
        plan = [str(r[3]) for r in db.execute("EXPLAIN QUERY PLAN " + sql)]
    finally:
        db.close()
    assert "MULTI-INDEX OR" in plan, plan
    assert not [s for s in plan if s.startswith("SCAN files")], plan


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def postgres_catalog() -> Iterator[str]:
    name = f"filegate_plans_{uuid.uuid4().hex[:10]}"
    try:
        _run(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        pytest.skip(f"PostgreSQL is not reachable at {ADMIN_URL}: {exc}")
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        yield url
    finally:
        _run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def postgres_ids(postgres_catalog: str) -> list[str]:
    import asyncpg

    async def fill() -> list[str]:
        await _migrate(postgres_catalog)
        conn = await asyncpg.connect(postgres_catalog)
        try:
            rows = list(_rows())
            columns = [c.name for c in files.c]
            await conn.copy_records_to_table("files", records=rows, columns=columns)
            # As autovacuum would soon after; PostgreSQL plans by its statistics.
            await conn.execute("ANALYZE files")
            return [r[0] for r in await conn.fetch("SELECT id FROM files ORDER BY id")]
        finally:
            await conn.close()

    return asyncio.run(fill())


def _pg_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _pg_nodes(child)


async def _pg_plan(url: str, compiled: Compiled, params: dict[str, Any]) -> list[dict[str, Any]]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        doc = await conn.fetchval("EXPLAIN (FORMAT JSON) " + compiled.sql, *compiled.args(params))
    finally:
        await conn.close()
    return list(_pg_nodes(json.loads(doc)[0]["Plan"]))


def _pg_dialect() -> sa.Dialect:
    return create_async_engine("postgresql+asyncpg://x@127.0.0.1/x").dialect


@pytest.mark.parametrize(("name", "stmt", "may_sort"), SHAPES, ids=[s[0] for s in SHAPES])
async def test_postgres_plans_use_indexes(
    postgres_catalog: str,
    postgres_ids: list[str],
    name: str,
    stmt: sa.Select[Any],
    may_sort: bool,
) -> None:
    compiled = compile_for(stmt, _pg_dialect())
    assert "OFFSET" not in compiled.sql
    nodes = await _pg_plan(postgres_catalog, compiled, _params(postgres_ids))
    kinds = [n["Node Type"] for n in nodes]
    on_files = [n for n in nodes if n.get("Relation Name") == "files"]
    assert on_files, kinds
    for node in on_files:
        assert node["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), (
            name,
            kinds,
        )
    assert "Seq Scan" not in kinds, (name, kinds)
    if "purpose" in name:
        # PostgreSQL may sort what a purpose index found (a few rows); the
        # index is what keeps the other purposes unread.
        indexes = {n.get("Index Name") for n in nodes}
        assert indexes & {
            "ix_files_owner_purpose_id",
            "ix_files_team_purpose_id",
            "ix_files_purpose_id",
        }, (name, indexes)
    elif not may_sort:
        assert "Sort" not in kinds, (name, kinds)


async def test_postgres_sweep_claim_uses_indexes(
    postgres_catalog: str, postgres_ids: list[str]
) -> None:
    sql = _literal(_doomed_ids(500), _pg_dialect())
    nodes = await _pg_plan(postgres_catalog, Compiled(sql, ()), {})
    assert "Seq Scan" not in [n["Node Type"] for n in nodes], nodes


# --------------------------------------------------------------------------- gauges' totals

# The sweeper's counts for the gauges, once per interval: index walks, never the table.
TOTALS = [("stored", _STORED, "ix_files_bytes_state"), ("writing", _WRITING, "ix_files_leased")]


@pytest.mark.parametrize(("name", "stmt", "index"), TOTALS, ids=[t[0] for t in TOTALS])
def test_sqlite_totals_walk_an_index(
    sqlite_catalog: Path, name: str, stmt: sa.Select[Any], index: str
) -> None:
    db = sqlite3.connect(sqlite_catalog)
    try:
        compiled = compile_for(stmt, sa.create_engine("sqlite://").dialect)
        plan = _sqlite_plan(db, compiled, {})
    finally:
        db.close()
    assert len(plan) == 1 and index in plan[0], (name, plan)
    if name == "stored":
        # The count and the sum read the index alone.
        assert "COVERING INDEX" in plan[0], plan


@pytest.mark.parametrize(("name", "stmt", "index"), TOTALS, ids=[t[0] for t in TOTALS])
async def test_postgres_totals_walk_an_index(
    postgres_catalog: str, postgres_ids: list[str], name: str, stmt: sa.Select[Any], index: str
) -> None:
    import asyncpg

    conn = await asyncpg.connect(postgres_catalog)
    try:
        # As autovacuum does: the visibility map lets an index-only scan skip the heap.
        await conn.execute("VACUUM ANALYZE files")
    finally:
        await conn.close()
    nodes = await _pg_plan(postgres_catalog, compile_for(stmt, _pg_dialect()), {})
    kinds = [n["Node Type"] for n in nodes]
    assert "Seq Scan" not in kinds, (name, kinds)
    assert any(n.get("Index Name") == index for n in nodes), (name, nodes)
