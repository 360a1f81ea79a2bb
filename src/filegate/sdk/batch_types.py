"""What the SDK's batch functions return: a batch, and a page of batches.

``Batch`` carries the fields of the openai SDK's model of the same name (and converts with
``model_dump()``); fields an upstream adds beyond those are kept as extra attributes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from filegate.providers.base import BATCH_TIMESTAMPS, ProviderBatch
from filegate.sdk.portal import run_sync

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


PageFetcher = Callable[[str], Awaitable["BatchPage"]]


class BatchPage:
    """One page of a batch listing (newest first), able to fetch the pages after it.

    Iterating it (``for`` / ``async for``) walks every batch of this page and the next.
    """

    object: Literal["list"] = "list"

    def __init__(self, data: list[Batch], has_more: bool, fetch: PageFetcher) -> None:
        self.data = data
        self.has_more = has_more
        self._fetch = fetch

    @property
    def first_id(self) -> str | None:
        return self.data[0].id if self.data else None

    @property
    def last_id(self) -> str | None:
        return self.data[-1].id if self.data else None

    def has_next_page(self) -> bool:
        return self.has_more and self.last_id is not None

    async def anext_page(self) -> BatchPage | None:
        if not self.has_next_page():
            return None
        assert self.last_id is not None
        page = await self._fetch(self.last_id)
        # An upstream that ignores `after` hands back the same page: stop there.
        if page.last_id == self.last_id or page.first_id == self.first_id:
            return None
        return page

    def next_page(self) -> BatchPage | None:
        return run_sync(self.anext_page)

    async def aauto_paging_iter(self) -> AsyncIterator[Batch]:
        page: BatchPage | None = self
        while page is not None:
            for item in page.data:
                yield item
            page = await page.anext_page()

    def auto_paging_iter(self) -> Iterator[Batch]:
        page: BatchPage | None = self
        while page is not None:
            yield from page.data
            page = page.next_page()

    def __iter__(self) -> Iterator[Batch]:
        return self.auto_paging_iter()

    def __aiter__(self) -> AsyncIterator[Batch]:
        return self.aauto_paging_iter()

    def __repr__(self) -> str:
        return f"BatchPage(data=<{len(self.data)} batches>, has_more={self.has_more})"
