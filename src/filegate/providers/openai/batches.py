"""OpenAI's Batch API (``/v1/batches``), mixed into the OpenAI provider (and Azure's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from filegate.errors import UpstreamError
from filegate.providers.base import BATCH_STATUSES, BATCH_TIMESTAMPS, ProviderBatch
from filegate.records import ExpiresAfter
from filegate.upstream.client import WireClient

_JSON = {"Content-Type": "application/json"}


def _text(value: object) -> str | None:
    # A file not made yet is null at OpenAI and "" at Azure (on 2025 API versions).
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _status(value: object) -> str:
    status = str(value or "").strip().lower().replace(" ", "_")
    if status in BATCH_STATUSES:
        return status
    # A status this code does not know yet is taken as still running, so it is
    # asked about again rather than frozen as finished.
    return "in_progress"


def batch_from_openai(doc: Mapping[str, Any], provider: str) -> ProviderBatch:
    """A Batch object in OpenAI's shape (Azure's is the same but for a few spellings)."""
    batch_id = doc.get("id")
    if not isinstance(batch_id, str) or not batch_id:
        raise UpstreamError(f"{provider}: the upstream answered without a batch id.")
    errors = doc.get("errors")
    if isinstance(errors, list):
        errors = {"object": "list", "data": errors}
    counts = doc.get("request_counts")
    request_counts = None
    if isinstance(counts, Mapping):
        request_counts = {k: _int(counts.get(k)) or 0 for k in ("total", "completed", "failed")}
    timestamps = {
        name: stamp for name in BATCH_TIMESTAMPS if (stamp := _int(doc.get(name))) is not None
    }
    metadata = doc.get("metadata")
    usage = doc.get("usage")
    return ProviderBatch(
        id=batch_id,
        status=_status(doc.get("status")),
        endpoint=str(doc.get("endpoint") or ""),
        input_file_id=str(doc.get("input_file_id") or ""),
        completion_window=str(doc.get("completion_window") or "24h"),
        created_at=_int(doc.get("created_at")) or 0,
        output_file_id=_text(doc.get("output_file_id")),
        error_file_id=_text(doc.get("error_file_id")),
        errors=errors if isinstance(errors, dict) else None,
        request_counts=request_counts,
        timestamps=timestamps,
        metadata=dict(metadata) if isinstance(metadata, Mapping) else None,
        model=_text(doc.get("model")),
        usage=dict(usage) if isinstance(usage, Mapping) else None,
        raw=dict(doc),
    )


class OpenAIBatches:
    """The BatchesProvider capability over OpenAI's wire format."""

    name: str
    wire: WireClient

    @property
    def supports_batches(self) -> bool:
        return True

    def _batch_path(self, *parts: str) -> str:
        return "/".join(("/batches", *parts))

    def _batch(self, doc: dict[str, Any]) -> ProviderBatch:
        return batch_from_openai(doc, self.name)

    def check_output_expires_after(self, expires_after: ExpiresAfter) -> None:
        """Raise ``InvalidRequest`` if this deployment cannot expire a batch's output."""

    async def create_batch(
        self,
        *,
        input_file_id: str,
        endpoint: str,
        completion_window: str,
        metadata: dict[str, str] | None,
        output_expires_after: ExpiresAfter | None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> ProviderBatch:
        """Start a batch; ``extra_body`` fields go in the JSON body for the upstream to judge."""
        body: dict[str, Any] = {
            "input_file_id": input_file_id,
            "endpoint": endpoint,
            "completion_window": completion_window,
        }
        if metadata is not None:
            body["metadata"] = metadata
        if output_expires_after is not None:
            self.check_output_expires_after(output_expires_after)
            body["output_expires_after"] = {
                "anchor": output_expires_after.anchor,
                "seconds": output_expires_after.seconds,
            }
        body.update(extra_body or {})
        data = orjson.dumps(body)

        async def content() -> Any:
            yield data

        doc = await self.wire.json(
            "POST", self._batch_path(), body=content, retry_unsafe=False, headers=_JSON
        )
        return self._batch(doc)

    async def retrieve_batch(self, batch_id: str) -> ProviderBatch:
        return self._batch(await self.wire.json("GET", self._batch_path(batch_id)))

    async def cancel_batch(self, batch_id: str) -> ProviderBatch:
        async def content() -> Any:
            yield b"{}"

        doc = await self.wire.json(
            "POST", self._batch_path(batch_id, "cancel"), body=content, headers=_JSON
        )
        return self._batch(doc)

    async def list_batches(
        self, *, limit: int | None, after: str | None
    ) -> tuple[list[ProviderBatch], bool]:
        """One page of the provider's own batches (the SDK's list; filegate lists its catalog)."""
        doc = await self.wire.json(
            "GET", self._batch_path(), params={"limit": limit, "after": after}
        )
        data = [self._batch(d) for d in doc.get("data") or [] if isinstance(d, dict)]
        has_more = doc.get("has_more")
        if not isinstance(has_more, bool):
            has_more = bool(data) and limit is not None and len(data) >= limit
        return data, has_more
