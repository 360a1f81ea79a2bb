"""What the batch and fine-tuning commands share: waiting for a job to end, and
``KEY=VALUE`` options whose values are JSON."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import orjson

from filegate import RateLimited, UpstreamError, UpstreamTimeout
from filegate.cli.options import UsageProblem

__all__ = ["DEFAULT_INTERVAL", "interval_option", "json_pairs", "poll"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_INTERVAL = 5.0
# A wait may last hours: a few failed polls in a row (a gateway restarting, a network
# blip), each after the SDK's own retries, do not end it; more than this do.
MISSES = 5
TRANSIENT = (UpstreamError, UpstreamTimeout, RateLimited)


def interval_option(func: F) -> F:
    option = click.option(
        "--interval",
        type=click.FloatRange(min=0.1),
        default=DEFAULT_INTERVAL,
        show_default=True,
        metavar="SECONDS",
        help="Time between two looks at the job.",
    )
    return option(func)


async def poll(
    fetch: Callable[[], Awaitable[T]],
    finished: Callable[[T], bool],
    show: Callable[[T], None],
    interval: float,
) -> T:
    """``fetch()`` every ``interval`` seconds until ``finished``; each answer is ``show``n."""
    misses = 0
    while True:
        try:
            current = await fetch()
        except TRANSIENT:
            misses += 1
            if misses >= MISSES:
                raise
            await asyncio.sleep(interval * misses)
            continue
        misses = 0
        show(current)
        if finished(current):
            return current
        await asyncio.sleep(interval)


def json_pairs(entries: tuple[str, ...], option: str) -> dict[str, Any] | None:
    """``KEY=VALUE`` entries as a mapping, each value read as JSON when it is JSON
    (``n_epochs=3`` is a number, ``batch_size=auto`` a string)."""
    if not entries:
        return None
    out: dict[str, Any] = {}
    for entry in entries:
        key, sep, text = entry.partition("=")
        if not sep or not key:
            raise UsageProblem(f"{option} takes KEY=VALUE, not {entry!r}")
        try:
            out[key] = orjson.loads(text)
        except orjson.JSONDecodeError:
            out[key] = text
    return out
