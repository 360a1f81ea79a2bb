"""Azure OpenAI's Batch API: the dated ``/openai/batches`` and the v1 ``/openai/v1/batches``.

The wire is OpenAI's; what differs is read here: file ids not made yet are ``""``, the
dated API has batches only from 2024-07-01-preview on, and ``output_expires_after`` only
on v1 and from 2025-03-01-preview (older versions would silently ignore it).
"""

from __future__ import annotations

from filegate.errors import InvalidRequest
from filegate.providers.openai.batches import OpenAIBatches
from filegate.records import ExpiresAfter

BATCHES_SINCE = "2024-07-01"
OUTPUT_EXPIRY_SINCE = "2025-03-01"


class AzureOpenAIBatches(OpenAIBatches):
    def _dated_version(self) -> str | None:
        """The dated api-version, or None on the v1 surface."""
        version = self.wire.params.get("api-version")
        return None if version in (None, "preview") else version

    @property
    def supports_batches(self) -> bool:
        version = self._dated_version()
        return version is None or version[:10] >= BATCHES_SINCE

    def check_output_expires_after(self, expires_after: ExpiresAfter) -> None:
        version = self._dated_version()
        if version is not None and version[:10] < OUTPUT_EXPIRY_SINCE:
            raise InvalidRequest(
                f"{self.name}: api-version {version} has no output_expires_after (it would be "
                f"ignored); use {OUTPUT_EXPIRY_SINCE}-preview or later, or v1.",
                param="output_expires_after",
                code="unsupported_parameter",
            )
