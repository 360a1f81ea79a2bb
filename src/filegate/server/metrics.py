"""The operator's view: Prometheus metrics at ``GET /metrics`` and one JSON log object
per request.

Every label has a bounded set of values: the route's template (``/v1/files/{file_id}``,
never the id; ``unmatched`` for a URL no route takes), the method (the HTTP methods
the routes use, else ``other``), the status code, the direction. No file ids, keys or
tenants appear in a label. The registry is the app's own, so two apps in one process
(the tests) count apart.

``/metrics`` needs the master key unless the ``metrics_public`` setting is true.
With ``log_format: json`` the middleware logs one object per request on the
``filegate.access`` logger: request id, the caller's key alias or key id (never the
key), route template, method, status, duration, bytes in and out.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from filegate.errors import PermissionDenied
from filegate.server.auth import authenticate

__all__ = ["Metrics", "MetricsMiddleware", "routes"]

access_log = logging.getLogger("filegate.access")
# A *_created series per label set doubles the scrape and says nothing a scraper needs.
disable_created_metrics()  # type: ignore[no-untyped-call]
_METHODS = frozenset({"GET", "POST", "DELETE", "HEAD", "PUT", "PATCH", "OPTIONS"})


class Metrics:
    """The gateway's metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "filegate_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "filegate_http_request_duration_seconds",
            "Time to answer a request (to the last byte sent), by route template.",
            ["route", "method"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.bytes = Counter(
            "filegate_http_body_bytes",
            "Request and response body bytes, by direction (in, out) and route template.",
            ["direction", "route"],
            registry=r,
        )
        self.in_flight = Gauge(
            "filegate_http_requests_in_flight", "Requests being answered now.", registry=r
        )
        self.refusals = Counter(
            "filegate_refusals",
            "Requests refused by a rate limit (429) or a storage quota (quota_exceeded).",
            ["reason"],
            registry=r,
        )
        self.sweeps = Counter("filegate_sweeps", "Sweeps run by this process.", registry=r)
        self.swept = Counter(
            "filegate_swept_rows",
            "Rows the sweep removed, by kind (files, uploads).",
            ["kind"],
            registry=r,
        )

    def observe_sweep(self, files: int, uploads: int) -> None:
        self.sweeps.inc()
        self.swept.labels("files").inc(files)
        self.swept.labels("uploads").inc(uploads)

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class MetricsMiddleware:
    """Counts every HTTP request; logs it as JSON when ``json_log`` is set."""

    def __init__(self, app: ASGIApp, metrics: Metrics, *, json_log: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.json_log = json_log
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen = {"in": 0, "out": 0, "status": 500}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen["in"] += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = int(message["status"])
            elif message["type"] == "http.response.body":
                seen["out"] += len(message.get("body", b""))
            await send(message)

        m = self.metrics
        m.in_flight.inc()
        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            m.in_flight.dec()
            elapsed = time.perf_counter() - started
            route = _route(scope)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            status = seen["status"]
            # Label children are looked up once per (route, method, status): the set is
            # bounded, and labels() costs more than the increments themselves.
            key = (route, method, status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    m.requests.labels(route, method, str(status)),
                    m.latency.labels(route, method),
                    m.bytes.labels("in", route),
                    m.bytes.labels("out", route),
                )
            requests, latency, bytes_in, bytes_out = children
            requests.inc()
            latency.observe(elapsed)
            if seen["in"]:
                bytes_in.inc(seen["in"])
            if seen["out"]:
                bytes_out.inc(seen["out"])
            if status == 429:
                m.refused("rate_limit")
            if self.json_log:
                self._log(scope, route, method, status, elapsed, seen)

    def _log(
        self,
        scope: Scope,
        route: str,
        method: str,
        status: int,
        elapsed: float,
        seen: dict[str, int],
    ) -> None:
        state: dict[str, Any] = scope.get("state") or {}
        access_log.info(
            "request",
            extra={
                "access": {
                    "request_id": state.get("request_id"),
                    "caller": state.get("caller"),
                    "route": route,
                    "method": method,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "bytes_in": seen["in"],
                    "bytes_out": seen["out"],
                }
            },
        )


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    if not request.app.state.gateway.settings.metrics_public:
        principal = await authenticate(request)
        if not principal.is_admin:
            raise PermissionDenied("Only the master key may read the metrics.", code="admin_only")
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


# Prometheus' text format for the operator, not part of the OpenAI-compatible API the
# document describes (README "Metrics" shows it).
routes = [Route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)]
