"""The floor: the least an HTTP file sink on this stack can do.

A few lines of Starlette on uvicorn (same settings as filegate: uvloop and
httptools when installed) that write ``request.stream()`` to a file and serve
files back in chunks. No parsing, no hashing, no catalog: whatever filegate
costs above this is filegate's own overhead.

    python benchmarks/floor_sink.py --port 4100 --dir /tmp/floor

Routes:
    GET  /ping              -> "ok" (the trivial request, for reference)
    POST /upload?name=NAME  -> the raw body written to DIR/NAME, fsynced
    GET  /download/{name}   -> DIR/NAME streamed back in 256 KiB chunks
"""

from __future__ import annotations

import argparse
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

# The same read size as filegate's local blob store, so downloads compare like for like.
READ_CHUNK = 256 * 1024
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def build_app(root: Path) -> Starlette:
    def path_for(name: str) -> Path | None:
        return root / name if _SAFE_NAME.match(name) and ".." not in name else None

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def upload(request: Request) -> Response:
        name = request.query_params.get("name") or uuid.uuid4().hex
        path = path_for(name)
        if path is None:
            return PlainTextResponse("bad name", status_code=400)
        size = 0
        with open(path, "wb") as fh:  # noqa: ASYNC230 - the floor is deliberately naive
            async for chunk in request.stream():
                fh.write(chunk)
                size += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())  # durable before answering, as filegate is
        return JSONResponse({"name": name, "bytes": size})

    async def download(request: Request) -> Response:
        path = path_for(request.path_params["name"])
        if path is None or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        size = path.stat().st_size

        async def chunks() -> AsyncIterator[bytes]:
            with open(path, "rb") as fh:  # noqa: ASYNC230
                while chunk := fh.read(READ_CHUNK):
                    yield chunk

        return StreamingResponse(
            chunks(),
            media_type="application/octet-stream",
            headers={"Content-Length": str(size)},
        )

    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/upload", upload, methods=["POST"]),
            Route("/download/{name}", download, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4100)
    parser.add_argument("--dir", type=Path, required=True, help="where uploads are written")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        build_app(args.dir),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        lifespan="off",
        server_header=False,
    )


if __name__ == "__main__":
    main()
