"""OpenTelemetry tracing on a real server process (the ``otel`` extra): spans reach an
OTLP/HTTP receiver, one per request named by its route template and one per upstream
call as its child; a caller's ``traceparent`` is continued; no key is in a span."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from upstream_support import AZURE_KEY, OPENAI_KEY, Fake, client, config_kwargs, post_file

from tests.conftest import MASTER_KEY, free_port, start_server

trace_pb2 = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    reason="the otel extra is not installed (pip install 'filegate[otel]')",
)


class Receiver:
    """An OTLP/HTTP trace receiver: keeps each export's raw body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/traces":
                    receiver.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def spans(self) -> list[Any]:
        found = []
        for body in list(self.bodies):
            request = trace_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    found.extend(scope.spans)
        return found

    def wait(self, match: Any, timeout: float = 20) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [s for s in self.spans() if match(s)]
            if hits:
                return hits
            time.sleep(0.1)
        raise AssertionError(f"no such span in {[s.name for s in self.spans()]}")

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def attrs(span: Any) -> dict[str, Any]:
    out = {}
    for kv in span.attributes:
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value"))
    return out


def test_spans_per_request_and_upstream_call(
    fake: Fake, receiver: Receiver, tmp_path: Path
) -> None:
    kwargs = config_kwargs(tmp_path / "filegate.yaml", fake)
    kwargs["env"].update(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
    )
    srv = start_server(tmp_path, **kwargs)
    try:
        with client(srv) as c:
            made = post_file(c, b"traced\n", path="/openai/v1/files")
            assert made.status_code == 200, made.text
            trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
            listed = c.get("/v1/files", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
            assert listed.status_code == 200

        (create,) = receiver.wait(lambda s: s.name == "files.create")
        assert attrs(create)["filegate.deployment"] == "openai"
        assert attrs(create)["http.response.status_code"] == 200
        (request,) = receiver.wait(lambda s: s.span_id == create.parent_span_id)
        assert request.trace_id == create.trace_id
        assert request.name.startswith("POST /") and request.name.endswith("/v1/files")
        assert attrs(request)["http.response.status_code"] == 200
        # The start is drawn back from the answer: the child lies within its parent.
        assert request.start_time_unix_nano <= create.start_time_unix_nano
        assert create.end_time_unix_nano <= request.end_time_unix_nano

        (continued,) = receiver.wait(lambda s: s.trace_id.hex() == trace_id)
        assert continued.parent_span_id.hex() == parent_id
        assert continued.name == "GET /v1/files"
        assert attrs(continued)["http.route"] == "/v1/files"
        for body in receiver.bodies:
            for secret in (MASTER_KEY, OPENAI_KEY, AZURE_KEY):
                assert secret.encode() not in body
    finally:
        srv.stop()
