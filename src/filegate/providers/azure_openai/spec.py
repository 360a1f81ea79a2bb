"""Azure OpenAI for the registry: how it is configured, found in the environment and
reached by the SDK."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx2

from filegate.errors import ConfigError
from filegate.providers.spec import (
    DeploymentFields,
    ProviderSpec,
    SDKCall,
    common_kwargs,
    missing,
    secret,
    unused,
)

ENV_VARS = (
    ("api_key", ("AZURE_API_KEY",)),
    ("azure_ad_token", ("AZURE_AD_TOKEN",)),
    ("api_base", ("AZURE_API_BASE",)),
    ("api_version", ("AZURE_API_VERSION",)),
)


def _kwargs(
    deployment: DeploymentFields, transport: httpx2.AsyncBaseTransport | None
) -> dict[str, Any]:
    kwargs = common_kwargs(deployment, transport)
    kwargs["api_version"] = deployment.api_version
    kwargs["processing_wait"] = deployment.processing_wait
    kwargs["azure_ad_token"] = secret(deployment.azure_ad_token)
    return kwargs


def _env_deployment(env: Mapping[str, str]) -> dict[str, Any] | None:
    azure_key, azure_token = env.get("AZURE_API_KEY"), env.get("AZURE_AD_TOKEN")
    if not (azure_key or azure_token):
        return None
    if not env.get("AZURE_API_BASE"):
        raise ConfigError("AZURE_API_BASE: must be set when AZURE_API_KEY or AZURE_AD_TOKEN is")
    dep: dict[str, Any] = {"name": "azure", "provider": "azure", "api_base": env["AZURE_API_BASE"]}
    if azure_key:
        dep["api_key"] = azure_key
    else:
        dep["azure_ad_token"] = azure_token
    if env.get("AZURE_API_VERSION"):
        dep["api_version"] = env["AZURE_API_VERSION"]
    return dep


def _sdk_options(call: SDKCall, env: dict[str, str], options: dict[str, Any]) -> dict[str, Any]:
    provider = "azure"
    azure_ad_token = call.extras.get("azure_ad_token")
    unused(provider, organization=call.organization)
    options["api_base"] = call.api_base or env.get("api_base")
    if not options["api_base"]:
        raise missing(provider, ENV_VARS, "api_base")
    if call.api_key or azure_ad_token:
        options.update(api_key=call.api_key, azure_ad_token=azure_ad_token)
    elif env.get("api_key") or env.get("azure_ad_token"):
        options.update(api_key=env.get("api_key"), azure_ad_token=env.get("azure_ad_token"))
    else:
        raise missing(provider, ENV_VARS, "api_key", " (or azure_ad_token=...)")
    options["api_version"] = call.api_version or env.get("api_version")
    return options


def _sdk_class() -> Callable[..., Any]:
    from filegate.providers.azure_openai.provider import AzureOpenAIProvider

    return AzureOpenAIProvider


SPEC = ProviderSpec(
    name="azure",
    provider_class="filegate.providers.azure_openai.provider:AzureOpenAIProvider",
    kwargs=_kwargs,
    env_vars=ENV_VARS,
    env_deployment=_env_deployment,
    sdk_options=_sdk_options,
    sdk_class=_sdk_class,
    litellm_params=("azure_ad_token",),
    sdk_params=("azure_ad_token",),
    extra_body_params=("azure_ad_token",),
    # Azure ignores form fields it does not know, so none is sent.
    form_fields=False,
)
