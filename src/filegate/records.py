"""The plain data types every layer passes around."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
# Every purpose a stored file can carry: the ones a client may upload with, plus
# the ones OpenAI gives to files it makes itself (what a listing may filter by).
FILE_PURPOSES = (*PURPOSES, "assistants_output", "batch_output", "fine-tune-results")


class FileState(enum.StrEnum):
    """Where a record is in its life; only READY records are ever visible."""

    WRITING = "writing"  # bytes are streaming in; swept when its lease runs out
    READY = "ready"
    DELETING = "deleting"  # record hidden, bytes being removed; swept if interrupted


EMBEDDED = "filegate"


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

    def to_openai(self) -> dict[str, object]:
        """The OpenAI `file` object; optional fields are omitted, never null."""
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
        return out


@dataclass(slots=True, frozen=True)
class Scope:
    """Whose files a caller may see: None owner means every file (admin).

    A key sees the files it made; with ``team_access`` also its team's.
    """

    owner: str | None = None
    team: str | None = None  # the team's uid
    team_access: bool = False

    @property
    def is_admin(self) -> bool:
        return self.owner is None

    @property
    def sees_team(self) -> bool:
        return self.team_access and self.team is not None


LIMIT_FIELDS = (
    "max_file_size",
    "max_stored_bytes",
    "max_files",
    "allowed_purposes",
    "rpm",
    "upload_rpm",
    "max_concurrent_uploads",
)


@dataclass(slots=True, frozen=True)
class Limits:
    """Caps for a key, a team, or everyone; None means no cap."""

    max_file_size: int | None = None
    max_stored_bytes: int | None = None
    max_files: int | None = None
    allowed_purposes: tuple[str, ...] | None = None
    rpm: int | None = None  # requests per minute
    upload_rpm: int | None = None  # file creations per minute
    max_concurrent_uploads: int | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in LIMIT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, doc: dict[str, object] | None) -> Limits:
        doc = doc or {}
        purposes = doc.get("allowed_purposes")
        return cls(
            **{k: doc.get(k) for k in LIMIT_FIELDS if k != "allowed_purposes"},  # type: ignore[arg-type]
            allowed_purposes=tuple(purposes) if isinstance(purposes, list | tuple) else None,
        )


@dataclass(frozen=True, slots=True)
class Quota:
    """Storage caps checked atomically when a file is admitted and published."""

    max_files: int | None = None
    team_max_files: int | None = None
    max_concurrent_uploads: int | None = None
    max_stored_bytes: int | None = None
    team_max_stored_bytes: int | None = None


@dataclass(slots=True)
class ApiKey:
    """A virtual key; only the SHA-256 of its secret is ever stored."""

    id: str
    token_hash: str
    preview: str
    created_at: int
    key_alias: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    team_access: bool = False
    expires_at: int | None = None
    metadata: dict[str, object] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)

    def scope(self, team: Team | None) -> Scope:
        """Whose files this key sees, ``team`` being the team it is in now."""
        return Scope(
            owner=self.id, team=team.uid if team is not None else None, team_access=self.team_access
        )


@dataclass(slots=True)
class Team:
    team_id: str  # the name it is given by, which a later team may take again
    created_at: int
    uid: str  # never re-used: what the team's files and uploads belong to
    team_alias: str | None = None
    metadata: dict[str, object] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)


@dataclass(slots=True)
class AuditEvent:
    id: str
    ts: int
    actor: str  # a key id, or "master"
    action: str  # file.create, file.download, file.delete, key.generate, ...
    subject: str | None = None
    bytes: int | None = None
    detail: dict[str, object] = field(default_factory=dict)


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

    def to_openai(self) -> dict[str, object]:
        return {
            "object": "list",
            "data": [r.to_openai() for r in self.data],
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


@dataclass(slots=True)
class Upload:
    """An Uploads-API upload: a file arriving in parts, completed into a file."""

    id: str
    filename: str
    purpose: str
    bytes: int
    mime_type: str
    created_at: int
    expires_at: int
    status: str = "pending"  # pending, completing, completed, cancelled, expired
    owner: str | None = None
    team: str | None = None
    file_expires_after: int | None = None
    targets: list[str] = field(default_factory=list)
    file_id: str | None = None
    # The provider's own upload id when the parts are forwarded to its Uploads
    # API; never shown to clients.
    provider_upload_id: str | None = None

    def to_openai(self, file: FileRecord | None = None) -> dict[str, object]:
        # "completing" is ours alone: to the client the upload is still pending.
        status = "pending" if self.status == "completing" else self.status
        return {
            "id": self.id,
            "object": "upload",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": status,
            "file": file.to_openai() if file is not None else None,
        }


@dataclass(slots=True)
class UploadPart:
    id: str
    upload_id: str
    created_at: int
    bytes: int
    # The provider's id for a part forwarded upstream (no local blob then).
    provider_part_id: str | None = None

    @property
    def blob_key(self) -> str:
        return self.id

    def to_openai(self) -> dict[str, object]:
        return {
            "id": self.id,
            "object": "upload.part",
            "created_at": self.created_at,
            "upload_id": self.upload_id,
        }
