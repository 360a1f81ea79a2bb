"""The fake upstream's Fine-tuning jobs API: OpenAI's ``/v1/fine_tuning/jobs`` and Azure's.

A job is a state machine advanced lazily whenever it is looked at, like a batch: each status
lasts its configured number of seconds (``ft_*_seconds``; null holds it until an admin call).
Its training and validation files are checked at create (they must exist on that surface, have
purpose ``fine-tune`` and, on Azure, be processed) and read line by line while the job
validates; training then runs step by step, emitting metrics events and checkpoints, and a
finished job gets a results CSV in the fake's Files API and a ``fine_tuned_model``. The user
manual is in ``upstream.py``'s docstring.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import shutil
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tests.fakes.calls import (
    Call,
    JsonCall,
    azure_version_at_least,
    json_endpoint,
)
from tests.fakes.checks import (
    admin_body,
    admin_count,
    admin_items,
    admin_target,
    bad_type,
    check_metadata,
    cursor_page,
    missing_fields,
    parse_limit,
    unknown_fields,
)
from tests.fakes.fine_tuning_checks import (
    check_hyperparameters,
    check_integrations,
    check_method,
    check_seed,
    check_suffix,
    check_training_file,
)
from tests.fakes.state import (
    AdminError,
    Api,
    BlobWriter,
    Setting,
    StoredFile,
    Surface,
    UpstreamState,
    is_duration,
    keep_bytes,
    rand_alnum,
)

CREATE_FIELDS = (
    "model",
    "training_file",
    "validation_file",
    "hyperparameters",
    "method",
    "suffix",
    "seed",
    "metadata",
    "integrations",
)
STATUSES = (
    "validating_files",
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "paused",
)
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
FORWARD = ("validating_files", "queued", "running", "succeeded")
# Azure's dated API names its states FineTuningState (2024-10-21: created, pending, running,
# succeeded, cancelled, failed; "paused" from the 2025 previews): validating and queued jobs
# are both "pending". The v1 surface speaks OpenAI's names.
AZURE_DATED_STATUS = {
    "validating_files": "pending",
    "queued": "pending",
    "running": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
    "paused": "paused",
}
AZURE_PAUSE_SINCE = "2025-04-01"  # pause/resume in the dated API's 2025-04-01-preview
OPENAI_SUFFIX_MAX, AZURE_SUFFIX_MAX = 64, 40
LIST_DEFAULT, EVENTS_DEFAULT, CHECKPOINTS_DEFAULT, PAGE_MAX = 20, 20, 10, 100
MAX_METRIC_EVENTS = 100
KEPT_CHECKPOINTS = 3  # checkpoints of the last three epochs are kept, as OpenAI documents
DEFAULT_ORGANIZATION = "org-fakeupstream"
# The resolved snapshot an alias trains (OpenAI answers with the snapshot in ``model``).
OPENAI_ALIASES = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
    "o4-mini": "o4-mini-2025-04-16",
}
FT_MODELS = sorted(
    {
        *OPENAI_ALIASES,
        *OPENAI_ALIASES.values(),
        "gpt-3.5-turbo-1106",
        "davinci-002",
        "babbage-002",
        # Azure's names for the same base models
        "gpt-35-turbo-0613",
        "gpt-35-turbo-1106",
        "gpt-35-turbo-0125",
        "gpt-4-0613",
    }
)


def _is_models(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))


FT_SETTINGS: dict[str, Setting] = {
    "ft_validating_files_seconds": Setting(0, is_duration, "seconds >= 0 or null"),
    "ft_queued_seconds": Setting(0, is_duration, "seconds >= 0 or null"),
    "ft_running_seconds": Setting(0, is_duration, "seconds >= 0 or null"),
    "ft_min_examples": Setting(
        10, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1"
    ),
    "ft_models": Setting(FT_MODELS, _is_models, "a list of model names or null (any)"),
}
DURATION_KEYS = {
    "validating_files": "ft_validating_files_seconds",
    "queued": "ft_queued_seconds",
    "running": "ft_running_seconds",
}


@dataclass
class StoredJob:
    id: str
    surface: Surface
    api: Api
    model: str
    training_file: str
    training_path: Path
    validation_file: str | None
    validation_path: Path | None
    method: dict[str, Any]
    hyperparameters: dict[str, Any]
    suffix: str | None
    seed: int
    metadata: dict[str, str] | None
    integrations: list[dict[str, Any]] | None
    organization_id: str
    created_at: int
    seq: int
    entered: float
    status: str = "validating_files"
    finished_at: int | None = None
    error: dict[str, Any] | None = None
    fine_tuned_model: str | None = None
    result_files: list[str] = field(default_factory=list)
    trained_tokens: int | None = None
    examples: int = 0
    tokens_per_epoch: int = 0
    steps_per_epoch: int = 0
    total_steps: int = 0
    step: int = 0
    step_at_entry: int = 0
    fail_at_end: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    metrics: BlobWriter | None = None

    @property
    def kind(self) -> str:
        return str(self.method["type"])


class FakeFineTuning:
    def __init__(self, state: UpstreamState) -> None:
        self.state = state
        self.jobs: dict[str, StoredJob] = {}
        self.dir = state.state_dir / "fine_tuning"
        state.reset_hooks.append(self.reset)
        self.reset()

    def reset(self) -> None:
        for job in self.jobs.values():
            if job.metrics is not None:
                job.metrics.discard()
        self.jobs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)

    # -- routes ----------------------------------------------------------------------------------
    def routes(self, prefix: str, api: Api) -> list[BaseRoute]:
        def ep(op: str, handler: Any, available: Any = None) -> Any:
            return json_endpoint(self.state, api, op, handler, available=available)

        base = f"{prefix}/fine_tuning/jobs"
        one = f"{base}/{{job_id}}"
        routes: list[BaseRoute] = [
            Route(base, ep("ft_create", self.create), methods=["POST"]),
            Route(base, ep("ft_list", self.list_jobs), methods=["GET"]),
            Route(one, ep("ft_retrieve", self.retrieve), methods=["GET"]),
            Route(f"{one}/cancel", ep("ft_cancel", self.cancel), methods=["POST"]),
            Route(f"{one}/events", ep("ft_events", self.events), methods=["GET"]),
            Route(f"{one}/checkpoints", ep("ft_checkpoints", self.checkpoints), methods=["GET"]),
            Route(f"{one}/pause", ep("ft_pause", self.pause, self.pausable), methods=["POST"]),
            Route(f"{one}/resume", ep("ft_resume", self.resume, self.pausable), methods=["POST"]),
        ]
        if api == "azure-classic":  # only Azure's dated API deletes jobs
            routes.append(Route(one, ep("ft_delete", self.delete), methods=["DELETE"]))
        return routes

    @staticmethod
    def pausable(call: Call) -> bool:
        return call.api != "azure-classic" or azure_version_at_least(call, AZURE_PAUSE_SINCE)

    # -- create ----------------------------------------------------------------------------------
    async def create(self, call: JsonCall) -> Response:
        body = call.body or {}
        problem = unknown_fields(call, body, CREATE_FIELDS) or missing_fields(
            call, body, ("model", "training_file")
        )
        if problem is not None:
            return problem
        for name in ("model", "training_file", "validation_file"):
            if body.get(name) is not None and not isinstance(body[name], str):
                return bad_type(call, name, "a string", body[name])
        model = self._model(call, body["model"])
        if isinstance(model, Response):
            return model
        method = self._method(call, body)
        if isinstance(method, Response):
            return method
        if method["type"] == "reinforcement" and not model.startswith("o"):
            return call.invalid(
                f"Model {model} does not support the reinforcement method.",
                param="method.type",
                code="invalid_value",
            )
        extras = self._extras(call, body)
        if isinstance(extras, Response):
            return extras
        training = self._file(call, body["training_file"], "training_file")
        if isinstance(training, Response):
            return training
        validation: StoredFile | None = None
        if body.get("validation_file") is not None:
            checked = self._file(call, body["validation_file"], "validation_file")
            if isinstance(checked, Response):
                return checked
            validation = checked
        job = self._store(call, model, method, training, validation, extras)
        if call.api == "azure-classic":
            location = f"{str(call.request.base_url).rstrip('/')}/openai/fine_tuning/jobs/{job.id}"
            return call.json(201, self.wire(job, call.api), {"location": location})
        return call.json(200, self.wire(job, call.api))

    def _model(self, call: Call, model: str) -> str | Response:
        allowed = self.state.config["ft_models"]
        fine_tuned = model.startswith("ft:") or ".ft-" in model
        if allowed is not None and model not in allowed and not fine_tuned:
            return call.invalid(
                f"Model {model} is not available for fine-tuning or does not exist.",
                param="model",
                code="model_not_available",
            )
        return OPENAI_ALIASES.get(model, model) if call.surface == "openai" else model

    def _method(self, call: Call, body: dict[str, Any]) -> dict[str, Any] | Response:
        top = body.get("hyperparameters")
        if body.get("method") is None:
            method: dict[str, Any] = {"type": "supervised", "supervised": {}}
        else:
            checked = check_method(call, body["method"])
            if isinstance(checked, Response):
                return checked
            method = checked
        detail = method[method["type"]]
        if top is not None:
            if "hyperparameters" in detail:
                return call.invalid(
                    "Give hyperparameters in 'method' or at the top level, not both.",
                    param="hyperparameters",
                )
            if method["type"] != "supervised":
                return call.invalid(
                    "Top-level 'hyperparameters' apply to supervised jobs only; give them in "
                    f"'method.{method['type']}.hyperparameters'.",
                    param="hyperparameters",
                )
            hp = check_hyperparameters(call, top, "supervised", "hyperparameters")
            if isinstance(hp, Response):
                return hp
            detail["hyperparameters"] = hp
        return method

    def _extras(self, call: Call, body: dict[str, Any]) -> dict[str, Any] | Response:
        out: dict[str, Any] = {"suffix": None, "seed": None, "metadata": None, "integrations": None}
        if body.get("suffix") is not None:
            limit = OPENAI_SUFFIX_MAX if call.surface == "openai" else AZURE_SUFFIX_MAX
            suffix = check_suffix(call, body["suffix"], limit)
            if isinstance(suffix, Response):
                return suffix
            out["suffix"] = suffix
        if body.get("seed") is not None:
            seed = check_seed(call, body["seed"])
            if isinstance(seed, Response):
                return seed
            out["seed"] = seed
        metadata = check_metadata(call, body.get("metadata"))
        if isinstance(metadata, Response):
            return metadata
        out["metadata"] = metadata
        if body.get("integrations") is not None:
            integrations = check_integrations(call, body["integrations"])
            if isinstance(integrations, Response):
                return integrations
            out["integrations"] = integrations
        return out

    def _file(self, call: Call, file_id: str, param: str) -> StoredFile | Response:
        f = self.state.get(call.surface, file_id)
        if f is None:
            if call.surface == "openai":
                return call.openai_error(400, f"invalid {param}: {file_id}", param=param)
            return call.azure_error(
                404, "notFound", f"File with id '{file_id}' not found.", param=param
            )
        if f.purpose != "fine-tune":
            return call.invalid(
                f"File {file_id} has purpose '{f.purpose}'; {param} needs a file uploaded with "
                "purpose 'fine-tune'.",
                param=param,
                code="invalid_value",
            )
        if (
            call.surface == "azure"
            and self.state.config["azure_require_processed_files"]
            and f.status != "processed"
        ):
            return call.invalid(
                f"The file {file_id} is not yet processed (status '{f.status}'); wait until "
                "its status is 'processed'.",
                param=param,
            )
        return f

    def _link(self, job_id: str, f: StoredFile, role: str) -> Path:
        return keep_bytes(f.path, self.dir / f"{job_id}.{role}.jsonl")

    def _store(
        self,
        call: Call,
        model: str,
        method: dict[str, Any],
        training: StoredFile,
        validation: StoredFile | None,
        extras: dict[str, Any],
    ) -> StoredJob:
        now = time.time()
        if call.surface == "openai":
            job_id = "ftjob-" + rand_alnum(24)
        else:
            job_id = "ftjob-" + uuid.uuid4().hex
        hp = method[method["type"]].get("hyperparameters", {})
        requested = {
            name: hp.get(name, "auto")
            for name in ("batch_size", "learning_rate_multiplier", "n_epochs")
        }
        job = StoredJob(
            id=job_id,
            surface=call.surface,
            api=call.api,
            model=model,
            training_file=training.id,
            training_path=self._link(job_id, training, "training"),
            validation_file=validation.id if validation else None,
            validation_path=self._link(job_id, validation, "validation") if validation else None,
            method=method,
            hyperparameters=requested,
            suffix=extras["suffix"],
            seed=extras["seed"] if extras["seed"] is not None else secrets.randbelow(2**31),
            metadata=extras["metadata"],
            integrations=extras["integrations"],
            organization_id=call.request.headers.get("openai-organization") or DEFAULT_ORGANIZATION,
            created_at=int(now),
            seq=self.state.next_seq(),
            entered=now,
        )
        self.jobs[job_id] = job
        call.entry["job_id"] = job_id
        self._event(job, now, f"Created fine-tuning job: {job.id}")
        files = f"Validating training file: {job.training_file}"
        if job.validation_file:
            files += f" and validation file: {job.validation_file}"
        self._event(job, now, files)
        return job

    # -- read, list, cancel, pause, resume, delete ----------------------------------------------
    def find(self, call: Call) -> StoredJob | Response:
        job_id = call.request.path_params["job_id"]
        job = self.jobs.get(job_id)
        if job is None or job.surface != call.surface:
            if call.surface == "openai":
                return call.openai_error(
                    404, f"Could not find fine-tuning job: {job_id}", param="fine_tuning_job_id"
                )
            return call.azure_error(
                404,
                "notFound",
                f"Fine-tuning job with id '{job_id}' not found.",
                param="fine_tuning_job_id",
            )
        self.settle(job, time.time())
        return job

    async def retrieve(self, call: JsonCall) -> Response:
        job = self.find(call)
        return job if isinstance(job, Response) else call.json(200, self.wire(job, call.api))

    async def list_jobs(self, call: JsonCall) -> Response:
        limit = parse_limit(call, LIST_DEFAULT, PAGE_MAX)
        if isinstance(limit, Response):
            return limit
        wanted, no_metadata = self._metadata_filter(call)
        now = time.time()
        mine = [j for j in self.jobs.values() if j.surface == call.surface]
        for job in mine:
            self.settle(job, now)
        if no_metadata:
            mine = [j for j in mine if not j.metadata]
        mine = [j for j in mine if all((j.metadata or {}).get(k) == v for k, v in wanted.items())]
        mine.sort(key=lambda j: (j.created_at, j.seq), reverse=True)
        after = call.request.query_params.get("after")
        render = partial(self.wire, api=call.api)
        page = cursor_page(mine, [j.id for j in mine], after, limit, render, with_ids=False)
        return call.json(200, page)

    @staticmethod
    def _metadata_filter(call: Call) -> tuple[dict[str, str], bool]:
        """``metadata[k]=v`` pairs (all must match); ``metadata=null`` asks for jobs without."""
        if call.api == "azure-classic":
            return {}, False  # the dated API has no metadata filter
        wanted: dict[str, str] = {}
        no_metadata = False
        for key, value in call.request.query_params.multi_items():
            if key == "metadata" and value == "null":
                no_metadata = True
            elif key.startswith("metadata[") and key.endswith("]"):
                wanted[key[len("metadata[") : -1]] = value
        return wanted, no_metadata

    async def cancel(self, call: JsonCall) -> Response:
        job = self.find(call)
        if isinstance(job, Response):
            return job
        if job.status in TERMINAL:
            return self._wrong_state(call, job, "cancel")
        self._cancel(job, time.time())
        return call.json(200, self.wire(job, call.api))

    async def pause(self, call: JsonCall) -> Response:
        job = self.find(call)
        if isinstance(job, Response):
            return job
        if job.status != "running":
            return self._wrong_state(call, job, "pause")
        self._pause(job, time.time())
        return call.json(200, self.wire(job, call.api))

    async def resume(self, call: JsonCall) -> Response:
        job = self.find(call)
        if isinstance(job, Response):
            return job
        if job.status != "paused":
            return self._wrong_state(call, job, "resume")
        self._resume(job, time.time())
        return call.json(200, self.wire(job, call.api))

    async def delete(self, call: JsonCall) -> Response:
        job = self.find(call)
        if isinstance(job, Response):
            return job
        if job.status not in TERMINAL:
            return self._wrong_state(call, job, "delete")
        del self.jobs[job.id]
        return call.finish(Response(status_code=204, headers=call.headers()))

    def _wrong_state(self, call: Call, job: StoredJob, action: str) -> Response:
        status = self.status_name(job, call.api)
        message = f"Cannot {action} a fine-tuning job with status '{status}'."
        if call.surface == "openai":
            return call.openai_error(400, message, param="fine_tuning_job_id")
        return call.azure_error(409, "unexpectedEntityState", message, param="fine_tuning_job_id")

    async def events(self, call: JsonCall) -> Response:
        return await self._sub_list(call, "events", EVENTS_DEFAULT, with_ids=False)

    async def checkpoints(self, call: JsonCall) -> Response:
        return await self._sub_list(call, "checkpoints", CHECKPOINTS_DEFAULT, with_ids=True)

    async def _sub_list(
        self, call: JsonCall, what: str, default: int, *, with_ids: bool
    ) -> Response:
        """A job's events or checkpoints, newest first."""
        job = self.find(call)
        if isinstance(job, Response):
            return job
        limit = parse_limit(call, default, PAGE_MAX)
        if isinstance(limit, Response):
            return limit
        newest = list(reversed(job.events if what == "events" else job.checkpoints))
        ids = [x["id"] for x in newest]
        after = call.request.query_params.get("after")
        return call.json(200, cursor_page(newest, ids, after, limit, dict, with_ids=with_ids))

    # -- wire shapes -----------------------------------------------------------------------------
    @staticmethod
    def status_name(job: StoredJob, api: Api) -> str:
        return AZURE_DATED_STATUS[job.status] if api == "azure-classic" else job.status

    def _estimated_finish(self, job: StoredJob) -> int | None:
        if job.status != "running":
            return None
        dur = self._duration(job)
        return None if dur is None else int(job.entered + dur)

    def wire(self, job: StoredJob, api: Api) -> dict[str, Any]:
        detail = job.method[job.kind]
        method_hp = {**self._method_defaults(job), **detail.get("hyperparameters", {})}
        if job.examples:  # known once the files are validated
            method_hp = self._resolved(job)
        method: dict[str, Any] = {
            "type": job.kind,
            job.kind: {**detail, "hyperparameters": method_hp},
        }
        top_hp = {k: method_hp[k] for k in ("batch_size", "learning_rate_multiplier", "n_epochs")}
        if api == "azure-classic":
            return self._azure_dated(job, top_hp, method)
        obj: dict[str, Any] = {
            "object": "fine_tuning.job",
            "id": job.id,
            "model": job.model,
            "created_at": job.created_at,
            "finished_at": job.finished_at,
            "fine_tuned_model": job.fine_tuned_model,
        }
        if api == "openai":
            obj["organization_id"] = job.organization_id
        obj.update(
            {
                "result_files": list(job.result_files),
                "status": job.status,
                "validation_file": job.validation_file,
                "training_file": job.training_file,
                "hyperparameters": top_hp,
                "trained_tokens": job.trained_tokens,
                "error": job.error,
                "user_provided_suffix": job.suffix,
                "seed": job.seed,
                "estimated_finish": self._estimated_finish(job),
                "integrations": job.integrations if job.integrations is not None else [],
                "metadata": job.metadata,
                "method": method,
            }
        )
        return obj

    def _azure_dated(
        self, job: StoredJob, top_hp: dict[str, Any], method: dict[str, Any]
    ) -> dict[str, Any]:
        """Azure's dated FineTuningJob: ints for hyperparameters (-1 until resolved), its own
        state names, and absent (not null) fields for what is not known yet."""
        hp = {k: (-1 if v == "auto" else v) for k, v in top_hp.items()}
        obj: dict[str, Any] = {
            "hyperparameters": hp,
            "status": self.status_name(job, "azure-classic"),
            "model": job.model,
            "fine_tuned_model": job.fine_tuned_model,
            "training_file": job.training_file,
            "validation_file": job.validation_file,
            "result_files": list(job.result_files) or None,
            "finished_at": job.finished_at,
            "trained_tokens": job.trained_tokens,
            "error": job.error,
            "estimated_finish": self._estimated_finish(job),
            "suffix": job.suffix,
            "seed": job.seed,
            "integrations": job.integrations,
            "method": method,
            "id": job.id,
            "created_at": job.created_at,
            "object": "fine_tuning.job",
        }
        return {k: v for k, v in obj.items() if v is not None}

    @staticmethod
    def _method_defaults(job: StoredJob) -> dict[str, Any]:
        out: dict[str, Any] = {
            "batch_size": "auto",
            "learning_rate_multiplier": "auto",
            "n_epochs": "auto",
        }
        if job.kind == "dpo":
            out["beta"] = "auto"
        return out

    def _resolved(self, job: StoredJob) -> dict[str, Any]:
        """The hyperparameters the job trains with: 'auto' replaced by the values picked."""
        asked = {**self._method_defaults(job), **job.method[job.kind].get("hyperparameters", {})}
        picked = {
            "batch_size": max(1, min(256, job.examples // 10)) if job.examples else 1,
            "learning_rate_multiplier": 1.8,
            "n_epochs": 3,
            "beta": 0.1,
            "reasoning_effort": "medium",
            "compute_multiplier": 1.0,
            "eval_interval": 1,
            "eval_samples": 1,
        }
        return {k: picked[k] if v == "auto" else v for k, v in asked.items()}

    def admin_view(self, job: StoredJob) -> dict[str, Any]:
        return {
            **self.wire(job, job.api if job.api != "azure-classic" else "azure-v1"),
            "surface": job.surface,
            "api": job.api,
            "step": job.step,
            "total_steps": job.total_steps,
            "examples": job.examples,
            "durations": {s: self.state.config[k] for s, k in DURATION_KEYS.items()},
            "events": len(job.events),
            "checkpoints": len(job.checkpoints),
        }

    # -- events and checkpoints ------------------------------------------------------------------
    def _event(
        self,
        job: StoredJob,
        at: float,
        message: str,
        *,
        level: str = "info",
        kind: str = "message",
        data: dict[str, Any] | None = None,
    ) -> None:
        event_id = (
            "ftevent-" + rand_alnum(24)
            if job.surface == "openai"
            else "ftevent-" + uuid.uuid4().hex
        )
        job.events.append(
            {
                "object": "fine_tuning.job.event",
                "id": event_id,
                "created_at": int(at),
                "level": level,
                "message": message,
                "data": data if data is not None else {},
                "type": kind,
            }
        )

    def _model_name(self, job: StoredJob) -> str:
        if job.surface == "azure":  # the job's own hex: curie.ft-72a2...e379f for ftjob-72a2...
            name = f"{job.model}.ft-{job.id.removeprefix('ftjob-')}"
            return f"{name}-{job.suffix}" if job.suffix else name
        digest = hashlib.sha256(job.id.encode()).hexdigest()
        org = job.organization_id.removeprefix("org-") or "personal"
        short = "".join(c for c in digest if c.isalnum())[:8]
        return f"ft:{job.model}:{org}:{job.suffix or ''}:{short}"

    # -- the state machine -----------------------------------------------------------------------
    def _duration(self, job: StoredJob) -> float | None:
        return self.state.duration(DURATION_KEYS, job.status)

    def settle(self, job: StoredJob, now: float) -> None:
        """Apply every transition that is due by ``now``, each at the time it fell due."""
        while job.status not in TERMINAL and job.status != "paused":
            dur = self._duration(job)
            due = None if dur is None else job.entered + dur
            if job.status == "running" and dur:
                at = now if due is None else min(now, due)
                share = min(1.0, max(0.0, (at - job.entered) / dur))
                target = job.step_at_entry + math.floor(
                    (job.total_steps - job.step_at_entry) * share
                )
                self._train(job, target - job.step, at)
            if due is None or due > now:
                return
            self._step(job, due)

    def _enter(self, job: StoredJob, status: str, at: float) -> None:
        job.status = status
        job.entered = at

    def _step(self, job: StoredJob, at: float) -> None:
        if job.status == "validating_files":
            self._validate(job, at)
        elif job.status == "queued":
            job.step_at_entry = job.step
            self._enter(job, "running", at)
            self._event(
                job, at, "Job started." if job.surface == "azure" else "Fine-tuning job started"
            )
        elif job.status == "running":
            self._train(job, job.total_steps - job.step, at)
            if job.fail_at_end is not None:
                self._fail(job, at, job.fail_at_end)
            else:
                self._succeed(job, at)

    def _cancel(self, job: StoredJob, at: float) -> None:
        self._discard_metrics(job)
        self._enter(job, "cancelled", at)
        self._event(
            job, at, "Job cancelled." if job.surface == "azure" else "Fine-tuning job cancelled"
        )

    def _pause(self, job: StoredJob, at: float) -> None:
        self._enter(job, "paused", at)
        self._event(job, at, "Fine-tuning job paused")

    def _resume(self, job: StoredJob, at: float) -> None:
        self._enter(job, "queued", at)
        self._event(job, at, "Fine-tuning job resumed")

    def _fail(self, job: StoredJob, at: float, error: dict[str, Any]) -> None:
        job.error = {
            "code": str(error.get("code", "server_error")),
            "message": str(error.get("message", "The job failed.")),
            "param": error.get("param"),
        }
        job.finished_at = int(at)
        self._discard_metrics(job)
        self._enter(job, "failed", at)
        self._event(job, at, job.error["message"], level="error")

    def _succeed(self, job: StoredJob, at: float) -> None:
        writer = job.metrics or BlobWriter(self.state)
        job.metrics = None
        file_id = "file-" + (rand_alnum(24) if job.surface == "openai" else uuid.uuid4().hex)
        f = writer.commit(
            file_id=file_id,
            surface=job.surface,
            purpose="fine-tune-results",
            filename="step_metrics.csv" if job.surface == "openai" else "results.csv",
            content_type="text/csv",
            created_at=int(at),
            expires_after=None,
        )
        job.result_files = [f.id]
        job.fine_tuned_model = self._model_name(job)
        job.trained_tokens = job.tokens_per_epoch * int(self._resolved(job)["n_epochs"])
        job.finished_at = int(at)
        self._enter(job, "succeeded", at)
        if job.surface == "azure":
            self._event(job, at, "Job succeeded.")
        else:
            self._event(job, at, f"New fine-tuned model created: {job.fine_tuned_model}")
            self._event(job, at, "The job has successfully completed")

    def _discard_metrics(self, job: StoredJob) -> None:
        if job.metrics is not None:
            job.metrics.discard()
            job.metrics = None

    # -- validation ------------------------------------------------------------------------------
    def _validate(self, job: StoredJob, at: float) -> None:
        checked = check_training_file(job.training_path, job.kind, "training_file", job.surface)
        if isinstance(checked, dict):
            self._fail(job, at, checked)
            return
        examples, tokens, marker = checked
        minimum = int(self.state.config["ft_min_examples"])
        if examples < minimum:
            self._fail(
                job,
                at,
                {
                    "code": "invalid_n_examples",
                    "message": f"Training file has {examples} example(s), but must have at "
                    f"least {minimum} examples",
                    "param": "training_file",
                },
            )
            return
        if job.validation_path is not None:
            v = check_training_file(job.validation_path, job.kind, "validation_file", job.surface)
            if isinstance(v, dict):
                self._fail(job, at, v)
                return
        job.examples, job.tokens_per_epoch, job.fail_at_end = examples, tokens, marker
        hp = self._resolved(job)
        job.steps_per_epoch = math.ceil(examples / int(hp["batch_size"]))
        job.total_steps = job.steps_per_epoch * int(hp["n_epochs"])
        self._enter(job, "queued", at)
        if job.surface == "azure":
            self._event(job, at, "Job enqueued. Waiting for jobs ahead to complete.")
        else:
            self._event(job, at, "Files validated, moving job to queued state")

    # -- training ---------------------------------------------------------------------------------
    def _train(self, job: StoredJob, n: int, at: float) -> None:
        """Run ``n`` training steps: a metrics row and (bounded) event each, a checkpoint at the
        end of each of the last epochs."""
        if n <= 0:
            return
        if job.metrics is None:
            job.metrics = BlobWriter(self.state)
            header = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"
            if job.surface == "azure":
                header = (
                    "step,train_loss,train_mean_token_accuracy,valid_loss,"
                    "validation_mean_token_accuracy,full_valid_loss,full_valid_mean_token_accuracy\n"
                )
            job.metrics.write(header.encode())
        every = max(1, job.total_steps // MAX_METRIC_EVENTS)
        epochs = int(self._resolved(job)["n_epochs"])
        for _ in range(n):
            job.step += 1
            m = self._metrics(job, job.step)
            if job.surface == "azure":
                row = (
                    f"{job.step},{m['train_loss']},{m['train_mean_token_accuracy']},"
                    f"{m['valid_loss']},{m['valid_mean_token_accuracy']},"
                    f"{m['full_valid_loss']},{m['full_valid_mean_token_accuracy']}\n"
                )
            else:
                row = (
                    f"{job.step},{m['train_loss']},{m['train_mean_token_accuracy']},"
                    f"{m['valid_loss']},{m['valid_mean_token_accuracy']}\n"
                )
            job.metrics.write(row.encode())
            if job.step % every == 0 or job.step == job.total_steps:
                message = f"Step {job.step}/{job.total_steps}: training loss={m['train_loss']}"
                data: dict[str, Any] = {
                    "step": job.step,
                    "train_loss": m["train_loss"],
                    "train_mean_token_accuracy": m["train_mean_token_accuracy"],
                    "total_steps": job.total_steps,
                }
                if job.validation_file:
                    message += f", validation loss={m['valid_loss']}"
                    data["valid_loss"] = m["valid_loss"]
                    data["valid_mean_token_accuracy"] = m["valid_mean_token_accuracy"]
                self._event(job, at, message, kind="metrics", data=data)
            epoch, end_of_epoch = divmod(job.step, job.steps_per_epoch)
            if end_of_epoch == 0 and epoch > epochs - KEPT_CHECKPOINTS:
                self._checkpoint(job, at, m)

    def _checkpoint(self, job: StoredJob, at: float, metrics: dict[str, float]) -> None:
        name = f"{self._model_name(job)}:ckpt-step-{job.step}"
        job.checkpoints.append(
            {
                "object": "fine_tuning.job.checkpoint",
                "id": "ftckpt_" + rand_alnum(24),
                "created_at": int(at),
                "fine_tuned_model_checkpoint": name,
                "fine_tuning_job_id": job.id,
                "metrics": {"step": float(job.step), **metrics},
                "step_number": job.step,
            }
        )
        self._event(job, at, f"Checkpoint created at step {job.step}")

    def _metrics(self, job: StoredJob, step: int) -> dict[str, float]:
        """Losses that fall as training goes on, with a little per-job noise."""
        progress = step / max(1, job.total_steps)
        noise = int(hashlib.sha256(f"{job.id}/{step}".encode()).hexdigest()[:4], 16) / 65535
        loss = round(2.0 * math.exp(-3 * progress) + 0.05 * noise, 4)
        acc = round(min(0.99, 0.5 + 0.45 * progress + 0.02 * noise), 4)
        return {
            "train_loss": loss,
            "train_mean_token_accuracy": acc,
            "valid_loss": round(loss * 1.1, 4),
            "valid_mean_token_accuracy": round(acc * 0.97, 4),
            "full_valid_loss": round(loss * 1.08, 4),
            "full_valid_mean_token_accuracy": round(acc * 0.98, 4),
        }

    # -- admin -----------------------------------------------------------------------------------
    async def admin(self, request: Request, action: str, item: str | None) -> Response | None:
        if action != "fine_tuning":
            return None
        return await admin_items(
            request,
            item,
            self.jobs,
            kind="fine_tuning",
            settle=self.settle,
            view=self.admin_view,
            drive=self.drive,
        )

    def drive(self, job: StoredJob, spec: Any, now: float) -> None:
        """``POST /__admin/fine_tuning/{id}``: train steps now, or move to a status now."""
        spec = admin_body(spec, ("status", "steps", "error"))
        n = admin_count(spec, "steps")
        if n is not None:
            if job.status != "running":
                raise AdminError(f"steps run only while running; the job is {job.status}")
            self._train(job, min(n, job.total_steps - job.step), now)
        target = admin_target(spec, STATUSES, job.status, job.status in TERMINAL, "job")
        if target is None:
            return
        if target == "failed":
            error = spec.get("error") or {}
            if not isinstance(error, dict):
                raise AdminError("error must be an object {code?, message?, param?}")
            self._fail(job, now, error)
        elif target == "cancelled":
            self._cancel(job, now)
        elif target == "paused":
            if job.status != "running":
                raise AdminError(f"only a running job pauses; the job is {job.status}")
            self._pause(job, now)
        else:
            if job.status == "paused":
                self._resume(job, now)
            if FORWARD.index(target) < FORWARD.index(job.status):
                raise AdminError(f"cannot go from {job.status} to {target}")
            while job.status != target and job.status not in TERMINAL:
                self._step(job, now)
