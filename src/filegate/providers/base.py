"""The provider interface: one upstream Files API, spoken in its own wire format."""

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
