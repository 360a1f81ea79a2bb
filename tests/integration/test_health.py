"""Liveness and readiness probes answer without a key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.mark.parametrize("path", ["/health/liveliness", "/health/liveness"])
def test_liveliness(server: Any, path: str) -> None:
    resp = httpx.get(server.base_url + path)
    assert resp.status_code == 200
    assert resp.json()["status"] == "alive"
    assert resp.headers["x-request-id"]


def test_readiness_checks_catalog_and_storage(server: Any) -> None:
    resp = httpx.get(server.base_url + "/health/readiness")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ready"
    assert body["catalog"] == "ok" and body["storage"] == "ok"
