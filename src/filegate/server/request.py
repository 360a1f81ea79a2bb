"""Reading what a request says, the same way in every route.

- ``strict(name, allowed)``: OpenAI's 400 for an argument a handler does not take
  (a query parameter, a form field); ``unknown_argument(name)`` is that error, for a
  caller that found the name itself. ``read_json``'s bodies get theirs from
  pydantic's ``extra="forbid"`` (as ``Invalid 'x': Extra inputs are not permitted``).
- ``query(request, allowed)``: the query parameters, checked by ``strict``.
- ``read_json(request, Model)``: a small JSON body (``MAX_BODY``), checked by
  ``check_json`` (no NUL, bounded depth) and validated by a pydantic model.
- ``read_object(request, hint)`` and ``validate_body(Model, doc)``: the same for the
  OpenAI-shaped job APIs (batches, fine-tuning), whose 400s use OpenAI's codes
  (``unknown_parameter``, ``missing_required_parameter``, ``invalid_type``).
- ``integral``: a pydantic ``BeforeValidator`` for JSON's one kind of number.
- ``open_call(request)``: who asks and through which path: what every Files and
  Uploads handler starts from.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from filegate.core.files.service import FileService
from filegate.core.params import check_text
from filegate.core.targets import Routing, Target, TargetTable, is_routing_field
from filegate.core.tenants import Principal, TenantService
from filegate.errors import InvalidRequest
from filegate.records import Scope
from filegate.server.auth import authenticate

if TYPE_CHECKING:
    from filegate.core.gateway import Gateway

MAX_BODY = 64 * 1024
# Deep enough for any metadata a person writes; orjson writes at most 255 levels.
MAX_JSON_DEPTH = 32
# Names are cut to this in errors: the client sent them, and they may be huge.
NAME_SHOWN = 64

M = TypeVar("M", bound=BaseModel)


def strict(name: str, allowed: Container[str] = (), *, routing: bool = False) -> str:
    """``name`` if the handler takes it, else OpenAI's 400 for an unknown argument.

    ``allowed`` is what the handler takes; ``routing`` also lets LiteLLM's routing
    fields through (``custom_llm_provider``, ``model``, ``litellm_metadata[...]``),
    which ``core.targets`` checks later. Call it once per name, as they are read:
    the first unknown one is the one named.
    """
    if name in allowed or (routing and is_routing_field(name)):
        return name
    raise unknown_argument(name)


def unknown_argument(name: str) -> InvalidRequest:
    """OpenAI's error for an argument nobody takes, for a caller that found one itself
    (e.g. pydantic's ``extra_forbidden``, with the field's dotted path as ``name``)."""
    return InvalidRequest(
        f"Unrecognized request argument supplied: {name[:NAME_SHOWN]}",
        param=name[:NAME_SHOWN],
        code="unknown_parameter",
    )


def query(request: Request, allowed: Container[str] | None = None) -> Mapping[str, str]:
    """The query parameters, each once (the first wins) and without NUL; ``allowed``
    refuses other names (None: any name)."""
    out: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if allowed is not None:
            strict(name, allowed)
        check_text(name, name)
        out.setdefault(name, check_text(name, value))
    return out


def integral(value: object) -> object:
    """For ``BeforeValidator``: JSON has one kind of number, so 5.0 is the integer 5
    (as JSON Schema says); 5.5, "5" and false stay what they are and fail a strict int."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def check_json(doc: object) -> None:
    """Refuse what no catalog can keep: NUL in any string (PostgreSQL's text cannot
    hold it), and nesting deeper than ``MAX_JSON_DEPTH`` (stored JSON is written by
    orjson, which stops at 255 levels)."""
    stack: list[tuple[object, str, int]] = [(doc, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            top = where.split(".", 1)[0] or None
            raise InvalidRequest(
                f"The JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels).",
                param=top,
                code="invalid_value",
            )
        if isinstance(value, str):
            check_text(where or "body", value)
        elif isinstance(value, dict):
            for k, v in value.items():
                check_text(where or "body", k)
                stack.append((v, f"{where}.{k}" if where else k, depth + 1))
        elif isinstance(value, list):
            stack += (
                (v, f"{where}.{i}" if where else str(i), depth + 1) for i, v in enumerate(value)
            )


async def read_json(request: Request, model: type[M]) -> M:
    """A small JSON body, validated by ``model``; every problem is a 400 naming the field."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise InvalidRequest("The request body is too large.")
    try:
        doc = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from None
    check_json(doc)
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        param = ".".join(str(p) for p in err["loc"]) or None
        raise InvalidRequest(
            f"Invalid '{param}': {err['msg']}." if param else err["msg"],
            param=param,
            code="invalid_value",
        ) from None


# pydantic's error types that mean "the wrong JSON type", as OpenAI words them.
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "dict_type": "an object",
    "list_type": "an array",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


async def read_object(request: Request, hint: str) -> dict[str, Any]:
    """A small JSON object body (``hint`` says what it must hold); every problem is a
    400 in OpenAI's words."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise InvalidRequest("The request body is too large.", code="body_too_large")
    try:
        doc = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request.", code="invalid_json"
        ) from None
    if not isinstance(doc, dict):
        raise InvalidRequest(
            f"The request body must be a JSON object with {hint}.", code="invalid_json"
        )
    check_json(doc)
    return doc


def validate_body(model: type[M], doc: dict[str, Any]) -> M:
    """Strict field checks: unknown names, missing ones and wrong types, each naming its field."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        param = ".".join(str(p) for p in err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            raise unknown_argument(param) from None
        if kind == "missing":
            raise InvalidRequest(
                f"Missing required parameter: '{param}'.",
                param=param,
                code="missing_required_parameter",
            ) from None
        expected = _EXPECTED.get(kind)
        if expected is not None:
            raise InvalidRequest(
                f"Invalid type for '{param}': expected {expected}.",
                param=param,
                code="invalid_type",
            ) from None
        raise InvalidRequest(
            f"Invalid value for '{param}': {err['msg']}.", param=param, code="invalid_value"
        ) from None


def declared_length(request: Request) -> int | None:
    """The body's size as the client's Content-Length states it (None: not stated)."""
    length = request.headers.get("content-length")
    return int(length) if length and length.isdigit() else None


@dataclass(slots=True)
class Call:
    """What every Files and Uploads handler starts from: who asks, through which
    path, with which options, and where that routes (``routing``, resolved once per
    distinct choice)."""

    service: FileService
    targets: TargetTable
    tenants: TenantService
    principal: Principal
    path_provider: str | None
    options: dict[str, str]
    routing: Routing

    @property
    def scope(self) -> Scope:
        return self.principal.scope

    def resolve(self, fields: Mapping[str, str] | None = None) -> list[Target]:
        return self.routing.resolve(fields)

    def raw_target(self) -> Target | None:
        """The provider deployment that a raw (non-filegate) id refers to."""
        target = self.resolve()[0]
        return None if target.embedded else target


def _header(request: Request, name: bytes) -> str | None:
    """The first ``name`` header (lower-case), as Starlette's ``headers.get`` gives it,
    without building its Headers for one look-up."""
    value: bytes
    for key, value in request.scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def open_call(request: Request, allowed: Container[str] = ()) -> Call:
    """Authenticate, count the request against the caller's rpm, take the query
    (``allowed`` names and the routing fields) and resolve where it routes: a bad
    routing choice is a 400 before anything else happens."""
    gateway: Gateway = request.app.state.gateway
    principal = await authenticate(request)
    await gateway.tenants.check_rate(principal)
    options: dict[str, str] = {}
    if request.scope["query_string"]:  # most requests have none: no parsing then
        for name, value in request.query_params.multi_items():
            options[strict(name, allowed, routing=True)] = check_text(name, value)
    header = _header(request, b"custom-llm-provider")
    if header:
        if (options.get("custom_llm_provider") or header) != header:  # empty = not sent
            raise InvalidRequest(
                "The custom-llm-provider header and the custom_llm_provider parameter differ.",
                param="custom_llm_provider",
                code="provider_mismatch",
            )
        options["custom_llm_provider"] = header
    path_provider = request.path_params.get("provider")
    call = Call(
        gateway.service,
        gateway.targets,
        gateway.tenants,
        principal,
        path_provider,
        options,
        Routing(gateway.targets, options, path_provider),
    )
    call.resolve()
    return call
