"""The fine-tuning jobs API's bodies: the create request, the job, its events and checkpoints.

The create model checks types (strict: "5" is no integer) and the names OpenAI knows;
``hyperparameters``, ``method`` and ``integrations`` are objects the provider judges
(its errors come back as they are), and metadata sizes are checked by
``core/batches.py``'s rules, as for batches.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from filegate.core.fine_tuning import LIST_MAX
from filegate.core.ids import ULID_PATTERN
from filegate.server.models.batches import METADATA_SCHEMA


def _integral(value: object) -> object:
    # JSON has one kind of number: 42.0 is the integer 42 (as JSON Schema says).
    return int(value) if isinstance(value, float) and value.is_integer() else value


JOB_ID_PATTERN = f"^ftjob-{ULID_PATTERN}$"
METHODS = ("supervised", "dpo", "reinforcement")


class FineTuneMethod(BaseModel):
    """OpenAI's ``method``: its type and that type's settings, passed on as they are."""

    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["supervised", "dpo", "reinforcement"]
    supervised: dict[str, Any] | None = None
    dpo: dict[str, Any] | None = None
    reinforcement: dict[str, Any] | None = None


class CreateFineTuningJobRequest(BaseModel):
    """``POST /v1/fine_tuning/jobs``: OpenAI's fields, plus LiteLLM's routing fields."""

    model_config = ConfigDict(extra="forbid", strict=True)

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
    seed: Annotated[int, BeforeValidator(_integral)] | None = None
    metadata: dict[str, str] | None = Field(default=None, json_schema_extra=METADATA_SCHEMA)
    integrations: list[dict[str, Any]] | None = None
    custom_llm_provider: str | None = Field(
        default=None, description="Run the job at this provider (LiteLLM's routing field)."
    )
    target_model_names: str | None = Field(
        default=None, description="Run the job at the deployment of this name."
    )


class FineTuningJobError(BaseModel):
    code: str
    message: str
    param: str | None


class FineTuningJob(BaseModel):
    """OpenAI's FineTuningJob; every id is filegate's."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(json_schema_extra={"pattern": JOB_ID_PATTERN})
    object: Literal["fine_tuning.job"]
    model: str
    created_at: int
    finished_at: int | None
    fine_tuned_model: str | None
    organization_id: str
    result_files: list[str]
    status: Literal[
        "validating_files", "queued", "running", "succeeded", "failed", "cancelled", "paused"
    ]
    validation_file: str | None
    training_file: str
    hyperparameters: dict[str, Any]
    trained_tokens: int | None
    error: FineTuningJobError | None
    user_provided_suffix: str | None = None
    seed: int
    estimated_finish: int | None = None
    integrations: list[dict[str, Any]] | None = None
    metadata: dict[str, str] | None = None
    method: dict[str, Any] | None = None


class ListFineTuningJobsResponse(BaseModel):
    object: Literal["list"]
    data: list[FineTuningJob]
    has_more: bool


class FineTuningJobEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    object: Literal["fine_tuning.job.event"]
    id: str
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    type: Literal["message", "metrics"] | None = None
    data: dict[str, Any] | None = None


class ListFineTuningJobEventsResponse(BaseModel):
    object: Literal["list"]
    data: list[FineTuningJobEvent]
    has_more: bool


class FineTuningJobCheckpoint(BaseModel):
    model_config = ConfigDict(extra="allow")

    object: Literal["fine_tuning.job.checkpoint"]
    id: str
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str = Field(json_schema_extra={"pattern": JOB_ID_PATTERN})
    metrics: dict[str, Any]
    step_number: int


class ListFineTuningJobCheckpointsResponse(BaseModel):
    object: Literal["list"]
    data: list[FineTuningJobCheckpoint]
    first_id: str | None
    last_id: str | None
    has_more: bool


LIST_LIMIT_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": LIST_MAX}
