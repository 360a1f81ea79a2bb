"""The fine-tuning functions, with LiteLLM's names and parameters, async first.

As the Files functions (``sdk/files.py``): each call resolves where to go
(``custom_llm_provider`` plus explicit credentials, else the provider's environment
variables), opens a provider adapter for the call and closes it again. With
``custom_llm_provider="filegate"`` the call goes through a filegate gateway (filegate
ids everywhere; the gateway runs the job at the deployment holding the training file);
otherwise straight to the provider, with the provider's own ids. A provider without
fine-tuning raises ``InvalidRequest`` before anything is sent. Errors: see
``help(filegate)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

from filegate.errors import InvalidRequest
from filegate.providers.base import FineTuningProvider, ProviderJob, tuning
from filegate.sdk.fine_tuning_types import FineTuningJob, FineTuningJobPage
from filegate.sdk.portal import sync_twin
from filegate.sdk.targets import SDKProvider, required_text, resolve

__all__ = [
    "acancel_fine_tuning_job",
    "acreate_fine_tuning_job",
    "alist_fine_tuning_checkpoints",
    "alist_fine_tuning_events",
    "alist_fine_tuning_jobs",
    "apause_fine_tuning_job",
    "aresume_fine_tuning_job",
    "aretrieve_fine_tuning_job",
    "cancel_fine_tuning_job",
    "create_fine_tuning_job",
    "list_fine_tuning_checkpoints",
    "list_fine_tuning_events",
    "list_fine_tuning_jobs",
    "pause_fine_tuning_job",
    "resume_fine_tuning_job",
    "retrieve_fine_tuning_job",
]


class ListingJobs(Protocol):
    """A fine-tuning API that lists the provider's own jobs (OpenAI's wire does)."""

    async def list_fine_tuning_jobs(
        self, *, after: str | None, limit: int | None
    ) -> tuple[list[ProviderJob], bool]: ...


def _runner(provider: SDKProvider, name: str) -> FineTuningProvider:
    runner = tuning(provider)
    if runner is None:
        raise InvalidRequest(
            f"{name} has no fine-tuning jobs here (this deployment or API version).",
            param="custom_llm_provider",
            code="unsupported_provider",
        )
    return runner


def _connection(
    api_key: str | None,
    api_base: str | None,
    api_version: str | None,
    organization: str | None,
    extra_headers: Mapping[str, str] | None,
    timeout: float | None,
    max_retries: int | None,
) -> dict[str, Any]:
    return {
        "api_key": api_key,
        "api_base": api_base,
        "api_version": api_version,
        "organization": organization,
        "extra_headers": extra_headers,
        "timeout": timeout,
        "max_retries": max_retries,
    }


async def acreate_fine_tuning_job(
    model: str,
    training_file: str,
    hyperparameters: Mapping[str, Any] | None = None,
    suffix: str | None = None,
    validation_file: str | None = None,
    integrations: Sequence[Any] | None = None,
    seed: int | None = None,
    custom_llm_provider: str = "openai",
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    *,
    method: Mapping[str, Any] | None = None,
    metadata: Mapping[str, str] | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    organization: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - LiteLLM's per-request HTTP timeout
    max_retries: int | None = None,
    **kwargs: Any,
) -> FineTuningJob:
    """Start a job training ``model`` on ``training_file`` (a ``fine-tune`` file).

    ``hyperparameters`` (``n_epochs``, ``batch_size``, ``learning_rate_multiplier``) and
    ``method`` (``{"type": "supervised"|"dpo"|"reinforcement", ...}``) go to the provider
    as they are. ``extra_body`` fields go in the JSON body (to a gateway: routing fields
    such as ``custom_llm_provider`` or ``target_model_names``). Never retried once sent.
    """
    target, body = resolve(
        "create",
        custom_llm_provider,
        extra_body,
        kwargs,
        **_connection(
            api_key, api_base, api_version, organization, extra_headers, timeout, max_retries
        ),
    )
    request: dict[str, Any] = {
        "model": required_text(model, "model"),
        "training_file": required_text(training_file, "training_file"),
    }
    optional: dict[str, Any] = {
        "validation_file": validation_file,
        "hyperparameters": dict(hyperparameters) if hyperparameters else None,
        "method": dict(method) if method is not None else None,
        "suffix": suffix,
        "seed": seed,
        "integrations": list(integrations) if integrations is not None else None,
        "metadata": dict(metadata) if metadata is not None else None,
    }
    request.update({k: v for k, v in optional.items() if v is not None})
    request.update(body)
    async with target.connect() as provider:
        made = await _runner(provider, target.provider).create_fine_tuning_job(request)
    return FineTuningJob.from_provider(made)


async def aretrieve_fine_tuning_job(
    fine_tuning_job_id: str,
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
) -> FineTuningJob:
    """A job as the provider (or gateway) says it is now; ``FileNotFound`` if unknown."""
    target, _ = resolve(
        "retrieve",
        custom_llm_provider,
        extra_body,
        kwargs,
        **_connection(
            api_key, api_base, api_version, organization, extra_headers, timeout, max_retries
        ),
    )
    job_id = required_text(fine_tuning_job_id, "fine_tuning_job_id")
    async with target.connect() as provider:
        job = await _runner(provider, target.provider).retrieve_fine_tuning_job(job_id)
    return FineTuningJob.from_provider(job)


async def _act(
    action: str,
    fine_tuning_job_id: str,
    custom_llm_provider: str,
    extra_body: Mapping[str, Any] | None,
    kwargs: dict[str, Any],
    connection: dict[str, Any],
) -> FineTuningJob:
    target, _ = resolve(action, custom_llm_provider, extra_body, kwargs, **connection)
    job_id = required_text(fine_tuning_job_id, "fine_tuning_job_id")
    async with target.connect() as provider:
        runner = _runner(provider, target.provider)
        if action == "cancel":
            job = await runner.cancel_fine_tuning_job(job_id)
        else:
            if not runner.supports_pause:
                raise InvalidRequest(
                    f"{target.provider} cannot pause or resume fine-tuning jobs here "
                    "(this deployment or API version).",
                    param="custom_llm_provider",
                    code="unsupported_provider",
                )
            if action == "pause":
                job = await runner.pause_fine_tuning_job(job_id)
            else:
                job = await runner.resume_fine_tuning_job(job_id)
    return FineTuningJob.from_provider(job)


async def acancel_fine_tuning_job(
    fine_tuning_job_id: str,
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
) -> FineTuningJob:
    """Ask the provider to cancel a job; the job as it stands after the request."""
    return await _act(
        "cancel",
        fine_tuning_job_id,
        custom_llm_provider,
        extra_body,
        kwargs,
        _connection(
            api_key, api_base, api_version, organization, extra_headers, timeout, max_retries
        ),
    )


async def apause_fine_tuning_job(
    fine_tuning_job_id: str,
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
) -> FineTuningJob:
    """Pause a running job (beyond LiteLLM's functions: OpenAI's ``.../pause``); the job
    as it stands after the request. A provider without pause raises ``InvalidRequest``
    before anything is sent."""
    return await _act(
        "pause",
        fine_tuning_job_id,
        custom_llm_provider,
        extra_body,
        kwargs,
        _connection(
            api_key, api_base, api_version, organization, extra_headers, timeout, max_retries
        ),
    )


async def aresume_fine_tuning_job(
    fine_tuning_job_id: str,
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
) -> FineTuningJob:
    """Resume a paused job (OpenAI's ``.../resume``); as ``apause_fine_tuning_job``."""
    return await _act(
        "resume",
        fine_tuning_job_id,
        custom_llm_provider,
        extra_body,
        kwargs,
        _connection(
            api_key, api_base, api_version, organization, extra_headers, timeout, max_retries
        ),
    )


async def alist_fine_tuning_jobs(
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
) -> FineTuningJobPage:
    """One page of jobs, newest first; ``after`` is the previous page's last id. The page
    fetches the pages after it (``anext_page()``, or ``async for`` over every job)."""
    target, _ = resolve(
        "list",
        custom_llm_provider,
        extra_body,
        kwargs,
        **_connection(
            api_key, api_base, api_version, organization, extra_headers, timeout, max_retries
        ),
    )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidRequest("limit must be an integer.", param="limit")

    async def fetch(cursor: str | None) -> FineTuningJobPage:
        async with target.connect() as provider:
            _runner(provider, target.provider)
            if not callable(getattr(provider, "list_fine_tuning_jobs", None)):
                raise InvalidRequest(
                    f"{target.provider} cannot list fine-tuning jobs.",
                    param="custom_llm_provider",
                    code="unsupported_provider",
                )
            lister = cast(ListingJobs, provider)
            jobs, has_more = await lister.list_fine_tuning_jobs(after=cursor, limit=limit)
        return FineTuningJobPage([FineTuningJob.from_provider(j) for j in jobs], has_more, fetch)

    return await fetch(after)


async def _items(
    what: str,
    fine_tuning_job_id: str,
    after: str | None,
    limit: int | None,
    custom_llm_provider: str,
    extra_body: Mapping[str, Any] | None,
    kwargs: dict[str, Any],
    connection: dict[str, Any],
) -> dict[str, Any]:
    target, _ = resolve("list", custom_llm_provider, extra_body, kwargs, **connection)
    job_id = required_text(fine_tuning_job_id, "fine_tuning_job_id")
    async with target.connect() as provider:
        runner = _runner(provider, target.provider)
        if what == "events":
            items = await runner.list_fine_tuning_events(job_id, after=after, limit=limit or 20)
        else:
            items = await runner.list_fine_tuning_checkpoints(
                job_id, after=after, limit=limit or 10
            )
    return {"object": "list", "data": items.data, "has_more": items.has_more}


async def alist_fine_tuning_events(
    fine_tuning_job_id: str,
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
) -> dict[str, Any]:
    """A job's events, newest first (OpenAI's list object: ``data``, ``has_more``)."""
    return await _items(
        "events",
        fine_tuning_job_id,
        after,
        limit,
        custom_llm_provider,
        extra_body,
        kwargs,
        _connection(
            api_key, api_base, api_version, organization, extra_headers, timeout, max_retries
        ),
    )


async def alist_fine_tuning_checkpoints(
    fine_tuning_job_id: str,
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
) -> dict[str, Any]:
    """A job's checkpoints, newest first (OpenAI's list object)."""
    return await _items(
        "checkpoints",
        fine_tuning_job_id,
        after,
        limit,
        custom_llm_provider,
        extra_body,
        kwargs,
        _connection(
            api_key, api_base, api_version, organization, extra_headers, timeout, max_retries
        ),
    )


create_fine_tuning_job = sync_twin(acreate_fine_tuning_job, "create_fine_tuning_job")
retrieve_fine_tuning_job = sync_twin(aretrieve_fine_tuning_job, "retrieve_fine_tuning_job")
cancel_fine_tuning_job = sync_twin(acancel_fine_tuning_job, "cancel_fine_tuning_job")
pause_fine_tuning_job = sync_twin(apause_fine_tuning_job, "pause_fine_tuning_job")
resume_fine_tuning_job = sync_twin(aresume_fine_tuning_job, "resume_fine_tuning_job")
list_fine_tuning_jobs = sync_twin(alist_fine_tuning_jobs, "list_fine_tuning_jobs")
list_fine_tuning_events = sync_twin(alist_fine_tuning_events, "list_fine_tuning_events")
list_fine_tuning_checkpoints = sync_twin(
    alist_fine_tuning_checkpoints, "list_fine_tuning_checkpoints"
)
