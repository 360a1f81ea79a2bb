"""The operator's view: Prometheus metrics at ``GET /metrics`` and one JSON log object
per request.

Every label has a bounded set of values: the route's template (``/v1/files/{file_id}``,
never the id; ``unmatched`` for a URL no route takes), the method (the HTTP methods
the routes use, else ``other``), the status code, the direction. No file ids, keys or
tenants appear in a label. The registry is the app's own, so two apps in one process
(the tests) count apart.

``/metrics`` needs the master key unless the ``metrics_public`` setting is true.
With ``log_format: json`` one object per request is logged (``server/front.py``) on the
``filegate.access`` logger: request id, the caller's key alias or key id (never the
key), route template, method, status, duration, bytes in and out.
"""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from filegate.errors import PermissionDenied
from filegate.server.auth import authenticate

__all__ = ["Metrics", "log_request", "method_label", "routes"]

access_log = logging.getLogger("filegate.access")
# A *_created series per label set doubles the scrape and says nothing a scraper needs.
disable_created_metrics()  # type: ignore[no-untyped-call]
_METHODS = frozenset({"GET", "POST", "DELETE", "HEAD", "PUT", "PATCH", "OPTIONS"})


class Metrics:
    """The gateway's metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # Every request's counts are plain numbers, exposed at scrape time (below):
        # prometheus_client's children take a lock per increment and walk a
        # histogram's buckets in Python, which with the in-flight gauge cost retrieve
        # 15% of its rate (bench_metrics.py).
        self.http = HttpCounts()
        r.register(self.http)
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

    def observe_request(
        self, route: str, method: str, status: int, elapsed: float, bytes_in: int, bytes_out: int
    ) -> None:
        """Count one answered request (``server/front.py`` calls it for each one)."""
        self.http.observe(route, method, status, elapsed, bytes_in, bytes_out)
        if status == 429:
            self.refused("rate_limit")


# Latency buckets of filegate_http_request_duration_seconds (seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_LE = [floatToGoString(b) for b in LATENCY_BUCKETS] + ["+Inf"]  # type: ignore[no-untyped-call]


class HttpCounts(Collector):
    """Requests, their latency, body bytes and requests in flight, as plain numbers.

    Only the event loop's thread changes them (the front layer, once per request); a
    scrape copies each table in one C-level step, so it sees whole numbers.
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self._requests: dict[tuple[str, str, int], int] = {}
        # (route, method) -> per-bucket counts (not cumulative; +Inf last), then the sum
        self._latency: dict[tuple[str, str], list[float]] = {}
        self._bytes: dict[tuple[str, str], int] = {}

    def observe(
        self, route: str, method: str, status: int, elapsed: float, bytes_in: int, bytes_out: int
    ) -> None:
        key = (route, method, status)  # the status made a label at scrape time only
        self._requests[key] = self._requests.get(key, 0) + 1
        slots = self._latency.get((route, method))
        if slots is None:
            slots = self._latency[(route, method)] = [0.0] * (len(_LE) + 1)
        slots[bisect.bisect_left(LATENCY_BUCKETS, elapsed)] += 1
        slots[-1] += elapsed
        if bytes_in:
            self._bytes[("in", route)] = self._bytes.get(("in", route), 0) + bytes_in
        if bytes_out:
            self._bytes[("out", route)] = self._bytes.get(("out", route), 0) + bytes_out

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "filegate_http_requests",
            "HTTP requests answered, by route template, method and status.",
            labels=["route", "method", "status"],
        )
        for (route, method, status), count in list(self._requests.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "filegate_http_request_duration_seconds",
            "Time to answer a request (to the last byte sent), by route template.",
            labels=["route", "method"],
        )
        for latency_labels, slots in list(self._latency.items()):
            counts = list(itertools.accumulate(slots[:-1]))
            latency.add_metric(list(latency_labels), list(zip(_LE, counts, strict=True)), slots[-1])
        yield latency
        body = CounterMetricFamily(
            "filegate_http_body_bytes",
            "Request and response body bytes, by direction (in, out) and route template.",
            labels=["direction", "route"],
        )
        for body_labels, total in list(self._bytes.items()):
            body.add_metric(body_labels, total)
        yield body
        yield GaugeMetricFamily(
            "filegate_http_requests_in_flight", "Requests being answered now.", self.in_flight
        )


def method_label(method: str) -> str:
    """The method as a label: one the routes use, else ``other`` (the set stays bounded)."""
    return method if method in _METHODS else "other"


def log_request(
    state: dict[str, Any],
    route: str,
    method: str,
    status: int,
    elapsed: float,
    bytes_in: int,
    bytes_out: int,
) -> None:
    """The request's JSON access record (``state`` is the request's scope state)."""
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
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
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
