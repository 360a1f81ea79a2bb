"""Optional OpenTelemetry tracing: a span per HTTP request and one per upstream call.

On only when the ``otel`` extra is installed (``pip install 'filegate[otel]'``) and
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; otherwise :func:`open_tracing` returns None and
nothing here is imported or run. Spans go out over OTLP/HTTP in batches; the exporter
reads OpenTelemetry's own variables for the rest (``OTEL_EXPORTER_OTLP_HEADERS``, ...).

A request's span is named by the route template (``GET /v1/files/{file_id:file_id}``)
and continues a caller's ``traceparent``; an upstream call's span is its child, named by
the operation (``files.create``) with its deployment and status. Neither records a query
string or a header, so no key reaches a trace.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from filegate.config import Settings

log = logging.getLogger("filegate")


def open_tracing(settings: Settings) -> Tracing | None:
    """A tracer exporting to ``settings.otel_endpoint``, or None when tracing is off."""
    if not settings.otel_endpoint:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed "
            "(pip install 'filegate[otel]'): no traces are sent."
        )
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": "filegate"}))
    endpoint = settings.otel_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    log.info("tracing: OTLP spans to %s", endpoint)
    return Tracing(provider)


class Tracing:
    """Spans from one tracer provider; also a sink of the gateway's meter."""

    def __init__(self, provider: Any) -> None:
        from opentelemetry import propagate, trace

        self.provider = provider
        self.tracer = provider.get_tracer("filegate")
        self._trace = trace
        self._propagate = propagate

    def wrap(self, app: ASGIApp) -> ASGIApp:
        return _TracingMiddleware(app, self)

    def upstream(
        self, target: str, operation: str, status: str, seconds: float, *, retry: bool
    ) -> None:
        # Reported when the answer's head arrives: the span is drawn from then, back to
        # when the request went out, as a child of the request being served.
        end = time.time_ns()
        attributes: dict[str, str | bool | int] = {
            "filegate.deployment": target,
            "filegate.operation": operation,
            "filegate.retry": retry,
        }
        failed = not status.isdigit() or int(status) >= 500
        if status.isdigit():
            attributes["http.response.status_code"] = int(status)
        else:
            attributes["error.type"] = status
        span = self.tracer.start_span(
            operation,
            kind=self._trace.SpanKind.CLIENT,
            start_time=end - int(seconds * 1e9),
            attributes=attributes,
        )
        if failed:
            span.set_status(self._trace.StatusCode.ERROR)
        span.end(end_time=end)

    def moved(self, direction: str, target: str, size: int) -> None:
        """Bytes are the metrics' business; a span per chunk would drown a trace."""

    def shutdown(self) -> None:
        self.provider.shutdown()


class _TracingMiddleware:
    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t = self.tracing
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope["method"]
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with t.tracer.start_as_current_span(
            method,
            context=t._propagate.extract(carrier),
            kind=t._trace.SpanKind.SERVER,
            attributes={"http.request.method": method},
        ) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                # The router has put the matched route in the scope by now.
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(t._trace.StatusCode.ERROR)
