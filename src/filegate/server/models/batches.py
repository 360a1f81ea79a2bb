"""The Batches API's bodies: the create request, the Batch object and its list.

The create model checks types (strict: "5" is no integer); the rules with OpenAI's own
wording (the endpoint's values, the completion window, metadata sizes) are checked by
``core/batches.py``, and the schema states them too (``json_schema_extra``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from filegate.core.batches import (
    COMPLETION_WINDOWS,
    ENDPOINTS,
    LIST_MAX,
    METADATA_KEY_MAX,
    METADATA_MAX_PAIRS,
    METADATA_VALUE_MAX,
)
from filegate.core.ids import ULID_PATTERN
from filegate.core.params import EXPIRES_MAX, EXPIRES_MIN
from filegate.records.batches import STAMPS
from filegate.server.models.base import Answer, Integer, RequestBody, enum

BATCH_ID_PATTERN = f"^batch_{ULID_PATTERN}$"
METADATA_SCHEMA: dict[str, Any] = {
    "maxProperties": METADATA_MAX_PAIRS,
    "propertyNames": {"maxLength": METADATA_KEY_MAX},
    "additionalProperties": {"type": "string", "maxLength": METADATA_VALUE_MAX},
    "description": f"Up to {METADATA_MAX_PAIRS} pairs; keys up to {METADATA_KEY_MAX} "
    f"characters, values up to {METADATA_VALUE_MAX}.",
}


class OutputExpiresAfter(RequestBody):
    """When the batch's output and error files expire, after their own creation."""

    anchor: str = enum(["created_at"])
    seconds: Integer = Field(json_schema_extra={"minimum": EXPIRES_MIN, "maximum": EXPIRES_MAX})


class CreateBatchRequest(RequestBody):
    """``POST /v1/batches``: OpenAI's fields, plus LiteLLM's routing fields."""

    input_file_id: str = Field(
        description="A filegate file id (purpose `batch`) of the caller's (or its team's)."
    )
    endpoint: str = enum(ENDPOINTS)
    completion_window: str = enum(COMPLETION_WINDOWS)
    metadata: dict[str, str] | None = Field(default=None, json_schema_extra=METADATA_SCHEMA)
    output_expires_after: OutputExpiresAfter | None = None
    custom_llm_provider: str | None = Field(
        default=None, description="Run the batch at this provider (LiteLLM's routing field)."
    )
    model: str | None = Field(
        default=None, description="Run the batch at the deployment of this name."
    )
    target_model_names: str | None = Field(
        default=None, description="As `model` (one deployment name)."
    )


class BatchError(BaseModel):
    code: str | None = None
    message: str | None = None
    param: str | None = None
    line: int | None = None


class BatchErrors(BaseModel):
    object: str = "list"
    data: list[BatchError] = []


class BatchRequestCounts(BaseModel):
    total: int
    completed: int
    failed: int


class Batch(Answer):
    """OpenAI's Batch object; every id is filegate's (``model`` and ``usage`` only where the
    provider gives them)."""

    id: str = Field(json_schema_extra={"pattern": BATCH_ID_PATTERN})
    object: Literal["batch"]
    endpoint: str
    model: str | None = None
    errors: BatchErrors | None
    input_file_id: str
    completion_window: str
    status: Literal[
        "validating",
        "failed",
        "in_progress",
        "finalizing",
        "completed",
        "expired",
        "cancelling",
        "cancelled",
    ]
    output_file_id: str | None
    error_file_id: str | None
    created_at: int
    in_progress_at: int | None
    expires_at: int | None
    finalizing_at: int | None
    completed_at: int | None
    failed_at: int | None
    expired_at: int | None
    cancelling_at: int | None
    cancelled_at: int | None
    request_counts: BatchRequestCounts
    usage: dict[str, Any] | None = None
    metadata: dict[str, str] | None


assert set(STAMPS) <= set(Batch.model_fields)


class ListBatchesResponse(Answer):
    object: Literal["list"]
    data: list[Batch]
    first_id: str | None
    last_id: str | None
    has_more: bool


LIST_LIMIT_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": LIST_MAX}
