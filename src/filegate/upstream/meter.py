"""What the backends tell the operator: each upstream request, each retry, bytes moved.

A :class:`Meter` is made with the gateway (``filegate/gateway.py``) and handed, bound to
one target, to every deployment's wire clients and to the blob store; the server plugs
its metrics (and tracing) in as the meter's sink once it serves. Without a sink (the
SDK in-process, ``FILEGATE_METRICS=false``) a report is one attribute test.

Every value a sink sees is bounded: the target is a configured deployment's name or
the blob store's kind, the operation one of :data:`OPERATIONS` (read from the request's
method and path by :func:`operation`, never the path itself), the status an HTTP code
or one of ``timeout`` / ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Upstream operations by resource; anything else is "other".
OPERATIONS = frozenset(
    {
        *(
            f"{resource}.{verb}"
            for resource in ("files", "batches", "fine_tuning", "vertex_batches", "vertex_tuning")
            for verb in ("create", "list", "retrieve", "delete", "cancel")
        ),
        "files.content",
        "uploads.create",
        "uploads.add_part",
        "uploads.complete",
        "uploads.cancel",
        "fine_tuning.events",
        "fine_tuning.checkpoints",
        "fine_tuning.pause",
        "fine_tuning.resume",
        "objects.upload",
        "objects.read",
        "objects.retrieve",
        "objects.list",
        "objects.delete",
        "model.request",
        "other",
    }
)
_VERBS = {"GET": "retrieve", "DELETE": "delete", "POST": "create"}
_SUFFIXES = {
    "content": "content",
    "cancel": "cancel",
    "events": "events",
    "checkpoints": "checkpoints",
    "pause": "pause",
    "resume": "resume",
    "parts": "add_part",
    "complete": "complete",
}
# Vertex AI's resource collections, by the name filegate gives them.
_VERTEX = {"batchPredictionJobs": "vertex_batches", "tuningJobs": "vertex_tuning"}
# What a model server's batch lines call (filegate runs those batches itself).
_MODEL_PATHS = ("chat", "completions", "embeddings", "responses", "moderations")


def operation(method: str, path: str, query: str = "") -> str:
    """The operation a request to ``path`` is, from a fixed set (:data:`OPERATIONS`)."""
    parts = [p for p in path.split("/") if p]
    found = _classify(method, parts, query)
    return found if found in OPERATIONS else "other"


def _classify(method: str, parts: list[str], query: str) -> str:
    if "storage" in parts and "b" in parts:
        return _gcs(method, parts, query)
    for i, part in enumerate(parts):
        name, _, action = part.partition(":")
        if name in _VERTEX:
            rest = parts[i + 1 :]
            if action == "cancel" or (rest and rest[-1].endswith(":cancel")):
                return f"{_VERTEX[name]}.cancel"
            return _resource(_VERTEX[name], method, rest)
        if part in ("files", "uploads", "batches"):
            return _resource(part, method, parts[i + 1 :])
        if part == "fine_tuning" and parts[i + 1 : i + 2] == ["jobs"]:
            return _resource("fine_tuning", method, parts[i + 2 :])
        if part in _MODEL_PATHS:
            return "model.request"
    return "other"


def _resource(resource: str, method: str, rest: list[str]) -> str:
    if not rest:
        if resource == "uploads":
            return "uploads.create"
        return f"{resource}.list" if method == "GET" else f"{resource}.create"
    if len(rest) >= 2 and rest[-1] in _SUFFIXES:
        return f"{resource}.{_SUFFIXES[rest[-1]]}"
    return f"{resource}.{_VERBS.get(method, 'other')}"


def _gcs(method: str, parts: list[str], query: str) -> str:
    if parts[0] == "upload":
        return "objects.upload"
    if "o" not in parts:
        return "other"
    named = parts.index("o") < len(parts) - 1
    if not named:
        return "objects.list" if method == "GET" else "other"
    if method == "GET":
        return "objects.read" if "alt=media" in query else "objects.retrieve"
    return "objects.delete" if method == "DELETE" else "other"


class MeterSink(Protocol):
    """Where reports go: the server's metrics, its tracing, or both."""

    def upstream(
        self, target: str, operation: str, status: str, seconds: float, *, retry: bool
    ) -> None:
        """One request sent to an upstream (each attempt), answered or failed."""
        ...

    def moved(self, direction: str, target: str, size: int) -> None:
        """``size`` bytes sent to (``out``) or read from (``in``) a target."""
        ...


class Tee:
    """Several sinks as one (metrics and tracing)."""

    def __init__(self, *sinks: MeterSink) -> None:
        self.sinks = sinks

    def upstream(
        self, target: str, operation: str, status: str, seconds: float, *, retry: bool
    ) -> None:
        for sink in self.sinks:
            sink.upstream(target, operation, status, seconds, retry=retry)

    def moved(self, direction: str, target: str, size: int) -> None:
        for sink in self.sinks:
            sink.moved(direction, target, size)


class Meter:
    """Late-bound: backends hold it from the start, the serving app sets ``sink``."""

    def __init__(self) -> None:
        self.sink: MeterSink | None = None

    def bound(self, target: str) -> BoundMeter:
        return BoundMeter(self, target)


@dataclass(frozen=True, slots=True)
class BoundMeter:
    """A meter for one target (a deployment's name, or the blob store's kind)."""

    meter: Meter
    target: str

    def upstream(self, operation: str, status: str, seconds: float, *, retry: bool) -> None:
        sink = self.meter.sink
        if sink is not None:
            sink.upstream(self.target, operation, status, seconds, retry=retry)

    def moved(self, direction: str, size: int) -> None:
        sink = self.meter.sink
        if sink is not None and size:
            sink.moved(direction, self.target, size)
