"""A batch: filegate's record of a provider's batch, and OpenAI's Batch object built from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# OpenAI's statuses after which a batch no longer changes (providers/base.py says the same).
TERMINAL = frozenset({"failed", "completed", "expired", "cancelled"})
# The Batch object's timestamps besides created_at, in the order OpenAI writes them.
STAMPS = (
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


@dataclass(slots=True)
class BatchState:
    """What the provider last said about a batch, in OpenAI's vocabulary.

    File ids here are the provider's; they never leave filegate.
    """

    status: str = "validating"
    errors: dict[str, Any] | None = None
    request_counts: dict[str, int] | None = None
    timestamps: dict[str, int] = field(default_factory=dict)
    model: str | None = None
    usage: dict[str, Any] | None = None
    provider_output_file_id: str | None = None
    provider_error_file_id: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "errors": self.errors,
            "request_counts": self.request_counts,
            "timestamps": self.timestamps,
            "model": self.model,
            "usage": self.usage,
            "provider_output_file_id": self.provider_output_file_id,
            "provider_error_file_id": self.provider_error_file_id,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> BatchState:
        return cls(
            status=str(doc.get("status") or "validating"),
            errors=doc.get("errors"),
            request_counts=doc.get("request_counts"),
            timestamps=dict(doc.get("timestamps") or {}),
            model=doc.get("model"),
            usage=doc.get("usage"),
            provider_output_file_id=doc.get("provider_output_file_id"),
            provider_error_file_id=doc.get("provider_error_file_id"),
        )


@dataclass(slots=True)
class BatchRecord:
    """A batch made through filegate: ``batch_`` + a ULID, kept beside the provider's id."""

    id: str
    created_at: int
    deployment: str
    provider: str
    provider_batch_id: str
    input_file_id: str  # filegate's file id
    endpoint: str
    completion_window: str = "24h"
    metadata: dict[str, str] | None = None
    owner: str | None = None
    team: str | None = None
    # filegate file records for the provider's output and error files, made once
    output_file_id: str | None = None
    error_file_id: str | None = None
    state: BatchState = field(default_factory=BatchState)
    # When ``state`` was last asked of the provider (seconds, fractional).
    fetched_at: float = 0.0

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    def to_openai(self) -> dict[str, object]:
        """OpenAI's Batch object, with filegate's ids in every id field."""
        s = self.state
        out: dict[str, object] = {"id": self.id, "object": "batch", "endpoint": self.endpoint}
        if s.model is not None:
            out["model"] = s.model
        out.update(
            {
                "errors": s.errors,
                "input_file_id": self.input_file_id,
                "completion_window": self.completion_window,
                "status": s.status,
                "output_file_id": self.output_file_id,
                "error_file_id": self.error_file_id,
                "created_at": self.created_at,
            }
        )
        for name in STAMPS:
            out[name] = s.timestamps.get(name)
        out["request_counts"] = s.request_counts or {"total": 0, "completed": 0, "failed": 0}
        if s.usage is not None:
            out["usage"] = s.usage
        out["metadata"] = self.metadata
        return out


@dataclass(slots=True, frozen=True)
class BatchQuery:
    """One page of batches a scope may see, newest first."""

    limit: int = 20
    after: str | None = None
    # Only batches at this provider (a /{provider}/v1/batches listing).
    provider: str | None = None


@dataclass(slots=True)
class BatchPage:
    data: list[BatchRecord] = field(default_factory=list)
    has_more: bool = False

    def to_openai(self) -> dict[str, object]:
        return {
            "object": "list",
            "data": [b.to_openai() for b in self.data],
            "first_id": self.data[0].id if self.data else None,
            "last_id": self.data[-1].id if self.data else None,
            "has_more": self.has_more,
        }
