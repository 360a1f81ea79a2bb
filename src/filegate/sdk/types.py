"""What the SDK functions return: files, deletions and pages of files.

``FileObject`` and ``FileDeleted`` carry the fields of the openai SDK's models
of the same names (and convert with ``model_dump()``); fields an upstream adds
beyond those are kept as extra attributes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from filegate.providers.base import ProviderFile, ProviderPage
from filegate.sdk.pages import CursorPage

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


class FilePage(CursorPage[FileObject]):
    """One page of a file listing, able to fetch the pages after it.

    Iterating a page (``for f in page`` / ``async for f in page``) walks every
    file of this page and of the pages after it, as the openai SDK's pages do;
    ``page.data`` holds this page's files only.
    """

    @classmethod
    def from_provider(
        cls, page: ProviderPage, fetch: Callable[[str], Awaitable[FilePage]]
    ) -> FilePage:
        return cls([FileObject.from_provider(f) for f in page.data], page.has_more, fetch)
