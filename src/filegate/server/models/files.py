"""The Files API's objects, and the create form's fields (OpenAI's names)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, WithJsonSchema

from filegate.core.params import EXPIRES_MAX, EXPIRES_MIN
from filegate.records import FILE_PURPOSES, PURPOSES
from filegate.server.models.base import Answer, Form, Integer, RequestBody, enum

_EXAMPLE_ID = "file-01JD8W3Q4ZK5N7X2M9P6R3T1V0"
# What a list or retrieve may ask for with ``include``: filegate's own extra fields.
INCLUDES = ("locations",)


class FileLocation(Answer):
    """One place a file's bytes are kept."""

    model_config = ConfigDict(title="FilegateFileLocation")

    deployment: str
    """The deployment's name in the gateway's configuration; `filegate` for its own store."""
    provider: str
    """The deployment's provider (`openai`, `azure`, `vertex_ai`, ...; `filegate`)."""
    status: str
    """The copy's status as its provider last gave it (`processed` once it is usable)."""


class FileObject(Answer):
    """The `File` object: a document stored through the gateway."""

    model_config = ConfigDict(
        title="OpenAIFile",
        json_schema_extra={
            "examples": [
                {
                    "id": _EXAMPLE_ID,
                    "object": "file",
                    "bytes": 120000,
                    "created_at": 1677610602,
                    "filename": "mydata.jsonl",
                    "purpose": "fine-tune",
                    "status": "processed",
                }
            ]
        },
    )

    id: str = Field(examples=[_EXAMPLE_ID])
    """The file id: `file-` and a time-sortable opaque part."""
    object: Literal["file"]
    bytes: int = Field(ge=0)
    """The exact size of the content, in bytes."""
    created_at: int
    """Unix time (seconds) when the file was stored."""
    expires_at: int | None = None
    """Unix time (seconds) after which the file is gone. Present only when the file expires."""
    filename: str
    """The uploaded file's name, exactly as sent (UTF-8)."""
    purpose: str = enum(FILE_PURPOSES)
    """The purpose the file was uploaded with."""
    status: Literal["uploaded", "processed", "error"] = Field(
        json_schema_extra={"deprecated": True}
    )
    """Deprecated by OpenAI; `processed` once the bytes are stored."""
    status_details: str | None = Field(default=None, json_schema_extra={"deprecated": True})
    locations: list[FileLocation] | None = None
    """filegate's own field, not OpenAI's, present only when asked for with
    `include=locations`: where the bytes are kept, by deployment name (the gateway's own
    store first when it holds them). A file copied to a deployment for a batch or a
    fine-tuning job gains that copy here. The providers' own ids are not shown."""


class FileList(Answer):
    model_config = ConfigDict(title="ListFilesResponse")

    object: Literal["list"]
    data: list[FileObject]
    first_id: str | None
    """The id of the first file in `data`; null when it is empty."""
    last_id: str | None
    """The id of the last file in `data`; null when it is empty. Pass it as `after` to get
    the next page."""
    has_more: bool
    """Whether more files follow after `last_id`."""


class FileDeleted(Answer):
    model_config = ConfigDict(title="DeleteFileResponse")

    id: str
    object: Literal["file"]
    deleted: bool


class ExpiresAfterBody(RequestBody):
    """When the file expires. By default `batch` files expire after 30 days and all others
    persist until deleted."""

    model_config = ConfigDict(title="FileExpirationAfter")

    anchor: str = Field(json_schema_extra={"const": "created_at"})
    """What the expiry counts from: the file's creation."""
    seconds: Integer = Field(
        json_schema_extra={"minimum": EXPIRES_MIN, "maximum": EXPIRES_MAX},
        description=f"Seconds after the anchor ({EXPIRES_MIN} = 1 hour .. {EXPIRES_MAX} = "
        "30 days).",
    )


def _expiry_rules(schema: dict[str, Any]) -> None:
    both = ("expires_after[anchor]", "expires_after[seconds]")
    schema["dependentRequired"] = {both[0]: [both[1]], both[1]: [both[0]]}
    # The JSON part rules the bracketed fields out.
    schema["dependentSchemas"] = {"expires_after": {"properties": dict.fromkeys(both, False)}}


Binary = Annotated[bytes, WithJsonSchema({"type": "string", "format": "binary"})]


class CreateFileForm(Form):
    # The document adds the routing fields, from the gateway's configuration.
    model_config = ConfigDict(title="CreateFileRequest", json_schema_extra=_expiry_rules)

    file: Binary
    """The file itself (a file part with a filename, not a text field). `batch` and
    `fine-tune` files must be JSONL, checked line by line as they stream in."""
    purpose: str = enum(PURPOSES)
    """The intended purpose of the file."""
    anchor: str | None = Field(
        None,
        alias="expires_after[anchor]",
        json_schema_extra={"const": "created_at"},
        description="The anchor of the expiry; sent together with `expires_after[seconds]`.",
    )
    seconds: int | None = Field(
        None,
        alias="expires_after[seconds]",
        json_schema_extra={"minimum": EXPIRES_MIN, "maximum": EXPIRES_MAX},
        description=f"Seconds after the anchor when the file expires ({EXPIRES_MIN} = 1 hour "
        f".. {EXPIRES_MAX} = 30 days). `batch` files expire after 30 days unless told "
        "otherwise; others persist until deleted.",
    )
    expires_after: ExpiresAfterBody | None = Field(
        None,
        description='The same expiry as one JSON-encoded part, `{"anchor": "created_at", '
        '"seconds": 3600}` (as clients generated from OpenAI\'s spec send it; the openai SDK '
        "sends the bracketed fields). Not together with `expires_after[anchor]` or "
        "`expires_after[seconds]`.",
    )
