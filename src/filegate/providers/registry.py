"""The one list of providers. Each provider package's ``spec`` says how to build it,
configure it and reach it from the SDK; its classes are imported only when used.

Adding a provider is a package with a ``spec`` module and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import httpx2

from filegate.errors import ConfigError
from filegate.providers.azure_openai.spec import SPEC as AZURE
from filegate.providers.base import Provider

# Re-exported: the gateway's default address, for the SDK's connections.
from filegate.providers.openai.spec import FILEGATE_API_BASE as FILEGATE_API_BASE
from filegate.providers.openai.spec import GATEWAY_SPEC
from filegate.providers.openai.spec import SPEC as OPENAI
from filegate.providers.openai_compatible.spec import SPEC as OPENAI_COMPATIBLE
from filegate.providers.spec import DeploymentFields, ProviderSpec
from filegate.providers.vertex_ai.spec import SPEC as VERTEX_AI
from filegate.upstream.meter import BoundMeter

# Providers a deployment may name, in the order zero-config deployments are made.
PROVIDERS: dict[str, ProviderSpec] = {
    s.name: s for s in (OPENAI, AZURE, VERTEX_AI, OPENAI_COMPATIBLE)
}
# LiteLLM's default: a model name without a "provider/" prefix, a gateway's default target.
DEFAULT_PROVIDER = OPENAI.name
# What the SDK can call: the providers, and a filegate gateway.
SDK_TARGETS: dict[str, ProviderSpec] = {**PROVIDERS, GATEWAY_SPEC.name: GATEWAY_SPEC}


def names() -> tuple[str, ...]:
    return tuple(PROVIDERS)


def spec(name: str) -> ProviderSpec:
    try:
        return SDK_TARGETS[name]
    except KeyError:
        raise ConfigError(f"unknown provider {name!r}") from None


def litellm_claim(
    prefix: str, entry: Mapping[str, Any], params: Mapping[str, Any]
) -> tuple[str, Mapping[str, Any]]:
    """Which provider a LiteLLM model_list entry is, with the params it reads: one that
    claims the entry, else the provider its model prefix names."""
    for claimant in PROVIDERS.values():
        claimed = claimant.litellm_claim(prefix, entry, params)
        if claimed is not None:
            return claimant.name, claimed
    return prefix, params


def provider_class(name: str) -> Any:
    if name not in PROVIDERS:
        raise ConfigError(f"unknown provider {name!r}")
    module_name, _, attr = PROVIDERS[name].provider_class.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def build_provider(
    deployment: DeploymentFields,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    meter: BoundMeter | None = None,
) -> Provider:
    """An adapter for one configured deployment; ``meter`` hears of each request it sends."""
    kwargs = dict(spec(deployment.provider).kwargs(deployment, transport))
    if meter is not None:
        kwargs["meter"] = meter
    try:
        provider: Provider = provider_class(deployment.provider)(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"deployment {deployment.name!r}: {exc}") from None
    return provider
