"""Metrics beyond the HTTP requests (``server/metrics.py``): what the gateway asks of
upstreams, the bytes it moves to and from each target, and what the catalog holds.

Upstream requests and bytes arrive through the gateway's meter (``upstream/meter.py``);
the catalog's totals come from the sweeper once per sweep interval
(``core.gateway.sweep_forever``), never from a scrape or a request, so a scrape costs
the same at a hundred files as at a million. Labels stay bounded: deployments are the
configured ones, a blob store is ``store:<kind>``, operations a fixed set.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from filegate.core.gateway import Totals

__all__ = ["BackendMetrics"]

_UPSTREAM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 600)


class BackendMetrics:
    """Upstream, bytes-by-target and catalog gauges, in the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.upstream_requests = Counter(
            "filegate_upstream_requests",
            "Requests sent to upstreams (each attempt), by deployment, operation and status "
            "(an HTTP code, or timeout / error when none came back).",
            ["deployment", "operation", "status"],
            registry=r,
        )
        self.upstream_latency = Histogram(
            "filegate_upstream_request_duration_seconds",
            "Time from sending an upstream request to its answer's head, by deployment "
            "and operation.",
            ["deployment", "operation"],
            registry=r,
            buckets=_UPSTREAM_BUCKETS,
        )
        self.upstream_retries = Counter(
            "filegate_upstream_retries",
            "Upstream requests that were retries of a failed one, by deployment and operation.",
            ["deployment", "operation"],
            registry=r,
        )
        self.target_bytes = Counter(
            "filegate_target_bytes",
            "File bytes sent to (out) and read from (in) each target: a deployment, or the "
            "blob store as store:<kind>.",
            ["direction", "target"],
            registry=r,
        )
        self.stored_files = Gauge(
            "filegate_stored_files", "Files stored (visible), fleet-wide.", registry=r
        )
        self.stored_bytes = Gauge(
            "filegate_stored_bytes", "Bytes of the files stored, fleet-wide.", registry=r
        )
        self.files_writing = Gauge(
            "filegate_files_writing",
            "Files whose bytes are being written now (uploads in flight), fleet-wide.",
            registry=r,
        )
        self.uploads_in_progress = Gauge(
            "filegate_uploads_in_progress",
            "Uploads (the Uploads API) still taking parts, fleet-wide.",
            registry=r,
        )
        self.batches_in_progress = Gauge(
            "filegate_batches_in_progress",
            "Batches not in a final status as last seen, fleet-wide.",
            registry=r,
        )
        self.totals_refreshed = Gauge(
            "filegate_totals_refreshed_timestamp_seconds",
            "When the sweeper last counted the catalog (the gauges above are that old).",
            registry=r,
        )
        # Label children by label values: a bounded set, and labels() costs more than
        # the increment (bytes are counted per chunk).
        self._sent: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}
        self._moved: dict[tuple[str, str], Any] = {}

    def upstream(
        self, target: str, operation: str, status: str, seconds: float, *, retry: bool
    ) -> None:
        key = (target, operation, status)
        children = self._sent.get(key)
        if children is None:
            children = self._sent[key] = (
                self.upstream_requests.labels(target, operation, status),
                self.upstream_latency.labels(target, operation),
                self.upstream_retries.labels(target, operation),
            )
        requests, latency, retries = children
        requests.inc()
        latency.observe(seconds)
        if retry:
            retries.inc()

    def moved(self, direction: str, target: str, size: int) -> None:
        key = (direction, target)
        child = self._moved.get(key)
        if child is None:
            child = self._moved[key] = self.target_bytes.labels(direction, target)
        child.inc(size)

    def refresh(self, totals: Totals) -> None:
        """The sweeper's count of the catalog, once per sweep interval."""
        self.stored_files.set(totals.files.files)
        self.stored_bytes.set(totals.files.bytes)
        self.files_writing.set(totals.files.writing)
        self.uploads_in_progress.set(totals.uploads_in_progress)
        self.batches_in_progress.set(totals.batches_in_progress)
        self.totals_refreshed.set_to_current_time()
