"""Vertex AI's Google credentials: the ``vertex_credentials`` setting, and token
failures as upstream errors (the shared token source is ``google.tokens``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filegate.errors import ConfigError, UpstreamError
from filegate.google.tokens import CLOUD_PLATFORM_SCOPE, CredentialsError, from_info

if TYPE_CHECKING:
    from google.auth.credentials import Credentials


def parse_credentials(value: str | Mapping[str, Any]) -> dict[str, Any]:
    """A credentials document from JSON text, a path to a JSON file, or a mapping."""
    if isinstance(value, Mapping):
        return dict(value)
    text = value.strip()
    if not text.startswith("{"):
        try:
            text = Path(text).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"vertex_credentials: cannot read {value!r} ({exc.strerror}); give a path to a "
                "service-account JSON file or the JSON text itself"
            ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError("vertex_credentials: not valid JSON") from None
    if not isinstance(doc, dict):
        raise ConfigError("vertex_credentials: expected a JSON object")
    return doc


def load_credentials(value: str | Mapping[str, Any], *, token_uri: str | None) -> Credentials:
    """Credentials from the setting; checked now, so bad ones stop start-up."""
    try:
        return from_info(
            parse_credentials(value), scopes=(CLOUD_PLATFORM_SCOPE,), token_uri=token_uri
        )
    except CredentialsError as exc:
        raise ConfigError(f"vertex_credentials: {exc}") from None


class VertexTokenErrors:
    """google.tokens.TokenErrors for Vertex: the upstream cannot be reached as configured."""

    def no_library(self) -> Exception:
        return ConfigError("vertex_ai needs google-auth: pip install 'google-auth[requests]'")

    def no_credentials(self, detail: str) -> Exception:
        return UpstreamError(
            f"vertex_ai: no Google credentials ({detail}); set vertex_credentials or "
            "GOOGLE_APPLICATION_CREDENTIALS, or STORAGE_EMULATOR_HOST for an emulator.",
            code="upstream_auth_failed",
        )

    def refresh_failed(self, exc: Exception) -> Exception:
        return UpstreamError(
            f"vertex_ai: could not get a Google access token: {exc}",
            code="upstream_auth_failed",
        )
