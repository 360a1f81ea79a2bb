"""Every error leaves the server in OpenAI's envelope."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match

from filegate.errors import (
    FilegateError,
    FileNotFound,
    InvalidRequest,
    MethodNotAllowed,
    QuotaExceeded,
    StorageUnavailable,
)
from filegate.server.responses import JSONResponse

log = logging.getLogger("filegate")


def render(exc: FilegateError) -> Response:
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)


async def filegate_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FilegateError)
    if isinstance(exc, QuotaExceeded):
        request.app.state.metrics.refused("quota")
    if isinstance(exc, StorageUnavailable) and exc.__cause__ is not None:
        # The client is told only that storage is unavailable; the log says why.
        log.warning("%s %s: %s (%s)", request.method, request.url.path, exc.message, exc.__cause__)
    return render(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path[:200]
    if exc.status_code == 404:
        return render(
            FileNotFound(f"Unknown request URL: {request.method} {path}.", code="unknown_url")
        )
    if exc.status_code == 405:
        return render(
            MethodNotAllowed(
                f"Method {request.method} is not allowed for {path}.",
                headers=_allow(request) or dict(exc.headers or {}),
            )
        )
    err = InvalidRequest(str(exc.detail))
    err.status_code = exc.status_code
    return render(err)


def _allow(request: Request) -> dict[str, str]:
    # Starlette names only the first route matching the path; a path served by
    # several routes (GET and POST /files) must list all of their methods.
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return {"Allow": ", ".join(sorted(methods))} if methods else {}


async def client_disconnect(request: Request, exc: Exception) -> Response:
    # Nobody is listening any more; the status only shows in the access log.
    return render(InvalidRequest("The client closed the connection.", code="client_closed"))


HANDLERS = {
    FilegateError: filegate_error,
    HTTPException: http_error,
    ClientDisconnect: client_disconnect,
}
