"""Keys, teams and the audit trail: the admin API's bodies and answers (LiteLLM's names)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema

from filegate.config import parse_size
from filegate.core.tenants import DURATION_PATTERN, KEY_CACHE_SECONDS
from filegate.errors import InvalidRequest
from filegate.records import PURPOSES
from filegate.server.models.base import Answer, RequestBody
from filegate.server.request import integral

# Limits are stored as JSON (64-bit integers at most) and compared in SQL.
LIMIT_MAX = 2**63 - 1
# A size as text: a count of bytes, or of k/M/G/T (10^3..) or Ki/Mi/Gi/Ti (2^10..),
# with few enough digits that the bytes stay below LIMIT_MAX. ASCII only, so the
# OpenAPI document states exactly the same rule.
SIZE_PATTERN = (
    r"^ *([0-9]{1,18} *[Bb]?|[0-9]{1,15} *[Kk][Ii]?[Bb]?|[0-9]{1,12} *[Mm][Ii]?[Bb]?"
    r"|[0-9]{1,9} *[Gg][Ii]?[Bb]?|[0-9]{1,6} *[Tt][Ii]?[Bb]?) *$"
)
# Column widths of the catalog (files.team is the narrowest home of a team id).
TEAM_ID_MAX = 64
NAME_MAX = 255

Count = Annotated[int, Field(ge=0, le=LIMIT_MAX), BeforeValidator(integral)]
# A size in bytes or as text; LimitFields.limits() checks it (with its own message).
_BYTES = {"type": "integer", "minimum": 0, "maximum": LIMIT_MAX}
_TEXT = {"type": "string", "pattern": SIZE_PATTERN}
Size = Annotated[Any, WithJsonSchema({"anyOf": [_BYTES, _TEXT, {"type": "null"}]})]
Purpose = Annotated[str, WithJsonSchema({"type": "string", "enum": list(PURPOSES)})]

_LIMITS = {
    "max_file_size": "The largest file this key (team) may upload, in bytes or as a size "
    "(`10MB`, `512MiB`; k/M/G/T are powers of 1000, Ki/Mi/Gi/Ti of 1024). Judged from "
    "`Content-Length` before the body is read, and while it streams: a larger file gets 413.",
    "max_stored_bytes": "The most bytes the key's (team's) files may hold together; an "
    "upload that would pass it gets 403 `quota_exceeded` and leaves nothing behind.",
    "max_files": "The most files the key (team) may hold at once; uploads in progress "
    "count. One more gets 403 `quota_exceeded`.",
    "allowed_purposes": "The purposes the key may upload with; another gets 400 "
    "`purpose_not_allowed`. Omitted or null: all.",
    "rpm": "Requests per minute to the Files routes; past it, 429 with `Retry-After`.",
    "upload_rpm": "File uploads per minute; past it, 429 with `Retry-After`.",
    "max_concurrent_uploads": "Uploads of this key that may stream at once; one more gets "
    "429 `too_many_concurrent_uploads`.",
    "max_batches_in_progress": "Batches of this key (team) that may be unfinished at once; "
    "one more gets 429 `too_many_batches_in_progress`.",
    "max_fine_tuning_jobs_in_progress": "Fine-tuning jobs of this key (team) that may be "
    "unfinished at once (validating, queued, running or paused); one more gets 429 "
    "`too_many_fine_tuning_jobs_in_progress`.",
}


def _size(name: str, value: object) -> int:
    value = integral(value)
    if isinstance(value, str) and re.search(SIZE_PATTERN, value):
        return parse_size(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= LIMIT_MAX:
        return value
    raise InvalidRequest(
        f"Invalid '{name}': expected a number of bytes (0..{LIMIT_MAX}) or a size "
        "such as '10MB' or '512MiB'.",
        param=name,
        code="invalid_value",
    )


def _sent(name: str) -> Any:
    return Field(None, description=_LIMITS[name] + " null clears it.")


def _set(name: str) -> Any:
    return Field(None, description=_LIMITS[name] + " Present only when set.")


class LimitFields(RequestBody):
    max_file_size: Size = _sent("max_file_size")  # checked by limits()
    max_stored_bytes: Size = _sent("max_stored_bytes")
    max_files: Count | None = _sent("max_files")
    allowed_purposes: list[Purpose] | None = _sent("allowed_purposes")
    rpm: Count | None = _sent("rpm")
    upload_rpm: Count | None = _sent("upload_rpm")
    max_concurrent_uploads: Count | None = _sent("max_concurrent_uploads")
    max_batches_in_progress: Count | None = _sent("max_batches_in_progress")
    max_fine_tuning_jobs_in_progress: Count | None = _sent("max_fine_tuning_jobs_in_progress")

    def limits(self) -> dict[str, Any]:
        """The limit fields the client sent (None clears one), sizes in bytes."""
        out: dict[str, Any] = {}
        for name in LimitFields.model_fields:
            if name not in self.model_fields_set:
                continue
            value = getattr(self, name)
            if name in ("max_file_size", "max_stored_bytes") and value is not None:
                value = _size(name, value)
            if name == "allowed_purposes" and value is not None:
                bad = [p for p in value if p not in PURPOSES]
                if bad:
                    raise InvalidRequest(
                        f"Unknown purpose {bad[0]!r}.", param=name, code="invalid_value"
                    )
            out[name] = value
        return out


class Limits(Answer):
    max_file_size: Count | None = _set("max_file_size")
    max_stored_bytes: Count | None = _set("max_stored_bytes")
    max_files: Count | None = _set("max_files")
    allowed_purposes: list[Purpose] | None = _set("allowed_purposes")
    rpm: Count | None = _set("rpm")
    upload_rpm: Count | None = _set("upload_rpm")
    max_concurrent_uploads: Count | None = _set("max_concurrent_uploads")
    max_batches_in_progress: Count | None = _set("max_batches_in_progress")
    max_fine_tuning_jobs_in_progress: Count | None = _set("max_fine_tuning_jobs_in_progress")


_TEAM_ACCESS = (
    "Whether the key also sees (and may read and delete) its team's files; without it a key "
    "sees only the files it made."
)
_TEAM_REF = "The team (made with `/team/new` first; an unknown one gets 400 `unknown_team`)."
_METADATA = "Free-form data kept with it."


class _KeyFields(LimitFields):
    key_alias: str | None = Field(None, max_length=NAME_MAX)
    """A unique name for the key (409 if taken)."""
    user_id: str | None = Field(None, max_length=NAME_MAX)
    """Who the key is for; free text."""
    team_id: str | None = Field(None, max_length=TEAM_ID_MAX, description=_TEAM_REF)
    duration: str | None = Field(
        None,
        examples=["30s", "15m", "12h", "30d", "2w"],
        json_schema_extra={"pattern": DURATION_PATTERN},
    )
    """How long the key lives from now (`s`, `m`, `h`, `d`, `w`); it is refused with 401
    `expired_api_key` from then on. Omitted or null: forever."""
    metadata: dict[str, Any] | None = Field(None, description=_METADATA)


class KeyGenerate(_KeyFields):
    model_config = ConfigDict(title="KeyGenerateRequest")

    team_access: bool = Field(False, description=_TEAM_ACCESS)


class KeyUpdate(_KeyFields):
    model_config = ConfigDict(title="KeyUpdateRequest")

    key: str
    """The key to change: its id, alias or secret."""
    team_access: bool | None = Field(None, description=_TEAM_ACCESS + " null leaves it.")


class KeyDelete(RequestBody):
    model_config = ConfigDict(
        title="KeyDeleteRequest",
        json_schema_extra={
            "description": "The keys to delete, by id or secret (`keys`) or alias "
            "(`key_aliases`); at least one. Refused with 401 at once in this process, "
            f"within {KEY_CACHE_SECONDS:g} s in others.",
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "array", "minItems": 1}}}
                for name in ("keys", "key_aliases")
            ],
        },
    )

    keys: list[str] | None = None
    key_aliases: list[str] | None = None


class TeamNew(LimitFields):
    model_config = ConfigDict(title="TeamNewRequest")

    team_id: str | None = Field(None, max_length=TEAM_ID_MAX)
    """The team's id (409 if taken); empty or omitted: a new `team-...` id."""
    team_alias: str | None = Field(None, max_length=NAME_MAX)
    metadata: dict[str, Any] | None = Field(None, description=_METADATA)


class TeamUpdate(LimitFields):
    model_config = ConfigDict(title="TeamUpdateRequest")

    team_id: str
    team_alias: str | None = Field(None, max_length=NAME_MAX)
    """null leaves it."""
    metadata: dict[str, Any] | None = None
    """null leaves it."""


class TeamDelete(RequestBody):
    """Teams must have no keys left (else 400 `team_not_empty`)."""

    model_config = ConfigDict(title="TeamDeleteRequest")

    team_ids: list[str]


class KeyInfo(Limits):
    token: str
    """The key's id (`key-...`), not its secret."""
    key_name: str
    """`sk-...` and the secret's last four characters."""
    key_alias: str | None
    user_id: str | None
    team_id: str | None
    team_access: bool = Field(description=_TEAM_ACCESS)
    created_at: dt.datetime
    expires: dt.datetime | None
    metadata: dict[str, Any]


class GeneratedKey(KeyInfo):
    """The new key. `key` is its secret, shown this once: only a SHA-256 digest is stored."""

    key: str = Field(pattern="^sk-")


class KeyInfoResponse(Answer):
    key: str
    info: KeyInfo


class KeyListResponse(Answer):
    keys: list[str | KeyInfo]
    """Key ids, or whole key objects with `return_full_object=true`."""
    total_count: int = Field(ge=0)
    current_page: int = Field(ge=1)
    total_pages: int = Field(ge=1)


class DeletedKeys(Answer):
    deleted_keys: list[str]


class TeamInfo(Limits):
    team_id: str
    team_alias: str | None
    created_at: dt.datetime
    metadata: dict[str, Any]


class TeamInfoResponse(Answer):
    team_id: str
    team_info: TeamInfo
    keys: list[str]
    """The ids of the team's keys."""


class DeletedTeams(Answer):
    deleted_teams: list[str]


class AuditEvent(Answer):
    id: str
    """`evt-` and a time-sortable part."""
    object: Literal["audit.event"]
    created_at: int
    """Unix time (seconds)."""
    actor: str
    """Who: a key's id, or `master` for the master key."""
    action: str
    """What: `file.create`, `file.download`, `file.delete`, `key.generate`, `key.update`,
    `key.delete`, `team.new`, `team.update`, `team.delete`."""
    subject: str | None
    """The file, key or team acted on."""
    bytes: int | None
    """Bytes stored, sent or deleted (file events)."""
    detail: dict[str, Any]


class AuditList(Answer):
    object: Literal["list"]
    data: list[AuditEvent]
    first_id: str | None
    last_id: str | None
    """Pass it as `after` for the next (older) page."""
    has_more: bool
