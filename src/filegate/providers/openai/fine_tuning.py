"""OpenAI's fine-tuning jobs API (``/v1/fine_tuning/jobs``), mixed into the OpenAI provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from filegate.errors import UpstreamError
from filegate.providers.base import JOB_STATUSES, ProviderItems, ProviderJob
from filegate.upstream.client import WireClient

_JSON = {"Content-Type": "application/json"}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _object(value: object) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None


def job_status(value: object, aliases: Mapping[str, str] | None = None) -> str:
    status = str(value or "").strip().lower()
    status = (aliases or {}).get(status, status)
    if status in JOB_STATUSES:
        return status
    # A status this code does not know yet is taken as still running, so it is
    # asked about again rather than frozen as finished.
    return "running"


def job_from_openai(
    doc: Mapping[str, Any], provider: str, aliases: Mapping[str, str] | None = None
) -> ProviderJob:
    """A FineTuningJob in OpenAI's shape (Azure's is the same but for a few spellings)."""
    job_id = doc.get("id")
    if not isinstance(job_id, str) or not job_id:
        raise UpstreamError(f"{provider}: the upstream answered without a fine-tuning job id.")
    error = _object(doc.get("error"))
    if error is not None and not any(error.get(k) for k in ("code", "message")):
        error = None  # OpenAI writes {} for "no error" on some jobs
    if error is not None:
        error = {
            "code": str(error.get("code") or "error"),
            "message": str(error.get("message") or ""),
            "param": error.get("param") if isinstance(error.get("param"), str) else None,
        }
    results = doc.get("result_files")
    integrations = doc.get("integrations")
    metadata = doc.get("metadata")
    suffix = doc.get("user_provided_suffix", doc.get("suffix"))
    return ProviderJob(
        id=job_id,
        status=job_status(doc.get("status"), aliases),
        model=str(doc.get("model") or ""),
        training_file=str(doc.get("training_file") or ""),
        validation_file=_text(doc.get("validation_file")),
        created_at=_int(doc.get("created_at")) or 0,
        fine_tuned_model=_text(doc.get("fine_tuned_model")),
        finished_at=_int(doc.get("finished_at")),
        trained_tokens=_int(doc.get("trained_tokens")),
        error=error,
        hyperparameters=_object(doc.get("hyperparameters")),
        method=_object(doc.get("method")),
        seed=_int(doc.get("seed")),
        estimated_finish=_int(doc.get("estimated_finish")),
        integrations=list(integrations) if isinstance(integrations, list) else None,
        user_provided_suffix=_text(suffix),
        organization_id=_text(doc.get("organization_id")),
        result_files=[f for f in results if isinstance(f, str) and f]
        if isinstance(results, list)
        else [],
        metadata=dict(metadata) if isinstance(metadata, Mapping) else None,
        raw=dict(doc),
    )


def _items(doc: Mapping[str, Any], limit: int) -> ProviderItems:
    data = [dict(d) for d in doc.get("data") or [] if isinstance(d, Mapping)]
    has_more = doc.get("has_more")
    if not isinstance(has_more, bool):
        has_more = len(data) >= limit
    return ProviderItems(data=data, has_more=has_more)


async def _once(data: bytes) -> Any:
    yield data


class OpenAIFineTuning:
    """The FineTuningProvider capability over OpenAI's wire format."""

    name: str
    wire: WireClient

    @property
    def supports_fine_tuning(self) -> bool:
        return True

    @property
    def supports_pause(self) -> bool:
        return True

    def _job_path(self, *parts: str) -> str:
        return "/".join(("/fine_tuning/jobs", *parts))

    def _job(self, doc: dict[str, Any]) -> ProviderJob:
        return job_from_openai(doc, self.name)

    def _create_body(self, body: dict[str, Any]) -> dict[str, Any]:
        return body

    async def create_fine_tuning_job(self, body: dict[str, Any]) -> ProviderJob:
        data = orjson.dumps(self._create_body(body))
        doc = await self.wire.json(
            "POST",
            self._job_path(),
            body=lambda: _once(data),
            retry_unsafe=False,
            headers=_JSON,
        )
        return self._job(doc)

    async def retrieve_fine_tuning_job(self, job_id: str) -> ProviderJob:
        return self._job(await self.wire.json("GET", self._job_path(job_id)))

    async def _action(self, job_id: str, action: str) -> ProviderJob:
        doc = await self.wire.json(
            "POST", self._job_path(job_id, action), body=lambda: _once(b"{}"), headers=_JSON
        )
        return self._job(doc)

    async def cancel_fine_tuning_job(self, job_id: str) -> ProviderJob:
        return await self._action(job_id, "cancel")

    async def pause_fine_tuning_job(self, job_id: str) -> ProviderJob:
        return await self._action(job_id, "pause")

    async def resume_fine_tuning_job(self, job_id: str) -> ProviderJob:
        return await self._action(job_id, "resume")

    async def list_fine_tuning_events(
        self, job_id: str, *, after: str | None, limit: int
    ) -> ProviderItems:
        doc = await self.wire.json(
            "GET", self._job_path(job_id, "events"), params={"after": after, "limit": limit}
        )
        return _items(doc, limit)

    async def list_fine_tuning_checkpoints(
        self, job_id: str, *, after: str | None, limit: int
    ) -> ProviderItems:
        doc = await self.wire.json(
            "GET", self._job_path(job_id, "checkpoints"), params={"after": after, "limit": limit}
        )
        return _items(doc, limit)

    async def list_fine_tuning_jobs(
        self, *, after: str | None, limit: int | None
    ) -> tuple[list[ProviderJob], bool]:
        """One page of the provider's own jobs, newest first (the SDK's list; a gateway
        lists its catalog)."""
        doc = await self.wire.json("GET", self._job_path(), params={"after": after, "limit": limit})
        data = [self._job(d) for d in doc.get("data") or [] if isinstance(d, dict)]
        has_more = doc.get("has_more")
        if not isinstance(has_more, bool):
            has_more = bool(data) and limit is not None and len(data) >= limit
        return data, has_more
