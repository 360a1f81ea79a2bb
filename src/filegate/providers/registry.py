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
    "openai": "filegate.providers.openai:OpenAIProvider",
    "azure": "filegate.providers.azure_openai:AzureOpenAIProvider",
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
    kwargs: dict[str, Any] = {
        "api_base": deployment.api_base,
        "api_key": deployment.api_key.get_secret_value() if deployment.api_key else None,
        "organization": deployment.organization,
        "project": deployment.project,
        "timeout": deployment.timeout,
        "max_retries": deployment.max_retries,
        "transport": transport,
    }
    if deployment.provider == "azure":
        kwargs["api_version"] = deployment.api_version
        token = deployment.azure_ad_token
        kwargs["azure_ad_token"] = token.get_secret_value() if token else None
    try:
        provider: Provider = provider_class(deployment.provider)(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"deployment {deployment.name!r}: {exc}") from None
    return provider
