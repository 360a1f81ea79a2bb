"""Log output: the default human-readable lines, or one JSON object per record.

In JSON mode every record is an object with ``ts``, ``level``, ``logger`` and
``message``; a request's record (``filegate.access``, see ``server/metrics.py``)
adds its fields at the top level. Secrets never reach it: the access record names
the caller by key alias or id, and the query strings uvicorn would print are not
logged at all (its access log is off in JSON mode).
"""

from __future__ import annotations

import datetime as dt
import logging

import orjson

from filegate.server.redaction import RedactSecrets

__all__ = ["JsonFormatter", "configure_logging"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            doc.update(access)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def configure_logging(level: str, log_format: str) -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
