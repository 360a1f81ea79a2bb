"""Batch-prediction and tuning jobs of the fake Vertex AI: their resources and their lives.

Each job runs as one asyncio task through the configured steps (``batch_states`` /
``tuning_states``: ``[{"state", "seconds"}, ...]``), then ends ``JOB_STATE_SUCCEEDED``. A
step's wait ends early on ``/__admin/advance``; with ``auto_advance`` false it ends only then.
Entering ``JOB_STATE_RUNNING`` first checks the inputs (a missing object fails the job), then a
batch job predicts every line, streaming its input from Cloud Storage and its output to a
local file, which is uploaded as ``{outputInfo.gcsOutputDirectory}/predictions.jsonl`` every
``flush_lines`` lines (0: only at the end) and when the job ends, in ``output_order``. A
tuning job checks both datasets line by line and gathers their stats. Cancel moves a job to
``JOB_STATE_CANCELLING`` at once and to ``JOB_STATE_CANCELLED`` (error code 1) after
``cancel_seconds``, keeping the lines already predicted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.fault_rules import FaultBook
from tests.fakes.vertex_gcs import GCS, GCSUnavailable
from tests.fakes.vertex_predictions import Outcome, UnreadableLine, predict, unreadable
from tests.fakes.vertex_tuning import DatasetStats, check_example
from tests.fakes.vertex_wire import DEFAULT_FAULTS, int64, new_numeric_id, rfc3339

QUEUED, PENDING, RUNNING = "JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING"
SUCCEEDED, FAILED = "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED"
CANCELLING, CANCELLED = "JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"
PAUSED, EXPIRED = "JOB_STATE_PAUSED", "JOB_STATE_EXPIRED"
UPDATING, PARTIAL = "JOB_STATE_UPDATING", "JOB_STATE_PARTIALLY_SUCCEEDED"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, EXPIRED, PARTIAL})
STEP_STATES = frozenset({QUEUED, PENDING, RUNNING, PAUSED, UPDATING})
ALL_STATES = TERMINAL | STEP_STATES | {CANCELLING}
CANCELED_ERROR = {"code": 1, "message": "CANCELED"}
INTERNAL_ERROR = {"code": 13, "message": "Internal error occurred. Please retry."}


class JobFailure(Exception):
    """Ends a job ``JOB_STATE_FAILED`` with this ``google.rpc.Status``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.error = {"code": code, "message": message}


@dataclass
class Job:
    kind: str  # "batch" or "tuning"
    id: str
    location: str
    project_number: str
    seq: int
    spec: dict[str, Any]
    state: str
    create_time: float
    update_time: float
    start_time: float | None = None
    end_time: float | None = None
    error: dict[str, Any] | None = None
    outputs: dict[str, Any] = field(default_factory=dict)  # output-only fields Vertex adds
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    parked: asyncio.Event = field(default_factory=asyncio.Event)  # set while its task waits
    cancel_requested: bool = False
    task: asyncio.Task[None] | None = None
    succeeded: int = 0
    failed: int = 0
    incomplete: int = 0
    offsets: list[tuple[int, int]] = field(default_factory=list)
    output_uri: str | None = None

    @property
    def collection(self) -> str:
        return "batchPredictionJobs" if self.kind == "batch" else "tuningJobs"

    @property
    def name(self) -> str:
        return (
            f"projects/{self.project_number}/locations/{self.location}/{self.collection}/{self.id}"
        )

    def touch(self, state: str | None = None) -> None:
        if state is not None:
            self.state = state
        self.update_time = time.time()

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        spec = dict(self.spec)
        labels = spec.pop("labels", None)
        out.update(spec)
        out.update({k: v for k, v in self.outputs.items() if k not in ("tunedModel",)})
        out["state"] = self.state
        if self.error is not None:
            out["error"] = self.error
        if self.kind == "tuning" and "tunedModel" in self.outputs:
            out["tunedModel"] = self.outputs["tunedModel"]
        out["createTime"] = rfc3339(self.create_time)
        if self.start_time is not None:
            out["startTime"] = rfc3339(self.start_time)
        if self.end_time is not None:
            out["endTime"] = rfc3339(self.end_time)
        out["updateTime"] = rfc3339(self.update_time)
        if labels:
            out["labels"] = labels
        if self.kind == "batch":
            out["modelVersionId"] = "1"
        return out

    def admin(self) -> dict[str, Any]:
        return {
            **self.wire(),
            "__kind": self.kind,
            "__output_uri": self.output_uri,
            "__counts": {
                "succeeded": self.succeeded,
                "failed": self.failed,
                "incomplete": self.incomplete,
            },
            "__running_task": self.task is not None and not self.task.done(),
        }


@dataclass
class Operation:
    name: str
    create_time: float
    done_at: float
    on_done: Callable[[], None] | None = None

    def settle(self) -> bool:
        """Whether the operation is done; the first time it is, its effect happens."""
        done = time.time() >= self.done_at
        if done and self.on_done is not None:
            self.on_done()
            self.on_done = None
        return done

    def wire(self) -> dict[str, Any]:
        done = self.settle()
        out: dict[str, Any] = {
            "name": self.name,
            "metadata": {
                "@type": "type.googleapis.com/google.cloud.aiplatform.v1.DeleteOperationMetadata",
                "genericMetadata": {
                    "createTime": rfc3339(self.create_time),
                    "updateTime": rfc3339(self.done_at if done else self.create_time),
                },
            },
        }
        if done:
            out["done"] = True
            out["response"] = {"@type": "type.googleapis.com/google.protobuf.Empty"}
        return out


class JobRunner:
    """Runs jobs; ``config`` is read afresh at every step, so admin changes apply at once."""

    def __init__(
        self, gcs: GCS, tmp_dir: Path, config: Callable[[], dict[str, Any]], faults: FaultBook
    ) -> None:
        self.gcs, self.tmp_dir, self.config, self.faults = gcs, tmp_dir, config, faults
        self.tuned_models: dict[str, str] = {}  # model id -> base model

    def start(self, job: Job) -> None:
        job.task = asyncio.get_running_loop().create_task(self._guard(job, self._run))

    def stop(self, job: Job) -> None:
        if job.task is not None and not job.task.done():
            job.task.cancel()
        job.task = None

    async def _guard(self, job: Job, run: Callable[[Job], Any]) -> None:
        try:
            await run(job)
        except JobFailure as exc:
            self.finish(job, FAILED, exc.error)
        except GCSUnavailable as exc:
            self.finish(job, FAILED, {"code": 13, "message": str(exc)})

    # -- time -------------------------------------------------------------------------------
    async def wait(self, job: Job, seconds: float) -> None:
        """Sleep ``seconds`` (for ever without auto_advance) or until advanced or cancelled."""
        timeout = float(seconds) if self.config()["auto_advance"] else None
        job.parked.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.wake.wait(), timeout)
        finally:
            job.parked.clear()
            job.wake.clear()

    async def advance(self, job: Job) -> None:
        """End the job's current wait, then return once it waits again or has ended."""
        job.parked.clear()
        job.wake.set()
        task = job.task
        if task is None or task.done():
            return
        parked = asyncio.ensure_future(job.parked.wait())
        await asyncio.wait([parked, task], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        parked.cancel()

    def steps(self, job: Job) -> list[dict[str, Any]]:
        key = "batch_states" if job.kind == "batch" else "tuning_states"
        return list(self.config()[key])

    # -- ends -------------------------------------------------------------------------------
    def finish(self, job: Job, state: str, error: dict[str, Any] | None = None) -> None:
        job.touch(state)
        job.end_time = job.update_time
        job.error = error
        if job.kind == "batch" and (job.start_time is not None or state == SUCCEEDED):
            job.outputs["completionStats"] = {
                k: v
                for k, v in (
                    ("successfulCount", int64(job.succeeded)),
                    ("failedCount", int64(job.failed)),
                    ("incompleteCount", int64(job.incomplete)),
                )
                if v
            }

    async def finish_cancel(self, job: Job) -> None:
        job.wake.clear()  # the cancel's own wake-up must not cut CANCELLING short
        await self.wait(job, float(self.config()["cancel_seconds"]))
        if job.kind == "batch" and job.offsets:
            await self.upload(job)
        self.finish(job, CANCELLED, dict(CANCELED_ERROR))

    def request_cancel(self, job: Job) -> None:
        job.cancel_requested = True
        job.touch(CANCELLING)
        job.wake.set()
        if job.task is None or job.task.done():
            job.task = asyncio.get_running_loop().create_task(self.finish_cancel(job))

    async def force(self, job: Job, state: str, error: dict[str, Any] | None) -> None:
        """``/__admin/state``: stop the job's task and put it in ``state`` now."""
        self.stop(job)
        if state in (SUCCEEDED, PARTIAL):
            if job.kind == "batch":
                if job.start_time is None:
                    self.enter_running(job)
                await self.process(job)
                await self.upload(job, ordered=True)
            else:
                await self.check_datasets(job)
                self.complete_tuning(job)
            self.finish(job, state)
        elif state == FAILED:
            self.finish(job, FAILED, error or dict(INTERNAL_ERROR))
        elif state == CANCELLED:
            self.finish(job, CANCELLED, error or dict(CANCELED_ERROR))
        elif state == EXPIRED:
            self.finish(job, EXPIRED, error)
        else:
            job.touch(state)
            if state == RUNNING and job.start_time is None:
                self.enter_running(job)

    # -- batch ------------------------------------------------------------------------------
    def enter_running(self, job: Job) -> None:
        job.touch(RUNNING)
        job.start_time = job.update_time
        if job.kind == "batch":
            prefix = job.spec["outputConfig"]["gcsDestination"]["outputUriPrefix"].rstrip("/")
            stamp = rfc3339(job.create_time)
            directory = f"{prefix}/prediction-model-{stamp}"
            job.outputs["outputInfo"] = {"gcsOutputDirectory": directory}
            job.output_uri = f"{directory}/predictions.jsonl"

    async def _run(self, job: Job) -> None:
        batch = job.kind == "batch"
        for step in self.steps(job):
            if job.cancel_requested:
                break
            if step["state"] == RUNNING and job.start_time is None:
                await (self.check_inputs(job) if batch else self.check_datasets(job))
                self.enter_running(job)
                if batch:
                    await self.process(job)
            elif step["state"] != RUNNING:
                job.touch(step["state"])
            if job.cancel_requested:
                break
            await self.wait(job, step["seconds"])
        if job.cancel_requested:
            await self.finish_cancel(job)
            return
        if batch:
            await self.upload(job, ordered=True)
        else:
            self.complete_tuning(job)
        self.finish(job, SUCCEEDED)

    async def check_inputs(self, job: Job) -> None:
        for uri in job.spec["inputConfig"]["gcsSource"]["uris"]:
            if not await self.gcs.exists(uri):
                raise JobFailure(
                    3, f"Failed to read the input file {uri}: the object does not exist."
                )

    def _line_fault(self, raw: bytes) -> tuple[int, str, str] | None:
        rule = self.faults.take("predict", raw)
        if rule is None or rule.status is None:
            return None
        name, message = DEFAULT_FAULTS.get(rule.status, ("UNKNOWN", f"HTTP {rule.status}"))
        if isinstance(rule.body, str):
            message = rule.body
        elif isinstance(rule.body, dict) and isinstance(rule.body.get("message"), str):
            message = rule.body["message"]
        return rule.status, name, message

    async def process(self, job: Job) -> None:
        """Predict every input line into the job's local output file (from the start)."""
        cfg = self.config()
        path = self.tmp_dir / f"{job.id}.jsonl"
        job.succeeded = job.failed = job.incomplete = 0
        job.offsets = []
        model_version = job.spec["model"].rsplit("/", 1)[-1].split("@")[0]
        model_version = self.tuned_models.get(model_version, model_version)
        number = 0
        with path.open("wb") as out:
            for uri in job.spec["inputConfig"]["gcsSource"]["uris"]:
                async for raw in self.gcs.lines(uri):
                    if not raw.strip():
                        continue
                    number += 1
                    if job.cancel_requested:
                        job.incomplete += 1
                        continue
                    outcome = self._predict_one(job, raw, number, model_version, cfg)
                    job.offsets.append((out.tell(), len(outcome.line) + 1))
                    out.write(outcome.line + b"\n")
                    if outcome.ok:
                        job.succeeded += 1
                    else:
                        job.failed += 1
                    if cfg["flush_lines"] and len(job.offsets) % cfg["flush_lines"] == 0:
                        out.flush()
                        await self.upload(job)
                    if cfg["line_seconds"] and cfg["auto_advance"]:
                        await asyncio.sleep(cfg["line_seconds"])

    def _predict_one(
        self, job: Job, raw: bytes, number: int, model_version: str, cfg: dict[str, Any]
    ) -> Outcome:
        now = time.time()
        try:
            return predict(
                raw,
                model_version=model_version,
                salt=f"{job.id}:{number}:",
                now=now,
                fault=self._line_fault(raw),
            )
        except UnreadableLine as exc:
            if cfg["invalid_json_line"] == "fail_job":
                raise JobFailure(3, f"Failed to parse line {number} of the input: {exc}") from None
            return unreadable(raw, str(exc), now)

    async def upload(self, job: Job, *, ordered: bool = False) -> None:
        """Upload what the job has predicted so far; ``ordered`` applies ``output_order``."""
        if job.output_uri is None:
            return
        path = self.tmp_dir / f"{job.id}.jsonl"
        order = self.config()["output_order"]
        if not ordered or order == "input":
            await self.gcs.upload(job.output_uri, path)
            return
        spans = list(job.offsets)
        if order == "reversed":
            spans.reverse()
        else:
            random.Random(job.id).shuffle(spans)
        final = self.tmp_dir / f"{job.id}.ordered.jsonl"
        with path.open("rb") as src, final.open("wb") as dst:
            for offset, length in spans:
                src.seek(offset)
                dst.write(src.read(length))
        await self.gcs.upload(job.output_uri, final)

    # -- tuning -----------------------------------------------------------------------------
    async def check_datasets(self, job: Job) -> None:
        spec = job.spec["supervisedTuningSpec"]
        stats = DatasetStats()
        for role, key in (
            ("training", "trainingDatasetUri"),
            ("validation", "validationDatasetUri"),
        ):
            uri = spec.get(key)
            if uri is None:
                continue
            if not await self.gcs.exists(uri):
                raise JobFailure(3, f"The {role} dataset {uri} does not exist.")
            number = 0
            async for raw in self.gcs.lines(uri):
                if not raw.strip():
                    continue
                number += 1
                problem, example = check_example(raw)
                if problem is not None:
                    raise JobFailure(3, f"Invalid {role} dataset {uri}: line {number}: {problem}.")
                if role == "training" and example is not None:
                    stats.add(example)
            if role == "training" and number < int(self.config()["tuning_min_examples"]):
                raise JobFailure(
                    3,
                    f"The training dataset {uri} has {number} examples; at least "
                    f"{self.config()['tuning_min_examples']} are required.",
                )
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(job.create_time))
        job.outputs["experiment"] = (
            f"projects/{job.project_number}/locations/{job.location}/metadataStores/default/"
            f"contexts/tuning-experiment-{stamp}{job.id[-6:]}"
        )
        job.outputs["tuningDataStats"] = stats.wire(self.epochs(job))

    def epochs(self, job: Job) -> int:
        params = job.spec["supervisedTuningSpec"].get("hyperParameters") or {}
        return int(params.get("epochCount") or 3)

    def complete_tuning(self, job: Job) -> None:
        base = f"projects/{job.project_number}/locations/{job.location}"
        model_id, endpoint_id = new_numeric_id(), new_numeric_id()
        self.tuned_models[model_id] = job.spec["baseModel"].rsplit("/", 1)[-1]
        endpoint = f"{base}/endpoints/{endpoint_id}"
        tuned: dict[str, Any] = {"model": f"{base}/models/{model_id}@1", "endpoint": endpoint}
        if not job.spec["supervisedTuningSpec"].get("exportLastCheckpointOnly"):
            steps = max(
                1,
                int(
                    job.outputs.get("tuningDataStats", {})
                    .get("supervisedTuningDataStats", {})
                    .get("tuningStepCount", "1")
                ),
            )
            epochs = self.epochs(job)
            tuned["checkpoints"] = [
                {
                    "checkpointId": str(i),
                    "epoch": str(i),
                    "step": str(max(1, steps * i // epochs)),
                    "endpoint": endpoint,
                }
                for i in range(1, epochs + 1)
            ]
        job.outputs["tunedModel"] = tuned


def new_job(
    kind: str, seq: int, location: str, project_number: str, spec: dict[str, Any], state: str
) -> Job:
    now = time.time()
    return Job(
        kind=kind,
        id=new_numeric_id(),
        location=location,
        project_number=project_number,
        seq=seq,
        spec=spec,
        state=state,
        create_time=now,
        update_time=now,
    )
