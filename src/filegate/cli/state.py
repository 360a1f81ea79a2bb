"""Small state files that let an interrupted transfer be resumed.

They live under the user's cache folder, never in the working directory:
``$XDG_CACHE_HOME/filegate`` (else ``~/.cache/filegate``; on Windows
``%LOCALAPPDATA%\\filegate``), in ``uploads/`` and ``downloads/``. An upload's state
is keyed by the server's URL and the file's absolute path, size and modification
time, so a file changed since is sent afresh; a download's by the server and the
output path. They hold ids and offsets, never a key. Each is written whole to a
temporary file and renamed into place, so a process killed mid-write leaves the
previous state, and removed when its transfer ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

__all__ = ["StateFile", "cache_dir"]

VERSION = 1


def cache_dir() -> Path:
    """The folder for filegate's client state (not made until something is written)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "filegate"
    local = os.environ.get("LOCALAPPDATA")
    if os.name == "nt" and local:
        return Path(local) / "filegate"
    return Path.home() / ".cache" / "filegate"


class StateFile:
    """One transfer's state: a JSON object under ``cache_dir()/kind``."""

    def __init__(self, kind: str, *key_parts: object) -> None:
        digest = hashlib.sha256("\0".join(map(str, key_parts)).encode()).hexdigest()[:32]
        self.path = cache_dir() / kind / f"{digest}.json"

    def load(self) -> dict[str, Any] | None:
        try:
            doc = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            return None
        return doc

    def save(self, doc: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(orjson.dumps({**doc, "version": VERSION}))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
