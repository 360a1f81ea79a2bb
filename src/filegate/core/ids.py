"""Opaque, time-sortable ids.

A file id is ``file-`` + a ULID. Its first 48 bits are the creation time in
milliseconds, so sorting ids sorts by ``created_at``: the catalog pages by id
alone, which is exact even when many files share one second.
"""

from __future__ import annotations

import re

from ulid import ULID

FILE_PREFIX = "file-"
ULID_PATTERN = "[0-9A-HJKMNP-TV-Z]{26}"
# A file id as a JSON-Schema pattern (the OpenAPI document states it).
FILE_ID_PATTERN = f"^{FILE_PREFIX}{ULID_PATTERN}$"
_ULID_RE = re.compile(f"^{ULID_PATTERN}$")


def new_id(prefix: str = FILE_PREFIX) -> tuple[str, int]:
    """Return a fresh id and its creation time (unix seconds)."""
    u = ULID()
    return prefix + str(u), u.milliseconds // 1000


def is_filegate_id(value: str, prefix: str = FILE_PREFIX) -> bool:
    return value.startswith(prefix) and bool(_ULID_RE.match(value[len(prefix) :]))
