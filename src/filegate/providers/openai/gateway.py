"""A filegate gateway as the SDK's target: OpenAI's wire format."""

from __future__ import annotations

from filegate.providers.openai.provider import OpenAIProvider
from filegate.records import ExpiresAfter


class GatewayProvider(OpenAIProvider):
    """A filegate gateway: OpenAI's wire format, with purposes and expiry judged by the
    gateway against its own targets rather than by OpenAI's rules here."""

    name = "filegate"

    def check_purpose(self, purpose: str) -> None:
        pass

    def check_expires_after(self, expires_after: ExpiresAfter) -> None:
        pass
