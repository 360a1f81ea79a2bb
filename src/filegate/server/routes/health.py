"""Liveness and readiness probes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from filegate import __version__
from filegate.errors import StorageUnavailable
from filegate.server.responses import JSONResponse


async def liveliness(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


async def readiness(request: Request) -> Response:
    gateway = request.app.state.gateway
    checks: dict[str, str] = {}
    healthy = True
    for name, component in (("catalog", gateway.catalog), ("storage", gateway.blobs)):
        try:
            await component.check()
            checks[name] = "ok"
        except StorageUnavailable as exc:
            checks[name] = exc.message
            healthy = False
    body = {"status": "ready" if healthy else "unavailable", "version": __version__, **checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


routes = [
    Route("/health/liveliness", liveliness, methods=["GET"]),
    Route("/health/liveness", liveliness, methods=["GET"]),
    Route("/health/readiness", readiness, methods=["GET"]),
]
