"""A fine-tuning job: filegate's record of a provider's job, and OpenAI's FineTuningJob from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# OpenAI's statuses after which a job no longer changes (providers/base.py says the same).
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
# What a job's organization_id says where the provider names none (Azure, Vertex AI).
NO_ORGANIZATION = "filegate"
# OpenAI's FineTuningJobEvent and FineTuningJobCheckpoint: the fields an answer keeps of
# what the provider gives (server/models/fine_tuning.py documents them).
EVENT_FIELDS = ("object", "id", "created_at", "level", "message", "type", "data")
CHECKPOINT_FIELDS = (
    "object",
    "id",
    "created_at",
    "fine_tuned_model_checkpoint",
    "fine_tuning_job_id",
    "metrics",
    "step_number",
)


def openai_item(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """An event or checkpoint as filegate answers it: OpenAI's ``fields`` of the
    provider's ``doc``, in that order, a field it left empty (null) left out, anything
    else it added dropped (nothing of the provider's beyond OpenAI's shape shows)."""
    return {name: doc[name] for name in fields if doc.get(name) is not None}


@dataclass(slots=True)
class FineTuningState:
    """What the provider last said about a job, in OpenAI's vocabulary.

    File ids here are the provider's; they never leave filegate.
    """

    status: str = "validating_files"
    model: str = ""
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    trained_tokens: int | None = None
    error: dict[str, Any] | None = None
    hyperparameters: dict[str, Any] | None = None
    method: dict[str, Any] | None = None
    seed: int | None = None
    estimated_finish: int | None = None
    integrations: list[Any] | None = None
    user_provided_suffix: str | None = None
    organization_id: str | None = None
    provider_result_files: list[str] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> FineTuningState:
        known = {k: v for k, v in doc.items() if k in cls.__slots__}
        state = cls(**known)
        state.provider_result_files = list(state.provider_result_files or [])
        return state


@dataclass(slots=True)
class FineTuningRecord:
    """A fine-tuning job made through filegate: ``ftjob-`` + a ULID, beside the provider's id."""

    id: str
    created_at: int
    deployment: str
    provider: str
    provider_job_id: str
    training_file: str  # filegate's file ids
    validation_file: str | None
    model: str
    metadata: dict[str, str] | None = None
    owner: str | None = None
    team: str | None = None
    # filegate file records for the provider's result files, made once (None: not yet)
    result_files: list[str] | None = None
    state: FineTuningState = field(default_factory=FineTuningState)
    # When ``state`` was last asked of the provider (seconds, fractional).
    fetched_at: float = 0.0

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    def to_openai(self) -> dict[str, object]:
        """OpenAI's FineTuningJob object, with filegate's ids in every id field."""
        s = self.state
        hyperparameters = s.hyperparameters
        if hyperparameters is None:
            hyperparameters = {"batch_size": "auto", "learning_rate_multiplier": "auto"}
            hyperparameters["n_epochs"] = "auto"
        out: dict[str, object] = {
            "object": "fine_tuning.job",
            "id": self.id,
            "model": s.model or self.model,
            "created_at": self.created_at,
            "finished_at": s.finished_at,
            "fine_tuned_model": s.fine_tuned_model,
            "organization_id": s.organization_id or NO_ORGANIZATION,
            "result_files": list(self.result_files or []),
            "status": s.status,
            "validation_file": self.validation_file,
            "training_file": self.training_file,
            "hyperparameters": hyperparameters,
            "trained_tokens": s.trained_tokens,
            "error": s.error,
            "user_provided_suffix": s.user_provided_suffix,
            "seed": s.seed if s.seed is not None else 0,
            "estimated_finish": s.estimated_finish,
            "integrations": s.integrations if s.integrations is not None else [],
            "metadata": self.metadata,
        }
        if s.method is not None:
            out["method"] = s.method
        return out


@dataclass(slots=True, frozen=True)
class FineTuningQuery:
    """One page of fine-tuning jobs a scope may see, newest first."""

    limit: int = 20
    after: str | None = None
    # Only jobs at this provider (a /{provider}/v1/fine_tuning/jobs listing).
    provider: str | None = None
    # Only jobs whose metadata has every pair; ``no_metadata``: only jobs without any.
    metadata: tuple[tuple[str, str], ...] = ()
    no_metadata: bool = False


@dataclass(slots=True)
class FineTuningPage:
    data: list[FineTuningRecord] = field(default_factory=list)
    has_more: bool = False

    def to_openai(self) -> dict[str, object]:
        return {
            "object": "list",
            "data": [j.to_openai() for j in self.data],
            "has_more": self.has_more,
        }
