"""Request checks the Batch and Fine-tuning surfaces share, in OpenAI's wording and codes:
unknown and missing fields, types, metadata, expiry policies, list limits and cursors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response

from tests.fakes.calls import Call
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


def after_cursor(items: list[T], ids: list[str], after: str | None) -> list[T]:
    """The items after ``after`` (by id); an id not in the list gives nothing, as on OpenAI."""
    if after is None:
        return items
    return items[ids.index(after) + 1 :] if after in ids else []


async def admin_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise AdminError(f"invalid JSON: {exc}") from exc
