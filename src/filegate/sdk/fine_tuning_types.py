"""What the SDK's fine-tuning functions return: a job, and a page of jobs.

``FineTuningJob`` carries the fields of the openai SDK's model of the same name (and
converts with ``model_dump()``); fields an upstream adds beyond those are kept as extra
attributes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from filegate.providers.base import ProviderJob
from filegate.sdk.pages import CursorPage

__all__ = ["FineTuningJob", "FineTuningJobPage"]


class FineTuningJob(BaseModel):
    """A fine-tuning job at a provider (or a filegate gateway), in OpenAI's words."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    model: str
    created_at: int
    finished_at: int | None = None
    fine_tuned_model: str | None = None
    organization_id: str | None = None
    result_files: list[str] = []
    status: str
    training_file: str
    validation_file: str | None = None
    hyperparameters: dict[str, Any] | None = None
    trained_tokens: int | None = None
    error: dict[str, Any] | None = None
    user_provided_suffix: str | None = None
    seed: int | None = None
    estimated_finish: int | None = None
    integrations: list[Any] | None = None
    metadata: dict[str, str] | None = None
    method: dict[str, Any] | None = None

    @classmethod
    def from_provider(cls, job: ProviderJob) -> FineTuningJob:
        # The provider's own document first (extra fields kept), then the fields in
        # OpenAI's vocabulary (Azure's dated states and spellings mapped).
        return cls.model_validate(
            {
                **job.raw,
                "id": job.id,
                "object": "fine_tuning.job",
                "model": job.model,
                "created_at": job.created_at,
                "finished_at": job.finished_at,
                "fine_tuned_model": job.fine_tuned_model,
                "organization_id": job.organization_id,
                "result_files": job.result_files,
                "status": job.status,
                "training_file": job.training_file,
                "validation_file": job.validation_file,
                "hyperparameters": job.hyperparameters,
                "trained_tokens": job.trained_tokens,
                "error": job.error,
                "user_provided_suffix": job.user_provided_suffix,
                "seed": job.seed,
                "estimated_finish": job.estimated_finish,
                "integrations": job.integrations,
                "metadata": job.metadata,
                "method": job.method,
            }
        )


class FineTuningJobPage(CursorPage[FineTuningJob]):
    """One page of jobs, newest first; pass the last id as ``after`` for the next, or
    let the page do it: ``anext_page()`` / ``next_page()``, or ``aauto_paging_iter()`` /
    ``auto_paging_iter()`` (and ``async for``) to walk every job from here on."""

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """The page's fields, as when it was a pydantic model (``kwargs`` go to each
        job's ``model_dump``)."""
        return {
            "object": self.object,
            "data": [job.model_dump(**kwargs) for job in self.data],
            "has_more": self.has_more,
        }
