"""The one layer every HTTP request passes on its way to the router.

It does, in one ``send`` wrapper and one ``try``, what five stacked middlewares
did (Starlette's two error layers, request ids, metrics, the last-resort 500),
each of which cost a coroutine per message and a frame per request:

- a request id: the client's ``x-request-id`` if it is sane, else a fresh
  random one; in ``scope["state"]`` for the access log and on every response;
- the exception handlers (``errors.HANDLERS``) for what the router itself
  raises (404, 405, a mount's 404), and the last word on any other exception:
  a 500 in OpenAI's envelope, after which the connection lives on (raising
  would have uvicorn close it). Only an answer already under way is left to
  fail: half a body can only be told by closing the connection;
- the request's metrics and its JSON access record (``metrics.py``), when on.

Handlers raised inside a route are answered by the route's own wrapper
(Starlette's ``request_response``), which reads them from
``scope["starlette.exception_handlers"]`` as set here.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from filegate.errors import FilegateError
from filegate.server.errors import render
from filegate.server.metrics import Metrics, log_request, method_label

__all__ = ["Front", "RandomIds", "new_request_id"]

log = logging.getLogger("filegate")

_SANE = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_ID_HEADER = b"x-request-id"


_ID_POOL_BYTES = 4096  # random bytes read at once: ids for 256 requests


class RandomIds:
    """128 random bits per id, as uuid4 gives, read from the OS 4 KiB at a time rather
    than a system call per request (a twentieth of a retrieve's CPU under load). Random
    rather than a counter: unique across a fleet without coordination, and an id tells
    a client nothing about how many requests others made."""

    def __init__(self) -> None:
        self._hex = b""
        self._at = 0
        # A forked child must not hand out its parent's ids.
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._hex, self._at = b"", 0

    def __call__(self) -> bytes:
        at = self._at
        if at >= len(self._hex):
            self._hex, at = os.urandom(_ID_POOL_BYTES).hex().encode(), 0
        self._at = at + 32
        return b"req_" + self._hex[at : at + 32]


new_request_id = RandomIds()


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _lookup(handlers: Mapping[Any, Handler], exc: Exception) -> Handler | None:
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            return handler
    return None


class Front:
    """Request ids, error answers, metrics and the access log around ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        handlers: Mapping[Any, Handler],
        metrics: Metrics | None,
        *,
        json_log: bool,
    ) -> None:
        self.app = app
        self.handlers = dict(handlers)
        # What Starlette's ExceptionMiddleware would put in the scope: (by class, by status).
        self._scoped: tuple[dict[Any, Handler], dict[int, Handler]] = (self.handlers, {})
        self.metrics = metrics
        self.json_log = json_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        rid = b""
        for name, value in scope["headers"]:
            if name == _ID_HEADER and _SANE.match(value):
                rid = value
                break
        if not rid:
            rid = new_request_id()
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["request_id"] = rid.decode()
        scope["starlette.exception_handlers"] = self._scoped
        status = 500
        body_out = 0
        body_in = 0
        answering = False

        async def front_send(message: Message) -> None:
            nonlocal status, body_out, answering
            if message["type"] == "http.response.start":
                answering = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (_ID_HEADER, rid)]
            elif message["type"] == "http.response.body":
                body_out += len(message.get("body", b""))
            await send(message)

        async def front_receive() -> Message:
            nonlocal body_in
            message = await receive()
            if message["type"] == "http.request":
                body_in += len(message.get("body", b""))
            return message

        metrics = self.metrics
        if metrics is not None:
            metrics.http.in_flight += 1
        try:
            await self.app(scope, front_receive, front_send)
        except Exception as exc:
            if answering:
                raise
            await self._answer(exc, scope, receive, front_send)
        finally:
            if metrics is not None or self.json_log:
                elapsed = time.perf_counter() - started_at
                route = getattr(scope.get("route"), "path", None)
                if not isinstance(route, str):
                    route = "unmatched"
                method = method_label(scope["method"])
                if metrics is not None:
                    metrics.http.in_flight -= 1
                    metrics.observe_request(route, method, status, elapsed, body_in, body_out)
                if self.json_log:
                    log_request(state, route, method, status, elapsed, body_in, body_out)

    async def _answer(self, exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer an exception the routes did not: its handler's answer, else a 500."""
        handler = _lookup(self.handlers, exc)
        if handler is not None:
            try:
                response = await handler(Request(scope, receive), exc)
            except Exception as failed:
                exc = failed
            else:
                # A reused exception instance would grow its traceback request by request.
                exc.__traceback__ = None
                await response(scope, receive, send)
                return
        log.error("unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
        error = FilegateError("The server had an error while processing your request.")
        await render(error)(scope, receive, send)
