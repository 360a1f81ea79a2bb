"""The Uploads API's request bodies and objects (OpenAI's names; the routing fields ours)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from filegate.core.files.uploads import MAX_MIME_TYPE, MAX_PART_BYTES, MAX_UPLOAD_BYTES, UPLOAD_TTL
from filegate.records import PURPOSES
from filegate.server.models.base import Answer, Form, Integer, RequestBody, enum
from filegate.server.models.files import Binary, ExpiresAfterBody, FileObject


class CreateUpload(RequestBody):
    model_config = ConfigDict(title="CreateUploadRequest")

    filename: str = Field(json_schema_extra={"minLength": 1, "maxLength": 1024})
    """The name of the file: 1 to 1024 bytes of UTF-8 (a longer one gets 400)."""
    purpose: str = enum(PURPOSES)
    """The intended purpose of the file. `batch`, `fine-tune` and `evals` files must be JSONL,
    checked line by line on complete."""
    bytes: Integer = Field(
        ge=0,
        json_schema_extra={"maximum": MAX_UPLOAD_BYTES},
        description="The exact size of the file; the parts named on complete must add up to "
        f"it. More than {MAX_UPLOAD_BYTES} (8 GiB), the gateway's `FILEGATE_MAX_UPLOAD_SIZE` "
        "or the key's `max_file_size` gets 413 at once.",
    )
    mime_type: str = Field(
        examples=["text/plain", "application/jsonl", "image/png"],
        json_schema_extra={"maxLength": MAX_MIME_TYPE},
    )
    """The MIME type of the file (`type/subtype`, any letter case, parameters after `;`
    ignored), which must suit the purpose: JSONL types for `batch`, `fine-tune` and `evals`,
    images for `vision` (else 400 `unsupported_mime_type`); the file is served with it."""
    expires_after: ExpiresAfterBody | None = Field(
        None,
        description="When the completed file expires (the upload itself always expires "
        f"{UPLOAD_TTL} s after it is made). null counts as not sent.",
    )
    # LiteLLM's routing fields, as on /v1/files (the document states the configured choices).
    custom_llm_provider: str | None = None
    model: str | None = None
    target_model_names: str | None = None


class CompleteUpload(RequestBody):
    model_config = ConfigDict(title="CompleteUploadRequest")

    part_ids: list[str]
    """The parts that make the file, in order, each once; their sizes must add up to the
    upload's `bytes`. Parts not named are dropped. Empty only for an upload of 0 bytes."""
    md5: str | None = None
    """The hex md5 of the whole file; when sent, the parts' content must hash to it (else 400
    `md5_mismatch`, and the upload stays pending). null counts as not sent."""


class AddPartForm(Form):
    model_config = ConfigDict(title="AddUploadPartRequest")

    data: Binary = Field(
        description=f"The part's bytes: at most {MAX_PART_BYTES} (64 MiB); a larger part gets "
        "413, judged from Content-Length before reading, and while streaming. Exactly one "
        "`data` part per request."
    )


class Upload(Answer):
    """The Upload object: a file arriving in parts."""

    id: str = Field(pattern="^upload_", examples=["upload_01JD8W3Q4ZK5N7X2M9P6R3T1V0"])
    """The upload's id: `upload_` and a time-sortable part."""
    object: Literal["upload"]
    bytes: int = Field(ge=0, le=MAX_UPLOAD_BYTES)
    """The size the file will have."""
    created_at: int
    """Unix time (seconds) when the upload was made."""
    expires_at: int = Field(
        description=f"Unix time (seconds) when the upload expires: `created_at` + {UPLOAD_TTL}. "
        "A pending upload then takes no more parts and cannot be completed."
    )
    filename: str
    purpose: str = enum(PURPOSES)
    """The purpose the file will have."""
    status: Literal["pending", "completed", "cancelled", "expired"]
    """`pending` while it takes parts (and while a complete runs); then `completed`,
    `cancelled` or `expired`."""
    file: FileObject | None
    """The file made by complete; null before (and in the answers of create and cancel)."""


class UploadPart(Answer):
    """A part of an upload: a chunk of its bytes."""

    id: str = Field(pattern="^part_")
    """The part's id, to name on complete."""
    object: Literal["upload.part"]
    created_at: int
    """Unix time (seconds) when the part was added."""
    upload_id: str
    """The upload it belongs to."""
