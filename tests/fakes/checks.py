"""Request checks the Batch and Fine-tuning surfaces share, in OpenAI's wording and codes:
unknown and missing fields, types, metadata, expiry policies, list limits and cursors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response

from tests.fakes.calls import Call, json_response
from tests.fakes.state import AdminError, T

# expires_after on files, and BatchFileExpirationAfter on batch outputs: 1 hour to 30 days.
OPENAI_EXPIRES_MIN = 3600
OPENAI_EXPIRES_MAX = 2_592_000
# expires_after on Azure files (and output_expires_after on batches): documented from api-version
# 2025-03-01-preview (and v1), "a number between 1209600-2592000. This is equivalent to 14-30 days".
AZURE_EXPIRES_SINCE = "2025-03-01"
AZURE_EXPIRES_MIN = 1_209_600
AZURE_EXPIRES_MAX = 2_592_000
METADATA_MAX_PAIRS = 16
METADATA_KEY_MAX = 64
METADATA_VALUE_MAX = 512


# =================================================================================================
# Shared validation and pagination
# =================================================================================================


def oxford(values: Iterable[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def parse_expires(
    call: Call,
    values: dict[str, str],
    lo: int,
    hi: int,
    *,
    openai_style: bool,
    name: str = "expires_after",
) -> int | Response | None:
    """``expires_after[anchor]``/``[seconds]`` (as form fields); errors name the field ``name``."""
    anchor = values.get("expires_after[anchor]")
    seconds_raw = values.get("expires_after[seconds]")
    if anchor is None and seconds_raw is None:
        return None
    for part, value in (("anchor", anchor), ("seconds", seconds_raw)):
        if value is None:
            return call.invalid(
                f"Missing required parameter: '{name}.{part}'.",
                param=f"{name}.{part}",
                code="missing_required_parameter" if openai_style else None,
            )
    if anchor != "created_at":
        return call.invalid(
            f"Invalid value: '{anchor}'. Supported values are: 'created_at'.",
            param=f"{name}.anchor",
            code="invalid_value" if openai_style else None,
        )
    try:
        seconds = int(cast(str, seconds_raw))
    except ValueError:
        return call.invalid(
            f"Invalid type for '{name}.seconds': expected an integer, but got a string instead.",
            param=f"{name}.seconds",
            code="invalid_type" if openai_style else None,
        )
    if seconds < lo:
        return call.invalid(
            f"Invalid '{name}.seconds': integer below minimum value. Expected a value >= "
            f"{lo}, but got {seconds} instead.",
            param=f"{name}.seconds",
            code="integer_below_min_value" if openai_style else None,
        )
    if seconds > hi:
        return call.invalid(
            f"Invalid '{name}.seconds': integer above maximum value. Expected a value <= "
            f"{hi}, but got {seconds} instead.",
            param=f"{name}.seconds",
            code="integer_above_max_value" if openai_style else None,
        )
    return seconds


def json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def bad_type(call: Call, param: str, expected: str, value: Any) -> Response:
    return call.invalid(
        f"Invalid type for '{param}': expected {expected}, but got {json_type_name(value)} "
        "instead.",
        param=param,
        code="invalid_type",
    )


def unknown_fields(call: Call, body: dict[str, Any], known: Iterable[str]) -> Response | None:
    allowed = set(known)
    for name in body:
        if name not in allowed:
            return call.invalid(
                f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
            )
    return None


def missing_fields(call: Call, body: dict[str, Any], required: Sequence[str]) -> Response | None:
    for name in required:
        if body.get(name) is None:
            return call.invalid(
                f"Missing required parameter: '{name}'.",
                param=name,
                code="missing_required_parameter",
            )
    return None


def check_metadata(call: Call, value: Any) -> dict[str, str] | Response | None:
    """OpenAI's Metadata: up to 16 string pairs, keys up to 64 and values up to 512 chars."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return bad_type(call, "metadata", "an object", value)
    if len(value) > METADATA_MAX_PAIRS:
        return call.invalid(
            "Invalid 'metadata': too many properties. Expected an object with at most "
            f"{METADATA_MAX_PAIRS} properties, but got an object with {len(value)} properties "
            "instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for k, v in value.items():
        if len(k) > METADATA_KEY_MAX:
            return call.invalid(
                f"Invalid 'metadata': string too long. Expected a key with maximum length "
                f"{METADATA_KEY_MAX}, but got a key with length {len(k)} instead.",
                param="metadata",
                code="string_above_max_length",
            )
        if not isinstance(v, str):
            return bad_type(call, f"metadata.{k}", "a string", v)
        if len(v) > METADATA_VALUE_MAX:
            return call.invalid(
                f"Invalid 'metadata.{k}': string too long. Expected a string with maximum "
                f"length {METADATA_VALUE_MAX}, but got a string with length {len(v)} instead.",
                param=f"metadata.{k}",
                code="string_above_max_length",
            )
    return dict(value)


def parse_limit(call: Call, default: int, maximum: int) -> int | Response:
    raw = call.request.query_params.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        return call.invalid(
            "Invalid type for 'limit': expected an integer, but got a string instead.",
            param="limit",
            code="invalid_type",
        )
    if limit < 1:
        return call.invalid(
            "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got "
            f"{limit} instead.",
            param="limit",
            code="integer_below_min_value",
        )
    if limit > maximum:
        return call.invalid(
            f"Invalid 'limit': integer above maximum value. Expected a value <= {maximum}, but "
            f"got {limit} instead.",
            param="limit",
            code="integer_above_max_value",
        )
    return limit


def cursor_page(
    items: list[T],
    ids: list[str],
    after: str | None,
    limit: int,
    render: Callable[[T], Any],
    *,
    with_ids: bool = True,
) -> dict[str, Any]:
    """The page of an OpenAI list that follows ``after`` (an id not in ``ids`` gives an empty
    page, as on OpenAI): ``{object, data, first_id, last_id, has_more}``, without the two ids
    for the list objects that have none (``with_ids=False``)."""
    start = 0 if after is None else (ids.index(after) + 1 if after in ids else len(ids))
    end = min(start + limit, len(ids))
    body: dict[str, Any] = {"object": "list", "data": [render(x) for x in items[start:end]]}
    if with_ids:
        body["first_id"] = ids[start] if end > start else None
        body["last_id"] = ids[end - 1] if end > start else None
    body["has_more"] = end < len(ids)
    return body


async def admin_items(
    request: Request,
    item: str | None,
    items: dict[str, T],
    *,
    kind: str,
    settle: Callable[[T, float], None],
    view: Callable[[T], dict[str, Any]],
    drive: Callable[[T, Any, float], None],
) -> Response:
    """``GET /__admin/<kind>`` (all, settled), ``GET /__admin/<kind>/{id}``, and ``POST
    /__admin/<kind>/{id}`` (``drive`` it with the body first); each answers the admin view."""
    now = time.time()
    if item is None:
        if request.method != "GET":
            raise AdminError(f"use GET /__admin/{kind} or POST /__admin/{kind}/{{id}}")
        for each in items.values():
            settle(each, now)
        return json_response(200, {"data": [view(each) for each in items.values()]})
    found = items.get(item)
    if found is None:
        return json_response(404, {"error": f"no {kind} item {item}"})
    settle(found, now)
    if request.method == "POST":
        drive(found, await admin_json(request), now)
    return json_response(200, view(found))


def admin_body(spec: Any, fields: Sequence[str]) -> dict[str, Any]:
    """A drive body: an object with no field but ``fields``."""
    if not isinstance(spec, dict):
        raise AdminError("body must be an object {" + ", ".join(f"{f}?" for f in fields) + "}")
    unknown = set(spec) - set(fields)
    if unknown:
        raise AdminError(f"unknown fields {sorted(unknown)}")
    return spec


def admin_target(
    spec: dict[str, Any], statuses: Sequence[str], current: str, final: bool, noun: str
) -> str | None:
    """The status a drive body asks for, if any; none can leave a final status."""
    target = spec.get("status")
    if target is None:
        return None
    if target not in statuses:
        raise AdminError(f"status must be one of {tuple(statuses)}")
    if final and target != current:
        raise AdminError(f"the {noun} is already {current}")
    return str(target)


def admin_count(spec: dict[str, Any], name: str) -> int | None:
    """A non-negative integer field of an admin body, or None when it is absent."""
    if name not in spec:
        return None
    n = spec[name]
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise AdminError(f"{name} must be an integer >= 0")
    return n


async def admin_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise AdminError(f"invalid JSON: {exc}") from exc
