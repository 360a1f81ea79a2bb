"""Vertex AI for the registry: how it is configured, found in the environment and
reached by the SDK (google-auth is imported only once a provider is built)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx2

from filegate.errors import ConfigError
from filegate.providers.spec import DeploymentFields, ProviderSpec, SDKCall, missing, secret, unused

# Deployment field -> the standard variable that gives it.
VERTEX_ENV_VARS = {
    "vertex_project": "VERTEXAI_PROJECT",
    "vertex_location": "VERTEXAI_LOCATION",
    "gcs_bucket_name": "GCS_BUCKET_NAME",
    "vertex_credentials": "GOOGLE_APPLICATION_CREDENTIALS",
    # The GCS clients' convention: requests go to this emulator, unauthenticated.
    "storage_endpoint": "STORAGE_EMULATOR_HOST",
    # Where the Vertex AI API is (batch prediction jobs); a local fake in tests.
    "vertex_api_base": "VERTEXAI_API_BASE",
}
ENV_VARS = tuple((field, (var,)) for field, var in VERTEX_ENV_VARS.items())
# Keyword arguments of SDK calls (LiteLLM's names).
# Deployment fields only Vertex AI uses.
VERTEX_FIELDS = (
    "vertex_project",
    "vertex_location",
    "vertex_credentials",
    "gcs_bucket_name",
    "gcs_prefix",
    "storage_endpoint",
    "vertex_api_base",
)
SDK_PARAMS = ("vertex_project", "vertex_location", "vertex_credentials", "gcs_bucket_name")


def _kwargs(
    deployment: DeploymentFields, transport: httpx2.AsyncBaseTransport | None
) -> dict[str, Any]:
    return {
        "vertex_project": deployment.vertex_project,
        "vertex_location": deployment.vertex_location,
        "vertex_credentials": secret(deployment.vertex_credentials),
        "gcs_bucket_name": deployment.gcs_bucket_name,
        "gcs_prefix": deployment.gcs_prefix,
        "storage_endpoint": deployment.storage_endpoint,
        "vertex_api_base": deployment.vertex_api_base,
        "timeout": deployment.timeout,
        "max_retries": deployment.max_retries,
        "transport": transport,
    }


def _check(deployment: DeploymentFields) -> None:
    if not deployment.gcs_bucket_name:
        raise ValueError("gcs_bucket_name is required for vertex_ai (or set GCS_BUCKET_NAME)")


def vertex_env(env: Mapping[str, str]) -> dict[str, str]:
    return {field: env[var] for field, var in VERTEX_ENV_VARS.items() if env.get(var)}


def _env_deployment(env: Mapping[str, str]) -> dict[str, Any] | None:
    vertex = vertex_env(env)
    if not {"vertex_project", "vertex_location", "gcs_bucket_name"} & set(vertex):
        return None
    if "gcs_bucket_name" not in vertex:
        raise ConfigError(
            "GCS_BUCKET_NAME: must be set when VERTEXAI_PROJECT or VERTEXAI_LOCATION is "
            "(Vertex AI files are kept in a GCS bucket)"
        )
    return {"name": "vertex_ai", "provider": "vertex_ai", **vertex}


def _sdk_options(call: SDKCall, env: dict[str, str], options: dict[str, Any]) -> dict[str, Any]:
    provider = "vertex_ai"
    # GCS is reached with Google credentials at Google's (or the emulator's)
    # address; Vertex AI has no Files endpoint these could point at.
    unused(
        provider,
        api_key=call.api_key,
        api_base=call.api_base,
        api_version=call.api_version,
        organization=call.organization,
    )
    for param in SDK_PARAMS:
        value = call.extras.get(param)
        options[param] = value if value is not None and value != "" else env.get(param)
    if not options["gcs_bucket_name"]:
        raise missing(provider, ENV_VARS, "gcs_bucket_name")
    # Only the environment names an emulator (STORAGE_EMULATOR_HOST, as Google's clients).
    options["storage_endpoint"] = env.get("storage_endpoint")
    return options


def _sdk_class() -> Callable[..., Any]:
    # Imported on first use: google-auth is slow to import, and only Vertex AI needs it.
    from filegate.providers.vertex_ai.sdk import SDKVertexAIProvider

    return SDKVertexAIProvider


SPEC = ProviderSpec(
    name="vertex_ai",
    provider_class="filegate.providers.vertex_ai.provider:VertexAIProvider",
    kwargs=_kwargs,
    env_vars=ENV_VARS,
    env_deployment=_env_deployment,
    sdk_options=_sdk_options,
    sdk_class=_sdk_class,
    check=_check,
    # As LiteLLM does, the environment fills what a config entry leaves out.
    litellm_env=vertex_env,
    litellm_params=VERTEX_FIELDS,
    sdk_params=SDK_PARAMS,
    # A GCS upload has no form fields.
    form_fields=False,
)
