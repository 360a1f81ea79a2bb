"""The fake upstream's Batch API: OpenAI's ``/v1/batches`` and Azure's dated and v1 surfaces.

A batch is a state machine advanced lazily whenever it is looked at (retrieve, list, cancel,
admin): each status lasts its configured number of seconds (``batch_*_seconds``; null holds it
until an admin call), so tests control time without sleeping. Lines are validated, then run one
by one from a hard link of the input file's bytes (streamed, never loaded whole), their results
written to output and error files that become ordinary files of the fake's Files API. The
user manual (markers, admin calls, Azure's quirks) is in ``upstream.py``'s docstring.
"""

from __future__ import annotations

import json
import math
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tests.fakes import model_responses
from tests.fakes.batch_checks import check_input, raw_lines
from tests.fakes.calls import (
    Call,
    JsonCall,
    azure_version_at_least,
    json_endpoint,
)
from tests.fakes.checks import (
    AZURE_EXPIRES_MAX,
    AZURE_EXPIRES_MIN,
    AZURE_EXPIRES_SINCE,
    OPENAI_EXPIRES_MAX,
    OPENAI_EXPIRES_MIN,
    admin_body,
    admin_count,
    admin_items,
    admin_target,
    bad_type,
    check_metadata,
    cursor_page,
    missing_fields,
    oxford,
    parse_expires,
    parse_limit,
    unknown_fields,
)
from tests.fakes.replies import endpoint_kind, reply
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

# shared/specs/openai-openapi.yaml, CreateBatchRequest.
OPENAI_BATCH_ENDPOINTS: tuple[str, ...] = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
# Azure global batch: chat completions and embeddings, the Responses API from 2025-04-01-preview
# (and v1); either spelling of the path ("/chat/completions" as in the dated docs, or "/v1/...").
AZURE_BATCH_KINDS = ("chat/completions", "embeddings", "completions", "responses")
AZURE_BATCHES_SINCE = "2024-07-01"  # first dated version with /openai/batches (2024-07-01-preview)
AZURE_RESPONSES_SINCE = "2025-04-01"
CREATE_FIELDS = (
    "input_file_id",
    "endpoint",
    "completion_window",
    "metadata",
    "output_expires_after",
)
STATUSES = (
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
)
TERMINAL = frozenset({"failed", "completed", "expired", "cancelled"})
FORWARD = ("validating", "in_progress", "finalizing", "completed")
OPENAI_MAX_REQUESTS = 50_000
AZURE_MAX_REQUESTS = 100_000
LIST_DEFAULT, LIST_MAX = 20, 100
FAIL_MARKER = "fake_error"
EXPIRED_ERROR = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}
STAMPS = (
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


def _is_max_requests(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)


def _is_positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


BATCH_SETTINGS: dict[str, Setting] = {
    "batch_validating_seconds": Setting(0, is_duration, "seconds >= 0 or null"),
    "batch_in_progress_seconds": Setting(0, is_duration, "seconds >= 0 or null"),
    "batch_finalizing_seconds": Setting(0, is_duration, "seconds >= 0 or null"),
    "batch_cancelling_seconds": Setting(0, is_duration, "seconds >= 0 or null"),
    "batch_completion_window_seconds": Setting(86_400, _is_positive, "seconds > 0"),
    "batch_max_requests": Setting(None, _is_max_requests, "an integer >= 1 or null"),
    "azure_batch_empty_file_ids": Setting(True, lambda v: isinstance(v, bool), "a boolean"),
    "azure_deployments": Setting(
        None,
        lambda v: v is None or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
        "a list of deployment names or null",
    ),
}
DURATION_KEYS = {
    "validating": "batch_validating_seconds",
    "in_progress": "batch_in_progress_seconds",
    "finalizing": "batch_finalizing_seconds",
    "cancelling": "batch_cancelling_seconds",
}


@dataclass
class StoredBatch:
    id: str
    surface: Surface
    api: Api
    endpoint: str
    input_file_id: str
    input_path: Path
    completion_window: str
    metadata: dict[str, str] | None
    output_expires_after: int | None
    created_at: int
    expires_at: int
    seq: int
    entered: float
    organization: str | None = None
    project: str | None = None
    status: str = "validating"
    stamps: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(STAMPS))
    errors: list[dict[str, Any]] | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    model: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    offset: int = 0  # bytes of the input consumed by finished requests
    done: int = 0  # requests finished (a result line written)
    out: BlobWriter | None = None
    err: BlobWriter | None = None

    def counts(self) -> dict[str, int]:
        return {"total": self.total, "completed": self.completed, "failed": self.failed}

    def usage(self) -> dict[str, Any]:
        return {
            "input_tokens": self.tokens_in,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": self.tokens_out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self.tokens_in + self.tokens_out,
        }


@dataclass
class ParsedLine:
    number: int  # 1-based line number in the input file
    custom_id: str
    url: str
    body: dict[str, Any]
    end: int  # byte offset just past this line


class FakeBatches:
    def __init__(self, state: UpstreamState) -> None:
        self.state = state
        self.batches: dict[str, StoredBatch] = {}
        self.dir = state.state_dir / "batches"
        state.reset_hooks.append(self.reset)
        self.reset()

    def reset(self) -> None:
        for b in self.batches.values():
            for w in (b.out, b.err):
                if w is not None:
                    w.discard()
        self.batches.clear()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)

    # -- routes ----------------------------------------------------------------------------------
    def routes(self, prefix: str, api: Api) -> list[BaseRoute]:
        def ep(op: str, handler: Any) -> Any:
            return json_endpoint(self.state, api, op, handler, available=self.available)

        return [
            Route(f"{prefix}/batches", ep("batch_create", self.create), methods=["POST"]),
            Route(f"{prefix}/batches", ep("batch_list", self.list_batches), methods=["GET"]),
            Route(
                f"{prefix}/batches/{{batch_id}}",
                ep("batch_retrieve", self.retrieve),
                methods=["GET"],
            ),
            Route(
                f"{prefix}/batches/{{batch_id}}/cancel",
                ep("batch_cancel", self.cancel),
                methods=["POST"],
            ),
        ]

    def available(self, call: Call) -> bool:
        return call.api != "azure-classic" or azure_version_at_least(call, AZURE_BATCHES_SINCE)

    # -- create ----------------------------------------------------------------------------------
    async def create(self, call: JsonCall) -> Response:
        body = call.body or {}
        problem = unknown_fields(call, body, CREATE_FIELDS) or missing_fields(
            call, body, ("input_file_id", "endpoint", "completion_window")
        )
        if problem is not None:
            return problem
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(body[name], str):
                return bad_type(call, name, "a string", body[name])
        endpoint, window = body["endpoint"], body["completion_window"]
        problem = self._check_endpoint(call, endpoint)
        if problem is not None:
            return problem
        if call.surface == "openai" and window != "24h":
            return call.invalid(
                f"Invalid value: '{window}'. Supported values are: '24h'.",
                param="completion_window",
                code="invalid_value",
            )
        metadata = check_metadata(call, body.get("metadata"))
        if isinstance(metadata, Response):
            return metadata
        expires_after = self._output_expires_after(call, body.get("output_expires_after"))
        if isinstance(expires_after, Response):
            return expires_after
        source = self._input_file(call, body["input_file_id"])
        if isinstance(source, Response):
            return source
        return call.json(200, self.wire(self._store(call, body, source, metadata, expires_after)))

    def _check_endpoint(self, call: Call, endpoint: str) -> Response | None:
        if call.surface == "openai":
            if endpoint in OPENAI_BATCH_ENDPOINTS:
                return None
            return call.invalid(
                f"Invalid value: '{endpoint}'. Supported values are: "
                + oxford(OPENAI_BATCH_ENDPOINTS)
                + ".",
                param="endpoint",
                code="invalid_value",
            )
        kind = endpoint_kind(endpoint)
        if kind == "responses" and not azure_version_at_least(call, AZURE_RESPONSES_SINCE):
            return call.invalid(
                f"The endpoint '{endpoint}' is not supported by api-version {call.api_version}.",
                param="endpoint",
            )
        if kind in AZURE_BATCH_KINDS and endpoint.startswith("/"):
            return None
        return call.invalid(f"The endpoint '{endpoint}' is not supported.", param="endpoint")

    def _output_expires_after(self, call: Call, spec: Any) -> int | Response | None:
        if spec is None:
            return None
        if call.surface == "azure" and not azure_version_at_least(call, AZURE_EXPIRES_SINCE):
            return None  # dated versions before 2025-03-01-preview do not know the field
        if not isinstance(spec, dict):
            return bad_type(call, "output_expires_after", "an object", spec)
        values = {
            "expires_after[anchor]": str(spec["anchor"]) if "anchor" in spec else None,
            "expires_after[seconds]": str(spec["seconds"]) if "seconds" in spec else None,
        }
        lo, hi = (
            (OPENAI_EXPIRES_MIN, OPENAI_EXPIRES_MAX)
            if call.surface == "openai"
            else (AZURE_EXPIRES_MIN, AZURE_EXPIRES_MAX)
        )
        return parse_expires(
            call,
            {k: v for k, v in values.items() if v is not None},
            lo,
            hi,
            openai_style=call.surface == "openai",
            name="output_expires_after",
        )

    def _input_file(self, call: Call, file_id: str) -> StoredFile | Response:
        f = self.state.get(call.surface, file_id)
        if f is None:
            return call.not_found(file_id, param="input_file_id")
        if f.purpose != "batch":
            return call.invalid(
                f"The input file {file_id} has purpose '{f.purpose}'; a batch needs a file "
                "uploaded with purpose 'batch'.",
                param="input_file_id",
                code="invalid_value",
            )
        if (
            call.surface == "azure"
            and self.state.config["azure_require_processed_files"]
            and f.status != "processed"
        ):
            return call.invalid(
                f"The input file {file_id} is not yet processed (status '{f.status}'); wait "
                "until its status is 'processed'.",
                param="input_file_id",
            )
        return f

    def _store(
        self,
        call: Call,
        body: dict[str, Any],
        source: StoredFile,
        metadata: dict[str, str] | None,
        expires_after: int | None,
    ) -> StoredBatch:
        now = time.time()
        if call.surface == "openai":
            batch_id = "batch_" + uuid.uuid4().hex
        else:
            batch_id = "batch_" + str(uuid.uuid4())
        # The batch keeps the bytes it was made from, whatever later happens to the file.
        input_path = keep_bytes(source.path, self.dir / f"{batch_id}.jsonl")
        window = int(self.state.config["batch_completion_window_seconds"])
        b = StoredBatch(
            id=batch_id,
            surface=call.surface,
            api=call.api,
            endpoint=body["endpoint"],
            input_file_id=source.id,
            input_path=input_path,
            completion_window=body["completion_window"],
            metadata=metadata,
            output_expires_after=expires_after,
            created_at=int(now),
            expires_at=int(now) + window,
            seq=self.state.next_seq(),
            entered=now,
            organization=call.request.headers.get("openai-organization"),
            project=call.request.headers.get("openai-project"),
        )
        self.batches[batch_id] = b
        call.entry["batch_id"] = batch_id
        return b

    # -- retrieve / list / cancel ---------------------------------------------------------------
    def find(self, call: Call) -> StoredBatch | Response:
        batch_id = call.request.path_params["batch_id"]
        b = self.batches.get(batch_id)
        if b is None or b.surface != call.surface:
            if call.surface == "openai":
                return call.openai_error(404, f"No batch found with id '{batch_id}'.")
            return call.azure_error(
                404, "notFound", f"Batch with id '{batch_id}' not found.", param="batch_id"
            )
        self.settle(b, time.time())
        return b

    async def retrieve(self, call: JsonCall) -> Response:
        b = self.find(call)
        return b if isinstance(b, Response) else call.json(200, self.wire(b))

    async def list_batches(self, call: JsonCall) -> Response:
        limit = parse_limit(call, LIST_DEFAULT, LIST_MAX)
        if isinstance(limit, Response):
            return limit
        now = time.time()
        mine = [b for b in self.batches.values() if b.surface == call.surface]
        for b in mine:
            self.settle(b, now)
        mine.sort(key=lambda b: (b.created_at, b.seq), reverse=True)
        after = call.request.query_params.get("after")
        return call.json(200, cursor_page(mine, [b.id for b in mine], after, limit, self.wire))

    async def cancel(self, call: JsonCall) -> Response:
        b = self.find(call)
        if isinstance(b, Response):
            return b
        if b.status in ("completed", "failed", "expired"):
            message = f"Cannot cancel a batch with status '{b.status}'."
            if call.surface == "openai":
                return call.openai_error(400, message, code="invalid_status")
            return call.azure_error(409, "unexpectedEntityState", message, param="batch_id")
        if b.status not in ("cancelling", "cancelled"):
            self._enter(b, "cancelling", time.time())  # cancelled on a later look, when due
        return call.json(200, self.wire(b))

    # -- wire shapes -----------------------------------------------------------------------------
    def wire(self, b: StoredBatch) -> dict[str, Any]:
        blank: str | None = None
        if b.surface == "azure" and self.state.config["azure_batch_empty_file_ids"]:
            blank = ""  # Azure answers "" for file ids not made yet (observed on 2025 versions)
        obj: dict[str, Any] = {"id": b.id, "object": "batch", "endpoint": b.endpoint}
        if b.surface == "openai" and b.model is not None:
            obj["model"] = b.model
        obj.update(
            {
                "errors": {"object": "list", "data": b.errors} if b.errors is not None else None,
                "input_file_id": b.input_file_id,
                "completion_window": b.completion_window,
                "status": b.status,
                "output_file_id": b.output_file_id if b.output_file_id is not None else blank,
                "error_file_id": b.error_file_id if b.error_file_id is not None else blank,
                "created_at": b.created_at,
                "in_progress_at": b.stamps["in_progress_at"],
                "expires_at": b.expires_at,
                "finalizing_at": b.stamps["finalizing_at"],
                "completed_at": b.stamps["completed_at"],
                "failed_at": b.stamps["failed_at"],
                "expired_at": b.stamps["expired_at"],
                "cancelling_at": b.stamps["cancelling_at"],
                "cancelled_at": b.stamps["cancelled_at"],
                "request_counts": b.counts(),
            }
        )
        if b.surface == "openai":
            obj["usage"] = b.usage()
        obj["metadata"] = b.metadata
        return obj

    def admin_view(self, b: StoredBatch) -> dict[str, Any]:
        durations = {s: self.state.config[k] for s, k in DURATION_KEYS.items()}
        return {
            **self.wire(b),
            "surface": b.surface,
            "api": b.api,
            "input_path": str(b.input_path),
            "requests_done": b.done,
            "durations": durations,
            "organization": b.organization,
            "project": b.project,
        }

    # -- the state machine -----------------------------------------------------------------------
    def _duration(self, b: StoredBatch) -> float | None:
        return self.state.duration(DURATION_KEYS, b.status)

    def settle(self, b: StoredBatch, now: float) -> None:
        """Apply every transition that is due by ``now``, each at the time it fell due."""
        while b.status not in TERMINAL:
            dur = self._duration(b)
            due = None if dur is None else b.entered + dur
            expiring = b.surface == "openai" and b.status in ("validating", "in_progress")
            if expiring and b.expires_at <= now and (due is None or b.expires_at < due):
                if b.status == "in_progress":
                    self._progress(b, float(b.expires_at), dur)
                self._expire(b, float(b.expires_at))
                return
            if b.status == "in_progress":
                self._progress(b, now if due is None else min(now, due), dur)
            if due is None or due > now:
                return
            self._step(b, due)

    def _progress(self, b: StoredBatch, at: float, dur: float | None) -> None:
        """Run the share of requests that the time spent in progress so far has paid for."""
        if not dur:
            return
        share = min(1.0, max(0.0, (at - b.entered) / dur))
        self._run(b, math.floor(b.total * share) - b.done)

    def _step(self, b: StoredBatch, at: float) -> None:
        """The next status along the normal path (validating -> ... -> completed, or
        cancelling -> cancelled)."""
        if b.status == "validating":
            self._validate(b, at)
        elif b.status == "in_progress":
            self._run(b, b.total - b.done)
            self._enter(b, "finalizing", at)
        elif b.status == "finalizing":
            self._run(b, b.total - b.done)
            self._close_files(b, at)
            self._enter(b, "completed", at)
        elif b.status == "cancelling":
            self._close_files(b, at)
            self._enter(b, "cancelled", at)

    def _enter(self, b: StoredBatch, status: str, at: float) -> None:
        b.status = status
        b.entered = at
        stamp = f"{status}_at"
        if stamp in b.stamps:
            b.stamps[stamp] = int(at)

    def _expire(self, b: StoredBatch, at: float) -> None:
        if b.total > b.done:  # what never ran is reported in the error file
            for line in self._lines(b, b.total - b.done):
                self._write(b, self._result(b, line.custom_id, None, EXPIRED_ERROR), error=True)
                b.failed += 1
                b.done += 1
                b.offset = line.end
        self._close_files(b, at)
        self._enter(b, "expired", at)

    def _fail(self, b: StoredBatch, at: float, errors: list[dict[str, Any]]) -> None:
        b.errors = errors
        self._close_files(b, at)
        self._enter(b, "failed", at)

    # -- validation ------------------------------------------------------------------------------
    def _validate(self, b: StoredBatch, at: float) -> None:
        limit = self.state.config["batch_max_requests"] or (
            OPENAI_MAX_REQUESTS if b.surface == "openai" else AZURE_MAX_REQUESTS
        )
        deployments = self.state.config["azure_deployments"] if b.surface == "azure" else None
        report = check_input(
            b.input_path,
            endpoint=b.endpoint,
            exact_urls=b.surface == "openai",
            window=b.completion_window if b.surface == "azure" else "24h",
            deployments=deployments,
            limit=limit,
        )
        b.model = report.model
        if report.errors:
            self._fail(b, at, report.errors)
            return
        b.total = report.count
        self._enter(b, "in_progress", at)

    # -- running requests ------------------------------------------------------------------------
    def _lines(self, b: StoredBatch, n: int) -> Iterator[ParsedLine]:
        """The next ``n`` requests after the last finished one, read as they are needed."""
        if n <= 0:
            return
        for count, (number, raw, end) in enumerate(raw_lines(b.input_path, b.offset), 1):
            line = json.loads(raw)
            yield ParsedLine(number, line["custom_id"], line["url"], line["body"], end)
            if count >= n:
                return

    def _run(self, b: StoredBatch, n: int) -> None:
        for line in self._lines(b, n):
            marker = line.body.get(FAIL_MARKER)
            failure: tuple[int, dict[str, Any]] | None = None
            if marker is not None and marker is not False:
                failure = self._marker_error(line, marker)
            else:
                kind = endpoint_kind(line.url)
                try:
                    body, t_in, t_out = reply(kind, line.custom_id, line.body, b.surface)
                except model_responses.BadRequest as bad:  # the model refuses the request
                    failure = (400, {"message": bad.message, "type": "invalid_request_error",
                                     "param": bad.param, "code": None})  # fmt: skip
            if failure is not None:
                status, error = failure
                self._write(
                    b, self._result(b, line.custom_id, (status, {"error": error}), None), error=True
                )
                b.failed += 1
            else:
                self._write(b, self._result(b, line.custom_id, (200, body), None), error=False)
                b.completed += 1
                b.tokens_in += t_in
                b.tokens_out += t_out
            b.done += 1
            b.offset = line.end

    @staticmethod
    def _marker_error(line: ParsedLine, marker: Any) -> tuple[int, dict[str, Any]]:
        spec = marker if isinstance(marker, dict) else {}
        status = spec.get("status", 400)
        if not isinstance(status, int) or not 400 <= status <= 599:
            status = 400
        return status, {
            "message": str(spec.get("message", f"Injected failure for request {line.custom_id}.")),
            "type": str(spec.get("type", "invalid_request_error")),
            "param": spec.get("param"),
            "code": spec.get("code"),
        }

    def _result(
        self,
        b: StoredBatch,
        custom_id: str,
        response: tuple[int, dict[str, Any]] | None,
        error: dict[str, Any] | None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if b.surface == "openai":
            out["id"] = "batch_req_" + uuid.uuid4().hex
        out["custom_id"] = custom_id
        if response is None:
            out["response"] = None
        else:
            request_id = uuid.uuid4().hex if b.surface == "openai" else str(uuid.uuid4())
            out["response"] = {
                "status_code": response[0],
                "request_id": request_id,
                "body": response[1],
            }
        out["error"] = error
        return out

    def _write(self, b: StoredBatch, result: dict[str, Any], *, error: bool) -> None:
        data = (json.dumps(result, separators=(",", ":")) + "\n").encode()
        if error:
            if b.err is None:
                b.err = BlobWriter(self.state)
            b.err.write(data)
        else:
            if b.out is None:
                b.out = BlobWriter(self.state)
            b.out.write(data)

    def _close_files(self, b: StoredBatch, at: float) -> None:
        """Make the output and error files real files. OpenAI makes only the ones with lines;
        Azure makes both, an empty error file for a batch without errors."""
        always = b.surface == "azure" and b.status != "validating"
        for kind in ("output", "error"):
            writer = b.out if kind == "output" else b.err
            if writer is None and always:
                writer = BlobWriter(self.state)
            if writer is None:
                continue
            if b.surface == "openai":
                file_id = "file-" + rand_alnum(22)
            else:  # Azure's batch output ids are dashed uuids
                file_id = "file-" + str(uuid.uuid4())
            f = writer.commit(
                file_id=file_id,
                surface=b.surface,
                purpose="batch_output",
                filename=f"{b.id}_{kind}.jsonl",
                content_type="application/jsonl",
                created_at=int(at),
                expires_after=b.output_expires_after,
            )
            if kind == "output":
                b.output_file_id, b.out = f.id, None
            else:
                b.error_file_id, b.err = f.id, None

    # -- admin -----------------------------------------------------------------------------------
    async def admin(self, request: Request, action: str, item: str | None) -> Response | None:
        if action != "batches":
            return None
        return await admin_items(
            request,
            item,
            self.batches,
            kind="batches",
            settle=self.settle,
            view=self.admin_view,
            drive=self.drive,
        )

    def drive(self, b: StoredBatch, spec: Any, now: float) -> None:
        """``POST /__admin/batches/{id}``: run requests now, or move to a status now."""
        spec = admin_body(spec, ("status", "requests", "errors"))
        n = admin_count(spec, "requests")
        if n is not None:
            if b.status != "in_progress":
                raise AdminError(f"requests run only in_progress; the batch is {b.status}")
            self._run(b, min(n, b.total - b.done))
        target = admin_target(spec, STATUSES, b.status, b.status in TERMINAL, "batch")
        if target is None:
            return
        if target == "failed":
            errors = spec.get("errors") or [
                {
                    "code": "server_error",
                    "message": "The batch failed.",
                    "param": None,
                    "line": None,
                }
            ]
            if not isinstance(errors, list) or not all(isinstance(e, dict) for e in errors):
                raise AdminError("errors must be a list of objects")
            self._fail(b, now, errors)
        elif target == "expired":
            self._expire(b, now)
        elif target in ("cancelling", "cancelled"):
            if b.status not in ("cancelling", "cancelled"):
                self._enter(b, "cancelling", now)
            if target == "cancelled" and b.status == "cancelling":
                self._step(b, now)
        else:
            if b.status not in FORWARD or FORWARD.index(target) < FORWARD.index(b.status):
                raise AdminError(f"cannot go from {b.status} to {target}")
            while b.status != target and b.status not in TERMINAL:
                self._step(b, now)
