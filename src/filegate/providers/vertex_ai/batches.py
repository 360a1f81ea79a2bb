"""Vertex AI batches: a batch is a ``batchPredictionJobs`` job over a file's converted copy.

The copy (Vertex's request lines, written by ``create_file``) is the job's ``gcsSource``;
the job writes under a fresh prefix of the deployment's bucket and picks its own directory
there (``outputInfo.gcsOutputDirectory``), whose shards ``batch_output`` serves as the
batch's output and error files. Vertex wants one model per job, so the file's lines must
all name the same one; the original lines are read once to find it, and the answer is kept
in the copy's metadata for the next batch over the same copy.

OpenAI's metadata cannot travel as Vertex labels in general (labels allow only
``[a-z0-9_-]``, 63 characters), so the caller keeps it: a pair that happens to be a valid
label is copied onto the job for people looking at it in Google's console, and a
retrieved batch carries no metadata.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx2
import msgspec
import orjson
from ulid import ULID

from filegate.errors import ConfigError, FilegateError, FileNotFound, InvalidRequest
from filegate.google.gcs_client import GCSClient
from filegate.google.tokens import GoogleAuth, GoogleTokens
from filegate.providers.base import ProviderBatch
from filegate.providers.vertex_ai.batch_lines import transform_lines
from filegate.providers.vertex_ai.batch_output import ERROR, OUTPUT, BatchOutputs, output_file_id
from filegate.providers.vertex_ai.credentials import (
    VertexTokenErrors,
    load_credentials,
    parse_credentials,
)
from filegate.providers.vertex_ai.objects import ORIGINAL, ROLE, parse_gs_id
from filegate.providers.vertex_ai.output_lines import rfc3339_epoch
from filegate.records import ExpiresAfter
from filegate.upstream.client import WireClient
from filegate.upstream.meter import BoundMeter

ENDPOINT = "/v1/chat/completions"
DEFAULT_LOCATION = "us-central1"
_JOB_NAME = re.compile(r"projects/[^/]+/locations/([a-z0-9-]+)/batchPredictionJobs/(\d{1,30})")
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
_FULL_MODEL = re.compile(
    r"(?:projects/[^/\s]+/locations/[^/\s]+/)?publishers/[a-z0-9-]+/models/[A-Za-z0-9._@-]+"
    r"|projects/[^/\s]+/locations/[^/\s]+/models/[A-Za-z0-9._@-]+"
)
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
# The copy's metadata: the model its lines name (or why they cannot run) and their count.
MODEL, MODEL_PROBLEM, LINES = "filegate_model", "filegate_model_problem", "filegate_lines"
LINES_LABEL = "filegate_lines"

STATUSES = {
    "JOB_STATE_UNSPECIFIED": "validating",
    "JOB_STATE_QUEUED": "validating",
    "JOB_STATE_PENDING": "validating",
    "JOB_STATE_RUNNING": "in_progress",
    "JOB_STATE_UPDATING": "in_progress",
    "JOB_STATE_PAUSED": "in_progress",
    "JOB_STATE_SUCCEEDED": "completed",
    # Some requests failed: OpenAI says completed and lists them in the error file.
    "JOB_STATE_PARTIALLY_SUCCEEDED": "completed",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_CANCELLING": "cancelling",
    "JOB_STATE_CANCELLED": "cancelled",
    "JOB_STATE_EXPIRED": "expired",
}
# google.rpc.Code, as the errors of a failed job name them.
_RPC_CODES = (
    *("ok", "cancelled", "unknown", "invalid_argument", "deadline_exceeded", "not_found"),
    *("already_exists", "permission_denied", "resource_exhausted", "failed_precondition"),
    *("aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss"),
    "unauthenticated",
)
# Which timestamp the job's endTime is, by the status it ended in.
_END_STAMP = {
    "completed": "completed_at",
    "failed": "failed_at",
    "cancelled": "cancelled_at",
    "expired": "expired_at",
}


class _Body(msgspec.Struct):
    model: Any = None


class _Line(msgspec.Struct):
    body: _Body | None = None


_decode_line = msgspec.json.Decoder(_Line).decode


def vertex_model(name: object) -> str | None:
    """A line's ``model`` as a Vertex model resource name; None if it is not one."""
    if not isinstance(name, str):
        return None
    name = name.removeprefix("vertex_ai/")
    if _FULL_MODEL.fullmatch(name):
        return name
    if _MODEL_ID.fullmatch(name):
        return f"publishers/google/models/{name}"
    return None


def _short_model(model: object) -> str | None:
    """The model as OpenAI's Batch object names it: the id of a Google model."""
    if not isinstance(model, str):
        return None
    if "/publishers/" in f"/{model}":
        return model.rsplit("/", 1)[-1]
    return model


def _labels(metadata: Mapping[str, str] | None) -> dict[str, str]:
    return {
        k: v
        for k, v in (metadata or {}).items()
        if _LABEL_KEY.fullmatch(k) and _LABEL_VALUE.fullmatch(v) and not k.startswith("filegate")
    }


class _ModelScan:
    """Finds the one model of a file's lines, or the first line that names another."""

    def __init__(self) -> None:
        self.model: str | None = None
        self.problem: str | None = None
        self.lines = 0

    def __call__(self, line: bytes, number: int) -> None:
        if self.problem is not None or not line.strip():
            return
        self.lines += 1
        try:
            body = _decode_line(line).body
        except msgspec.DecodeError:
            body = None
        raw = body.model if body is not None else None
        model = vertex_model(raw)
        if model is None:
            self.problem = f"Line {number} has no model Vertex AI can run (body.model={raw!r})."
        elif self.model is None:
            self.model = model
        elif model != self.model:
            self.problem = (
                f"Line {number} uses model {raw!r}, but the lines before it use "
                f"{self.model.rsplit('/', 1)[-1]!r}: a Vertex AI batch runs one model."
            )


class VertexBatches:
    """The Batch API of ``VertexAIProvider`` (mixed into it)."""

    name: str
    bucket: str
    prefix: str
    gcs: GCSClient
    batch_outputs: BatchOutputs

    def _init_batches(
        self,
        *,
        vertex_api_base: str | None,
        vertex_project: str | None,
        vertex_location: str | None,
        credentials: str | Mapping[str, Any] | None,
        token_uri: str | None,
        timeout: float,
        max_retries: int,
        extra_headers: dict[str, str] | None,
        transport: httpx2.AsyncBaseTransport | None,
        meter: BoundMeter | None = None,
    ) -> None:
        self.batch_outputs = BatchOutputs(self.gcs, self.bucket, self.prefix)
        project = vertex_project
        if project is None and credentials is not None:
            project = parse_credentials(credentials).get("project_id")
        self.batch_project = str(project) if project else None
        location = vertex_location or DEFAULT_LOCATION
        if not re.fullmatch(r"[a-z0-9-]+", location):
            raise ConfigError(f"vertex_location: {location!r} is not a Vertex AI location")
        self.batch_location = location
        host = "aiplatform.googleapis.com"
        base = vertex_api_base or (
            f"https://{host}" if location == "global" else f"https://{location}-{host}"
        )
        # Vertex AI always wants a token; the GCS client's serves both when it has one.
        tokens = self.gcs.tokens or GoogleTokens(
            None if credentials is None else load_credentials(credentials, token_uri=token_uri),
            errors=VertexTokenErrors(),
            timeout=min(timeout, 60),
        )
        self._own_tokens = None if tokens is self.gcs.tokens else tokens
        common: dict[str, Any] = {
            "base_url": base,
            "headers": {"Accept": "application/json", **(extra_headers or {})},
            "timeout": timeout,
            "transport": transport,
            "meter": meter,
        }
        self.vertex = WireClient(self.name, max_retries=max_retries, **common)
        # A create is sent once: a retry after a lost answer could start a second job.
        self.vertex_create = WireClient(self.name, max_retries=0, **common)
        for wire in (self.vertex, self.vertex_create):
            wire.client.auth = GoogleAuth(tokens)

    @property
    def supports_batches(self) -> bool:
        return self.batch_project is not None

    def _collection(self) -> str:
        project = quote(self.batch_project or "", safe="")
        return f"/v1/projects/{project}/locations/{self.batch_location}/batchPredictionJobs"

    def _job_path(self, batch_id: str) -> str:
        if batch_id.isdigit() and len(batch_id) <= 30:
            return f"{self._collection()}/{batch_id}"
        if _JOB_NAME.fullmatch(batch_id) is None:
            raise FileNotFound(f"No batch found with id '{batch_id[:128]}'.", param="batch_id")
        return f"/v1/{batch_id}"

    # -- create ------------------------------------------------------------------------------

    def check_output_expires_after(self, expires_after: ExpiresAfter) -> None:
        """Refused: the output stays in the deployment's bucket under its own lifecycle,
        and filegate will not accept an option it would silently drop."""
        raise InvalidRequest(
            f"{self.name} (Vertex AI) keeps a batch's output in its bucket and cannot "
            "expire it; leave output_expires_after out (set a lifecycle rule on the bucket).",
            param="output_expires_after",
            code="unsupported_parameter",
        )

    async def create_batch(
        self,
        *,
        input_file_id: str,
        endpoint: str,
        completion_window: str,
        metadata: dict[str, str] | None,
        output_expires_after: ExpiresAfter | None,
    ) -> ProviderBatch:
        if output_expires_after is not None:
            self.check_output_expires_after(output_expires_after)
        if endpoint != ENDPOINT:
            raise InvalidRequest(
                f"{self.name} runs batches of {ENDPOINT} only, not {endpoint!r}.",
                param="endpoint",
                code="unsupported_endpoint",
            )
        try:
            bucket, name = parse_gs_id(input_file_id)
            doc = await self.gcs.metadata(bucket, name)
        except FileNotFound:
            raise FileNotFound(
                f"No such File object: {input_file_id[:128]}", param="input_file_id"
            ) from None
        model, lines = await self._batch_model(bucket, name, doc)
        labels = _labels(metadata)
        labels[LINES_LABEL] = str(lines)
        stem = str(ULID()).lower()
        body = {
            "displayName": f"filegate-{stem}",
            "model": model,
            "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": [input_file_id]}},
            "outputConfig": {
                "predictionsFormat": "jsonl",
                "gcsDestination": {
                    "outputUriPrefix": f"gs://{self.bucket}/{self.prefix}batch-output/{stem}"
                },
            },
            "labels": labels,
        }
        raw = orjson.dumps(body)
        try:
            job = await self.vertex_create.json(
                "POST",
                self._collection(),
                headers={"Content-Type": "application/json", "Content-Length": str(len(raw))},
                body=lambda: _once(raw),
                retry_unsafe=False,
            )
        except FileNotFound as exc:
            # The lines' model: the batch's request is fine, what it names is not.
            raise InvalidRequest(exc.message, code="model_not_found") from None
        batch = self._batch(job)
        batch.metadata = dict(metadata) if metadata else None
        return batch

    async def _batch_model(self, bucket: str, name: str, doc: dict[str, Any]) -> tuple[str, int]:
        """The model every line of the copy names and how many lines it has."""
        meta: dict[str, str] = dict(doc.get("metadata") or {})
        original = meta.get(ORIGINAL)
        if meta.get(ROLE) != "vertex_batch" or not isinstance(original, str):
            raise InvalidRequest(
                f"{self.name}: the input file was not uploaded with purpose 'batch', so it "
                "holds no Vertex AI requests.",
                param="input_file_id",
                code="invalid_file",
            )
        if MODEL_PROBLEM not in meta and not (MODEL in meta and meta.get(LINES, "").isdigit()):
            scan = _ModelScan()
            response = await self.gcs.open(bucket, original, None)
            try:
                async for _ in transform_lines(response.aiter_raw(), scan):
                    pass
            finally:
                await response.aclose()
            if scan.problem is None and scan.model is None:
                scan.problem = "The input file has no requests."
            found = {MODEL_PROBLEM: scan.problem} if scan.problem else {MODEL: scan.model or ""}
            meta.update(found, **{LINES: str(scan.lines)})
            # Kept for the next batch over this copy; losing it only costs a rescan.
            with contextlib.suppress(FilegateError):
                await self.gcs.patch_metadata(bucket, name, meta)
        if MODEL_PROBLEM in meta:
            raise InvalidRequest(
                f"{self.name}: {meta[MODEL_PROBLEM]}", param="input_file_id", code="invalid_file"
            )
        return meta[MODEL], int(meta[LINES])

    # -- retrieve, cancel --------------------------------------------------------------------

    async def retrieve_batch(self, batch_id: str) -> ProviderBatch:
        return self._batch(await self._get_job(batch_id))

    async def _get_job(self, batch_id: str) -> dict[str, Any]:
        try:
            return await self.vertex.json("GET", self._job_path(batch_id))
        except FileNotFound:
            raise FileNotFound(
                f"No batch found with id '{batch_id[:128]}'.", param="batch_id"
            ) from None

    async def cancel_batch(self, batch_id: str) -> ProviderBatch:
        path = self._job_path(batch_id)
        try:
            await self.vertex.json(
                "POST",
                f"{path}:cancel",
                headers={"Content-Type": "application/json", "Content-Length": "2"},
                body=lambda: _once(b"{}"),
            )
        except FileNotFound:
            raise FileNotFound(
                f"No batch found with id '{batch_id[:128]}'.", param="batch_id"
            ) from None
        except InvalidRequest as exc:
            # FAILED_PRECONDITION: already ending or ended. Cancelling twice is not an
            # error (as OpenAI's); cancelling a finished batch is.
            batch = await self.retrieve_batch(batch_id)
            if batch.status in ("cancelling", "cancelled"):
                return batch
            raise InvalidRequest(
                f"Cannot cancel a batch with status '{batch.status}'.",
                param="batch_id",
                code="invalid_status",
            ) from exc
        return await self.retrieve_batch(batch_id)

    # -- the job as OpenAI's Batch ------------------------------------------------------------

    def _batch(self, job: dict[str, Any]) -> ProviderBatch:
        name = str(job.get("name") or "")
        job_id = name.rsplit("/", 1)[-1]
        state = str(job.get("state") or "JOB_STATE_UNSPECIFIED")
        status = STATUSES.get(state, "in_progress")
        uris = ((job.get("inputConfig") or {}).get("gcsSource") or {}).get("uris") or [""]
        stats = job.get("completionStats") or {}
        succeeded, failed, incomplete = (
            int(stats.get(k) or 0) for k in ("successfulCount", "failedCount", "incompleteCount")
        )
        labels = job.get("labels") or {}
        lines = str(labels.get(LINES_LABEL) or "")
        total = succeeded + failed + incomplete
        if not total and lines.isdigit():
            total = int(lines)
        stamps: dict[str, int] = {}
        if job.get("startTime"):
            stamps["in_progress_at"] = rfc3339_epoch(job["startTime"])
        end = _END_STAMP.get(status)
        if end is not None and job.get("endTime"):
            stamps[end] = rfc3339_epoch(job["endTime"])
        if status == "cancelling" and job.get("updateTime"):
            stamps["cancelling_at"] = rfc3339_epoch(job["updateTime"])
        batch = ProviderBatch(
            id=name,
            status=status,
            endpoint=ENDPOINT,
            input_file_id=str(uris[0]),
            created_at=rfc3339_epoch(job.get("createTime")),
            request_counts={"total": total, "completed": succeeded, "failed": failed},
            timestamps=stamps,
            model=_short_model(job.get("model")),
            raw=job,
        )
        directory = (job.get("outputInfo") or {}).get("gcsOutputDirectory")
        if end is not None and isinstance(directory, str) and directory:
            if succeeded:
                batch.output_file_id = output_file_id(OUTPUT, job_id, directory)
            if failed:
                batch.error_file_id = output_file_id(ERROR, job_id, directory)
        error = job.get("error")
        if status in ("failed", "expired") and isinstance(error, dict):
            code = error.get("code")
            name = _RPC_CODES[code] if isinstance(code, int) and 0 < code < 17 else "unknown"
            batch.errors = {
                "object": "list",
                "data": [
                    {
                        "code": f"vertex_ai_{name}",
                        "message": str(error.get("message") or "The Vertex AI job failed."),
                        "param": None,
                        "line": None,
                    }
                ],
            }
        return batch

    async def _aclose_batches(self) -> None:
        await self.vertex.aclose()
        await self.vertex_create.aclose()
        if self._own_tokens is not None:
            await self._own_tokens.aclose()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
