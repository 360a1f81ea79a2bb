"""A page of a cursor-paged listing (files, batches, fine-tuning jobs), as the openai
SDK's pages behave: ``data`` is this page's items; ``anext_page()`` / ``next_page()``
fetch the page after its last id; iterating it (``for`` / ``async for``) walks every
item of this page and the pages after it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, Literal, Protocol, Self, TypeVar

from filegate.sdk.portal import run_sync

__all__ = ["CursorPage"]


class Item(Protocol):
    @property
    def id(self) -> str: ...
    def model_dump(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=Item)


class CursorPage(Generic[T]):
    object: Literal["list"] = "list"

    def __init__(
        self,
        data: list[T],
        has_more: bool,
        fetch: Callable[[str], Awaitable[Self]] | None = None,
    ) -> None:
        # Without ``fetch`` (a page built by hand) there is no page after this one.
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
        return self.has_more and self.last_id is not None and self._fetch is not None

    async def anext_page(self) -> Self | None:
        """The following page (same parameters, ``after=last_id``), or None at the end."""
        if not self.has_next_page():
            return None
        assert self.last_id is not None and self._fetch is not None
        page = await self._fetch(self.last_id)
        # An upstream that ignores `after` hands back the same page again: stop there
        # rather than page forever.
        if page.last_id == self.last_id or page.first_id == self.first_id:
            return None
        return page

    def next_page(self) -> Self | None:
        """Sync twin of :meth:`anext_page`."""
        return run_sync(self.anext_page)

    async def aauto_paging_iter(self) -> AsyncIterator[T]:
        """Every item of this page and the pages after it, fetching pages as needed."""
        page: CursorPage[T] | None = self
        while page is not None:
            for item in page.data:
                yield item
            page = await page.anext_page()

    def auto_paging_iter(self) -> Iterator[T]:
        """Sync twin of :meth:`aauto_paging_iter`."""
        page: CursorPage[T] | None = self
        while page is not None:
            yield from page.data
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:
        return self.auto_paging_iter()

    def __aiter__(self) -> AsyncIterator[T]:
        return self.aauto_paging_iter()

    def to_dict(self) -> dict[str, Any]:
        """This page as OpenAI's list object."""
        return {
            "object": "list",
            "data": [item.model_dump() for item in self.data],
            "first_id": self.first_id,
            "last_id": self.last_id,
            "has_more": self.has_more,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(data=<{len(self.data)} items>, has_more={self.has_more})"
