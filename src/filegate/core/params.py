"""Checks of the options a client sends, shared by every entry point."""

from __future__ import annotations

import re

from filegate.core.ids import is_filegate_id
from filegate.errors import InvalidRequest
from filegate.records import EXPIRES_MAX, EXPIRES_MIN, FILE_PURPOSES, PURPOSES, ExpiresAfter

__all__ = ["EXPIRES_MAX", "EXPIRES_MIN", "ExpiresAfter"]

BATCH_DEFAULT_EXPIRY = 30 * 24 * 3600
LIST_LIMIT_MAX = 10_000
_INT = re.compile(r"-?[0-9]+")


def _strict_int(value: str | int | None) -> int:
    """An integer as the wire sends it; ``int()`` alone also takes "3_600", " 36 " and "٣"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    raise ValueError(f"not an integer: {value!r}")


def parse_purpose(value: str | None) -> str:
    if value is None or value == "":
        raise InvalidRequest(
            "Missing required parameter: 'purpose'.",
            param="purpose",
            code="missing_required_parameter",
        )
    return _purpose_in(value, PURPOSES)


def _purpose_in(value: str, purposes: tuple[str, ...]) -> str:
    if value not in purposes:
        raise InvalidRequest(
            f"Invalid value for 'purpose': {value[:64]!r}. Expected one of: "
            + ", ".join(purposes)
            + ".",
            param="purpose",
            code="invalid_value",
        )
    return value


def parse_expires_after(
    anchor: str | None, seconds: str | int | None, *, bounded: bool = True
) -> ExpiresAfter | None:
    """``expires_after[anchor]`` and ``expires_after[seconds]``: both or neither.

    ``bounded=False`` leaves the range to whoever the value is for (the SDK: the
    provider or gateway it calls, each of which knows its own).
    """
    if anchor is None and seconds is None:
        return None
    if anchor is None:
        raise InvalidRequest(
            "Missing required parameter: 'expires_after[anchor]'.",
            param="expires_after[anchor]",
            code="missing_required_parameter",
        )
    if seconds is None:
        raise InvalidRequest(
            "Missing required parameter: 'expires_after[seconds]'.",
            param="expires_after[seconds]",
            code="missing_required_parameter",
        )
    if anchor != "created_at":
        raise InvalidRequest(
            f"Invalid value for 'expires_after[anchor]': {anchor[:64]!r}. Expected 'created_at'.",
            param="expires_after[anchor]",
            code="invalid_value",
        )
    try:
        secs = _strict_int(seconds)
    except (TypeError, ValueError):
        raise InvalidRequest(
            "Invalid value for 'expires_after[seconds]': expected an integer.",
            param="expires_after[seconds]",
            code="invalid_value",
        ) from None
    if bounded and not EXPIRES_MIN <= secs <= EXPIRES_MAX:
        raise InvalidRequest(
            f"Invalid value for 'expires_after[seconds]': {secs}. "
            f"It must be between {EXPIRES_MIN} and {EXPIRES_MAX}.",
            param="expires_after[seconds]",
            code="invalid_value",
        )
    return ExpiresAfter(seconds=secs)


def parse_limit(value: str | None) -> int:
    if value is None:
        return LIST_LIMIT_MAX
    try:
        limit = _strict_int(value)
    except ValueError:
        raise InvalidRequest(
            "Invalid value for 'limit': expected an integer.", param="limit", code="invalid_value"
        ) from None
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise InvalidRequest(
            f"Invalid value for 'limit': {limit}. It must be between 1 and {LIST_LIMIT_MAX}.",
            param="limit",
            code="invalid_value",
        )
    return limit


def parse_order(value: str | None) -> str:
    if value is None:
        return "desc"
    if value not in ("asc", "desc"):
        raise InvalidRequest(
            f"Invalid value for 'order': {value[:32]!r}. Expected 'asc' or 'desc'.",
            param="order",
            code="invalid_value",
        )
    return value


def parse_list_purpose(value: str | None) -> str | None:
    """A listing's purpose filter: one a file can have, or None when not sent."""
    return None if value is None else _purpose_in(value, FILE_PURPOSES)


def parse_after(value: str | None) -> str | None:
    """A listing's cursor: a file id (one that is gone still pages), or None when not sent."""
    if value is None:
        return None
    if not is_filegate_id(value):
        raise InvalidRequest(
            f"Invalid value for 'after': {value[:64]!r} is not a file id "
            "(the previous page's last_id).",
            param="after",
            code="invalid_value",
        )
    return value


def check_text(param: str, value: str) -> str:
    """``value`` unless it holds NUL, which no catalog column keeps (PostgreSQL's text
    refuses it); checked where a string enters, so every catalog answers alike."""
    if "\x00" in value:
        shown = param.replace("\x00", "\\x00")[:64]
        raise InvalidRequest(
            f"Invalid value for '{shown}': it contains a NUL character.",
            param=shown,
            code="invalid_value",
        )
    return value
