"""A fake Vertex AI (batch prediction and supervised tuning) over a real GCS emulator.

It speaks the REST surface filegate's Vertex provider uses, in Google's own wire format, and
reads and writes job data in fake-gcs-server, so a gateway's Vertex code cannot tell it from
``https://{location}-aiplatform.googleapis.com``. Test controls live under ``/__admin``.

Run it as a process (from the repository root)::

    python -m tests.fakes.vertex_ai --port 8902 --gcs-endpoint http://127.0.0.1:4443 \\
        --state-dir /tmp/fake-vertex [--token vertex-token] [--project test-project]

or build the ASGI app in-process with :func:`create_app`. ``tests/fakes/harness.py`` starts it
for tests (``running_fake_vertex``). Point a gateway at ``http://127.0.0.1:PORT`` as its Vertex
API base (the fake serves ``/v1/...`` and, identically, ``/v1beta1/...``).

Surface (``{p}`` = project id or number, ``{l}`` = location, ``{id}`` = a 19-digit job id)
-----------------------------------------------------------------------------------------
* ``POST /v1/projects/{p}/locations/{l}/batchPredictionJobs`` — create; answers the
  ``BatchPredictionJob`` (``JOB_STATE_PENDING`` by default). Body: ``displayName``, ``model``
  (``publishers/google/models/gemini-...``, its ``projects/.../publishers/...`` form, or a model
  a tuning job of this fake made: ``projects/.../models/{id}[@1]``), ``inputConfig``
  (``instancesFormat: "jsonl"``, ``gcsSource.uris``: exact ``gs://`` objects),
  ``outputConfig`` (``predictionsFormat: "jsonl"``, ``gcsDestination.outputUriPrefix``),
  ``labels`` and the other fields of the resource (kept and echoed).
* ``GET .../batchPredictionJobs[?pageSize=&pageToken=&filter=]`` — newest first,
  ``{"batchPredictionJobs": [...], "nextPageToken"}``; an empty page is ``{}``. ``filter``:
  see ``vertex_filter``. ``GET .../batchPredictionJobs/{id}``,
  ``POST .../batchPredictionJobs/{id}:cancel`` (answers ``{}``; a finished or already
  cancelling job is 400 ``FAILED_PRECONDITION``), ``DELETE .../batchPredictionJobs/{id}``
  (only a finished job; answers a long-running ``Operation``, ``done`` after
  ``delete_seconds``, when the job disappears).
* ``GET /v1/projects/{p}/locations/{l}/operations/{op}`` — that ``Operation``.
* ``POST/GET .../tuningJobs``, ``GET .../tuningJobs/{id}``, ``POST .../tuningJobs/{id}:cancel``
  — the ``TuningJob`` (``baseModel``, ``supervisedTuningSpec{trainingDatasetUri,
  validationDatasetUri, hyperParameters{epochCount, learningRateMultiplier, adapterSize},
  exportLastCheckpointOnly}``, ``tunedModelDisplayName``, ``description``, ``labels``); list is
  ``{"tuningJobs": [...], "nextPageToken"}``. Dataset URIs must be ``gs://...jsonl``.

Resources, as Vertex writes them: names use the project **number**
(``projects/123456789012/locations/us-central1/batchPredictionJobs/8123...``) whatever the URL
said; camelCase fields; int64 counts as strings; RFC 3339 times with microseconds;
zero/empty fields left out. A batch job gets ``startTime``, ``outputInfo.gcsOutputDirectory``
(``{outputUriPrefix}/prediction-model-{createTime}``: a directory the job picks, not the
prefix sent) when it starts running, and ``completionStats{successfulCount, failedCount,
incompleteCount}`` (non-zero ones only), ``endTime`` and, when failed or cancelled,
``error{code, message}`` (cancel: code 1 ``CANCELED``) when it ends. Its output file
``{gcsOutputDirectory}/predictions.jsonl`` holds one line per input line in Vertex's format
(see ``vertex_predictions``; a request Vertex refuses, or a ``predict`` fault, gives a line
with a non-empty ``status`` and no ``response``); lines are not in input order unless
``output_order`` says so. A tuning job gets ``experiment`` and ``tuningDataStats`` when it
starts, ``tunedModel{model: projects/N/locations/L/models/ID@1, endpoint, checkpoints}`` when it
succeeds; a bad dataset line fails it with an error naming the dataset and line (see
``vertex_tuning``).

Errors are Google's ``{"error": {"code", "message", "status", "details"?}}``: 401
``UNAUTHENTICATED`` without a configured Bearer token (``CREDENTIALS_MISSING`` /
``ACCESS_TOKEN_TYPE_UNSUPPORTED`` in an ``ErrorInfo``), 403 ``PERMISSION_DENIED`` for a project
that is not configured, 400 ``INVALID_ARGUMENT`` for a body the front end cannot parse
(``Invalid JSON payload received. Unknown name ...``) or that fails validation (``List of found
errors:\\t1.Field: batch_prediction_job.display_name; Message: Required field is not set.\\t``
with ``BadRequest.fieldViolations``), 404 ``NOT_FOUND`` for an unknown job, 429
``RESOURCE_EXHAUSTED`` past ``max_active_batch_jobs``; an unknown URL is a 404 HTML page.

Admin (no auth, JSON, never in the request log)
-----------------------------------------------
* ``GET /__admin/health`` -> ``{"ok": true}``; ``POST /__admin/reset`` -> forgets jobs,
  operations, tuned models, log, faults and config.
* ``GET|POST /__admin/config`` (POST a partial object) -> ``{"config": {...}}``. Keys:
  ``tokens`` (["vertex-token"]) and ``token_prefixes`` ([]: e.g. ``"tok-"`` to take the tokens a
  test OAuth server issues), ``projects`` (["test-project"]), ``project_number``
  ("123456789012"), ``auto_advance`` (true), ``batch_states`` and ``tuning_states``
  ([{"state": "JOB_STATE_PENDING", "seconds": 0.05}, {"state": "JOB_STATE_RUNNING",
  "seconds": 0.1}]: the steps before success; RUNNING must be one of them), ``cancel_seconds``
  (0.05), ``line_seconds`` (0), ``flush_lines`` (0), ``output_order`` ("shuffled" | "input" |
  "reversed"), ``invalid_json_line`` ("fail_line" | "fail_job"), ``delete_seconds`` (0),
  ``page_size`` (100) and ``max_page_size`` (1000), ``max_active_batch_jobs`` (null),
  ``publisher_models`` and ``tuning_base_models`` (null = any), ``tuning_min_examples`` (1).
* ``GET /__admin/requests[?op=]`` -> ``{"requests": [entry, ...]}`` oldest first; an entry:
  ``seq, time, op, method, path, query, headers`` (lower-case), ``body`` (parsed JSON or null),
  ``job`` (the job id it named or created), ``status``, ``fault``, ``dropped``. ``DELETE``
  clears it. Ops: ``batch_create, batch_get, batch_list, batch_cancel, batch_delete,
  tuning_create, tuning_get, tuning_list, tuning_cancel, operation_get``, and ``predict``
  (faults only: one input line).
* ``POST /__admin/faults`` (see ``fault_rules``): on an API op, answer ``status`` with
  ``body`` (default: Google's error body for that status), drop, hang or delay; on
  ``predict``, the matching lines fail with that status (``body``: a message string). ``GET``
  lists pending faults, ``DELETE`` clears them.
* ``GET /__admin/jobs[?kind=batch|tuning]`` -> ``{"jobs": [wire form + "__kind",
  "__output_uri", "__counts", "__running_task"]}``.
* ``POST /__admin/advance`` ``{"name"}`` (full name or id) -> ends the job's current wait now
  (with ``auto_advance`` false this is the only way a job moves); answers the job.
* ``POST /__admin/state`` ``{"name", "state", "error"?}`` -> puts the job in ``state`` now:
  ``SUCCEEDED``/``PARTIALLY_SUCCEEDED`` first predicts every line (or checks the datasets and
  makes the tuned model); ``FAILED`` (default error code 13), ``CANCELLED``, ``EXPIRED`` keep
  what was predicted; any other state sticks until the next ``/state`` or a cancel.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.fakes.calls import NoResponse, drop_connection
from tests.fakes.fault_rules import AdminError, FaultBook, FaultRule, admin_json, faults_admin
from tests.fakes.vertex_checks import PUBLISHER, TUNED, batch_violations, tuning_violations
from tests.fakes.vertex_config import check_config, default_config
from tests.fakes.vertex_filter import compile_filter
from tests.fakes.vertex_gcs import GCS
from tests.fakes.vertex_jobs import (
    ALL_STATES,
    CANCELLING,
    TERMINAL,
    Job,
    JobRunner,
    Operation,
    new_job,
)
from tests.fakes.vertex_schema import BATCH_PREDICTION_JOB, TUNING_JOB, parse
from tests.fakes.vertex_wire import (
    AUTH_HELP,
    DEFAULT_FAULTS,
    GoogleError,
    bad_payload,
    error_info,
    error_response,
    google_json,
    invalid_fields,
    new_numeric_id,
)

OPS = (
    "batch_create",
    "batch_get",
    "batch_list",
    "batch_cancel",
    "batch_delete",
    "tuning_create",
    "tuning_get",
    "tuning_list",
    "tuning_cancel",
    "operation_get",
    "predict",
)
RPC = {
    "batch_create": "JobService.CreateBatchPredictionJob",
    "batch_get": "JobService.GetBatchPredictionJob",
    "batch_list": "JobService.ListBatchPredictionJobs",
    "batch_cancel": "JobService.CancelBatchPredictionJob",
    "batch_delete": "JobService.DeleteBatchPredictionJob",
    "tuning_create": "GenAiTuningService.CreateTuningJob",
    "tuning_get": "GenAiTuningService.GetTuningJob",
    "tuning_list": "GenAiTuningService.ListTuningJobs",
    "tuning_cancel": "GenAiTuningService.CancelTuningJob",
    "operation_get": "Operations.GetOperation",
}
PERMISSIONS = {
    "batch_create": "aiplatform.batchPredictionJobs.create",
    "batch_get": "aiplatform.batchPredictionJobs.get",
    "batch_list": "aiplatform.batchPredictionJobs.list",
    "batch_cancel": "aiplatform.batchPredictionJobs.cancel",
    "batch_delete": "aiplatform.batchPredictionJobs.delete",
    "tuning_create": "aiplatform.tuningJobs.create",
    "tuning_get": "aiplatform.tuningJobs.get",
    "tuning_list": "aiplatform.tuningJobs.list",
    "tuning_cancel": "aiplatform.tuningJobs.cancel",
    "operation_get": "aiplatform.operations.get",
}
MAX_BODY = 4 * 1024 * 1024
NOT_FOUND_HTML = (
    "<!DOCTYPE html>\n<html lang=en><meta charset=utf-8><title>Error 404 (Not Found)!!1</title>"
    "<p><b>404.</b> <ins>That's an error.</ins><p>The requested URL <code>{path}</code> was not "
    "found on this server.  <ins>That's all we know.</ins>"
)


class FakeVertex:
    def __init__(self, gcs_endpoint: str, state_dir: Path, config: dict[str, Any]) -> None:
        self.state_dir = state_dir
        self.tmp_dir = state_dir / "outputs"
        self.base_config = config
        self.config = dict(config)
        self.gcs = GCS(gcs_endpoint)
        self.faults = FaultBook(OPS)
        self.runner = JobRunner(self.gcs, self.tmp_dir, lambda: self.config, self.faults)
        self.jobs: dict[str, Job] = {}
        self.operations: dict[str, Operation] = {}
        self.log: list[dict[str, Any]] = []
        self._seq = 0
        self._log_seq = 0
        self.reset()

    def reset(self) -> None:
        for job in self.jobs.values():
            self.runner.stop(job)
        self.jobs.clear()
        self.operations.clear()
        self.runner.tuned_models.clear()
        self.log.clear()
        self.faults.clear()
        self.config = {k: json.loads(json.dumps(v)) for k, v in self.base_config.items()}
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    # -- one API request ----------------------------------------------------------------------
    async def handle(self, request: Request, op: str) -> Response:
        entry = self._log(request, op)
        for operation in self.operations.values():
            operation.settle()  # a deleted job is gone once its operation is done, polled or not
        try:
            raw = await self._read(request)
            entry["body"] = _json_or_none(raw)
            self._check_auth(request, op)
            self._check_project(request, op)
            fault = self.faults.take(op, raw)
            if fault is not None:
                entry["fault"] = fault.describe()
                early = await self._apply_fault(request, fault, entry)
                if early is not None:
                    return early
            resp = await self._dispatch(request, op, raw, entry)
        except GoogleError as err:
            resp = error_response(err)
            if err.http_status == 401:
                resp.headers["www-authenticate"] = 'Bearer realm="https://accounts.google.com/"'
        except ClientDisconnect:
            entry["dropped"] = True
            return NoResponse()
        entry["status"] = resp.status_code
        return resp

    def _log(self, request: Request, op: str) -> dict[str, Any]:
        self._log_seq += 1
        entry: dict[str, Any] = {
            "seq": self._log_seq,
            "time": time.time(),
            "op": op,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": {k: v for k, v in request.headers.items()},
            "body": None,
            "job": request.path_params.get("job", "").split(":")[0] or None,
            "status": None,
            "fault": None,
            "dropped": False,
        }
        self.log.append(entry)
        return entry

    async def _read(self, request: Request) -> bytes:
        buf = bytearray()
        async for chunk in request.stream():
            buf += chunk
            if len(buf) > MAX_BODY:
                raise GoogleError(
                    "INVALID_ARGUMENT", f"Request payload size exceeds the limit: {MAX_BODY} bytes."
                )
        return bytes(buf)

    def _check_auth(self, request: Request, op: str) -> None:
        auth = request.headers.get("authorization", "")
        method = f"google.cloud.aiplatform.v1.{RPC[op]}"
        if not auth:
            raise GoogleError(
                "UNAUTHENTICATED",
                f"Request is missing required authentication credential. {AUTH_HELP}",
                [error_info("CREDENTIALS_MISSING", method)],
            )
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        cfg = self.config
        if token and (
            token in cfg["tokens"] or any(token.startswith(p) for p in cfg["token_prefixes"])
        ):
            return
        raise GoogleError(
            "UNAUTHENTICATED",
            f"Request had invalid authentication credentials. {AUTH_HELP}",
            [error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", method)],
        )

    def _check_project(self, request: Request, op: str) -> None:
        project = request.path_params["project"]
        if project in self.config["projects"] or project == self.config["project_number"]:
            return
        location = request.path_params["location"]
        resource = f"//aiplatform.googleapis.com/projects/{project}/locations/{location}"
        permission = PERMISSIONS[op]
        raise GoogleError(
            "PERMISSION_DENIED",
            f"Permission '{permission}' denied on resource '{resource}' (or it may not exist).",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "IAM_PERMISSION_DENIED",
                    "domain": "aiplatform.googleapis.com",
                    "metadata": {"permission": permission, "resource": resource[2:]},
                }
            ],
        )

    async def _apply_fault(
        self, request: Request, fault: FaultRule, entry: dict[str, Any]
    ) -> Response | None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.hang:
            await _until_disconnect(request)
            entry["dropped"] = True
            return NoResponse()
        if fault.drop:
            entry["dropped"] = True
            if await drop_connection(request, fault.drop_mode):
                return NoResponse()
            return google_json(500, {"error": "could not drop this connection"})
        if fault.status is None:
            return None
        body = fault.body
        if body is None:
            name, message = DEFAULT_FAULTS.get(fault.status, ("UNKNOWN", f"HTTP {fault.status}"))
            if fault.status == 502:
                return HTMLResponse("<html><title>502 Bad Gateway</title></html>", 502)
            body = {"error": {"code": fault.status, "message": message, "status": name}}
        entry["status"] = fault.status
        return google_json(fault.status, body, fault.headers)

    async def _dispatch(
        self, request: Request, op: str, raw: bytes, entry: dict[str, Any]
    ) -> Response:
        location = request.path_params["location"]
        if op in ("batch_create", "tuning_create"):
            job = await self._create(op, location, raw)
            entry["job"] = job.id
            return google_json(200, job.wire())
        if op in ("batch_list", "tuning_list"):
            return google_json(
                200, self._list(request, "batch" if op == "batch_list" else "tuning")
            )
        if op == "operation_get":
            operation = self.operations.get(f"{location}/{request.path_params['op']}")
            if operation is None:
                raise GoogleError("NOT_FOUND", "Operation not found.")
            return google_json(200, operation.wire())
        kind = "batch" if op.startswith("batch") else "tuning"
        job_id = request.path_params["job"].partition(":")[0]
        job = self._job(kind, location, job_id)
        if op.endswith("get"):
            return google_json(200, job.wire())
        if op.endswith("cancel"):
            if job.state in TERMINAL or job.state == CANCELLING:
                raise GoogleError(
                    "FAILED_PRECONDITION",
                    f"Cannot cancel {job.name} because it is in state {job.state}.",
                )
            self.runner.request_cancel(job)
            return google_json(200, {})
        return google_json(200, self._delete(job))

    def _job(self, kind: str, location: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.kind != kind or job.location != location:
            what = "BatchPredictionJob" if kind == "batch" else "TuningJob"
            raise GoogleError("NOT_FOUND", f"The {what} does not exist.")
        return job

    def _delete(self, job: Job) -> dict[str, Any]:
        if job.state not in TERMINAL:
            raise GoogleError(
                "FAILED_PRECONDITION",
                f"The BatchPredictionJob {job.name} is in state {job.state}; only a finished job "
                "can be deleted.",
            )
        op_id = new_numeric_id()
        name = f"projects/{job.project_number}/locations/{job.location}/operations/{op_id}"
        now = time.time()
        operation = Operation(name, now, now + float(self.config["delete_seconds"]))
        operation.on_done = lambda: self._forget(job)
        self.operations[f"{job.location}/{op_id}"] = operation
        return operation.wire()

    def _forget(self, job: Job) -> None:
        self.runner.stop(job)
        self.jobs.pop(job.id, None)

    # -- create -------------------------------------------------------------------------------
    async def _create(self, op: str, location: str, raw: bytes) -> Job:
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise bad_payload(f"Invalid JSON payload received. {exc}") from None
        if op == "batch_create":
            spec = parse(body, BATCH_PREDICTION_JOB, "batch_prediction_job")
            self._validate_batch(spec, location)
            kind, states = "batch", self.config["batch_states"]
        else:
            spec = parse(body, TUNING_JOB, "tuning_job")
            self._validate_tuning(spec)
            kind, states = "tuning", self.config["tuning_states"]
        self._seq += 1
        job = new_job(
            kind, self._seq, location, self.config["project_number"], spec, states[0]["state"]
        )
        self.jobs[job.id] = job
        self.runner.start(job)
        return job

    def _validate_batch(self, spec: dict[str, Any], location: str) -> None:
        bad = batch_violations(spec)
        model = spec.get("model")
        if bad:
            raise invalid_fields(bad)
        assert isinstance(model, str)
        self._check_model(model, location)
        limit = self.config["max_active_batch_jobs"]
        active = sum(1 for j in self.jobs.values() if j.kind == "batch" and j.state not in TERMINAL)
        if limit is not None and active >= limit:
            raise GoogleError(
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for aiplatform.googleapis.com/"
                f"gemini_concurrent_batch_prediction_jobs with base model. The limit is {limit}.",
            )

    def _check_model(self, model: str, location: str) -> None:
        number = self.config["project_number"]
        publisher = PUBLISHER.fullmatch(model)
        if publisher is not None:
            known = self.config["publisher_models"]
            if known is not None and publisher.group(1) not in known:
                raise GoogleError(
                    "NOT_FOUND",
                    f"Publisher Model `projects/{number}/locations/{location}/publishers/google/"
                    f"models/{publisher.group(1)}` not found.",
                )
            return
        tuned = TUNED.fullmatch(model)
        if tuned is not None and tuned.group(1) not in self.runner.tuned_models:
            raise GoogleError("NOT_FOUND", f"The Model {model} does not exist.")

    def _validate_tuning(self, spec: dict[str, Any]) -> None:
        bad = tuning_violations(spec)
        base = spec.get("baseModel")
        if bad:
            raise invalid_fields(bad)
        known = self.config["tuning_base_models"]
        if known is not None and str(base).rsplit("/", 1)[-1] not in known:
            raise GoogleError("INVALID_ARGUMENT", f"Base model {base} is not supported.")

    # -- list -----------------------------------------------------------------------------
    def _list(self, request: Request, kind: str) -> dict[str, Any]:
        q = request.query_params
        location = request.path_params["location"]
        size_text = q.get("pageSize") or q.get("page_size") or "0"
        if not size_text.lstrip("-").isdigit() or int(size_text) < 0:
            raise GoogleError("INVALID_ARGUMENT", f"Invalid page size: {size_text}.")
        size = min(int(size_text) or self.config["page_size"], self.config["max_page_size"])
        token = q.get("pageToken") or q.get("page_token")
        after = None
        if token:
            try:
                after = int(base64.urlsafe_b64decode(token.encode() + b"==").decode())
            except (ValueError, UnicodeDecodeError):
                raise GoogleError("INVALID_ARGUMENT", "Invalid page token.") from None
        text = q.get("filter") or ""
        pred = compile_filter(text) if text.strip() else None
        jobs = sorted(
            (j for j in self.jobs.values() if j.kind == kind and j.location == location),
            key=lambda j: -j.seq,
        )
        picked: list[Job] = []
        more = False
        for job in jobs:
            if after is not None and job.seq >= after:
                continue
            if pred is not None and not pred(job.wire()):
                continue
            if len(picked) == size:
                more = True
                break
            picked.append(job)
        key = "batchPredictionJobs" if kind == "batch" else "tuningJobs"
        out: dict[str, Any] = {}
        if picked:
            out[key] = [j.wire() for j in picked]
        if more:
            out["nextPageToken"] = base64.urlsafe_b64encode(str(picked[-1].seq).encode()).decode()
        return out

    # -- admin ----------------------------------------------------------------------------
    async def admin(self, request: Request) -> Response:
        try:
            return await self._admin(request, request.path_params["action"])
        except AdminError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def _admin(self, request: Request, action: str) -> Response:
        method = request.method
        if action == "health":
            return JSONResponse({"ok": True})
        if action == "reset" and method == "POST":
            self.reset()
            return JSONResponse({"ok": True})
        if action == "requests":
            if method == "DELETE":
                self.log.clear()
                return JSONResponse({"ok": True})
            op = request.query_params.get("op")
            return JSONResponse({"requests": [e for e in self.log if op in (None, e["op"])]})
        if action == "faults":
            return await faults_admin(self.faults, request)
        if action == "config":
            if method == "POST":
                body = await admin_json(request)
                if not isinstance(body, dict):
                    raise AdminError("config must be a JSON object")
                for key, value in body.items():
                    check_config(key, value)
                self.config.update(body)
            return JSONResponse({"config": self.config})
        if action == "jobs":
            kind = request.query_params.get("kind")
            jobs = [j.admin() for j in sorted(self.jobs.values(), key=lambda j: j.seq)]
            return JSONResponse({"jobs": [j for j in jobs if kind in (None, j["__kind"])]})
        if action in ("advance", "state") and method == "POST":
            body = await admin_json(request)
            if not isinstance(body, dict) or not isinstance(body.get("name"), str):
                raise AdminError("body must be {name, ...}")
            job = self.jobs.get(body["name"].rsplit("/", 1)[-1])
            if job is None:
                return JSONResponse({"error": f"no job {body['name']}"}, status_code=404)
            if action == "advance":
                await self.runner.advance(job)
            else:
                state = body.get("state")
                if state not in ALL_STATES:
                    raise AdminError(f"state must be one of {sorted(ALL_STATES)}")
                await self.runner.force(job, state, body.get("error"))
            return JSONResponse({"job": job.admin()})
        return JSONResponse({"error": f"unknown admin call {method} /__admin/{action}"}, 404)


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _not_found_page(request: Request) -> Response:
    return HTMLResponse(NOT_FOUND_HTML.format(path=request.url.path), status_code=404)


async def _until_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def create_app(
    gcs_endpoint: str,
    state_dir: Path,
    *,
    tokens: tuple[str, ...] = ("vertex-token",),
    projects: tuple[str, ...] = ("test-project",),
    project_number: str = "123456789012",
) -> Starlette:
    """The fake as an ASGI app; job outputs are staged under ``state_dir`` (wiped on reset)."""
    config = default_config() | {
        "tokens": list(tokens),
        "projects": list(projects),
        "project_number": project_number,
    }
    fake = FakeVertex(gcs_endpoint, Path(state_dir), config)

    def endpoint(ops: dict[str, str]) -> Any:
        async def handler(request: Request) -> Response:
            job = request.path_params.get("job")
            if job is not None and request.method == "POST":
                op = ops.get("CANCEL") if job.endswith(":cancel") else None
            else:
                op = None if job is not None and ":" in job else ops.get(request.method)
            if op is None:
                return _not_found_page(request)
            return await fake.handle(request, op)

        return handler

    routes = [Route("/__admin/{action}", fake.admin, methods=["GET", "POST", "DELETE"])]
    for version in ("v1", "v1beta1"):
        base = f"/{version}/projects/{{project}}/locations/{{location}}"
        for coll, kind in (("batchPredictionJobs", "batch"), ("tuningJobs", "tuning")):
            routes.append(
                Route(
                    f"{base}/{coll}",
                    endpoint({"POST": f"{kind}_create", "GET": f"{kind}_list"}),
                    methods=["GET", "POST"],
                )
            )
            ops = {"GET": f"{kind}_get", "CANCEL": f"{kind}_cancel"}
            if kind == "batch":
                ops["DELETE"] = "batch_delete"
            routes.append(
                Route(f"{base}/{coll}/{{job}}", endpoint(ops), methods=["GET", "POST", "DELETE"])
            )
        routes.append(
            Route(f"{base}/operations/{{op}}", endpoint({"GET": "operation_get"}), methods=["GET"])
        )
    routes.append(
        Route("/{rest:path}", _not_found_page, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for job in fake.jobs.values():
            fake.runner.stop(job)
        await fake.gcs.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.vertex = fake
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Vertex AI batch prediction and tuning.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--gcs-endpoint", required=True, help="fake-gcs-server base URL")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--token", action="append", help="an accepted Bearer token (repeatable)")
    parser.add_argument("--project", action="append", help="an accepted project id (repeatable)")
    parser.add_argument("--project-number", default="123456789012")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    app = create_app(
        args.gcs_endpoint,
        args.state_dir,
        tokens=tuple(args.token or ["vertex-token"]),
        projects=tuple(args.project or ["test-project"]),
        project_number=args.project_number,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
