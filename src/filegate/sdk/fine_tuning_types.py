"""What the SDK's fine-tuning functions return: a job, and a page of jobs.

``FineTuningJob`` carries the fields of the openai SDK's model of the same name (and
converts with ``model_dump()``); fields an upstream adds beyond those are kept as extra
attributes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr

from filegate.providers.base import ProviderJob
from filegate.sdk.portal import run_sync

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


JobPageFetcher = Callable[[str], Awaitable["FineTuningJobPage"]]


class FineTuningJobPage(BaseModel):
    """One page of jobs, newest first; pass the last id as ``after`` for the next, or
    let the page do it: ``anext_page()`` / ``next_page()``, or ``aauto_paging_iter()`` /
    ``auto_paging_iter()`` (and ``async for``) to walk every job from here on."""

    model_config = ConfigDict(frozen=True)

    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool
    # How to get the page after an id: set by the list call that made this page.
    _fetch: JobPageFetcher | None = PrivateAttr(default=None)

    @property
    def first_id(self) -> str | None:
        return self.data[0].id if self.data else None

    @property
    def last_id(self) -> str | None:
        return self.data[-1].id if self.data else None

    def has_next_page(self) -> bool:
        return self.has_more and self.last_id is not None and self._fetch is not None

    async def anext_page(self) -> FineTuningJobPage | None:
        if not self.has_next_page():
            return None
        assert self.last_id is not None and self._fetch is not None
        page = await self._fetch(self.last_id)
        # An upstream that ignores `after` hands back the same page: stop there.
        if page.last_id == self.last_id or page.first_id == self.first_id:
            return None
        return page

    def next_page(self) -> FineTuningJobPage | None:
        return run_sync(self.anext_page)

    async def aauto_paging_iter(self) -> AsyncIterator[FineTuningJob]:
        page: FineTuningJobPage | None = self
        while page is not None:
            for job in page.data:
                yield job
            page = await page.anext_page()

    def auto_paging_iter(self) -> Iterator[FineTuningJob]:
        page: FineTuningJobPage | None = self
        while page is not None:
            yield from page.data
            page = page.next_page()

    def __aiter__(self) -> AsyncIterator[FineTuningJob]:
        return self.aauto_paging_iter()
