"""The limits keys and teams take, as options, and ``--metadata k=v``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from filegate.cli.options import UsageProblem

__all__ = ["limit_options", "limits_from", "metadata_from"]

F = TypeVar("F", bound=Callable[..., Any])

_COUNTS = (
    ("max_files", "--max-files", "Most files stored at once."),
    ("rpm", "--rpm", "Requests a minute."),
    ("upload_rpm", "--upload-rpm", "Uploads a minute."),
    ("max_concurrent_uploads", "--max-concurrent-uploads", "Uploads open at once."),
)
_SIZES = (
    ("max_file_size", "--max-file-size", "Largest file, e.g. 100MB or 2GiB."),
    ("max_stored_bytes", "--max-stored-bytes", "Most bytes stored, e.g. 10GiB."),
)
LIMIT_NAMES = (*(n for n, _, _ in _SIZES), *(n for n, _, _ in _COUNTS), "allowed_purposes")


def limit_options(func: F) -> F:
    options = [
        *(
            click.option(flag, name, default=None, metavar="SIZE", help=h)
            for name, flag, h in _SIZES
        ),
        *(
            click.option(flag, name, type=click.IntRange(min=0), default=None, help=h)
            for name, flag, h in _COUNTS
        ),
        click.option(
            "--allowed-purpose",
            "allowed_purposes",
            multiple=True,
            help="A purpose it may use (repeat for more) [default: all].",
        ),
        click.option(
            "--metadata",
            "metadata",
            multiple=True,
            metavar="KEY=VALUE",
            help="A metadata entry (repeat for more).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def limits_from(options: dict[str, Any]) -> dict[str, Any]:
    """The limit fields given (taken out of ``options``)."""
    out: dict[str, Any] = {}
    for name in LIMIT_NAMES:
        value = options.pop(name, None)
        if value is None or value == ():
            continue
        if name in ("max_file_size", "max_stored_bytes") and value.isdigit():
            value = int(value)
        out[name] = list(value) if name == "allowed_purposes" else value
    return out


def metadata_from(entries: tuple[str, ...]) -> dict[str, str] | None:
    if not entries:
        return None
    out: dict[str, str] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep or not key:
            raise UsageProblem(f"--metadata takes KEY=VALUE, not {entry!r}")
        out[key] = value
    return out
