"""The small-request floor: a bare server doing what filegate's retrieve and list do.

Starlette on uvicorn (uvloop and httptools when installed, as filegate) over the
plain driver, reading filegate's own catalog (same file, same tables, same
indexes): sqlite3 on the event loop, or an asyncpg pool for PostgreSQL. Every
request checks its ``Authorization: Bearer`` key against the key's row (SHA-256 of
the secret, as filegate stores it), then runs one statement and answers the
OpenAI ``file`` or ``list`` object. No middleware, no routing prefixes, no
caches: whatever filegate costs above this is filegate's own.

    python benchmarks/floor_small.py --port 4200 --database sqlite:////tmp/x/catalog.db
    python benchmarks/floor_small.py --port 4200 --database postgresql://postgres@127.0.0.1/db

Routes:
    GET /ping                                 -> "ok"
    GET /v1/files/{file_id}                   -> the file (404 when not the caller's)
    GET /v1/files?limit=N&after=ID&purpose=P  -> a page, newest first
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

COLUMNS = "id, filename, purpose, bytes, created_at, expires_at, status, status_details"
VISIBLE = "state = 'ready' AND (expires_at IS NULL OR expires_at > {now}) AND owner = {owner}"


def file_object(row: Sequence[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row[0],
        "object": "file",
        "bytes": row[3],
        "created_at": row[4],
        "filename": row[1],
        "purpose": row[2],
        "status": row[6],
    }
    if row[5] is not None:
        out["expires_at"] = row[5]
    if row[7] is not None:
        out["status_details"] = row[7]
    return out


def page_object(rows: Sequence[Sequence[Any]], limit: int) -> dict[str, Any]:
    data = [file_object(r) for r in rows[:limit]]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(rows) > limit,
    }


def bearer_hash(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return hashlib.sha256(token.encode()).hexdigest()


def unauthorized() -> Response:
    return JSONResponse({"error": {"message": "Incorrect API key provided."}}, status_code=401)


def not_found() -> Response:
    return JSONResponse({"error": {"message": "No such file."}}, status_code=404)


def page_args(request: Request) -> tuple[int, str | None, str | None]:
    q = request.query_params
    return int(q.get("limit", "10000")), q.get("after"), q.get("purpose")


def sqlite_app(path: str) -> Starlette:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=10000")
    key_sql = "SELECT id, expires_at FROM api_keys WHERE token_hash = ?"
    get_sql = f"SELECT {COLUMNS} FROM files WHERE id = ? AND " + VISIBLE.format(now="?", owner="?")

    def owner_of(request: Request) -> str | None:
        token_hash = bearer_hash(request)
        if token_hash is None:
            return None
        row = db.execute(key_sql, (token_hash,)).fetchone()
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        return str(row[0])

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def retrieve(request: Request) -> Response:
        owner = owner_of(request)
        if owner is None:
            return unauthorized()
        row = db.execute(
            get_sql, (request.path_params["file_id"], int(time.time()), owner)
        ).fetchone()
        return not_found() if row is None else JSONResponse(file_object(row))

    async def list_files(request: Request) -> Response:
        owner = owner_of(request)
        if owner is None:
            return unauthorized()
        limit, after, purpose = page_args(request)
        sql = f"SELECT {COLUMNS} FROM files WHERE " + VISIBLE.format(now="?", owner="?")
        params: list[Any] = [int(time.time()), owner]
        if purpose:
            sql += " AND purpose = ?"
            params.append(purpose)
        if after:
            sql += " AND id < ?"
            params.append(after)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit + 1)
        return JSONResponse(page_object(db.execute(sql, params).fetchall(), limit))

    return Starlette(
        routes=[
            Route("/ping", ping),
            Route("/v1/files/{file_id}", retrieve),
            Route("/v1/files", list_files),
        ]
    )


def postgres_app(url: str) -> Starlette:
    import asyncpg

    pool: asyncpg.Pool[Any] | None = None
    key_sql = "SELECT id, expires_at FROM api_keys WHERE token_hash = $1"
    get_sql = f"SELECT {COLUMNS} FROM files WHERE id = $1 AND " + VISIBLE.format(
        now="$2", owner="$3"
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        # SQLAlchemy's default pool size, as filegate uses it.
        pool = await asyncpg.create_pool(url, min_size=5, max_size=15)
        try:
            yield
        finally:
            await pool.close()

    async def owner_of(conn: Any, request: Request) -> str | None:
        token_hash = bearer_hash(request)
        if token_hash is None:
            return None
        row = await conn.fetchrow(key_sql, token_hash)
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        return str(row[0])

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def retrieve(request: Request) -> Response:
        assert pool is not None
        async with pool.acquire() as conn:
            owner = await owner_of(conn, request)
            if owner is None:
                return unauthorized()
            row = await conn.fetchrow(
                get_sql, request.path_params["file_id"], int(time.time()), owner
            )
        return not_found() if row is None else JSONResponse(file_object(row))

    async def list_files(request: Request) -> Response:
        assert pool is not None
        limit, after, purpose = page_args(request)
        sql = f"SELECT {COLUMNS} FROM files WHERE " + VISIBLE.format(now="$1", owner="$2")
        params: list[Any] = [int(time.time())]
        async with pool.acquire() as conn:
            owner = await owner_of(conn, request)
            if owner is None:
                return unauthorized()
            params.append(owner)
            if purpose:
                params.append(purpose)
                sql += f" AND purpose = ${len(params)}"
            if after:
                params.append(after)
                sql += f" AND id < ${len(params)}"
            params.append(limit + 1)
            sql += f" ORDER BY id DESC LIMIT ${len(params)}"
            rows = await conn.fetch(sql, *params)
        return JSONResponse(page_object(rows, limit))

    return Starlette(
        routes=[
            Route("/ping", ping),
            Route("/v1/files/{file_id}", retrieve),
            Route("/v1/files", list_files),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--database", required=True, help="sqlite:///PATH or postgresql://...")
    p.add_argument("--log-level", default="warning")
    args = p.parse_args()
    if args.database.startswith("sqlite:///"):
        app = sqlite_app(args.database.removeprefix("sqlite:///"))
    else:
        app = postgres_app(args.database)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
