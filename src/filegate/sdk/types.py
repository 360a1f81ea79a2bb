"""What the SDK functions return: files, deletions and pages of files.

``FileObject`` and ``FileDeleted`` carry the fields of the openai SDK's models
of the same names (and convert with ``model_dump()``); fields an upstream adds
beyond those are kept as extra attributes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from filegate.providers.base import ProviderFile, ProviderPage
from filegate.sdk.portal import run_sync

__all__ = ["FileDeleted", "FileObject", "FilePage"]


class FileObject(BaseModel):
    """A file at a provider (or a filegate gateway), as OpenAI's Files API describes it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    expires_at: int | None = None
    filename: str
    purpose: str
    status: str = "processed"
    status_details: str | None = None

    @classmethod
    def from_provider(cls, pf: ProviderFile) -> FileObject:
        return cls.model_validate(
            {
                **pf.raw,
                "id": pf.id,
                "object": "file",
                "bytes": pf.bytes,
                "created_at": pf.created_at,
                "expires_at": pf.expires_at,
                "filename": pf.filename,
                "purpose": pf.purpose,
                "status": pf.status,
                "status_details": pf.status_details,
            }
        )


class FileDeleted(BaseModel):
    """The answer to a delete."""

    model_config = ConfigDict(frozen=True)

    id: str
    object: Literal["file"] = "file"
    deleted: bool


PageFetcher = Callable[[str], Awaitable["FilePage"]]


class FilePage:
    """One page of a file listing, able to fetch the pages after it.

    Iterating a page (``for f in page`` / ``async for f in page``) walks every
    file of this page and of the pages after it, as the openai SDK's pages do;
    ``page.data`` holds this page's files only.
    """

    object: Literal["list"] = "list"

    def __init__(self, data: list[FileObject], has_more: bool, fetch: PageFetcher) -> None:
        self.data = data
        self.has_more = has_more
        self._fetch = fetch

    @classmethod
    def from_provider(cls, page: ProviderPage, fetch: PageFetcher) -> FilePage:
        return cls([FileObject.from_provider(f) for f in page.data], page.has_more, fetch)

    @property
    def first_id(self) -> str | None:
        return self.data[0].id if self.data else None

    @property
    def last_id(self) -> str | None:
        return self.data[-1].id if self.data else None

    def has_next_page(self) -> bool:
        return self.has_more and self.last_id is not None

    async def anext_page(self) -> FilePage | None:
        """The following page (same parameters, ``after=last_id``), or None at the end."""
        if not self.has_next_page():
            return None
        assert self.last_id is not None
        page = await self._fetch(self.last_id)
        # An upstream that ignores `after` hands back the same files again;
        # stop there rather than page forever.
        if page.last_id == self.last_id or page.first_id == self.first_id:
            return None
        return page

    def next_page(self) -> FilePage | None:
        """Sync twin of :meth:`anext_page`."""
        return run_sync(self.anext_page)

    async def aauto_paging_iter(self) -> AsyncIterator[FileObject]:
        """Every file of this page and the pages after it, fetching pages as needed."""
        page: FilePage | None = self
        while page is not None:
            for item in page.data:
                yield item
            page = await page.anext_page()

    def auto_paging_iter(self) -> Iterator[FileObject]:
        """Sync twin of :meth:`aauto_paging_iter`."""
        page: FilePage | None = self
        while page is not None:
            yield from page.data
            page = page.next_page()

    def __iter__(self) -> Iterator[FileObject]:
        return self.auto_paging_iter()

    def __aiter__(self) -> AsyncIterator[FileObject]:
        return self.aauto_paging_iter()

    def to_dict(self) -> dict[str, Any]:
        """This page as OpenAI's list object."""
        return {
            "object": "list",
            "data": [f.model_dump() for f in self.data],
            "first_id": self.first_id,
            "last_id": self.last_id,
            "has_more": self.has_more,
        }

    def __repr__(self) -> str:
        return f"FilePage(data=<{len(self.data)} files>, has_more={self.has_more})"
