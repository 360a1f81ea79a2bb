"""OpenAI (and any server that speaks its Files API), and a filegate gateway, for the
registry: how each is configured, found in the environment and reached by the SDK."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx2

from filegate.providers.spec import (
    DeploymentFields,
    ProviderSpec,
    SDKCall,
    common_kwargs,
    missing,
    unused,
)

FILEGATE_API_BASE = "http://localhost:4000/v1"

ENV_VARS = (
    ("api_key", ("OPENAI_API_KEY",)),
    ("api_base", ("OPENAI_BASE_URL", "OPENAI_API_BASE")),
    ("organization", ("OPENAI_ORG_ID",)),
    ("project", ("OPENAI_PROJECT_ID",)),
)
GATEWAY_ENV_VARS = (
    ("api_key", ("FILEGATE_API_KEY",)),
    ("api_base", ("FILEGATE_API_BASE",)),
)


def _kwargs(
    deployment: DeploymentFields, transport: httpx2.AsyncBaseTransport | None
) -> dict[str, Any]:
    return common_kwargs(deployment, transport)


def _env_deployment(env: Mapping[str, str]) -> dict[str, Any] | None:
    if not env.get("OPENAI_API_KEY"):
        return None
    dep: dict[str, Any] = {"name": "openai", "provider": "openai", "api_key": env["OPENAI_API_KEY"]}
    for field_name, var in (
        ("api_base", "OPENAI_BASE_URL"),
        ("api_base", "OPENAI_API_BASE"),
        ("organization", "OPENAI_ORG_ID"),
        ("project", "OPENAI_PROJECT_ID"),
    ):
        if env.get(var) and field_name not in dep:
            dep[field_name] = env[var]
    return dep


def _sdk_options(call: SDKCall, env: dict[str, str], options: dict[str, Any]) -> dict[str, Any]:
    unused("openai", api_version=call.api_version)
    options["api_key"] = call.api_key or env.get("api_key")
    if not options["api_key"]:
        raise missing("openai", ENV_VARS, "api_key")
    options["api_base"] = call.api_base or env.get("api_base")
    options["organization"] = call.organization or env.get("organization")
    options["project"] = env.get("project")
    return options


def _sdk_class() -> Callable[..., Any]:
    from filegate.providers.openai.provider import OpenAIProvider

    return OpenAIProvider


def _gateway_options(call: SDKCall, env: dict[str, str], options: dict[str, Any]) -> dict[str, Any]:
    unused("filegate", api_version=call.api_version)
    options["api_key"] = call.api_key or env.get("api_key")
    unused("filegate", organization=call.organization)
    options["api_base"] = call.api_base or env.get("api_base") or FILEGATE_API_BASE
    return options


def _gateway_class() -> Callable[..., Any]:
    from filegate.providers.openai.gateway import GatewayProvider

    return GatewayProvider


def _no_deployment(env: Mapping[str, str]) -> dict[str, Any] | None:
    return None


SPEC = ProviderSpec(
    name="openai",
    provider_class="filegate.providers.openai.provider:OpenAIProvider",
    kwargs=_kwargs,
    env_vars=ENV_VARS,
    env_deployment=_env_deployment,
    sdk_options=_sdk_options,
    sdk_class=_sdk_class,
)

# The SDK's "filegate" target: a gateway speaks OpenAI's wire format. Not a
# deployment provider (a gateway's own store is its embedded target).
GATEWAY_SPEC = ProviderSpec(
    name="filegate",
    provider_class="filegate.providers.openai.gateway:GatewayProvider",
    kwargs=_kwargs,
    env_vars=GATEWAY_ENV_VARS,
    env_deployment=_no_deployment,
    sdk_options=_gateway_options,
    sdk_class=_gateway_class,
)
