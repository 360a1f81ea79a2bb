"""The Health part of the document: the probes, which need no key."""

from __future__ import annotations

from filegate.server.models.health import Liveliness, Readiness
from filegate.server.openapi.base import JSON, Operation, Routing, model_schemas, ok, op, schema

TAGS = (("Health", "Probes for orchestrators; no API key."),)
PREFIXED = False
SECURITY: list[JSON] = []


def components(routing: Routing) -> JSON:
    return {"schemas": model_schemas(Liveliness, Readiness)}


def operations(routing: Routing) -> list[Operation]:
    liveliness = op(
        "Liveness probe",
        ok("The process is alive.", schema("Liveliness")),
        {},
        "200 whenever the process serves requests. Needs no API key.",
    )
    unready = "The catalog or the blob store cannot be used; the failing one says why."
    readiness = op(
        "Readiness probe",
        ok("Ready to serve.", schema("Readiness")),
        {"503": ok(unready, schema("Readiness"))},
        "Checks that the catalog database and the blob store can be used. Needs no API key.",
    )
    alias = {"summary": "Liveness probe (alias)", "x-alias-of": "/health/liveliness"}
    return [
        ("liveliness", "/health/liveliness", "get", liveliness),
        ("livelinessAlias", "/health/liveness", "get", {**liveliness, **alias}),
        ("readiness", "/health/readiness", "get", readiness),
    ]
