"""The per-request counts behind /metrics: what a scrape reads from them."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from filegate.server.metrics import LATENCY_BUCKETS, Metrics

ROUTE = "/v1/files/{file_id:file_id}"


def samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(m.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_requests_latency_bytes_and_in_flight_read_as_prometheus_types() -> None:
    m = Metrics()
    # On a bucket's bound counts in that bucket (le is "less or equal").
    for elapsed in (0.001, 0.005, 0.2, 400.0):
        m.observe_request(ROUTE, "GET", 200, elapsed, 0, 100)
    m.observe_request(ROUTE, "GET", 404, 0.002, 0, 50)
    m.observe_request("/v1/files", "POST", 201, 0.01, 5_000, 700)
    m.http.in_flight += 2
    got = samples(m)

    def latency(le: str) -> float:
        return got[
            (
                "filegate_http_request_duration_seconds_bucket",
                (("le", le), ("method", "GET"), ("route", ROUTE)),
            )
        ]

    count = ("filegate_http_requests_total", (("method", "GET"), ("route", ROUTE)))
    assert got[(count[0], (*count[1], ("status", "200")))] == 4
    assert got[(count[0], (*count[1], ("status", "404")))] == 1
    assert latency("0.005") == 3 and latency("0.1") == 3 and latency("0.25") == 4
    assert latency("300.0") == 4 and latency("+Inf") == 5
    # Cumulative: every bucket holds at least what the one before it holds.
    bounds = [str(float(b)) for b in LATENCY_BUCKETS] + ["+Inf"]
    values = [latency(b) for b in bounds]
    assert values == sorted(values)
    per_route = (("method", "GET"), ("route", ROUTE))
    assert got[("filegate_http_request_duration_seconds_count", per_route)] == 5
    assert got[("filegate_http_request_duration_seconds_sum", per_route)] == 400.208
    body = "filegate_http_body_bytes_total"
    assert got[(body, (("direction", "out"), ("route", ROUTE)))] == 450
    assert got[(body, (("direction", "in"), ("route", "/v1/files")))] == 5000
    # A GET's empty body adds no "in" series.
    assert (body, (("direction", "in"), ("route", ROUTE))) not in got
    assert got[("filegate_http_requests_in_flight", ())] == 2


def test_a_rate_limit_refusal_is_counted_beside_the_request() -> None:
    m = Metrics()
    m.observe_request("/v1/files", "GET", 429, 0.001, 0, 10)
    got = samples(m)
    assert got[("filegate_refusals_total", (("reason", "rate_limit"),))] == 1
