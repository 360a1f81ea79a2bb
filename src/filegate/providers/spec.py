"""What each provider package tells the registry: one ``ProviderSpec`` per provider.

A spec is light (no client library is imported until a provider is built), so
``config`` and the SDK may ask the registry about providers at import time. It
says how to build the provider from a configured deployment, which deployment
fields it needs, which environment variables give its settings, and how an SDK
call reaches it. Nothing outside the provider's package and the registry
branches on a provider's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2
from pydantic import SecretStr

from filegate.errors import ConfigError, InvalidRequest

# SDK parameter -> the environment variables that give it, in order of preference.
EnvVars = tuple[tuple[str, tuple[str, ...]], ...]


class DeploymentFields(Protocol):
    """A configured deployment (``config.Deployment``), as the specs read it."""

    @property
    def name(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def api_base(self) -> str | None: ...
    @property
    def api_key(self) -> SecretStr | None: ...
    @property
    def azure_ad_token(self) -> SecretStr | None: ...
    @property
    def api_version(self) -> str | None: ...
    @property
    def organization(self) -> str | None: ...
    @property
    def project(self) -> str | None: ...
    @property
    def timeout(self) -> float: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def files_api_max_bytes(self) -> int: ...
    @property
    def upload_part_bytes(self) -> int: ...
    @property
    def processing_wait(self) -> float: ...
    @property
    def vertex_project(self) -> str | None: ...
    @property
    def vertex_location(self) -> str | None: ...
    @property
    def gcs_bucket_name(self) -> str | None: ...
    @property
    def gcs_prefix(self) -> str | None: ...
    @property
    def vertex_credentials(self) -> SecretStr | None: ...
    @property
    def storage_endpoint(self) -> str | None: ...
    @property
    def vertex_api_base(self) -> str | None: ...
    @property
    def batch_concurrency(self) -> int: ...
    @property
    def max_batches_running(self) -> int: ...


@dataclass(frozen=True, slots=True)
class SDKCall:
    """The connection arguments of one SDK call (None: not passed)."""

    api_key: str | None
    api_base: str | None
    api_version: str | None
    organization: str | None
    # The provider-specific keyword arguments given (every spec's sdk_params).
    extras: Mapping[str, Any]


def secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def unused(provider: str, **values: object) -> None:
    """Refuse SDK arguments ``provider`` does not use (they would be ignored)."""
    for param, value in values.items():
        if value is not None:
            raise InvalidRequest(
                f"{provider} does not use {param}; it would be ignored, so it is refused.",
                param=param,
                code="unsupported_parameter",
            )


def missing(provider: str, env_vars: EnvVars, param: str, also: str = "") -> ConfigError:
    """A required SDK argument neither passed nor set in the environment."""
    names = next((" or ".join(v) for p, v in env_vars if p == param), "?")
    return ConfigError(f"{provider}: no {param}; pass {param}=...{also} or set {names}")


def common_kwargs(
    deployment: DeploymentFields, transport: httpx2.AsyncBaseTransport | None
) -> dict[str, Any]:
    """Constructor arguments of the providers that speak OpenAI's wire format."""
    return {
        "api_base": deployment.api_base,
        "api_key": secret(deployment.api_key),
        "organization": deployment.organization,
        "project": deployment.project,
        "timeout": deployment.timeout,
        "max_retries": deployment.max_retries,
        "transport": transport,
        "files_api_max_bytes": deployment.files_api_max_bytes,
        "upload_part_bytes": deployment.upload_part_bytes,
    }


def _no_check(deployment: DeploymentFields) -> None:
    return None


def _nothing(env: Mapping[str, str]) -> dict[str, str]:
    return {}


def _no_claim(
    prefix: str, entry: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any] | None:
    return None


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    # "module:Class" of the provider, imported when a deployment uses it.
    provider_class: str
    # Constructor arguments for a configured deployment.
    kwargs: Callable[[DeploymentFields, httpx2.AsyncBaseTransport | None], dict[str, Any]]
    # What the SDK reads from the environment (and ``config.provider_env``).
    env_vars: EnvVars
    # A zero-config deployment from the provider's standard variables, or None.
    env_deployment: Callable[[Mapping[str, str]], dict[str, Any] | None]
    # The SDK's options for one call (``options`` holds the common ones already).
    sdk_options: Callable[[SDKCall, dict[str, str], dict[str, Any]], dict[str, Any]]
    # The adapter class the SDK builds, imported on first use.
    sdk_class: Callable[[], Callable[..., Any]]
    # A deployment's fields checked beyond their types: raises ValueError.
    check: Callable[[DeploymentFields], None] = _no_check
    # Fields a LiteLLM config entry takes from the environment when it leaves them out.
    litellm_env: Callable[[Mapping[str, str]], dict[str, str]] = _nothing
    # Deployment fields of this provider's own that a LiteLLM config entry may give.
    litellm_params: tuple[str, ...] = ()
    # A LiteLLM model_list entry this provider takes over from the provider its model
    # prefix names (entry, its litellm_params): the params it reads, or None.
    litellm_claim: Callable[[str, Mapping[str, Any], Mapping[str, Any]], dict[str, Any] | None] = (
        _no_claim
    )
    # SDK keyword arguments beyond the common ones (LiteLLM's names), with their types.
    sdk_params: tuple[str, ...] = ()
    # Of those, the ones older LiteLLM releases pass in extra_body.
    extra_body_params: tuple[str, ...] = ()
    # Whether a create can send extra_body fields as extra form fields.
    form_fields: bool = True
