"""What the SDK's batch functions return: a batch, and a page of batches.

``Batch`` carries the fields of the openai SDK's model of the same name (and converts with
``model_dump()``); fields an upstream adds beyond those are kept as extra attributes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from filegate.providers.base import BATCH_TIMESTAMPS, ProviderBatch
from filegate.sdk.pages import CursorPage

__all__ = ["Batch", "BatchPage"]


class Batch(BaseModel):
    """A batch at a provider (or a filegate gateway), as OpenAI's Batch API describes it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    object: Literal["batch"] = "batch"
    endpoint: str
    model: str | None = None
    errors: dict[str, Any] | None = None
    input_file_id: str
    completion_window: str
    status: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: dict[str, int] | None = None
    usage: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None

    @classmethod
    def from_provider(cls, pb: ProviderBatch) -> Batch:
        return cls.model_validate(
            {
                **pb.raw,
                "id": pb.id,
                "object": "batch",
                "endpoint": pb.endpoint,
                "model": pb.model,
                "errors": pb.errors,
                "input_file_id": pb.input_file_id,
                "completion_window": pb.completion_window,
                "status": pb.status,
                "output_file_id": pb.output_file_id,
                "error_file_id": pb.error_file_id,
                "created_at": pb.created_at,
                **{name: pb.timestamps.get(name) for name in BATCH_TIMESTAMPS},
                "request_counts": pb.request_counts,
                "usage": pb.usage,
                "metadata": pb.metadata,
            }
        )


class BatchPage(CursorPage[Batch]):
    """One page of a batch listing (newest first), able to fetch the pages after it.

    Iterating it (``for`` / ``async for``) walks every batch of this page and the next.
    """
