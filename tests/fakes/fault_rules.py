"""Injectable faults shared by the fake Vertex AI and the fake model server, and their admin call.

A rule, as posted to ``/__admin/faults`` (one object or a list)::

    {"op": "any", "match": null, "status": 503, "body": null, "headers": {},
     "retry_after": null, "delay": 0.0, "times": 1, "skip": 0, "drop": false,
     "drop_mode": "reset", "hang": false}

``op`` names the operation (each fake lists its own, ``any`` matches all); ``match`` is a
substring the request body must contain (null matches any body); ``skip`` lets that many
matching requests through first; ``times`` is how many it then applies to (null: no end).
When a rule applies: sleep ``delay`` seconds, then ``hang`` (answer nothing until the client
gives up), or ``drop`` the connection (``reset`` sends an RST, ``close`` a FIN), or answer
``status`` with ``body`` (default: the fake's own error body for that status) and
``headers`` (``retry_after`` adds a ``Retry-After`` header), or, with only a delay, carry on
normally. Rules are tried in the order they were added; the first that applies wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class AdminError(Exception):
    """A bad admin request; answered 400 ``{"error": message}``."""


@dataclass
class FaultRule:
    id: int
    op: str
    match: str | None
    status: int | None
    body: Any
    headers: dict[str, str]
    delay: float
    times: int | None
    skip: int
    drop: bool
    drop_mode: str
    hang: bool
    seen: int = 0
    used: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "op": self.op,
            "match": self.match,
            "status": self.status,
            "body": self.body,
            "headers": dict(self.headers),
            "delay": self.delay,
            "times": self.times,
            "skip": self.skip,
            "drop": self.drop,
            "drop_mode": self.drop_mode,
            "hang": self.hang,
            "seen": self.seen,
            "used": self.used,
        }


def _number(spec: dict[str, Any], key: str, default: float) -> float:
    value = spec.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise AdminError(f"{key} must be a number >= 0")
    return float(value)


@dataclass
class FaultBook:
    """The pending rules of one fake, in the order they were added."""

    ops: tuple[str, ...]
    rules: list[FaultRule] = field(default_factory=list)
    _seq: int = 0

    def add(self, spec: Any) -> FaultRule:
        if not isinstance(spec, dict):
            raise AdminError("a fault must be a JSON object")
        unknown = set(spec) - set(FaultRule.__dataclass_fields__) - {"retry_after"}
        if unknown - {"seen", "used", "id"}:
            raise AdminError(f"unknown fault keys: {sorted(unknown)}")
        op = spec.get("op", "any")
        if op not in (*self.ops, "any"):
            raise AdminError(f"op must be one of {[*self.ops, 'any']}")
        match = spec.get("match")
        if match is not None and not isinstance(match, str):
            raise AdminError("match must be a string or null")
        status = spec.get("status")
        if status is not None and (
            isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
        ):
            raise AdminError("status must be an HTTP status code")
        headers = spec.get("headers") or {}
        if not isinstance(headers, dict):
            raise AdminError("headers must be an object")
        headers = {str(k).lower(): str(v) for k, v in headers.items()}
        if spec.get("retry_after") is not None:
            headers["retry-after"] = str(spec["retry_after"])
        times = spec.get("times", 1)
        if times is not None and (
            isinstance(times, bool) or not isinstance(times, int) or times < 1
        ):
            raise AdminError("times must be an integer >= 1, or null for no end")
        skip = spec.get("skip", 0)
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
            raise AdminError("skip must be an integer >= 0")
        drop_mode = spec.get("drop_mode", "reset")
        if drop_mode not in ("reset", "close"):
            raise AdminError("drop_mode must be reset or close")
        rule = FaultRule(
            id=self._seq + 1,
            op=op,
            match=match,
            status=status,
            body=spec.get("body"),
            headers=headers,
            delay=_number(spec, "delay", 0.0),
            times=times,
            skip=skip,
            drop=bool(spec.get("drop", False)),
            drop_mode=drop_mode,
            hang=bool(spec.get("hang", False)),
        )
        if rule.status is None and not (rule.drop or rule.hang or rule.delay):
            raise AdminError("a fault needs status, drop, hang or delay")
        self._seq += 1
        self.rules.append(rule)
        return rule

    def take(self, op: str, body: bytes | str = b"") -> FaultRule | None:
        """The first rule that applies to this request, counting it as used."""
        text: str | None = None
        for rule in self.rules:
            if rule.op not in (op, "any"):
                continue
            if rule.match is not None:
                if text is None:
                    text = body if isinstance(body, str) else body.decode("utf-8", "replace")
                if rule.match not in text:
                    continue
            rule.seen += 1
            if rule.seen <= rule.skip:
                continue
            rule.used += 1
            if rule.times is not None and rule.used >= rule.times:
                self.rules.remove(rule)
            return rule
        return None

    def clear(self) -> None:
        self.rules.clear()


async def admin_json(request: Request) -> Any:
    """An admin request's JSON body ({} when empty); AdminError when it is not JSON."""
    raw = await request.body()
    try:
        return json.loads(raw) if raw else {}
    except ValueError as exc:
        raise AdminError(f"invalid JSON: {exc}") from exc


async def faults_admin(book: FaultBook, request: Request) -> Response:
    """``/__admin/faults``: POST adds rules, DELETE clears them, GET lists the pending ones."""
    if request.method == "POST":
        body = await admin_json(request)
        specs = body if isinstance(body, list) else [body]
        return JSONResponse({"faults": [book.add(s).describe() for s in specs]})
    if request.method == "DELETE":
        book.clear()
        return JSONResponse({"ok": True})
    return JSONResponse({"faults": [f.describe() for f in book.rules]})
