"""Azure OpenAI's Files API: the dated data plane and the /openai/v1 surface."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx2

from filegate.errors import ConfigError, FilegateError
from filegate.providers.azure_openai.batches import AzureOpenAIBatches
from filegate.providers.azure_openai.fine_tuning import AzureOpenAIFineTuning
from filegate.providers.base import (
    TERMINAL_STATUSES,
    ProviderFile,
    ProviderPage,
    UploadSource,
)
from filegate.providers.openai.provider import (
    FILES_API_MAX_BYTES,
    UPLOAD_PART_BYTES,
    OpenAIProvider,
)
from filegate.records import EXPIRES_MAX, EXPIRES_MIN, ExpiresAfter
from filegate.upstream.meter import BoundMeter

log = logging.getLogger("filegate")

# The v1 surface takes OpenAI's range; dated API versions take Azure's
# batch-file window of 14 to 30 days.
_V1_VERSIONS = ("v1", "preview", "latest")
_DATED_EXPIRES = (14 * 24 * 3600, 30 * 24 * 3600)
# The Uploads API (/openai/uploads) is in the dated preview versions from
# 2024-08-01-preview on (Azure's "Upload File - Start" reference) and in v1
# (/openai/v1/uploads); GA dated versions such as 2024-10-21 have none, and an
# upload to such a deployment is assembled here and sent through /files.
_UPLOADS_SINCE = "2024-08-01"
DEFAULT_API_VERSION = "2024-10-21"
# OpenAI's file statuses; Azure has four more, told here as OpenAI's: a file still
# being processed is "uploaded", one going or gone upstream is an error for the
# filegate file that points at it.
OPENAI_STATUSES = ("uploaded", "processed", "error")
_AS_OPENAI = {"pending": "uploaded", "running": "uploaded", "deleting": "error", "deleted": "error"}
_GONE = {
    "deleting": "The file is being deleted at Azure.",
    "deleted": "The file was deleted at Azure.",
}
# How long a create waits for Azure to process a new file (OpenAI's create
# answers "processed"); past it the file is answered "uploaded".
PROCESSING_WAIT = 5.0


class AzureOpenAIProvider(AzureOpenAIBatches, AzureOpenAIFineTuning, OpenAIProvider):
    name = "azure"
    purposes: tuple[str, ...] = ("assistants", "batch", "fine-tune", "evals")

    def __init__(
        self,
        *,
        api_base: str | None,
        api_key: str | None = None,
        azure_ad_token: str | None = None,
        api_version: str | None = None,
        timeout: float = 600.0,
        max_retries: int = 2,
        extra_headers: dict[str, str] | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        organization: str | None = None,
        project: str | None = None,
        files_api_max_bytes: int = FILES_API_MAX_BYTES,
        upload_part_bytes: int = UPLOAD_PART_BYTES,
        processing_wait: float = PROCESSING_WAIT,
        meter: BoundMeter | None = None,
    ) -> None:
        self.processing_wait = processing_wait
        if not api_base:
            raise ConfigError("azure: api_base is required (e.g. https://NAME.openai.azure.com)")
        if not api_key and not azure_ad_token:
            raise ConfigError("azure: api_key or azure_ad_token is required")
        version = api_version or DEFAULT_API_VERSION
        base = api_base.rstrip("/")
        for suffix in ("/openai/v1", "/openai"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        headers = dict(extra_headers or {})
        if api_key:
            headers["api-key"] = api_key
        else:
            headers["Authorization"] = f"Bearer {azure_ad_token}"
        if version in _V1_VERSIONS:
            base_url = f"{base}/openai/v1"
            params = {"api-version": "preview"} if version == "preview" else {}
            self.expires_range = (EXPIRES_MIN, EXPIRES_MAX)
            self.purposes = (*self.purposes, "vision", "user_data")
        else:
            base_url = f"{base}/openai"
            params = {"api-version": version}
            self.expires_range = _DATED_EXPIRES
        super().__init__(
            api_key=None,
            api_base=base_url,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=headers,
            transport=transport,
            files_api_max_bytes=files_api_max_bytes,
            upload_part_bytes=upload_part_bytes,
            meter=meter,
        )
        self.wire.params = params
        self._uploads = version in _V1_VERSIONS or (
            version.endswith("-preview") and version[:10] >= _UPLOADS_SINCE
        )

    @property
    def supports_uploads(self) -> bool:
        return self._uploads

    def _file(self, doc: dict[str, Any]) -> ProviderFile:
        status = doc.get("status")
        if isinstance(status, str) and status not in OPENAI_STATUSES:
            doc = {**doc, "status": _AS_OPENAI.get(status, "uploaded")}
            if status in _GONE and not doc.get("status_details"):
                doc["status_details"] = _GONE[status]
        return super()._file(doc)

    async def create_file(
        self,
        source: UploadSource,
        *,
        filename: str,
        purpose: str,
        content_type: str,
        expires_after: ExpiresAfter | None,
        extra_fields: Sequence[tuple[str, str]] = (),
    ) -> ProviderFile:
        made = await super().create_file(
            source,
            filename=filename,
            purpose=purpose,
            content_type=content_type,
            expires_after=expires_after,
            extra_fields=extra_fields,
        )
        return await self._processed(made)

    async def complete_upload(
        self, upload_id: str, part_ids: Sequence[str], md5: str | None
    ) -> ProviderFile:
        return await self._processed(await super().complete_upload(upload_id, part_ids, md5))

    async def _processed(self, file: ProviderFile) -> ProviderFile:
        """``file`` once Azure has processed it, or as it is after ``processing_wait``
        seconds (its status is then "uploaded"; a later retrieve asks again)."""
        deadline = time.monotonic() + self.processing_wait
        delay = 0.05
        while file.status not in TERMINAL_STATUSES:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)
            try:
                file = await self.retrieve_file(file.id)
            except FilegateError as exc:
                # The file is made; its status can be asked for again later.
                log.warning("azure: could not ask for the status of %s: %s", file.id, exc)
                break
        return file

    async def list_files(
        self, *, purpose: str | None, limit: int | None, order: str | None, after: str | None
    ) -> ProviderPage:
        if self.wire.params.get("api-version") in (None, "preview"):
            return await super().list_files(purpose=purpose, limit=limit, order=order, after=after)
        # The dated API lists every file at once and knows no limit, order or
        # cursor (it ignores them): page here, so a client's pagination ends.
        everything = await super().list_files(purpose=purpose, limit=None, order=None, after=None)
        files = sorted(
            everything.data, key=lambda f: (f.created_at, f.id), reverse=(order or "desc") == "desc"
        )
        if after is not None:
            ids = [f.id for f in files]
            files = files[ids.index(after) + 1 :] if after in ids else []
        if limit is None:
            return ProviderPage(data=files, has_more=False)
        return ProviderPage(data=files[:limit], has_more=len(files) > limit)
