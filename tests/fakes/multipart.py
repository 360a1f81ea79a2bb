"""The fake upstream's streaming multipart receiver: fields kept small, the file part on disk."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_multipart.multipart import parse_options_header

MAX_FIELD_BYTES = 64 * 1024


@dataclass
class FilePart:
    field: str
    filename: str
    content_type: str | None
    tmp_path: Path | None
    size: int = 0
    sha256: str = ""


class MultipartSink:
    """Receives python-multipart callbacks; the ``file`` part goes straight to disk."""

    def __init__(self, tmp_path: Path, file_field: str = "file") -> None:
        self.tmp_path = tmp_path
        self.file_field = file_field
        self.order: list[str] = []
        self.values: dict[str, str] = {}
        self.file: FilePart | None = None
        self.other_files: list[FilePart] = []
        self.received = 0
        self.ended = False
        self._headers: dict[str, str] = {}
        self._hname = bytearray()
        self._hvalue = bytearray()
        self._name = ""
        self._part: FilePart | None = None
        self._buf = bytearray()
        self._fh: Any = None
        self._hasher: Any = None
        self._cur_size = 0

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }

    def _on_part_begin(self) -> None:
        self._headers = {}
        self._part = None
        self._buf = bytearray()
        self._cur_size = 0

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._hname.decode("latin-1").lower()] = self._hvalue.decode(
            "utf-8", "replace"
        )
        self._hname = bytearray()
        self._hvalue = bytearray()

    def _on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        self.order.append(self._name)
        raw_filename = params.get(b"filename")
        if raw_filename is None:
            return
        ctype = self._headers.get("content-type") or None
        is_main = self._name == self.file_field and self.file is None
        part = FilePart(
            field=self._name,
            filename=raw_filename.decode("utf-8", "replace"),
            content_type=ctype,
            tmp_path=self.tmp_path if is_main else None,
        )
        self._part = part
        self._hasher = hashlib.sha256()
        if is_main:
            self.file = part
            self._fh = self.tmp_path.open("wb")
        else:
            self.other_files.append(part)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = memoryview(data)[start:end]
        if self._part is not None:
            self._cur_size += len(chunk)
            self._hasher.update(chunk)
            if self._fh is not None:
                self._fh.write(chunk)
        elif len(self._buf) < MAX_FIELD_BYTES:
            self._buf += chunk[: MAX_FIELD_BYTES - len(self._buf)]

    def _on_part_end(self) -> None:
        if self._part is not None:
            self._part.size = self._cur_size
            self._part.sha256 = self._hasher.hexdigest()
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            self._part = None
        else:
            self.values.setdefault(self._name, self._buf.decode("utf-8", "replace"))

    def _on_end(self) -> None:
        self.ended = True

    def snapshot(self) -> dict[str, Any]:
        def part(p: FilePart) -> dict[str, Any]:
            size = p.size
            sha = p.sha256
            if p is self._part:  # still streaming (dropped mid-part)
                size = self._cur_size
                sha = ""
            return {
                "field": p.field,
                "filename": p.filename,
                "content_type": p.content_type,
                "size": size,
                "sha256": sha,
            }

        return {
            "fields": list(self.order),
            "values": dict(self.values),
            "file": part(self.file) if self.file else None,
            "other_files": [part(p) for p in self.other_files],
        }

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with contextlib.suppress(FileNotFoundError):
            self.tmp_path.unlink()
