"""A file's record, its copies at providers, and what listing and reading take."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filegate.records.tenants import Scope

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
# Every purpose a stored file can carry: the ones a client may upload with, plus
# the ones OpenAI gives to files it makes itself (what a listing may filter by).
FILE_PURPOSES = (*PURPOSES, "assistants_output", "batch_output", "fine-tune-results")
# expires_after[seconds] as OpenAI documents it: one hour to thirty days. The
# gateway and the providers that keep OpenAI's range share these.
EXPIRES_MIN = 3600
EXPIRES_MAX = 30 * 24 * 3600


class FileState(enum.StrEnum):
    """Where a record is in its life; only READY records are ever visible."""

    WRITING = "writing"  # bytes are streaming in; swept when its lease runs out
    READY = "ready"
    DELETING = "deleting"  # record hidden, bytes being removed; swept if interrupted


EMBEDDED = "filegate"


@dataclass(frozen=True, slots=True)
class FileTotals:
    """What the catalog holds, fleet-wide: visible files and their bytes, and files
    whose bytes are being written now (uploads in flight)."""

    files: int
    bytes: int
    writing: int


@dataclass(slots=True)
class Location:
    """A copy of a file's bytes at one provider deployment."""

    deployment: str
    provider: str
    provider_file_id: str
    status: str = "processed"
    status_details: str | None = None


@dataclass(slots=True)
class FileRecord:
    id: str
    filename: str
    purpose: str
    created_at: int
    bytes: int = 0
    content_type: str = "application/octet-stream"
    sha256: str | None = None
    expires_at: int | None = None
    status: str = "processed"
    status_details: str | None = None
    owner: str | None = None
    team: str | None = None
    state: FileState = FileState.WRITING
    lease_until: int | None = None
    blob_key: str | None = None
    # Copies at provider deployments; empty for files in filegate's own store.
    locations: list[Location] = field(default_factory=list)

    def to_openai(self, *, locations: bool = False) -> dict[str, object]:
        """The OpenAI `file` object; optional fields are omitted, never null.

        ``locations`` adds filegate's own ``locations`` field (asked for with
        ``include=locations``), so that the object is OpenAI's exactly unless asked."""
        out: dict[str, object] = {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": self.status,
        }
        if self.expires_at is not None:
            out["expires_at"] = self.expires_at
        if self.status_details is not None:
            out["status_details"] = self.status_details
        if locations:
            out["locations"] = self.where_stored()
        return out

    def where_stored(self) -> list[dict[str, str]]:
        """filegate's own field: the deployments holding the bytes, by the names the
        gateway's config gives them (which any caller may name when routing), never the
        provider's own ids (those are for the master key's passthrough alone)."""
        held = [{"deployment": EMBEDDED, "provider": EMBEDDED, "status": "processed"}]
        out = held if self.blob_key is not None else []
        out.extend(
            {"deployment": loc.deployment, "provider": loc.provider, "status": loc.status}
            for loc in self.locations
        )
        return out


@dataclass(slots=True, frozen=True)
class ListQuery:
    scope: Scope
    limit: int = 10_000
    order: str = "desc"
    after: str | None = None
    purpose: str | None = None
    # Only files with a copy at this provider ("filegate": in the embedded store).
    provider: str | None = None


@dataclass(slots=True)
class FilePage:
    data: list[FileRecord] = field(default_factory=list)
    has_more: bool = False

    def to_openai(self, *, locations: bool = False) -> dict[str, object]:
        return {
            "object": "list",
            "data": [r.to_openai(locations=locations) for r in self.data],
            "first_id": self.data[0].id if self.data else None,
            "last_id": self.data[-1].id if self.data else None,
            "has_more": self.has_more,
        }


@dataclass(frozen=True, slots=True)
class ExpiresAfter:
    """When a file expires: ``seconds`` after its ``anchor`` (only created_at)."""

    seconds: int
    anchor: str = "created_at"


@dataclass(slots=True, frozen=True)
class Stored:
    """What a blob store wrote: the byte count and the SHA-256 hex digest.

    The digest is None from a store that was told not to hash (the spool).
    """

    size: int
    sha256: str | None


@dataclass(slots=True, frozen=True)
class ByteRange:
    """An inclusive byte range [start, end] of a stored blob."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1
