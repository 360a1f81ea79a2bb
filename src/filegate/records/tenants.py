"""Who may see what: scopes, limits and quotas, keys, teams and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    "max_batches_in_progress",
    "max_fine_tuning_jobs_in_progress",
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
    max_batches_in_progress: int | None = None  # batches not yet finished
    max_fine_tuning_jobs_in_progress: int | None = None  # fine-tuning jobs not yet ended

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
