"""An OpenAI-compatible model server (vLLM, Ollama, TGI, ...) for the registry: a
deployment whose batches filegate runs itself. It has no Files API, so the SDK has
nothing to call there, and no standard variables make a zero-config deployment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import httpx2

from filegate.errors import InvalidRequest
from filegate.providers.spec import DeploymentFields, ProviderSpec, SDKCall, secret

NAME = "openai_compatible"
# LiteLLM model prefixes of servers filegate can run batches on, when their
# model_list entry says ``batch_runner: true``.
LITELLM_PREFIXES = frozenset({"hosted_vllm", "ollama", "openai"})
# Deployment fields only this provider uses.
FIELDS = ("batch_concurrency", "max_batches_running")


def _kwargs(
    deployment: DeploymentFields, transport: httpx2.AsyncBaseTransport | None
) -> dict[str, Any]:
    if transport is not None:
        # Its lines go out through aiohttp (see provider.py): an httpx transport has no use.
        raise ValueError(f"{NAME} deployments take no httpx transport")
    return {
        "name": deployment.name,
        "api_base": deployment.api_base,
        "api_key": secret(deployment.api_key),
        "timeout": deployment.timeout,
        "max_retries": deployment.max_retries,
        "batch_concurrency": deployment.batch_concurrency,
        "max_batches_running": deployment.max_batches_running,
    }


def _check(deployment: DeploymentFields) -> None:
    if not deployment.api_base:
        raise ValueError(f"api_base is required for {NAME} (the model server's /v1)")


def _no_deployment(env: Mapping[str, str]) -> dict[str, Any] | None:
    return None


def _v1_base(api_base: object) -> object:
    """Ollama's LiteLLM api_base is the server's root; its OpenAI API is under /v1."""
    if isinstance(api_base, str) and api_base and not api_base.rstrip("/").endswith("/v1"):
        return api_base.rstrip("/") + "/v1"
    return api_base


def _litellm_claim(
    prefix: str, entry: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any] | None:
    if prefix not in LITELLM_PREFIXES:
        return None
    if params.get("batch_runner", entry.get("batch_runner")) is not True:
        return None
    # A model server without Files or Batch APIs: filegate runs its batches.
    return {**params, "api_base": _v1_base(params.get("api_base"))}


def _sdk_options(call: SDKCall, env: dict[str, str], options: dict[str, Any]) -> NoReturn:
    raise InvalidRequest(
        f"{NAME} is a model server without a Files API; keep the file in a filegate "
        "gateway and run the batch there.",
        param="custom_llm_provider",
        code="no_files_api",
    )


def _sdk_class() -> Callable[..., Any]:
    from filegate.providers.openai_compatible.provider import OpenAICompatibleProvider

    return OpenAICompatibleProvider


SPEC = ProviderSpec(
    name=NAME,
    provider_class="filegate.providers.openai_compatible.provider:OpenAICompatibleProvider",
    kwargs=_kwargs,
    env_vars=(),
    env_deployment=_no_deployment,
    sdk_options=_sdk_options,
    sdk_class=_sdk_class,
    check=_check,
    litellm_params=FIELDS,
    litellm_claim=_litellm_claim,
)
