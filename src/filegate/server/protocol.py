"""HTTP/1.1 connections with the limits a server on the open internet needs.

uvicorn's httptools protocol (its fastest) bounds nothing a client sends
before the application sees a request: a connection may stay silent, send half
a header, grow one header without end or stop in the middle of a body, and it
is never closed; its own error answers are plain text. This subclass adds,
per connection:

- a deadline for the request line and headers (``header_timeout``), from the
  connection's first moment, or from a later request's first byte;
- a cap on their size (``max_header_size``): 431, or 414 for the URL alone,
  decided before more than that many bytes are handed to the parser;
- an idle timeout while the application waits for body bytes that do not come,
  and while a client does not read its response (``body_timeout``);
- a cap on open connections (``max_connections``): a connection past it is
  answered 503 at once and closed, without touching the ones being served;
- keep-alive idleness that only the start of a request ends (uvicorn ends it
  on any byte), and a deadline for the rest of a body answered early;

and it answers malformed requests itself, in OpenAI's envelope. Each error
answer ends the connection: the answer is written, the write side shut, and
whatever the client still sends is read and dropped for up to ``LINGER``
seconds (for ``max_lingering`` connections at a time), so the client reads the
answer instead of a reset.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
import orjson
from uvicorn._types import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

log = logging.getLogger("filegate.http")

# Seconds a refused connection is drained before it is closed for good.
LINGER = 2.0


@dataclass(frozen=True)
class HttpLimits:
    max_connections: int
    max_header_size: int
    header_timeout: float
    body_timeout: float
    keep_alive_timeout: float
    # Refused connections drained at once; past it they are closed right after
    # their answer, as each one holds a file descriptor meanwhile.
    max_lingering: int = 128


@dataclass(frozen=True)
class HttpError:
    """An answer the HTTP layer gives itself, in OpenAI's envelope."""

    status: int
    message: str
    code: str
    type: str = "invalid_request_error"
    retry_after: int | None = None

    def render(self, default_headers: list[tuple[bytes, bytes]]) -> bytes:
        body = orjson.dumps(
            {
                "error": {
                    "message": self.message,
                    "type": self.type,
                    "param": None,
                    "code": self.code,
                }
            }
        )
        head = [STATUS_LINE[self.status]]
        for name, value in default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            b"retry-after: %d\r\n" % self.retry_after if self.retry_after is not None else b"",
            b"x-request-id: req_" + uuid.uuid4().hex.encode() + b"\r\n",
            b"\r\n",
            body,
        ]
        return b"".join(head)


class _OneWrite:
    """A cycle's transport that sends a response's head with its first body part.

    uvicorn writes the head when the response starts and the body when it comes:
    two sends, two TCP segments and two wake-ups of the client for an answer of a
    few hundred bytes. Armed by ``hold()`` just before the start is sent, the
    next write (the head) waits here; the next write after it, a flush or a
    close takes it along. A head is never held past the current turn of the event
    loop: a response whose body comes later (a stream) has its head sent then.
    """

    __slots__ = ("_held", "_holding", "_loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._holding = False
        self._held = b""

    def hold(self) -> None:
        self._holding = True

    def release(self) -> None:
        """No longer arms: a head that was not written (a refused start) is not waited for."""
        if self._holding:
            self._holding = False
        elif self._held:
            self._loop.call_soon(self.flush)

    def write(self, data: bytes) -> None:
        if self._holding:
            self._holding = False
            self._held = data
            return
        if self._held:
            data = self._held + data
            self._held = b""
        self.transport.write(data)

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            if not self.transport.is_closing():
                self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()


class _Refused(Exception):
    """Raised in a parser callback to stop parsing and give ``error`` instead."""

    def __init__(self, error: HttpError) -> None:
        super().__init__(error.message)
        self.error = error


class LimitedHttpProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimits]
    _said_at_limit: ClassVar[float] = float("-inf")
    _lingering: ClassVar[int] = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self.limits.keep_alive_timeout  # type: ignore[assignment]
        self._timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        # Bytes of the current request's head seen so far (reset when a request ends).
        self._head_bytes = 0
        self._in_head = True
        self._begun = False  # some of a request has arrived
        self._refused = False
        self._draining = False
        self._out: _OneWrite | None = None

    # ------------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._out = _OneWrite(transport, self.loop)
        if len(self.connections) > self.limits.max_connections:
            now = self.loop.time()
            if now - self._said_at_limit >= 60:  # once a minute at most, under a flood
                type(self)._said_at_limit = now
                log.warning(
                    "%d connections open (max_connections): new ones get 503 until some close",
                    self.limits.max_connections,
                )
            self._refuse(
                HttpError(
                    503,
                    "The server has too many open connections; retry shortly.",
                    "too_many_connections",
                    "server_error",
                    retry_after=1,
                )
            )
            return
        self._arm(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._draining:
            self._draining = False
            type(self)._lingering -= 1
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # draining a refused connection: read and drop
        # uvicorn ends the keep-alive timeout on any byte, so stray CRLFs would keep
        # a connection forever; here only the start of a request ends it.
        view = memoryview(data)
        try:
            if self._in_head:
                room = self.limits.max_header_size - self._head_bytes
                self._head_bytes += len(data)
                if len(data) > room:
                    # Only a head that ends within the limit is parsed further.
                    self.parser.feed_data(view[:room])
                    if self._in_head:
                        raise _Refused(self._too_large())
                    view = view[room:]
            self.parser.feed_data(view)
            if self._begun and self._in_head and self._timer is None:
                # A request after a keep-alive pause (or pipelined) stopped mid-head;
                # armed here, not per request, as most heads come in one read.
                self._arm(self.limits.header_timeout, self._head_timed_out)
        except httptools.HttpParserUpgrade:
            pass  # WebSockets are off: the request is served as plain HTTP
        except _Refused as exc:
            self._refuse(exc.error)
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, _Refused):
                self._refuse(cause.error)
                return
            # A callback's own failure (a URL that is not ASCII, ...) names itself.
            callback = isinstance(exc, httptools.HttpParserCallbackError) and cause is not None
            reason = str(cause) if callback else str(exc)
            if reason == "Pause on PRI/Upgrade":
                reason = "HTTP/2 is not served here, only HTTP/1.1"
            self._refuse(HttpError(400, f"Invalid HTTP request: {reason}.", "invalid_http_request"))

    def _too_large(self) -> HttpError:
        if not getattr(self, "headers", None):
            return HttpError(
                414,
                f"The request line is longer than {self.limits.max_header_size} bytes "
                "(max_header_size).",
                "uri_too_long",
            )
        return HttpError(
            431,
            f"The request headers are larger than {self.limits.max_header_size} bytes "
            "(max_header_size).",
            "request_header_fields_too_large",
        )

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        self._unset_keepalive_if_required()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()  # a deadline for the rest of an answered body, if any
        self._in_head = True
        self._begun = False
        self._head_bytes = 0
        cycle = self.cycle
        if cycle.response_complete and not self.pipeline and not self.transport.is_closing():
            # The body of a request answered early is in: idle from now on.
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._begun:
            # The next request has begun already (pipelined): its header deadline
            # rules, not the keep-alive timeout uvicorn has just set.
            self._unset_keepalive_if_required()
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and cycle.more_body and not self._refused:
            # Answered early (401, 413, ...): the rest of the body is read and dropped
            # so the connection can serve again, for body_timeout at most, or a client
            # could trickle it forever.
            self._arm(self.limits.body_timeout, self.transport.close)

    # ------------------------------------------------------------------ timeouts

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_timed_out(self) -> None:
        self._timer = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A pipelined request waits for the response before it: its deadline
            # starts once that response is out.
            self._arm(self.limits.header_timeout, self._head_timed_out)
            return
        if not self._begun:
            self.transport.close()  # nothing was asked: nothing to answer
            return
        self._refuse(
            HttpError(
                408,
                f"The request headers did not arrive within {self.limits.header_timeout:g} s "
                "(header_timeout).",
                "request_timeout",
            )
        )

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        out = self._out
        assert out is not None  # set when the connection was made
        cycle.transport = out  # type: ignore[assignment]
        super()._start_asgi_task(cycle, self._wrap_app(cycle, app, out))

    def _wrap_app(
        self, cycle: RequestResponseCycle, app: ASGI3Application, out: _OneWrite
    ) -> ASGI3Application:
        """``app`` with the idle body timeout on its receive, and a response's head
        and first body part sent in one write (``_OneWrite``)."""
        # Timed where the application waits for the client, so time the server
        # spends not reading (its own back-pressure, 100-continue) never counts.
        loop, timeout = self.loop, self.limits.body_timeout

        async def timed_receive(receive: ASGIReceiveCallable) -> ASGIReceiveEvent:
            if not cycle.more_body or cycle.disconnected:
                return await receive()
            timer = loop.call_later(timeout, self._body_timed_out, cycle)
            try:
                return await receive()
            finally:
                timer.cancel()

        async def run(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
            async def one_write_send(message: ASGISendEvent) -> None:
                if message["type"] == "http.response.start":
                    out.hold()
                    try:
                        await send(message)
                    finally:
                        out.release()
                    return
                try:
                    await send(message)
                finally:
                    out.flush()

            await app(scope, lambda: timed_receive(receive), one_write_send)

        return run

    def _body_timed_out(self, cycle: RequestResponseCycle) -> None:
        if cycle is not self.cycle or not cycle.more_body or cycle.disconnected:
            return
        self._refuse(
            HttpError(
                408,
                f"The request body stopped arriving: no bytes for {self.limits.body_timeout:g} s "
                "(body_timeout).",
                "request_timeout",
            )
        )

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(
                self.limits.body_timeout, self._write_timed_out
            )

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _write_timed_out(self) -> None:
        # The client stopped reading; close() would wait for it to drain, forever.
        self._write_timer = None
        log.info(
            "%s: dropped: did not read its response for %g s",
            self._peer(),
            self.limits.body_timeout,
        )
        self.transport.abort()

    # ------------------------------------------------------------------ refusing

    def _refuse(self, error: HttpError) -> None:
        """Answer ``error`` (when an answer can still be given) and end the connection."""
        if self._refused:
            return
        self._refused = True
        self._disarm()
        cycle = self.cycle
        # Part of an answer is out, or the request it answered is still arriving: a
        # second answer would be read as the answer to another request.
        answered = cycle is not None and (
            (cycle.response_started and not cycle.response_complete)
            or (cycle.response_complete and cycle.more_body)
        )
        # A request in flight ends: its application sees a disconnect (an upload
        # stores nothing) and whatever it still sends is dropped.
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        # A fresh parser lets go of whatever partial head the old one holds.
        self.parser = httptools.HttpRequestParser(self)
        if self.transport.is_closing():
            return
        if answered:
            if self._out is not None:
                self._out.flush()  # a head still held goes first, as it would have
            self.transport.close()
            return
        if error.status != 503:  # past max_connections: said once, above
            log.info("%s: %d %s", self._peer(), error.status, error.message)
        self.transport.write(error.render(self.server_state.default_headers))
        cls = type(self)
        if cls._lingering >= self.limits.max_lingering or not self.transport.can_write_eof():
            self.transport.close()
            return
        cls._lingering += 1
        self._draining = True
        self.flow.resume_reading()
        self.transport.write_eof()
        self._timer = self.loop.call_later(LINGER, self.transport.abort)

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "client"


def protocol_class(limits: HttpLimits) -> type[LimitedHttpProtocol]:
    """The protocol uvicorn should build for each connection, with ``limits``."""
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), {"limits": limits})
