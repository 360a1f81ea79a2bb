"""server/tracing.py: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set, then on."""

from __future__ import annotations

import pytest

from filegate.config import Settings, load_settings
from filegate.server.tracing import Tracing, open_tracing


def test_off_without_the_endpoint() -> None:
    assert open_tracing(Settings()) is None


def test_on_with_the_endpoint() -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
    settings = load_settings(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"})
    tracing = open_tracing(settings)
    assert isinstance(tracing, Tracing)
    tracing.shutdown()
