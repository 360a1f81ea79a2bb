"""GET /metrics and the JSON request log, on real server processes: values move as
requests are made, the scrape is the master key's unless made public, a rate-limit
refusal is counted, and neither the scrape nor the log ever holds a key."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import MASTER_KEY, ServerProcess

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")


def scrape(server: ServerProcess, key: str | None = MASTER_KEY) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    resp = httpx.get(f"{server.base_url}/metrics", headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    out = {}
    for line in resp.text.splitlines():
        if line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, line
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def requests_of(samples: dict[str, float], route: str, method: str, status: int) -> float:
    name = f'filegate_http_requests_total{{method="{method}",route="{route}",status="{status}"}}'
    return samples.get(name, 0.0)


@pytest.fixture(scope="module")
def json_server(module_server_factory: Callable[..., Any]) -> ServerProcess:
    return module_server_factory(env={"FILEGATE_LOG_FORMAT": "json"})  # type: ignore[no-any-return]


def test_values_move_as_requests_are_made(json_server: ServerProcess) -> None:
    srv, h = json_server, json_server.headers
    before = scrape(srv)
    data = b"x" * 12345
    made = httpx.post(
        f"{srv.api_url}/files",
        headers=h,
        data={"purpose": "user_data"},
        files={"file": ("m.txt", data)},
    ).json()
    for _ in range(3):
        assert httpx.get(f"{srv.api_url}/files/{made['id']}", headers=h).status_code == 200
    assert httpx.get(f"{srv.api_url}/files/file-nope", headers=h).status_code == 404
    after = scrape(srv)

    route = "/v1/files/{file_id:file_id}"
    assert requests_of(after, route, "GET", 200) - requests_of(before, route, "GET", 200) == 3
    assert requests_of(after, route, "GET", 404) - requests_of(before, route, "GET", 404) == 1
    assert (
        requests_of(after, "/v1/files", "POST", 200) - requests_of(before, "/v1/files", "POST", 200)
        == 1
    )
    count = f'filegate_http_request_duration_seconds_count{{method="GET",route="{route}"}}'
    assert after[count] - before.get(count, 0) == 4
    bytes_in = 'filegate_http_body_bytes_total{direction="in",route="/v1/files"}'
    assert after[bytes_in] - before.get(bytes_in, 0) > len(data)
    # File ids never become label values.
    assert not any(made["id"] in name for name in after)


def test_metrics_need_the_master_key_unless_public(
    server: ServerProcess, module_server_factory: Callable[..., Any]
) -> None:
    assert httpx.get(f"{server.base_url}/metrics").status_code == 401
    key = httpx.post(
        f"{server.base_url}/key/generate", headers=server.headers, json={"key_alias": "m-ro"}
    ).json()["key"]
    denied = httpx.get(f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {key}"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "admin_only"
    public = module_server_factory(env={"FILEGATE_METRICS_PUBLIC": "true"})
    assert "filegate_http_requests_total" in "\n".join(scrape(public, key=None))
    off = module_server_factory(env={"FILEGATE_METRICS": "false"})
    assert httpx.get(f"{off.base_url}/metrics", headers=off.headers).status_code == 404


def test_rate_limit_refusals_are_counted(json_server: ServerProcess) -> None:
    srv = json_server
    key = httpx.post(
        f"{srv.base_url}/key/generate", headers=srv.headers, json={"key_alias": "slow", "rpm": 1}
    ).json()["key"]
    name = 'filegate_refusals_total{reason="rate_limit"}'
    before = scrape(srv).get(name, 0)
    statuses = [
        httpx.get(f"{srv.api_url}/files", headers={"Authorization": f"Bearer {key}"}).status_code
        for _ in range(3)
    ]
    assert statuses.count(429) >= 1, statuses
    assert scrape(srv)[name] - before == statuses.count(429)


def test_json_log_has_one_object_per_request_and_no_key(json_server: ServerProcess) -> None:
    srv = json_server
    made = httpx.post(
        f"{srv.base_url}/key/generate", headers=srv.headers, json={"key_alias": "logged"}
    ).json()
    secret = made["key"]
    auth = {"Authorization": f"Bearer {secret}", "x-request-id": "req-cli-log-test"}
    assert httpx.get(f"{srv.api_url}/files", headers=auth).status_code == 200
    # A key in a query string (LiteLLM's /key/info?key=...) must not reach the log either.
    info = httpx.get(f"{srv.base_url}/key/info", params={"key": secret}, headers=srv.headers)
    assert info.status_code == 200
    text = scrape(srv)
    deadline = time.monotonic() + 10
    while "req-cli-log-test" not in srv.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = srv.log()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert records, log[-2000:]
    mine = [r for r in records if r.get("request_id") == "req-cli-log-test"]
    assert len(mine) == 1, mine
    (entry,) = mine
    assert entry["logger"] == "filegate.access"
    assert entry["caller"] == "logged" and entry["route"] == "/v1/files"
    assert entry["method"] == "GET" and entry["status"] == 200
    assert entry["duration_ms"] >= 0 and entry["bytes_out"] > 0 and entry["bytes_in"] == 0
    # Every line of the server's output is JSON in this mode.
    assert all(line.startswith("{") for line in log.splitlines() if line.strip()), log[-2000:]
    for secret_text in (secret, MASTER_KEY):
        assert secret_text not in log
        assert secret_text not in json.dumps(text)
