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
    ``"vertex_ai"`` Vertex AI: files are objects in a Google Cloud Storage bucket, and a
                   ``purpose="batch"`` file is also written in Vertex's batch format (its
                   content comes back as sent). ``gcs_bucket_name`` or
                   ``GCS_BUCKET_NAME`` (required; ``"bucket/prefix"`` puts the files under
                   a prefix); ``vertex_credentials`` or ``GOOGLE_APPLICATION_CREDENTIALS``
                   (a service-account JSON file's path, its JSON text, or a dict; else
                   Application Default Credentials); ``vertex_project`` /
                   ``VERTEXAI_PROJECT`` and ``vertex_location`` / ``VERTEXAI_LOCATION``;
                   ``STORAGE_EMULATOR_HOST`` sends the requests to a GCS emulator
                   (unauthenticated unless credentials are given). File ids are
                   ``gs://bucket/object``. ``api_key``, ``api_base``, ``organization``,
                   ``api_version``, ``extra_body`` and ``expires_after`` (GCS has no
                   per-object expiry; only a gateway's sweep could honour it) are refused.
    ``"filegate"`` A filegate gateway. ``api_base`` or ``FILEGATE_API_BASE`` (default
                   ``http://localhost:4000/v1``); ``api_key`` or ``FILEGATE_API_KEY``
                   (optional: a gateway without a master key needs none).

Every option is either honoured or refused before a byte is sent: an unknown
keyword argument raises ``TypeError`` (names starting with ``litellm_``, which
LiteLLM adds for its own bookkeeping, are accepted and ignored); a known one the
chosen provider does not use raises ``InvalidRequest``; missing credentials
raise ``ConfigError`` naming the parameter and the environment variable.

What each provider takes is its own package's ``spec`` (``providers.registry``
lists them); this module holds what every SDK call shares.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2

from filegate.config import provider_env
from filegate.core.params import parse_expires_after
from filegate.errors import InvalidRequest, UpstreamUnreachable
from filegate.providers import registry
from filegate.providers.base import Provider, ProviderFile, UploadSource
from filegate.providers.spec import SDKCall, unused
from filegate.records import ExpiresAfter

__all__ = [
    "PROVIDERS",
    "SDKProvider",
    "Target",
    "expires_after_argument",
    "form_fields",
    "required_text",
    "resolve",
]

# Where an SDK call may go: the registry's providers and a filegate gateway.
PROVIDERS = tuple(registry.SDK_TARGETS)
FILEGATE_API_BASE = registry.FILEGATE_API_BASE
# Providers LiteLLM knows whose Files API filegate does not speak yet.
NOT_YET = ("gemini", "bedrock", "anthropic")
# Keyword arguments some providers take (LiteLLM's names), beyond the common ones.
SDK_PARAMS = tuple(p for spec in registry.SDK_TARGETS.values() for p in spec.sdk_params)
_RESERVED_FIELDS = ("file", "purpose", "expires_after")


class SDKProvider(Provider, Protocol):
    """A provider adapter as the SDK calls it: a create may carry extra form fields."""

    async def create_file(
        self,
        source: UploadSource,
        *,
        filename: str,
        purpose: str,
        content_type: str,
        expires_after: ExpiresAfter | None,
        extra_fields: Sequence[tuple[str, str]] = (),
    ) -> ProviderFile: ...


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

    def build(self) -> SDKProvider:
        """A fresh adapter; the caller closes it (``aclose()``)."""
        cls: Callable[..., SDKProvider] = registry.spec(self.provider).sdk_class()
        return cls(**self.options, transport=_transport())

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[SDKProvider]:
        """A fresh adapter, closed on exit; a failure to connect names the URL tried."""
        provider = self.build()
        try:
            with naming_urls():
                yield provider
        finally:
            await provider.aclose()


@contextlib.contextmanager
def naming_urls() -> Iterator[None]:
    """Name the URL in a failure to connect: the caller chose it (a gateway does not
    tell its tenants where its upstreams are; the SDK tells its caller)."""
    try:
        yield
    except UpstreamUnreachable as exc:
        raise exc.naming_url() from exc


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


def _common_options(
    extra_headers: Mapping[str, str] | None, timeout: float | None, max_retries: int | None
) -> dict[str, Any]:
    options: dict[str, Any] = {"extra_headers": dict(extra_headers or {})}
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise InvalidRequest("timeout must be a number of seconds > 0", param="timeout")
        options["timeout"] = float(timeout)
    if max_retries is not None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidRequest("max_retries must be an integer >= 0", param="max_retries")
        options["max_retries"] = max_retries
    return options


def _target(
    provider: str,
    *,
    api_key: str | None,
    api_base: str | None,
    api_version: str | None,
    organization: str | None,
    extra_headers: Mapping[str, str] | None,
    timeout: float | None,
    max_retries: int | None,
    **extras: Any,
) -> Target:
    spec = registry.spec(provider)
    # Another provider's arguments would be ignored here, so they are refused.
    unused(provider, **{p: extras.get(p) for p in SDK_PARAMS if p not in spec.sdk_params})
    call = SDKCall(api_key, api_base, api_version, organization, extras)
    options = _common_options(extra_headers, timeout, max_retries)
    return Target(provider, spec.sdk_options(call, provider_env(provider), options))


def _split_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The provider-specific arguments among ``kwargs``; refuses any other unknown name."""
    known = SDK_PARAMS
    unknown = sorted(k for k in kwargs if k not in known and not k.startswith("litellm_"))
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise TypeError(f"unexpected keyword argument(s): {names}")
    extras = {k: kwargs[k] for k in known if kwargs.get(k) is not None}
    for name, value in extras.items():
        if name == "vertex_credentials":
            if not isinstance(value, str | Mapping):
                raise TypeError("vertex_credentials must be a path, JSON text (str) or a mapping")
        elif not isinstance(value, str):
            raise TypeError(f"{name} must be a str")
    return extras


def form_fields(provider: str, extra_body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``extra_body`` of a create as extra multipart fields, where they can be honoured."""
    if not registry.spec(provider).form_fields:
        raise InvalidRequest(
            f"{provider} cannot take extra_body fields on create "
            f"({', '.join(map(repr, extra_body))}).",
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
    provider: str, op: str, extra_body: Mapping[str, Any] | None, extras: dict[str, Any]
) -> dict[str, Any]:
    """The fields left in ``extra_body``; refuses fields ``op`` cannot send. Takes
    ``azure_ad_token`` out of it into ``extras``."""
    body = dict(extra_body or {})
    for name in registry.spec(provider).extra_body_params:
        if name not in body:
            continue
        # Older LiteLLM releases take some arguments (Azure's token) from extra_body.
        value = body.pop(name)
        if name not in extras and value is not None:
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str")
            extras[name] = value
    if body and op != "create":
        raise InvalidRequest(
            f"{op} sends no body, so extra_body ({', '.join(map(repr, body))}) cannot be honoured.",
            param="extra_body",
            code="unsupported_parameter",
        )
    return body


def expires_after_argument(value: object) -> ExpiresAfter | None:
    """LiteLLM's ``{"anchor": "created_at", "seconds": N}`` (or an ``ExpiresAfter``).

    The Python shape is checked here; the values by ``core.params``, all but the
    range, which the provider or gateway called judges against its own.
    """
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
    if not isinstance(anchor, str):
        anchor = repr(anchor)
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        # An int, not the wire's digits: the SDK takes Python values.
        raise InvalidRequest(
            "expires_after[seconds] must be an integer.", param="expires_after[seconds]"
        )
    return parse_expires_after(anchor, seconds, bounded=False)


def required_text(value: object, param: str) -> str:
    """An id argument (``file_id``, ``batch_id``, ...): a non-empty string, else a 400
    naming ``param``, before any request is made."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{param} must be a non-empty string.", param=param)
    return value


def resolve(
    op: str,
    custom_llm_provider: object,
    extra_body: Mapping[str, Any] | None,
    kwargs: dict[str, Any],
    **options: Any,
) -> tuple[Target, dict[str, Any]]:
    """The target of one ``op`` call and the ``extra_body`` fields left for it to send."""
    extras = _split_kwargs(kwargs)
    provider = _check_provider(custom_llm_provider)
    body = _extra_body(provider, op, extra_body, extras)
    return _target(provider, **options, **extras), body
