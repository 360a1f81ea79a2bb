"""Where an SDK call goes: the provider, its credentials and options, checked up front.

Where a call goes
    ``"openai"``   OpenAI, or any OpenAI-compatible ``api_base``. ``api_key`` or
                   ``OPENAI_API_KEY`` (required); ``api_base`` or ``OPENAI_BASE_URL`` /
                   ``OPENAI_API_BASE``; ``organization`` or ``OPENAI_ORG_ID``.
    ``"azure"``    Azure OpenAI. ``api_base`` or ``AZURE_API_BASE`` (required); ``api_key``
                   or ``AZURE_API_KEY``, or an Entra token (``azure_ad_token=`` or
                   ``AZURE_AD_TOKEN``) (one required); ``api_version`` or
                   ``AZURE_API_VERSION`` (a dated version, or ``v1`` / ``preview`` for
                   the ``/openai/v1`` surface).
    ``"filegate"`` A filegate gateway. ``api_base`` or ``FILEGATE_API_BASE`` (default
                   ``http://localhost:4000/v1``); ``api_key`` or ``FILEGATE_API_KEY``
                   (optional: a gateway without a master key needs none).

Every option is either honoured or refused before a byte is sent: an unknown
keyword argument raises ``TypeError`` (names starting with ``litellm_``, which
LiteLLM adds for its own bookkeeping, are accepted and ignored); a known one the
chosen provider does not use raises ``InvalidRequest``; missing credentials
raise ``ConfigError`` naming the parameter and the environment variable.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from filegate.config import PROVIDER_ENV_VARS, provider_env
from filegate.errors import ConfigError, InvalidRequest
from filegate.providers.azure_openai import AzureOpenAIProvider
from filegate.providers.openai import OpenAIProvider
from filegate.records import ExpiresAfter

__all__ = ["PROVIDERS", "Target", "form_fields", "parse_expires_after", "resolve"]

FILEGATE_API_BASE = "http://localhost:4000/v1"
PROVIDERS = ("openai", "azure", "filegate")
# Providers LiteLLM knows whose Files API filegate does not speak yet.
NOT_YET = ("vertex_ai", "gemini", "bedrock", "anthropic")
_RESERVED_FIELDS = ("file", "purpose", "expires_after")


class _GatewayProvider(OpenAIProvider):
    """A filegate gateway: OpenAI's wire format, with purposes and expiry judged by the
    gateway against its own targets rather than by OpenAI's rules here."""

    name = "filegate"

    def check_purpose(self, purpose: str) -> None:
        pass

    def check_expires_after(self, expires_after: ExpiresAfter) -> None:
        pass


# Loading the CA bundle takes 100+ ms; one context serves every call (an
# SSLContext is safe to share across threads and event loops).
_ssl_context: Any = None
_ssl_lock = threading.Lock()


def _transport() -> httpx2.AsyncHTTPTransport:
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx2.create_ssl_context()
    return httpx2.AsyncHTTPTransport(verify=_ssl_context)


@dataclass(frozen=True, slots=True)
class Target:
    """Where one call goes and how to reach it."""

    provider: str
    options: dict[str, Any]

    def build(self) -> OpenAIProvider:
        """A fresh adapter; the caller closes it (``aclose()``)."""
        cls = {"azure": AzureOpenAIProvider, "filegate": _GatewayProvider}.get(
            self.provider, OpenAIProvider
        )
        provider: OpenAIProvider = cls(**self.options, transport=_transport())
        return provider

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[OpenAIProvider]:
        """A fresh adapter, closed on exit."""
        provider = self.build()
        try:
            yield provider
        finally:
            await provider.aclose()


def _env_names(provider: str, param: str) -> str:
    for name, variables in PROVIDER_ENV_VARS[provider]:
        if name == param:
            return " or ".join(variables)
    return "?"


def _missing(provider: str, param: str, also: str = "") -> ConfigError:
    return ConfigError(
        f"{provider}: no {param}; pass {param}=...{also} or set {_env_names(provider, param)}"
    )


def _check_provider(custom_llm_provider: object) -> str:
    if custom_llm_provider in PROVIDERS:
        return str(custom_llm_provider)
    if custom_llm_provider in NOT_YET:
        raise InvalidRequest(
            f"custom_llm_provider={custom_llm_provider!r} is not supported by filegate yet; "
            f"supported: {', '.join(PROVIDERS)}.",
            param="custom_llm_provider",
            code="unsupported_provider",
        )
    raise InvalidRequest(
        f"unknown custom_llm_provider {custom_llm_provider!r}; supported: {', '.join(PROVIDERS)} "
        "(any OpenAI-compatible server works with 'openai' and its api_base).",
        param="custom_llm_provider",
        code="unsupported_provider",
    )


def _unused(provider: str, **values: object) -> None:
    for param, value in values.items():
        if value is not None:
            raise InvalidRequest(
                f"{provider} does not use {param}; it would be ignored, so it is refused.",
                param=param,
                code="unsupported_parameter",
            )


def _target(
    provider: str,
    *,
    api_key: str | None,
    api_base: str | None,
    api_version: str | None,
    organization: str | None,
    azure_ad_token: str | None,
    extra_headers: Mapping[str, str] | None,
    timeout: float | None,
    max_retries: int | None,
) -> Target:
    env = provider_env(provider)
    options: dict[str, Any] = {"extra_headers": dict(extra_headers or {})}
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise InvalidRequest("timeout must be a number of seconds > 0", param="timeout")
        options["timeout"] = float(timeout)
    if max_retries is not None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidRequest("max_retries must be an integer >= 0", param="max_retries")
        options["max_retries"] = max_retries
    if provider == "azure":
        _unused(provider, organization=organization)
        options["api_base"] = api_base or env.get("api_base")
        if not options["api_base"]:
            raise _missing(provider, "api_base")
        if api_key or azure_ad_token:
            options.update(api_key=api_key, azure_ad_token=azure_ad_token)
        elif env.get("api_key") or env.get("azure_ad_token"):
            options.update(api_key=env.get("api_key"), azure_ad_token=env.get("azure_ad_token"))
        else:
            raise _missing(provider, "api_key", " (or azure_ad_token=...)")
        options["api_version"] = api_version or env.get("api_version")
        return Target(provider, options)
    _unused(provider, api_version=api_version, azure_ad_token=azure_ad_token)
    options["api_key"] = api_key or env.get("api_key")
    if provider == "filegate":
        _unused(provider, organization=organization)
        options["api_base"] = api_base or env.get("api_base") or FILEGATE_API_BASE
        return Target(provider, options)
    if not options["api_key"]:
        raise _missing(provider, "api_key")
    options["api_base"] = api_base or env.get("api_base")
    options["organization"] = organization or env.get("organization")
    options["project"] = env.get("project")
    return Target(provider, options)


def _split_kwargs(kwargs: dict[str, Any]) -> str | None:
    """The ``azure_ad_token`` among ``kwargs``; refuses any other unknown name."""
    unknown = sorted(k for k in kwargs if k != "azure_ad_token" and not k.startswith("litellm_"))
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise TypeError(f"unexpected keyword argument(s): {names}")
    token = kwargs.get("azure_ad_token")
    if token is not None and not isinstance(token, str):
        raise TypeError("azure_ad_token must be a str")
    return token


def form_fields(provider: str, extra_body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``extra_body`` of a create as extra multipart fields, where they can be honoured."""
    if provider == "azure":
        # Azure ignores form fields it does not know, so they could not be honoured.
        raise InvalidRequest(
            f"azure cannot take extra_body fields on create ({', '.join(map(repr, extra_body))}).",
            param="extra_body",
            code="unsupported_parameter",
        )
    fields: list[tuple[str, str]] = []
    for name, value in extra_body.items():
        if name in _RESERVED_FIELDS or name.startswith("expires_after["):
            raise InvalidRequest(
                f"extra_body[{name!r}]: pass it as the function's own parameter.",
                param="extra_body",
            )
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str | int | float):
            raise InvalidRequest(
                f"extra_body[{name!r}]: a form field takes a string or a number.",
                param="extra_body",
            )
        fields.append((str(name), str(value)))
    return fields


def _extra_body(
    provider: str, op: str, extra_body: Mapping[str, Any] | None, token: str | None
) -> tuple[dict[str, Any], str | None]:
    """(fields left in ``extra_body``, azure_ad_token); refuses fields ``op`` cannot send."""
    body = dict(extra_body or {})
    if provider == "azure" and "azure_ad_token" in body:
        # Older LiteLLM releases take the Azure token from extra_body.
        token = token or body.pop("azure_ad_token")
    if body and op != "create":
        raise InvalidRequest(
            f"{op} sends no body, so extra_body ({', '.join(map(repr, body))}) cannot be honoured.",
            param="extra_body",
            code="unsupported_parameter",
        )
    return body, token


def parse_expires_after(value: object) -> ExpiresAfter | None:
    """LiteLLM's ``{"anchor": "created_at", "seconds": N}`` (or an ``ExpiresAfter``)."""
    if value is None or isinstance(value, ExpiresAfter):
        return value
    if not isinstance(value, Mapping):
        hint = (
            "; custom_llm_provider comes after it, so pass that by keyword"
            if isinstance(value, str)
            else ""
        )
        raise TypeError(
            "expires_after must be a mapping {'anchor': 'created_at', 'seconds': N}, "
            f"not {type(value).__name__}{hint}"
        )
    extra = set(value) - {"anchor", "seconds"}
    if extra:
        raise InvalidRequest(
            f"expires_after takes 'anchor' and 'seconds', not {', '.join(map(repr, extra))}.",
            param="expires_after",
        )
    anchor, seconds = value.get("anchor", "created_at"), value.get("seconds")
    if anchor != "created_at":
        raise InvalidRequest(
            "expires_after[anchor] must be 'created_at'.", param="expires_after[anchor]"
        )
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise InvalidRequest(
            "expires_after[seconds] must be an integer.", param="expires_after[seconds]"
        )
    return ExpiresAfter(seconds=seconds, anchor=anchor)


def resolve(
    op: str,
    custom_llm_provider: object,
    extra_body: Mapping[str, Any] | None,
    kwargs: dict[str, Any],
    **options: Any,
) -> tuple[Target, dict[str, Any]]:
    """The target of one ``op`` call and the ``extra_body`` fields left for it to send."""
    token = _split_kwargs(kwargs)
    provider = _check_provider(custom_llm_provider)
    body, token = _extra_body(provider, op, extra_body, token)
    return _target(provider, azure_ad_token=token, **options), body
