"""Keeping secrets out of what the server prints."""

from __future__ import annotations

import logging
import re


def redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"


class RedactSecrets(logging.Filter):
    """Blank out ``key=`` query values and anything shaped like an ``sk-`` key."""

    _PATTERNS = (
        (re.compile(r"(?i)([?&][a-z_-]*key=)[^&\s\"]*"), r"\1[redacted]"),
        (re.compile(r"sk-[A-Za-z0-9_-]{4,}"), "sk-[redacted]"),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        return True

    @classmethod
    def redact(cls, text: str) -> str:
        for pattern, replacement in cls._PATTERNS:
            text = pattern.sub(replacement, text)
        return text
