"""The Batch functions, with LiteLLM's names and parameters, async first.

As the Files functions (``sdk/files.py``): each call resolves where to go
(``custom_llm_provider`` plus explicit credentials, else the provider's environment
variables), opens a provider adapter for the call and closes it again. With
``custom_llm_provider="filegate"`` the call goes through a filegate gateway (filegate
ids everywhere; the gateway routes the batch to the deployment holding the file);
otherwise straight to the provider, with the provider's own ids. A provider without a
Batch API raises ``InvalidRequest`` before anything is sent. Errors: see
``help(filegate)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Protocol, cast

from filegate.errors import InvalidRequest
from filegate.providers.base import BatchesProvider, ProviderBatch, batching
from filegate.records import ExpiresAfter
from filegate.sdk.batch_types import Batch, BatchPage
from filegate.sdk.portal import sync_twin
from filegate.sdk.targets import SDKProvider, expires_after_argument, required_text, resolve

__all__ = [
    "acancel_batch",
    "acreate_batch",
    "alist_batches",
    "aretrieve_batch",
    "cancel_batch",
    "create_batch",
    "list_batches",
    "retrieve_batch",
]


class ListingBatches(Protocol):
    """A Batch API that lists the provider's own batches (OpenAI's wire does)."""

    async def list_batches(
        self, *, limit: int | None, after: str | None
    ) -> tuple[list[ProviderBatch], bool]: ...


def _runner(provider: SDKProvider, name: str) -> BatchesProvider:
    runner = batching(provider)
    if runner is None:
        raise InvalidRequest(
            f"{name} has no Batch API here (this deployment or API version).",
            param="custom_llm_provider",
            code="unsupported_provider",
        )
    return runner


async def acreate_batch(
    completion_window: str,
    endpoint: str,
    input_file_id: str,
    custom_llm_provider: str = "openai",
    metadata: Mapping[str, str] | None = None,
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    *,
    output_expires_after: Mapping[str, Any] | ExpiresAfter | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    organization: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - LiteLLM's per-request HTTP timeout
    max_retries: int | None = None,
    **kwargs: Any,
) -> Batch:
    """Start a batch over ``input_file_id`` (a ``batch`` file) for ``endpoint``.

    ``extra_body`` fields go in the JSON body (to a gateway: routing fields such as
    ``model`` naming a deployment). ``output_expires_after`` is ``{"anchor":
    "created_at", "seconds": N}``.
    """
    expiry = expires_after_argument(output_expires_after)
    target, body = resolve(
        "create",
        custom_llm_provider,
        extra_body,
        kwargs,
        api_key=api_key,
        api_base=api_base,
        api_version=api_version,
        organization=organization,
        extra_headers=extra_headers,
        timeout=timeout,
        max_retries=max_retries,
    )
    required_text(input_file_id, "input_file_id")
    async with target.connect() as provider:
        runner = _runner(provider, target.provider)
        if body:
            if "extra_body" not in inspect.signature(runner.create_batch).parameters:
                raise InvalidRequest(
                    f"{target.provider} cannot take extra_body fields on a batch create.",
                    param="extra_body",
                    code="unsupported_parameter",
                )
            made = await runner.create_batch(  # type: ignore[call-arg]
                input_file_id=input_file_id,
                endpoint=endpoint,
                completion_window=completion_window,
                metadata=dict(metadata) if metadata is not None else None,
                output_expires_after=expiry,
                extra_body=body,
            )
        else:
            made = await runner.create_batch(
                input_file_id=input_file_id,
                endpoint=endpoint,
                completion_window=completion_window,
                metadata=dict(metadata) if metadata is not None else None,
                output_expires_after=expiry,
            )
    return Batch.from_provider(made)


async def aretrieve_batch(
    batch_id: str,
    custom_llm_provider: str = "openai",
    metadata: Mapping[str, str] | None = None,
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    organization: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - LiteLLM's per-request HTTP timeout
    max_retries: int | None = None,
    **kwargs: Any,
) -> Batch:
    """A batch as the provider (or gateway) says it is now; ``FileNotFound`` if unknown.

    ``metadata`` is LiteLLM's own bookkeeping there and is not sent."""
    target, _ = resolve(
        "retrieve",
        custom_llm_provider,
        extra_body,
        kwargs,
        api_key=api_key,
        api_base=api_base,
        api_version=api_version,
        organization=organization,
        extra_headers=extra_headers,
        timeout=timeout,
        max_retries=max_retries,
    )
    async with target.connect() as provider:
        runner = _runner(provider, target.provider)
        return Batch.from_provider(await runner.retrieve_batch(required_text(batch_id, "batch_id")))


async def acancel_batch(
    batch_id: str,
    custom_llm_provider: str = "openai",
    metadata: Mapping[str, str] | None = None,
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    organization: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - LiteLLM's per-request HTTP timeout
    max_retries: int | None = None,
    **kwargs: Any,
) -> Batch:
    """Ask for a batch to be cancelled; the batch as it is then (``cancelling``)."""
    target, _ = resolve(
        "cancel",
        custom_llm_provider,
        extra_body,
        kwargs,
        api_key=api_key,
        api_base=api_base,
        api_version=api_version,
        organization=organization,
        extra_headers=extra_headers,
        timeout=timeout,
        max_retries=max_retries,
    )
    async with target.connect() as provider:
        runner = _runner(provider, target.provider)
        return Batch.from_provider(await runner.cancel_batch(required_text(batch_id, "batch_id")))


async def alist_batches(
    after: str | None = None,
    limit: int | None = None,
    custom_llm_provider: str = "openai",
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    organization: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - LiteLLM's per-request HTTP timeout
    max_retries: int | None = None,
    **kwargs: Any,
) -> BatchPage:
    """One page of batches, newest first, ``limit`` long, after the id ``after``; iterate
    the page to walk every batch."""
    target, _ = resolve(
        "list",
        custom_llm_provider,
        extra_body,
        kwargs,
        api_key=api_key,
        api_base=api_base,
        api_version=api_version,
        organization=organization,
        extra_headers=extra_headers,
        timeout=timeout,
        max_retries=max_retries,
    )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidRequest("limit must be an integer.", param="limit")

    async def fetch(cursor: str | None) -> BatchPage:
        async with target.connect() as provider:
            runner = _runner(provider, target.provider)
            if not callable(getattr(runner, "list_batches", None)):
                raise InvalidRequest(
                    f"{target.provider} cannot list batches here.",
                    param="custom_llm_provider",
                    code="unsupported_provider",
                )
            lister = cast(ListingBatches, runner)
            data, has_more = await lister.list_batches(limit=limit, after=cursor)
        return BatchPage([Batch.from_provider(b) for b in data], has_more, fetch)

    return await fetch(after)


create_batch = sync_twin(acreate_batch, "create_batch")
retrieve_batch = sync_twin(aretrieve_batch, "retrieve_batch")
cancel_batch = sync_twin(acancel_batch, "cancel_batch")
list_batches = sync_twin(alist_batches, "list_batches")
