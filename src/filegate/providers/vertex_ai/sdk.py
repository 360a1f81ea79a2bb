"""Vertex AI as the SDK calls it: without a gateway, nothing would honour an expiry."""

from __future__ import annotations

from collections.abc import Sequence

from filegate.errors import InvalidRequest
from filegate.providers.base import ProviderFile, UploadSource
from filegate.providers.vertex_ai.provider import VertexAIProvider
from filegate.records import ExpiresAfter


class SDKVertexAIProvider(VertexAIProvider):
    def check_expires_after(self, expires_after: ExpiresAfter) -> None:
        # GCS has no per-object expiry: a gateway's sweep deletes expired files (and
        # the object's customTime serves bucket lifecycle rules), but without a
        # gateway nothing would, so the SDK refuses rather than promise it.
        raise InvalidRequest(
            "vertex_ai cannot honour expires_after from the SDK: GCS has no per-object "
            "expiry (a filegate gateway deletes expired files; use "
            "custom_llm_provider='filegate').",
            param="expires_after",
            code="unsupported_parameter",
        )

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
        if extra_fields:  # the SDK refuses them first; this is the backstop.
            raise InvalidRequest("vertex_ai takes no extra form fields.", param="extra_body")
        return await super().create_file(
            source,
            filename=filename,
            purpose=purpose,
            content_type=content_type,
            expires_after=expires_after,
        )
