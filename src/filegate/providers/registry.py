"""Provider classes by name, imported only when a deployment uses them."""

from __future__ import annotations

import importlib
from typing import Any

import httpx2

from filegate.config import Deployment
from filegate.errors import ConfigError
from filegate.providers.base import Provider

# provider name -> "module:Class"; adding a provider is one line here.
PROVIDERS = {
    "openai": "filegate.providers.openai.provider:OpenAIProvider",
    "azure": "filegate.providers.azure_openai.provider:AzureOpenAIProvider",
    "vertex_ai": "filegate.providers.vertex_ai.provider:VertexAIProvider",
}


def provider_class(name: str) -> Any:
    try:
        module_name, _, attr = PROVIDERS[name].partition(":")
    except KeyError:
        raise ConfigError(f"unknown provider {name!r}") from None
    return getattr(importlib.import_module(module_name), attr)


def build_provider(
    deployment: Deployment, *, transport: httpx2.AsyncBaseTransport | None = None
) -> Provider:
    """An adapter for one configured deployment."""
    if deployment.provider == "vertex_ai":
        return _build(deployment, _vertex_kwargs(deployment, transport))
    kwargs: dict[str, Any] = {
        "api_base": deployment.api_base,
        "api_key": deployment.api_key.get_secret_value() if deployment.api_key else None,
        "organization": deployment.organization,
        "project": deployment.project,
        "timeout": deployment.timeout,
        "max_retries": deployment.max_retries,
        "transport": transport,
        "files_api_max_bytes": deployment.files_api_max_bytes,
        "upload_part_bytes": deployment.upload_part_bytes,
    }
    if deployment.provider == "azure":
        kwargs["api_version"] = deployment.api_version
        kwargs["processing_wait"] = deployment.processing_wait
        token = deployment.azure_ad_token
        kwargs["azure_ad_token"] = token.get_secret_value() if token else None
    return _build(deployment, kwargs)


def _vertex_kwargs(
    deployment: Deployment, transport: httpx2.AsyncBaseTransport | None
) -> dict[str, Any]:
    credentials = deployment.vertex_credentials
    return {
        "vertex_project": deployment.vertex_project,
        "vertex_location": deployment.vertex_location,
        "vertex_credentials": credentials.get_secret_value() if credentials else None,
        "gcs_bucket_name": deployment.gcs_bucket_name,
        "gcs_prefix": deployment.gcs_prefix,
        "storage_endpoint": deployment.storage_endpoint,
        "timeout": deployment.timeout,
        "max_retries": deployment.max_retries,
        "transport": transport,
    }


def _build(deployment: Deployment, kwargs: dict[str, Any]) -> Provider:
    try:
        provider: Provider = provider_class(deployment.provider)(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"deployment {deployment.name!r}: {exc}") from None
    return provider
