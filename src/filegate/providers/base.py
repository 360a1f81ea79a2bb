"""The provider interface: one protocol per capability, in each provider's own wire format.

Every provider serves files (:class:`Provider`); the others are optional and found with
:func:`uploading`, :func:`batching` and :func:`tuning`, so the core never asks which
provider it has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from filegate.records import ByteRange, ExpiresAfter


@dataclass(slots=True)
class ProviderFile:
    """A file as the provider describes it (its own id, its own status)."""

    id: str
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: str = "processed"
    status_details: str | None = None
    expires_at: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_openai(cls, obj: dict[str, Any]) -> ProviderFile:
        return cls(
            id=str(obj["id"]),
            bytes=int(obj.get("bytes") or 0),
            created_at=int(obj.get("created_at") or 0),
            filename=str(obj.get("filename") or ""),
            purpose=str(obj.get("purpose") or ""),
            status=str(obj.get("status") or "processed"),
            status_details=obj.get("status_details"),
            expires_at=obj.get("expires_at"),
            raw=obj,
        )


@dataclass(slots=True)
class ProviderPage:
    data: list[ProviderFile]
    has_more: bool


@dataclass(slots=True)
class ProviderContent:
    """An open download: headers now, bytes as they are read; always ``aclose()`` it."""

    status_code: int
    headers: dict[str, str]
    stream: AsyncIterator[bytes]
    _close: Any = None

    async def aclose(self) -> None:
        if self._close is not None:
            await self._close()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes; the download is closed when they end or the reader stops."""
        try:
            async for chunk in self.stream:
                yield chunk
        finally:
            await self.aclose()


class UploadSource(Protocol):
    """Bytes of known size that can be read more than once (for retries)."""

    size: int

    def chunks(self) -> AsyncIterator[bytes]: ...


# Status values after which a provider file no longer changes.
TERMINAL_STATUSES = frozenset({"processed", "error", "deleted"})


class Provider(Protocol):
    """One deployment of an upstream Files API."""

    name: str

    async def create_file(
        self,
        source: UploadSource,
        *,
        filename: str,
        purpose: str,
        content_type: str,
        expires_after: ExpiresAfter | None,
    ) -> ProviderFile:
        """Upload; retried from ``source`` only while no file can have been made upstream."""
        ...

    async def list_files(
        self, *, purpose: str | None, limit: int | None, order: str | None, after: str | None
    ) -> ProviderPage: ...

    async def retrieve_file(self, file_id: str) -> ProviderFile: ...

    async def delete_file(self, file_id: str) -> None: ...

    async def file_content(
        self, file_id: str, byte_range: ByteRange | None = None
    ) -> ProviderContent: ...

    def check_purpose(self, purpose: str) -> None:
        """Raise ``InvalidRequest`` if this provider does not take the purpose."""
        ...

    def check_expires_after(self, expires_after: ExpiresAfter) -> None:
        """Raise ``InvalidRequest`` if this provider cannot honour the expiry."""
        ...

    async def aclose(self) -> None: ...


class UploadingProvider(Protocol):
    """A provider with its own Uploads API (OpenAI's, Azure's); optional.

    Ids returned here are the provider's and stay behind filegate's own.
    """

    @property
    def supports_uploads(self) -> bool:
        """False when this deployment's API version has no Uploads API."""
        ...

    async def create_upload(
        self,
        *,
        filename: str,
        purpose: str,
        nbytes: int,
        mime_type: str,
        expires_after: ExpiresAfter | None,
    ) -> str:
        """Start an upload upstream; return the provider's upload id."""
        ...

    async def add_upload_part(self, upload_id: str, source: UploadSource) -> str:
        """Send one part; return the provider's part id."""
        ...

    async def complete_upload(
        self, upload_id: str, part_ids: Sequence[str], md5: str | None
    ) -> ProviderFile:
        """Complete with the provider's part ids in file order; return the file made."""
        ...

    async def cancel_upload(self, upload_id: str) -> None: ...


def uploading(provider: Provider) -> UploadingProvider | None:
    """``provider`` as an :class:`UploadingProvider`, if this deployment has an Uploads API."""
    if getattr(provider, "supports_uploads", False) is True and all(
        callable(getattr(provider, name, None))
        for name in ("create_upload", "add_upload_part", "complete_upload", "cancel_upload")
    ):
        return cast(UploadingProvider, provider)
    return None


# OpenAI's batch statuses; providers map theirs onto these.
BATCH_STATUSES = (
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
)
TERMINAL_BATCH_STATUSES = frozenset({"failed", "completed", "expired", "cancelled"})
# The Batch object's timestamps besides created_at (OpenAI's names).
BATCH_TIMESTAMPS = (
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
class ProviderBatch:
    """A batch as the provider describes it, already in OpenAI's vocabulary.

    Ids are the provider's own: ``input_file_id``, ``output_file_id`` and
    ``error_file_id`` are file ids this provider's ``retrieve_file`` and
    ``file_content`` accept (for Vertex AI, ids it mints for the job's output).
    """

    id: str
    status: str  # one of BATCH_STATUSES
    endpoint: str
    input_file_id: str
    completion_window: str = "24h"
    created_at: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: dict[str, Any] | None = None
    # {"total": n, "completed": n, "failed": n}
    request_counts: dict[str, int] | None = None
    # BATCH_TIMESTAMPS -> seconds since the epoch, where the provider gives them
    timestamps: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, str] | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class BatchesProvider(Protocol):
    """A provider with a Batch API (OpenAI's, Azure's, Vertex AI's batch prediction); optional."""

    async def create_batch(
        self,
        *,
        input_file_id: str,
        endpoint: str,
        completion_window: str,
        metadata: dict[str, str] | None,
        output_expires_after: ExpiresAfter | None,
    ) -> ProviderBatch:
        """Start a batch over the provider's copy ``input_file_id``; never retried once sent."""
        ...

    async def retrieve_batch(self, batch_id: str) -> ProviderBatch: ...

    async def cancel_batch(self, batch_id: str) -> ProviderBatch:
        """Ask the provider to cancel; the batch as it stands after the request."""
        ...


def batching(provider: Provider) -> BatchesProvider | None:
    """``provider`` as a :class:`BatchesProvider`, if this deployment runs batches."""
    if getattr(provider, "supports_batches", True) is True and all(
        callable(getattr(provider, name, None))
        for name in ("create_batch", "retrieve_batch", "cancel_batch")
    ):
        return cast(BatchesProvider, provider)
    return None


@dataclass(slots=True, frozen=True)
class LineAnswer:
    """What the model server answered one batch line, after retries.

    ``status_code`` 0 means no answer came (the connection failed or timed out every
    time); ``error`` then says why, in OpenAI's batch-error shape ``{code, message}``.
    """

    status_code: int
    request_id: str | None = None
    body: Any = None
    error: dict[str, str] | None = None


class LineSendingProvider(Protocol):
    """An OpenAI-compatible model server with no Batch API: filegate runs the batches,
    sending each request line here (optional)."""

    batch_concurrency: int
    max_batches_running: int

    async def send_line(self, url: str, body: bytes) -> LineAnswer:
        """POST one line's JSON ``body`` to the server's ``url`` (an OpenAI path such as
        ``/v1/chat/completions``), retrying connection errors and what upstream.retry does."""
        ...


def sending_lines(provider: Provider) -> LineSendingProvider | None:
    """``provider`` as a :class:`LineSendingProvider`, if filegate runs its batches."""
    if callable(getattr(provider, "send_line", None)) and isinstance(
        getattr(provider, "batch_concurrency", None), int
    ):
        return cast(LineSendingProvider, provider)
    return None


# OpenAI's fine-tuning job statuses; providers map theirs onto these.
JOB_STATUSES = (
    "validating_files",
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "paused",
)
TERMINAL_JOB_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(slots=True)
class ProviderJob:
    """A fine-tuning job as the provider describes it, already in OpenAI's vocabulary.

    Ids are the provider's own: ``training_file``, ``validation_file`` and
    ``result_files`` are file ids this provider's ``retrieve_file`` and ``file_content``
    accept.
    """

    id: str
    status: str  # one of JOB_STATUSES
    model: str
    training_file: str = ""
    validation_file: str | None = None
    created_at: int = 0
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
    result_files: list[str] = field(default_factory=list)
    metadata: dict[str, str] | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ProviderItems:
    """One page of a job's events or checkpoints, newest first, in OpenAI's shapes."""

    data: list[dict[str, Any]]
    has_more: bool


class FineTuningProvider(Protocol):
    """A provider with fine-tuning jobs (OpenAI's, Azure's, Vertex AI's tuning); optional."""

    @property
    def supports_pause(self) -> bool:
        """Whether ``pause_fine_tuning_job``/``resume_fine_tuning_job`` work here."""
        ...

    async def create_fine_tuning_job(self, body: dict[str, Any]) -> ProviderJob:
        """Start a job from OpenAI's create body, its file ids the provider's own copies;
        never retried once sent."""
        ...

    async def retrieve_fine_tuning_job(self, job_id: str) -> ProviderJob: ...

    async def cancel_fine_tuning_job(self, job_id: str) -> ProviderJob: ...

    async def pause_fine_tuning_job(self, job_id: str) -> ProviderJob: ...

    async def resume_fine_tuning_job(self, job_id: str) -> ProviderJob: ...

    async def list_fine_tuning_events(
        self, job_id: str, *, after: str | None, limit: int
    ) -> ProviderItems: ...

    async def list_fine_tuning_checkpoints(
        self, job_id: str, *, after: str | None, limit: int
    ) -> ProviderItems: ...


def tuning(provider: Provider) -> FineTuningProvider | None:
    """``provider`` as a :class:`FineTuningProvider`, if this deployment fine-tunes models."""
    if getattr(provider, "supports_fine_tuning", False) is True and all(
        callable(getattr(provider, name, None))
        for name in (
            "create_fine_tuning_job",
            "retrieve_fine_tuning_job",
            "cancel_fine_tuning_job",
            "list_fine_tuning_events",
            "list_fine_tuning_checkpoints",
        )
    ):
        return cast(FineTuningProvider, provider)
    return None
