"""An Uploads API upload and its parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filegate.records.files import FileRecord


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
