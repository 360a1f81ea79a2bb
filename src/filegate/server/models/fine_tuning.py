"""The fine-tuning jobs API's bodies: the create request, the job, its events and checkpoints.

The create model checks types (strict: "5" is no integer) and the names OpenAI knows;
``hyperparameters``, ``method`` and ``integrations`` are objects the provider judges
(its errors come back as they are), and metadata sizes are checked by
``core/batches.py``'s rules, as for batches.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from filegate.core.fine_tuning import LIST_MAX
from filegate.core.ids import ULID_PATTERN
from filegate.records.fine_tuning import CHECKPOINT_FIELDS, EVENT_FIELDS
from filegate.server.models.base import Answer, Integer, RequestBody
from filegate.server.models.batches import METADATA_SCHEMA

JOB_ID_PATTERN = f"^ftjob-{ULID_PATTERN}$"
METHODS = ("supervised", "dpo", "reinforcement")


class FineTuneMethod(RequestBody):
    """OpenAI's ``method``: its type and that type's settings, passed on as they are."""

    type: Literal["supervised", "dpo", "reinforcement"]
    supervised: dict[str, Any] | None = None
    dpo: dict[str, Any] | None = None
    reinforcement: dict[str, Any] | None = None


class CreateFineTuningJobRequest(RequestBody):
    """``POST /v1/fine_tuning/jobs``: OpenAI's fields, plus LiteLLM's routing fields."""

    model: str = Field(description="The base model to fine-tune, as the provider names it.")
    training_file: str = Field(
        description="A filegate file id (purpose `fine-tune`) of the caller's (or its team's)."
    )
    validation_file: str | None = Field(
        default=None, description="As `training_file`; it ends up at the same deployment."
    )
    hyperparameters: dict[str, Any] | None = None
    method: FineTuneMethod | None = None
    suffix: str | None = None
    seed: Integer | None = None
    metadata: dict[str, str] | None = Field(default=None, json_schema_extra=METADATA_SCHEMA)
    integrations: list[dict[str, Any]] | None = None
    custom_llm_provider: str | None = Field(
        default=None, description="Run the job at this provider (LiteLLM's routing field)."
    )
    target_model_names: str | None = Field(
        default=None, description="Run the job at the deployment of this name."
    )


class FineTuningJobError(Answer):
    """Why a job failed: the provider's code and message."""

    code: str
    message: str
    param: str | None
    """The field that was invalid (`training_file`, `validation_file`), or null."""


class FineTuningJob(Answer):
    """OpenAI's FineTuningJob; every id is filegate's (``method`` only where the provider
    gives it)."""

    id: str = Field(json_schema_extra={"pattern": JOB_ID_PATTERN})
    object: Literal["fine_tuning.job"]
    model: str
    created_at: int
    finished_at: int | None
    fine_tuned_model: str | None
    organization_id: str
    """The provider's organization, or `filegate` where the provider names none."""
    result_files: list[str]
    """filegate file ids (purpose `fine-tune-results`), once the job has ended."""
    status: Literal[
        "validating_files", "queued", "running", "succeeded", "failed", "cancelled", "paused"
    ]
    validation_file: str | None
    training_file: str
    hyperparameters: dict[str, Any]
    trained_tokens: int | None
    error: FineTuningJobError | None
    user_provided_suffix: str | None
    seed: int
    estimated_finish: int | None
    integrations: list[dict[str, Any]]
    metadata: dict[str, str] | None
    method: dict[str, Any] | None = None


class ListFineTuningJobsResponse(Answer):
    object: Literal["list"]
    data: list[FineTuningJob]
    has_more: bool


class FineTuningJobEvent(Answer):
    """One of the provider's events of a job, with filegate's ids in its message (``type``
    and ``data`` only where the provider gives them)."""

    object: Literal["fine_tuning.job.event"]
    id: str
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    type: Literal["message", "metrics"] | None = None
    data: dict[str, Any] | None = None


class ListFineTuningJobEventsResponse(Answer):
    object: Literal["list"]
    data: list[FineTuningJobEvent]
    has_more: bool


class FineTuningJobCheckpoint(Answer):
    """One of the provider's checkpoints of a job, naming filegate's job id."""

    object: Literal["fine_tuning.job.checkpoint"]
    id: str
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str = Field(json_schema_extra={"pattern": JOB_ID_PATTERN})
    metrics: dict[str, Any]
    step_number: int


class ListFineTuningJobCheckpointsResponse(Answer):
    object: Literal["list"]
    data: list[FineTuningJobCheckpoint]
    first_id: str | None
    last_id: str | None
    has_more: bool


# The fields events and checkpoints are written with (records/fine_tuning.py) are these.
assert set(EVENT_FIELDS) == set(FineTuningJobEvent.model_fields)
assert set(CHECKPOINT_FIELDS) == set(FineTuningJobCheckpoint.model_fields)


LIST_LIMIT_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": LIST_MAX}
