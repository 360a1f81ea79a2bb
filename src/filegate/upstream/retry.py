"""The one retry policy for calls to services outside the gateway.

Providers (through ``upstream.client``) and the GCS blob store (through
``google.gcs_client``) retry the same statuses with the same backoff; only how
many times is theirs to choose. It imports only ``filegate.errors``, so
any layer may use it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import httpx2

from filegate.errors import FilegateError, UpstreamTimeout, UpstreamUnreachable

# What a service may answer when trying again can succeed.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Seconds before the first retry, doubled for each one after, up to MAX_BACKOFF.
BASE_DELAY = 0.5
MAX_BACKOFF = 8.0
# A Retry-After longer than this is not waited out.
MAX_RETRY_AFTER = 60.0


def should_retry(response: httpx2.Response) -> bool:
    """Whether a failed answer is worth sending again (and the service does not say no)."""
    return worth_retrying(response.status_code, response.headers)


def worth_retrying(status: int, headers: Mapping[str, str]) -> bool:
    """``should_retry`` for an answer from another HTTP client (lower-case header names
    or case-insensitive headers)."""
    return status in RETRY_STATUSES and headers.get("x-should-retry") != "false"


def retry_delay(attempt: int, response: httpx2.Response | None = None) -> float:
    """Seconds to wait before retry number ``attempt + 1``: what the service asks, else
    exponential backoff with jitter (so that many clients do not retry in step)."""
    return retry_after(attempt, response.headers if response is not None else None)


def retry_after(attempt: int, headers: Mapping[str, str] | None) -> float:
    """``retry_delay`` from an answer's headers (case-insensitive), if there was one."""
    if headers is not None:
        for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            value = headers.get(name)
            if value:
                try:
                    return min(float(value) * scale, MAX_RETRY_AFTER)
                except ValueError:
                    pass
    return min(BASE_DELAY * 2.0**attempt, MAX_BACKOFF) * (0.75 + random.random() / 2)


def is_transient(exc: FilegateError) -> bool:
    """Whether a call that failed with ``exc`` (as ``upstream.client`` maps failures) may
    succeed if made again."""
    if isinstance(exc, UpstreamTimeout | UpstreamUnreachable):
        return True
    return exc.upstream_status in RETRY_STATUSES
