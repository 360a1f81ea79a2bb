"""Vertex AI supervised tuning: a fine-tuning job is a ``tuningJobs`` job over converted copies.

The training and validation files' objects hold Vertex's supervised-tuning examples
(``create_file`` converts OpenAI's chat lines, see ``tuning_lines``), so their ``gs://``
ids are the job's datasets. OpenAI's create body maps onto a ``TuningJob``: ``model`` is
the ``baseModel``, ``n_epochs`` and ``learning_rate_multiplier`` its hyperparameters,
``suffix`` the tuned model's display name; what Vertex has no equivalent for (a batch
size, a seed, integrations, DPO or reinforcement) is refused, never dropped. States map
to OpenAI's, ``fine_tuned_model`` is the tuned model's endpoint, checkpoints are the
tuned model's, and events are made from the job's own times (Vertex keeps no event log).
Vertex writes no results file, so ``result_files`` stays empty.

Mixed into ``VertexAIProvider``, whose Vertex AI clients (``vertex``: retried reads,
``vertex_create``: a create sent once), project and location it uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from filegate.errors import FileNotFound, InvalidRequest
from filegate.google.gcs_client import GCSClient
from filegate.providers.base import ProviderItems, ProviderJob
from filegate.providers.vertex_ai.objects import ROLE, parse_gs_id
from filegate.providers.vertex_ai.output_lines import rfc3339_epoch
from filegate.upstream.client import WireClient

STATES = {
    "JOB_STATE_UNSPECIFIED": "validating_files",
    "JOB_STATE_PENDING": "validating_files",
    "JOB_STATE_QUEUED": "queued",
    "JOB_STATE_RUNNING": "running",
    "JOB_STATE_UPDATING": "running",
    # Still running until Vertex says it stopped.
    "JOB_STATE_CANCELLING": "running",
    "JOB_STATE_PAUSED": "paused",
    "JOB_STATE_SUCCEEDED": "succeeded",
    "JOB_STATE_PARTIALLY_SUCCEEDED": "succeeded",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_EXPIRED": "failed",
    "JOB_STATE_CANCELLED": "cancelled",
}
RPC_CODES = (
    *("ok", "cancelled", "unknown", "invalid_argument", "deadline_exceeded", "not_found"),
    *("already_exists", "permission_denied", "resource_exhausted", "failed_precondition"),
    *("aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss"),
    "unauthenticated",
)
TUNING_ROLE = "vertex_tuning"
_JOB_NAME = re.compile(r"projects/[^/]+/locations/[a-z0-9-]+/tuningJobs/\d{1,30}")
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
_BODY_KEYS = {
    "model",
    "training_file",
    "validation_file",
    "hyperparameters",
    "method",
    "suffix",
    "metadata",
}
_HYPERPARAMETERS = {"n_epochs": "epochCount", "learning_rate_multiplier": "learningRateMultiplier"}
DISPLAY_NAME_MAX = 128


def _refuse(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"vertex_ai: {message}", param=param, code="unsupported_parameter")


def _hyperparameters(body: Mapping[str, Any]) -> dict[str, Any]:
    method = body.get("method")
    where, given = "hyperparameters", body.get("hyperparameters")
    if isinstance(method, Mapping):
        if method.get("type") != "supervised":
            raise _refuse(
                "method.type",
                f"Vertex AI tunes with the supervised method only, not {method.get('type')!r}.",
            )
        inner = (method.get("supervised") or {}).get("hyperparameters")
        if inner is not None:
            if given is not None:
                raise InvalidRequest(
                    "Give hyperparameters in 'method' or at the top level, not both.",
                    param="hyperparameters",
                )
            where, given = "method.supervised.hyperparameters", inner
    out: dict[str, Any] = {}
    for key, value in dict(given or {}).items():
        if value == "auto" or value is None:
            continue
        theirs = _HYPERPARAMETERS.get(key)
        if theirs is None:
            raise _refuse(f"{where}.{key}", f"Vertex AI has no {key} to set (it picks its own).")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidRequest(
                f"Invalid type for '{where}.{key}': expected a number or 'auto'.",
                param=f"{where}.{key}",
                code="invalid_type",
            )
        if key == "n_epochs" and (not float(value).is_integer() or value < 1):
            raise InvalidRequest(
                f"Invalid value for '{where}.n_epochs': expected a whole number of at least 1.",
                param=f"{where}.n_epochs",
                code="invalid_value",
            )
        out[theirs] = int(value) if key == "n_epochs" else value
    return out


def tuning_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI's create body (file ids the ``gs://`` ids of converted copies) as a TuningJob."""
    for key, value in body.items():
        if key not in _BODY_KEYS and value is not None:
            raise _refuse(key, f"Vertex AI tuning has no equivalent of {key!r}.")
    spec: dict[str, Any] = {"trainingDatasetUri": body["training_file"]}
    if body.get("validation_file"):
        spec["validationDatasetUri"] = body["validation_file"]
    hyper = _hyperparameters(body)
    if hyper:
        spec["hyperParameters"] = hyper
    job: dict[str, Any] = {"baseModel": body["model"], "supervisedTuningSpec": spec}
    suffix = body.get("suffix")
    if isinstance(suffix, str) and suffix:
        job["tunedModelDisplayName"] = suffix[:DISPLAY_NAME_MAX]
    labels = {
        k: v
        for k, v in dict(body.get("metadata") or {}).items()
        if _LABEL_KEY.fullmatch(k) and _LABEL_VALUE.fullmatch(v)
    }
    if labels:
        job["labels"] = labels
    return job


def _int64(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def job_from_vertex(doc: Mapping[str, Any]) -> ProviderJob:
    """A TuningJob as a ProviderJob in OpenAI's vocabulary."""
    status = STATES.get(str(doc.get("state") or ""), "running")
    spec = doc.get("supervisedTuningSpec") or {}
    params = spec.get("hyperParameters") or {}
    tuned = doc.get("tunedModel") or {}
    hyperparameters: dict[str, Any] = {
        "batch_size": "auto",
        "learning_rate_multiplier": params.get("learningRateMultiplier", "auto"),
        "n_epochs": _int64(params.get("epochCount")) or "auto",
    }
    job = ProviderJob(
        id=str(doc.get("name") or ""),
        status=status,
        model=str(doc.get("baseModel") or ""),
        training_file=str(spec.get("trainingDatasetUri") or ""),
        validation_file=spec.get("validationDatasetUri") or None,
        created_at=rfc3339_epoch(doc.get("createTime")),
        hyperparameters=hyperparameters,
        method={"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
        user_provided_suffix=doc.get("tunedModelDisplayName") or None,
        raw=dict(doc),
    )
    if status in ("succeeded", "failed", "cancelled") and doc.get("endTime"):
        job.finished_at = rfc3339_epoch(doc["endTime"])
    if status == "succeeded":
        endpoint = tuned.get("endpoint") or tuned.get("model")
        job.fine_tuned_model = str(endpoint) if endpoint else None
        stats = (doc.get("tuningDataStats") or {}).get("supervisedTuningDataStats") or {}
        job.trained_tokens = _int64(stats.get("totalBillableTokenCount"))
    error = doc.get("error")
    if status == "failed" and isinstance(error, Mapping):
        code = error.get("code")
        name = RPC_CODES[code] if isinstance(code, int) and 0 < code < len(RPC_CODES) else "unknown"
        job.error = {
            "code": f"vertex_ai_{name}",
            "message": str(error.get("message") or "The Vertex AI tuning job failed."),
            "param": None,
        }
    return job


def _page(items: list[dict[str, Any]], after: str | None, limit: int) -> ProviderItems:
    """Newest first, after the item with id ``after``."""
    if after is not None:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return ProviderItems(data=items[:limit], has_more=len(items) > limit)


def job_events(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What can be said of a job from its own times, newest first."""
    job = job_from_vertex(doc)
    short = job.id.rsplit("/", 1)[-1]
    said: list[tuple[str, str, str]] = [
        ("createTime", f"Created fine-tuning job: {job.id}", "info")
    ]
    if doc.get("startTime"):
        said.append(("startTime", "Fine-tuning job started", "info"))
    if doc.get("endTime"):
        if job.status == "succeeded":
            said.append(
                ("endTime", f"New fine-tuned model created: {job.fine_tuned_model}", "info")
            )
        elif job.status == "failed":
            message = (job.error or {}).get("message") or "The job failed"
            said.append(("endTime", str(message), "error"))
        elif job.status == "cancelled":
            said.append(("endTime", "Fine-tuning job cancelled", "info"))
    events = [
        {
            "object": "fine_tuning.job.event",
            "id": f"ftevent-{short}-{n}",
            "created_at": rfc3339_epoch(doc.get(stamp)),
            "level": level,
            "message": message,
            "data": {},
            "type": "message",
        }
        for n, (stamp, message, level) in enumerate(said)
    ]
    return list(reversed(events))


def job_checkpoints(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The tuned model's checkpoints, newest first."""
    job = job_from_vertex(doc)
    tuned = doc.get("tunedModel") or {}
    out = []
    for cp in tuned.get("checkpoints") or []:
        if not isinstance(cp, Mapping):
            continue
        step = _int64(cp.get("step")) or 0
        out.append(
            {
                "object": "fine_tuning.job.checkpoint",
                "id": f"ftckpt-{job.id.rsplit('/', 1)[-1]}-{cp.get('checkpointId', step)}",
                "created_at": job.finished_at or job.created_at,
                "fine_tuned_model_checkpoint": str(cp.get("endpoint") or tuned.get("model") or ""),
                "fine_tuning_job_id": job.id,
                "metrics": {"step": float(step)},
                "step_number": step,
            }
        )
    return sorted(out, key=lambda c: c["step_number"], reverse=True)


async def _once(data: bytes) -> Any:
    yield data


class VertexFineTuning:
    """The FineTuningProvider capability over Vertex AI's ``tuningJobs``."""

    name: str
    gcs: GCSClient
    vertex: WireClient
    vertex_create: WireClient
    batch_project: str | None
    batch_location: str

    @property
    def supports_fine_tuning(self) -> bool:
        return self.batch_project is not None

    @property
    def supports_pause(self) -> bool:
        return False

    def _tuning_collection(self) -> str:
        project = quote(self.batch_project or "", safe="")
        return f"/v1/projects/{project}/locations/{self.batch_location}/tuningJobs"

    def _tuning_path(self, job_id: str) -> str:
        if job_id.isdigit() and len(job_id) <= 30:
            return f"{self._tuning_collection()}/{job_id}"
        if _JOB_NAME.fullmatch(job_id) is None:
            raise FileNotFound(
                f"Could not find fine-tuning job: {job_id[:128]}", param="fine_tuning_job_id"
            )
        return f"/v1/{job_id}"

    async def _check_dataset(self, file_id: str, param: str) -> None:
        try:
            doc = await self.gcs.metadata(*parse_gs_id(file_id))
        except FileNotFound:
            raise FileNotFound(f"No such File object: {file_id[:128]}", param=param) from None
        if (doc.get("metadata") or {}).get(ROLE) != TUNING_ROLE:
            raise InvalidRequest(
                f"{self.name}: {param} was not uploaded with purpose 'fine-tune', so it holds "
                "no Vertex AI tuning examples.",
                param=param,
                code="invalid_file",
            )

    async def create_fine_tuning_job(self, body: dict[str, Any]) -> ProviderJob:
        job = tuning_body(body)
        await self._check_dataset(body["training_file"], "training_file")
        if body.get("validation_file"):
            await self._check_dataset(body["validation_file"], "validation_file")
        raw = orjson.dumps(job)
        doc = await self.vertex_create.json(
            "POST",
            self._tuning_collection(),
            headers={"Content-Type": "application/json", "Content-Length": str(len(raw))},
            body=lambda: _once(raw),
            retry_unsafe=False,
        )
        made = job_from_vertex(doc)
        made.metadata = dict(body.get("metadata") or {}) or None
        return made

    async def _get(self, job_id: str) -> dict[str, Any]:
        try:
            return await self.vertex.json("GET", self._tuning_path(job_id))
        except FileNotFound:
            raise FileNotFound(
                f"Could not find fine-tuning job: {job_id[:128]}", param="fine_tuning_job_id"
            ) from None

    async def retrieve_fine_tuning_job(self, job_id: str) -> ProviderJob:
        return job_from_vertex(await self._get(job_id))

    async def cancel_fine_tuning_job(self, job_id: str) -> ProviderJob:
        path = self._tuning_path(job_id)
        try:
            await self.vertex.json(
                "POST",
                f"{path}:cancel",
                headers={"Content-Type": "application/json", "Content-Length": "2"},
                body=lambda: _once(b"{}"),
            )
        except FileNotFound:
            raise FileNotFound(
                f"Could not find fine-tuning job: {job_id[:128]}", param="fine_tuning_job_id"
            ) from None
        except InvalidRequest as exc:
            job = await self.retrieve_fine_tuning_job(job_id)
            if job.status == "cancelled":
                return job
            raise InvalidRequest(
                f"Cannot cancel a fine-tuning job with status '{job.status}'.",
                param="fine_tuning_job_id",
                code="invalid_status",
            ) from exc
        return await self.retrieve_fine_tuning_job(job_id)

    async def pause_fine_tuning_job(self, job_id: str) -> ProviderJob:
        raise InvalidRequest(
            f"{self.name} cannot pause fine-tuning jobs.", param="fine_tuning_job_id"
        )

    async def resume_fine_tuning_job(self, job_id: str) -> ProviderJob:
        raise InvalidRequest(
            f"{self.name} cannot resume fine-tuning jobs.", param="fine_tuning_job_id"
        )

    async def list_fine_tuning_events(
        self, job_id: str, *, after: str | None, limit: int
    ) -> ProviderItems:
        return _page(job_events(await self._get(job_id)), after, limit)

    async def list_fine_tuning_checkpoints(
        self, job_id: str, *, after: str | None, limit: int
    ) -> ProviderItems:
        return _page(job_checkpoints(await self._get(job_id)), after, limit)
