"""Google API wire conventions the fake Vertex AI speaks (see ``vertex_ai`` for the surface).

Proto3 JSON as Google's front ends write it: lowerCamelCase names on output, either spelling
accepted on input, int64 as strings, timestamps as RFC 3339 with microseconds and ``Z``, zero
values left out. Errors are ``google.rpc.Status`` bodies ``{"error": {code, message, status,
details?}}`` with the HTTP status of the canonical code.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, Response

# google.rpc.Code name -> (numeric code, HTTP status), from google/rpc/code.proto.
RPC_CODES: dict[str, tuple[int, int]] = {
    "OK": (0, 200),
    "CANCELLED": (1, 499),
    "UNKNOWN": (2, 500),
    "INVALID_ARGUMENT": (3, 400),
    "DEADLINE_EXCEEDED": (4, 504),
    "NOT_FOUND": (5, 404),
    "ALREADY_EXISTS": (6, 409),
    "PERMISSION_DENIED": (7, 403),
    "RESOURCE_EXHAUSTED": (8, 429),
    "FAILED_PRECONDITION": (9, 400),
    "ABORTED": (10, 409),
    "OUT_OF_RANGE": (11, 400),
    "UNIMPLEMENTED": (12, 501),
    "INTERNAL": (13, 500),
    "UNAVAILABLE": (14, 503),
    "DATA_LOSS": (15, 500),
    "UNAUTHENTICATED": (16, 401),
}
# HTTP status -> the status name and message an injected fault answers with by default.
DEFAULT_FAULTS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    409: ("ABORTED", "The operation was aborted."),
    429: (
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for aiplatform.googleapis.com/batch_prediction_jobs. "
        "Please submit a quota increase request.",
    ),
    499: ("CANCELLED", "The operation was cancelled."),
    500: ("INTERNAL", "Internal error encountered."),
    501: ("UNIMPLEMENTED", "Operation is not implemented, or supported, or enabled."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "The request timed out."),
}
# What a per-line failure's status text starts with (Vertex writes "<reason>: <error JSON>").
REASONS: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
AUTH_HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
SERVICE = "aiplatform.googleapis.com"
JSON_TYPE = "application/json; charset=UTF-8"


class GoogleError(Exception):
    """An error answered as a ``google.rpc.Status`` body."""

    def __init__(self, status: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []

    @property
    def http_status(self) -> int:
        return RPC_CODES[self.status][1]

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {
            "code": self.http_status,
            "message": self.message,
            "status": self.status,
        }
        if self.details:
            err["details"] = self.details
        return {"error": err}


def google_json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    resp = JSONResponse(body, status_code=status, headers=headers)
    resp.headers["content-type"] = JSON_TYPE
    return resp


def error_response(err: GoogleError) -> Response:
    return google_json(err.http_status, err.body())


def error_info(reason: str, method: str, **metadata: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"method": method, "service": SERVICE, **metadata},
    }


def invalid_fields(violations: list[tuple[str, str]]) -> GoogleError:
    """Vertex's semantic validation error: one message listing every bad field."""
    listed = "".join(f"{i}.Field: {f}; Message: {d}\t" for i, (f, d) in enumerate(violations, 1))
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": f, "description": d} for f, d in violations],
        }
    ]
    return GoogleError("INVALID_ARGUMENT", f"List of found errors:\t{listed}", details)


def bad_payload(message: str, field: str | None = None) -> GoogleError:
    """The front end's JSON parse error (unknown name, wrong type, bad JSON)."""
    violation: dict[str, str] = {"description": message}
    if field is not None:
        violation = {"field": field, **violation}
    details = [
        {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}
    ]
    return GoogleError("INVALID_ARGUMENT", message, details)


def line_status(http_status: int, status: str, message: str) -> str:
    """A failed prediction line's ``status`` text, e.g. ``Bad Request: {"error": {...}}``."""
    body = {"error": {"code": http_status, "message": message, "status": status}}
    return f"{REASONS.get(http_status, str(http_status))}: {json.dumps(body)}"


# -- values ---------------------------------------------------------------------------------------


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(value: str) -> float | None:
    try:
        text = value.replace("Z", "+00:00")
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def new_numeric_id() -> str:
    """A 19-digit resource id, as Vertex gives jobs, models and endpoints."""
    return str(secrets.randbelow(9 * 10**18) + 10**18)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def prune(value: Any) -> Any:
    """Proto3 JSON leaves out fields at their default: empty strings, 0, false, {} and []."""
    if isinstance(value, dict):
        out = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", 0, False, [], {})}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def int64(value: int) -> str | None:
    """int64 fields travel as decimal strings; zero is left out."""
    return str(value) if value else None
