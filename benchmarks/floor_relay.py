"""The relay floor: the least a Python gateway that keeps a retry copy can do.

A few lines of Starlette on uvicorn (uvloop and httptools, as filegate) in front
of an OpenAI-compatible upstream. An upload's body goes on to the upstream as it
arrives, unparsed (the client's own multipart framing, Content-Type and
Content-Length), through httpx2, the HTTP client filegate uses; a writer thread
writes the same chunks to a spool file, the copy a relay needs to retry from,
and deletes it afterwards. No multipart parsing, no validation, no catalog, no
ids of its own: a relay that does what issue 3 asks (stream, keep a spooled
copy) cannot do less, so what filegate costs above this is its own overhead,
and what this costs above direct is the price of being a relay at all.

    python benchmarks/floor_relay.py --port 4200 --upstream http://127.0.0.1:4100 \
        --api-key sk-upstream --spool /tmp/floor-relay

Routes (everything else is the upstream's answer, passed back):
    GET    /ping                      -> "ok"
    POST   /v1/files                  -> the body relayed (and spooled) to the upstream
    GET    /v1/files/{id}/content     -> the upstream's bytes streamed back
    DELETE /v1/files/{id}             -> passed on
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

_FORWARDED = ("content-type", "content-length")


def _write_spool(path: Path, chunks: queue.SimpleQueue[bytes | None]) -> None:
    """The writer thread: the chunks to ``path`` until None, then the file is removed."""
    try:
        with open(path, "xb") as fh:
            while (chunk := chunks.get()) is not None:
                fh.write(chunk)
    finally:
        path.unlink(missing_ok=True)


def build_app(upstream: str, api_key: str, spool: Path) -> Starlette:
    client = httpx2.AsyncClient(
        base_url=upstream,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=httpx2.Timeout(600.0, connect=10.0),
    )

    def answer(r: httpx2.Response) -> Response:
        ctype = r.headers.get("content-type", "application/json")
        return Response(r.content, status_code=r.status_code, media_type=ctype)

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def upload(request: Request) -> Response:
        headers = {k: v for k in _FORWARDED if (v := request.headers.get(k))}
        chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        writer = threading.Thread(
            target=_write_spool, args=(spool / uuid.uuid4().hex, chunks), daemon=True
        )
        writer.start()

        async def body() -> AsyncIterator[bytes]:
            async for chunk in request.stream():
                if chunk:
                    chunks.put(chunk)
                    yield chunk

        try:
            r = await client.post("/v1/files", content=body(), headers=headers)
        finally:
            chunks.put(None)
        return answer(r)

    async def content(request: Request) -> Response:
        req = client.build_request("GET", f"/v1/files/{request.path_params['id']}/content")
        r = await client.send(req, stream=True)
        if r.status_code != 200:
            await r.aread()
            return answer(r)
        headers = {k: v for k in _FORWARDED if (v := r.headers.get(k))}
        done = BackgroundTask(r.aclose)
        return StreamingResponse(r.aiter_raw(), headers=headers, background=done)

    async def delete(request: Request) -> Response:
        return answer(await client.delete(f"/v1/files/{request.path_params['id']}"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with client:
            yield

    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/v1/files", upload, methods=["POST"]),
            Route("/v1/files/{id}/content", content, methods=["GET"]),
            Route("/v1/files/{id}", delete, methods=["DELETE"]),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4200)
    parser.add_argument("--upstream", required=True, help="the upstream's base URL")
    parser.add_argument("--api-key", required=True, help="the upstream's key")
    parser.add_argument("--spool", type=Path, required=True, help="where spool files go")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    args.spool.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        build_app(args.upstream.rstrip("/"), args.api_key, args.spool),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        server_header=False,
    )


if __name__ == "__main__":
    main()
