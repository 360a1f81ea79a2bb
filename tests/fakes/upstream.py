"""A fake OpenAI / Azure OpenAI upstream for filegate's tests: Files, Uploads, Batches, Fine-tuning.

It speaks the wire formats of both providers closely enough that the gateway's provider code
(and the official ``openai`` SDK) cannot tell it from the real thing, and it adds test controls
under ``/__admin``. One process; files, batch outputs and job inputs are kept under the state
directory (wiped on reset), everything else in memory.

Run it as a process::

    python tests/fakes/upstream.py --port 8901 --state-dir /tmp/fake-upstream

or build the ASGI app in-process with :func:`create_app`. Modules: ``state.py`` (stores,
faults, settings, log), ``calls.py`` (auth, versions, error shapes), ``checks.py``,
``multipart.py``, ``batches.py`` (+ ``batch_checks.py``, ``replies.py``), ``fine_tuning.py``
(+ ``fine_tuning_checks.py``).

Surfaces
--------
* OpenAI, prefix ``/v1``: ``POST/GET /v1/files``, ``GET/DELETE /v1/files/{id}``,
  ``GET /v1/files/{id}/content``. ``Authorization: Bearer <openai_key>``. Files are
  ``processed`` at once. Ids are ``file-`` + 24 alphanumerics.
* Azure classic data plane: ``/openai/files`` (+ ``/{id}``, ``/{id}/content``) with a required,
  dated ``api-version`` query parameter (``2024-10-21`` ...). Create answers ``201`` with a
  ``Location`` header and ``status: "pending"``; retrieves move the file through the configured
  steps (default ``running`` then ``processed``). List answers ``{"object": "list", "data": [...]}``
  honouring ``purpose`` only, as the 2024-10-21 spec declares (switchable, see ``/__admin/config``;
  with no ``has_more`` the SDK's auto-pagination never ends: read ``.data``).
* Azure v1: ``/openai/v1/files...``, ``api-version`` optional (``v1`` or ``preview``). Create
  answers ``200`` (as the v1 spec declares), list paginates (``limit``, ``order``, ``after``,
  ``has_more``). Error bodies carry ``param``, ``type`` and ``inner_error``.
* Uploads API, on ``/v1``, ``/openai/v1`` and (dated preview versions from ``2024-08-01-preview``
  on; 404 on GA versions such as ``2024-10-21``) ``/openai``: ``POST /uploads`` (JSON ``{filename,
  purpose, bytes, mime_type, expires_after?}``; ids ``upload_`` + 24 alphanumerics),
  ``POST /uploads/{id}/parts`` (multipart field ``data``, at most 64 MiB, kept on disk; ids
  ``part_`` + 24 alphanumerics), ``POST /uploads/{id}/complete`` (JSON ``{part_ids, md5?}``: the
  parts must be this upload's, their bytes must sum to ``bytes`` and the md5, when given, must
  match; a refused complete leaves the upload pending; a completed one makes an ordinary file of
  that surface), ``POST /uploads/{id}/cancel``. Ops ``upload_create``, ``upload_part``,
  ``upload_complete``, ``upload_cancel`` (log entries carry ``upload_id``). ``GET
  /__admin/uploads`` -> ``{"data": [upload objects + surface, parts: [{id, bytes}]]}``.
* Batches and fine-tuning jobs on all three prefixes (below).
* Azure auth: ``api-key: <azure_key>`` or ``Authorization: Bearer <azure_ad_token>``; the v1
  surface also takes ``Authorization: Bearer <azure_key>`` (its ``ApiKeyAuth_`` scheme).
  Azure files, batches and jobs live in one store shared by both Azure surfaces; OpenAI's are
  apart (an id of the other provider is unknown).

Time: how batches and jobs move
-------------------------------
A batch or job advances only when it is looked at (any retrieve, list, cancel, events,
checkpoints, or admin call), by every step that has fallen due: each status lasts the seconds of
its config key (below; default 0, so the first look after create sees the end), ``null`` holds
it until an admin call moves it or the key is set again (a held status lets go once its time is
set). Step times are exact (each step happens at the moment it fell due), so timestamps are
consistent whatever the polling. In ``in_progress`` (batches) and ``running`` (jobs) the work is
spread over the status's time: a poll half way sees half the requests done or steps trained.
Create always answers the first status (``validating`` / ``validating_files``).

Batches: ``POST|GET {prefix}/batches``, ``GET {prefix}/batches/{id}``, ``POST .../{id}/cancel``
-------------------------------------------------------------------------------------------------
Ops ``batch_create``, ``batch_list``, ``batch_retrieve``, ``batch_cancel``. The Batch object is
the spec's (``Batch``): ``id, object, endpoint, model`` (OpenAI, once validated), ``errors,
input_file_id, completion_window, status, output_file_id, error_file_id, created_at,
in_progress_at, expires_at`` (created + ``batch_completion_window_seconds``), ``finalizing_at,
completed_at, failed_at, expired_at, cancelling_at, cancelled_at, request_counts, usage``
(OpenAI: the sum of the lines' token counts), ``metadata``. OpenAI ids ``batch_`` + 32 hex.

* Create (JSON ``{input_file_id, endpoint, completion_window, metadata?, output_expires_after?}``)
  answers 400 in OpenAI's wording and codes for an unknown field (``unknown_parameter``), a
  missing or mistyped one, an endpoint outside the spec's list (``/v1/responses``,
  ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/completions``, ``/v1/moderations``,
  ``/v1/images/generations``, ``/v1/images/edits``, ``/v1/videos``), a window other than
  ``24h``, metadata over 16 pairs / 64-char keys / 512-char values, ``output_expires_after``
  outside ``created_at`` + 3600..2592000 s (params ``output_expires_after.*``); 404 ``No such
  File object: <id>`` (param ``input_file_id``) for a file unknown on that surface; 400 (param
  ``input_file_id``, code ``invalid_value``) for one whose purpose is not ``batch``. The batch
  keeps a hard link of the input's bytes, so deleting the file later changes nothing.
* Validating reads the input line by line and fails the batch (``errors: {object: "list",
  data: [{code, message, param, line}]}``, ``failed_at``, no files) on: a line that is not a
  JSON object (``invalid_json_line``), a missing or mistyped ``custom_id``/``method``/``url``/
  ``body`` or a method other than POST (``invalid_request``, param names the field), a url
  other than the endpoint (``url_mismatch``), a repeated custom_id (``duplicate_custom_id``),
  a model other than the first line's (``model_mismatch``, param ``body.model``), no lines
  (``empty_file``), more than ``batch_max_requests`` (default 50,000 OpenAI, 100,000 Azure;
  ``too_many_tasks``). Up to 100 errors are reported, with 1-based line numbers.
* Running answers each line: an output line ``{"id": "batch_req_<32 hex>", "custom_id",
  "response": {"status_code": 200, "request_id", "body"}, "error": null}`` whose body is the
  endpoint's own object (chat.completion, embedding list, text_completion, response,
  moderation, images, video; each valid against the spec's response schema) echoing the
  request's last user text (``"echo: <text>"``: the fake model server's answers, from
  ``model_responses.py``); a body that model refuses (no ``messages``, a bad ``n``...) fails
  its line with a 400 body. **Failure marker**: a request whose ``body`` has
  ``"fake_error": true`` or ``{"status": 400..599 (400), "message", "type", "param",
  "code"}`` goes to the error file as ``{..., "response": {"status_code": <status>,
  "request_id", "body": {"error": {message, type, param, code}}}, "error": null}``.
* Done: ``finalizing`` then ``completed``; the output and error files become files of the
  surface's Files API (purpose ``batch_output``, status ``processed``, names
  ``<batch id>_output.jsonl`` / ``_error.jsonl``, ``expires_at`` from ``output_expires_after``).
  OpenAI makes only the files that have lines (``error_file_id`` null when nothing failed).
* Cancel (validating, in_progress, finalizing) answers ``cancelling`` (``cancelling_at``); after
  ``batch_cancelling_seconds`` it is ``cancelled`` and the files hold what had finished, no
  more. Cancelling a cancelling/cancelled batch answers it unchanged; a completed, failed or
  expired one: OpenAI 400 ``Cannot cancel a batch with status '<s>'.`` (code
  ``invalid_status``), Azure 409 ``unexpectedEntityState``.
* Expiry (OpenAI only): a batch still validating or in progress at ``expires_at`` expires then;
  what had not run goes to the error file as ``{..., "response": null, "error": {"code":
  "batch_expired", "message": ...}}`` and counts as failed.
* List: newest first, ``after`` (an unknown id gives an empty page), ``limit`` 1..100 (default
  20), ``first_id``, ``last_id``, ``has_more``. Unknown batch: OpenAI 404 ``No batch found with
  id '<id>'.``; Azure 404 ``notFound`` ``Batch with id '<id>' not found.``.

Azure's batches differ (dated ``/openai/batches`` from api-version ``2024-07-01-preview``, 404
before; v1 ``/openai/v1/batches``): ids ``batch_`` + a dashed uuid, output and error file ids
``file-`` + a dashed uuid; no ``model`` or ``usage``; a file id not made yet is ``""``
(``azure_batch_empty_file_ids``; null when false); both files are always made, the error file
empty (0 bytes) when nothing failed; output lines have no ``id``, a dashed-uuid ``request_id``,
and chat bodies carry ``content_filter_results`` / ``prompt_filter_results``; endpoints and line
urls may be written ``/chat/completions`` or ``/v1/chat/completions`` (chat completions,
embeddings, completions; responses from 2025-04-01-preview and on v1); any
``completion_window`` is taken and a batch with one other than ``24h`` then fails
(``invalid_request``, param ``completion_window``); ``output_expires_after`` exists on v1 and
from 2025-03-01-preview (14..30 days) and is ignored by older dated versions; the input file
must be ``processed`` (``azure_require_processed_files``; else 400 ``invalidPayload``); with
``azure_deployments`` set, a line naming another model fails the batch (``model_not_found``);
batches never expire by time (Azure lets them run past their window).

Fine-tuning jobs: ``{prefix}/fine_tuning/jobs`` and ``/{id}[/cancel|/pause|/resume|/events|...]``
-----------------------------------------------------------------------------------------------
``POST`` create and ``GET`` list on ``/fine_tuning/jobs``; ``GET /{id}``; ``POST /{id}/cancel``,
``/{id}/pause``, ``/{id}/resume``; ``GET /{id}/events``, ``/{id}/checkpoints``.
Ops ``ft_create``, ``ft_list``, ``ft_retrieve``, ``ft_cancel``, ``ft_events``,
``ft_checkpoints``, ``ft_pause``, ``ft_resume``, ``ft_delete`` (Azure dated only). The job is
the spec's ``FineTuningJob`` (plus ``user_provided_suffix``): ids ``ftjob-`` + 24
alphanumerics; ``model`` resolved to its snapshot (``gpt-4o-mini`` trains
``gpt-4o-mini-2024-07-18``); ``organization_id`` from the ``OpenAI-Organization`` header
(``org-fakeupstream``); ``seed`` random when not given; ``hyperparameters`` (and
``method.<type>.hyperparameters``) say ``"auto"`` until the files are read, then the values
picked (``n_epochs`` 3, ``batch_size`` examples // 10 (1..256), ``learning_rate_multiplier``
1.8, DPO ``beta`` 0.1).

* Create checks (400, OpenAI wording): unknown fields; ``model`` and ``training_file``
  required; a model not in ``ft_models`` (``model_not_available``; ``ft:...`` models always
  train); ``training_file``/``validation_file`` unknown on the surface (400 ``invalid
  training_file: <id>``) or not purpose ``fine-tune`` (``invalid_value``); hyperparameter types
  and ranges (``batch_size`` 1..256, ``n_epochs`` 1..50, ``learning_rate_multiplier`` > 0, DPO
  ``beta`` in (0, 2], reinforcement extras), hyperparameters both top level and in ``method``,
  top-level ones on a non-supervised method; ``method.type`` in supervised | dpo |
  reinforcement, reinforcement needs ``grader`` and an ``o`` model; ``suffix`` 1..64 chars;
  ``seed`` 0..2147483647; metadata as for batches; ``integrations`` at most 5 ``wandb`` ones
  with a ``project``. Params name the field (``method.dpo.hyperparameters.beta``).
* ``validating_files`` reads the files line by line: each line a JSON object with
  ``messages`` (supervised, reinforcement; or ``prompt``/``completion``), or ``input``,
  ``preferred_output``, ``non_preferred_output`` (dpo), else the job fails with ``error:
  {code: "invalid_file_format", message, param: "training_file"|"validation_file"}``; fewer
  than ``ft_min_examples`` (10) training examples fail it with ``invalid_n_examples``.
* ``queued``, then ``running``: steps = n_epochs x ceil(examples / batch_size); each step adds
  a row to the results CSV and a ``metrics`` event (at most ~100 per job) ``Step n/N: training
  loss=... [, validation loss=...]``, ``data: {step, train_loss, train_mean_token_accuracy,
  total_steps, valid_*?}``; the end of each of the last three epochs makes a checkpoint
  (``ftckpt_`` + 24 alphanumerics, ``fine_tuned_model_checkpoint`` ``<model>:ckpt-step-<n>``,
  metrics). ``estimated_finish`` is set while running with a timed step.
* ``succeeded``: ``fine_tuned_model`` ``ft:<model>:<org without "org-">:<suffix>:<8 hex>``,
  ``result_files`` [one CSV: purpose ``fine-tune-results``, ``step_metrics.csv``, columns
  ``step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy``], ``trained_tokens``,
  ``finished_at``. **Failure marker**: a training line with ``"fake_error": true`` or ``{"code",
  "message", "param"}`` fails the job after its training steps, with that error.
* Events (``fine_tuning.job.event``, ids ``ftevent-``, ``data`` always an object), newest
  first, ``after`` (event id), ``limit`` 1..100 (20), ``has_more``: ``Created fine-tuning job:
  <id>``, ``Validating training file: <id>[ and validation file: <id>]``, ``Files validated,
  moving job to queued state``, ``Fine-tuning job started``, the metrics and ``Checkpoint
  created at step <n>`` events, ``New fine-tuned model created: <model>``, ``The job has
  successfully completed``; a failure adds its message at level ``error``; ``Fine-tuning job
  paused`` / ``resumed`` / ``cancelled``. Checkpoints: newest first, ``after``, ``limit``
  1..100 (10), ``first_id``, ``last_id``, ``has_more``. List: newest first, ``after``,
  ``limit`` 1..100 (20), ``metadata[k]=v`` (all must match), ``metadata=null`` (jobs without).
* Cancel (any status but succeeded/failed/cancelled) is immediate: ``cancelled``, no results.
  Pause: running -> ``paused`` (it stays so); resume: paused -> ``queued``, then training goes
  on from its step. A wrong status: OpenAI 400 ``Cannot <cancel|pause|resume> a fine-tuning
  job with status '<s>'.`` (param ``fine_tuning_job_id``), Azure 409 ``unexpectedEntityState``.
  Unknown job: OpenAI 404 ``Could not find fine-tuning job: <id>``; Azure 404 ``notFound``.

Azure's jobs differ: ids ``ftjob-``/``ftevent-`` + 32 hex; model names are taken as given;
``fine_tuned_model`` is ``<model>.ft-<the job id's hex>[-<suffix>]``; ``suffix`` up to 40 chars;
no ``organization_id``; an unknown training file is 404 ``notFound``; a file not yet processed
is a 400; bad files fail with code ``jsonlValidationFailed``; events say ``Job enqueued.
Waiting for jobs ahead to complete.``, ``Job started.``, ``Job succeeded.``, ``Job
cancelled.``; the results file is ``results.csv`` with Azure's columns
(``step,train_loss,train_mean_token_accuracy,valid_loss,validation_mean_token_accuracy,
full_valid_loss,full_valid_mean_token_accuracy``). The dated surface speaks the dated spec:
create answers ``201`` with a ``Location`` header; statuses are Azure's (``pending`` for
validating and queued jobs, ``running``, ``succeeded``, ``failed``, ``cancelled``, ``paused``);
``hyperparameters`` are integers, ``-1`` until resolved; fields not known yet are absent, not
null; ``DELETE /openai/fine_tuning/jobs/{id}`` removes a finished job (204; 409 while it runs);
pause and resume exist from ``2025-04-01-preview`` (404 before); the list has no metadata
filter. The v1 surface answers ``200`` and OpenAI's status names and shape (without
``organization_id``), has pause and resume, and no DELETE.

Admin (no auth, JSON in and out, never recorded in the request log)
-------------------------------------------------------------------
``GET /__admin/health`` -> ``{"ok": true}``.

``POST /__admin/reset`` -> ``{"ok": true}``: forgets files (and blobs), batches, jobs, request
log, faults, config.

``GET /__admin/requests[?surface=&api=&op=]`` -> ``{"requests": [entry, ...]}``, oldest first.
An entry: ``seq, time, surface ("openai"|"azure"), api ("openai"|"azure-classic"|"azure-v1"),
op, file_id, upload_id, batch_id, job_id`` (from the path, or the one created), ``method, path,
query`` (raw), ``query_params, headers`` (lower-case names, repeats joined with ", "),
``openai_organization, openai_project, content_length`` (declared or null),
``transfer_encoding, body_bytes`` (actually received), ``body_complete, multipart`` (null, or
``{fields: [names in wire order], values: {name: text}, file: {field, filename, content_type,
size, sha256}, other_files: [...]}``), ``json`` (a JSON body, parsed), ``fault`` (the fault
applied), ``status`` (null when dropped), ``dropped, client_disconnected``. ``DELETE
/__admin/requests`` clears the log only.

``POST /__admin/faults`` with one spec or a list -> ``{"faults": [spec + id, used]}``. A spec:
``{"op": "create"|"list"|"retrieve"|"delete"|"content"|"upload_create"|"upload_part"|
"upload_complete"|"upload_cancel"|"batch_create"|"batch_list"|"batch_retrieve"|"batch_cancel"|
"ft_create"|"ft_list"|"ft_retrieve"|"ft_cancel"|"ft_events"|"ft_checkpoints"|"ft_pause"|
"ft_resume"|"ft_delete"|"any" (default any), "surface": "openai"|"azure"|"any" (default any),
"status": 500, "body": {...}, "headers": {...}, "delay": 0.0, "times": 1 (null = unlimited),
"after_bytes": null, "drop": false, "drop_mode": "reset"|"close"}``. Faults match in order,
after the auth and api-version checks, before anything else (a faulted create makes nothing).
Without ``after_bytes``: sleep ``delay``, then drop, or answer ``status`` with ``body``
(default: that provider's own error body for the status) and ``headers``, or carry on. A file
create reads (and discards) the whole upload first, except with ``drop``, which hangs up before
reading the body (so does a batch or job op with ``drop`` and no ``delay``). ``after_bytes``
(file create, upload_part, content only): on create and upload_part, read exactly that many
body bytes, sleep ``delay``, then drop, or drain the rest and answer ``status``, or carry on (a
stall); on content, send that many bytes of the file, sleep ``delay``, then drop or carry on.
``drop_mode`` reset = RST (``SO_LINGER 0``), close = FIN. ``GET /__admin/faults`` lists pending
faults, ``DELETE`` clears them.

``GET|POST /__admin/config`` (POST a partial object; a bad value is a 400) -> ``{"config":
{...}}``; keys (defaults):

* files: ``azure_initial_status`` ("pending"), ``azure_status_steps`` (["running",
  "processed"]: the status each retrieve after create moves to, the last one sticks),
  ``azure_classic_list`` ("spec": purpose filter only and ``{object, data}``; "paginated":
  v1-style), ``azure_v1_create_status`` (200), ``azure_validate_filename`` (true: fine-tune
  uploads need a ``.jsonl`` name), ``azure_extra_api_versions`` ([]: more dated versions to
  accept), ``azure_require_processed_files`` (true: batches and jobs refuse Azure files that
  are not ``processed``).
* batches: ``batch_validating_seconds``, ``batch_in_progress_seconds``,
  ``batch_finalizing_seconds``, ``batch_cancelling_seconds`` (0 each; null holds),
  ``batch_completion_window_seconds`` (86400), ``batch_max_requests`` (null: the provider's),
  ``azure_batch_empty_file_ids`` (true), ``azure_deployments`` (null: any model is a
  deployment).
* jobs: ``ft_validating_files_seconds``, ``ft_queued_seconds``, ``ft_running_seconds`` (0 each;
  null holds), ``ft_min_examples`` (10), ``ft_models`` (OpenAI's and Azure's fine-tunable base
  models and aliases; null: any).

``GET /__admin/batches`` -> ``{"data": [views]}``; ``GET /__admin/batches/{id}`` -> one view:
the batch object as its surface answers it + ``surface, api, input_path,
requests_done, durations, organization, project``. ``POST /__admin/batches/{id}`` with
``{"requests": n}`` runs the next n requests now (in_progress only), and/or ``{"status": s}``
moves the batch now: along the normal path (validating -> in_progress -> finalizing ->
completed, each step doing its work: validate, run all, make the files), or to ``failed`` (with
``"errors": [BatchError, ...]``, default one ``server_error``), ``expired``, ``cancelling`` or
``cancelled``; answers the view. Moving back or out of a final status is a 400.

``GET /__admin/fine_tuning`` -> ``{"data": [views]}``; ``GET /__admin/fine_tuning/{id}`` -> the
job (OpenAI's status names; Azure's jobs in their v1 shape) + ``surface, api, step,
total_steps, examples, durations, events, checkpoints`` (counts). ``POST
/__admin/fine_tuning/{id}`` with ``{"steps": n}`` trains n steps now (running only), and/or
``{"status": s}``: along validating_files -> queued -> running -> succeeded (a paused job
resumes first), or ``failed`` (with ``"error": {code?, message?, param?}``), ``cancelled``,
``paused`` (from running).

``POST /__admin/azure-status`` ``{"id", "status", "status_details"?, "steps"?: []}`` -> the admin
view of the file: sets its status now and replaces its pending steps (works on any file).

``POST /__admin/seed`` ``{"surface": "openai"|"azure", "purpose", "filename", "content" |
"content_b64" | "size", "status" ("processed"), "status_details", "created_at" (now - 3600),
"expires_at", "id", "count" (1)}`` -> ``{"data": [file objects]}``: files "made outside the
gateway"; with ``count`` each gets ``created_at + i`` and a ``-i`` filename suffix.

``GET /__admin/files`` -> ``{"data": [file object + surface, sha256, path, content_type,
organization, project, origin ("api"|"seed"|"upload"|"generated"), pending_steps]}``.

Uploads are parsed with python-multipart's streaming parser and written straight into
``state_dir/tmp`` (then renamed into ``state_dir/blobs``), so memory stays flat for any size;
content is served from disk in 64 KiB chunks. Batch inputs and job files are read line by line
and batch outputs written line by line the same way; the fake's memory does not grow with
them. A batch is run inside the request that finds it due, so a very large one makes that
request slow (4,000 requests of 10 KB: about 2 s).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

if __package__ in (None, ""):
    # Run as a script: import the siblings as tests.fakes.* (one copy of each), with the
    # repository root in place of this folder, so that no sibling shadows an installed module.
    sys.path[0] = str(Path(__file__).resolve().parents[2])

import uvicorn
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from tests.fakes.batches import BATCH_SETTINGS, FakeBatches
from tests.fakes.calls import (
    Call,
    NoResponse,
    apply_fault,
    azure_version_at_least,
    drop_connection,
    json_response,
    open_blob,
    openai_error_body,
)
from tests.fakes.checks import (
    AZURE_EXPIRES_MAX,
    AZURE_EXPIRES_MIN,
    AZURE_EXPIRES_SINCE,
    OPENAI_EXPIRES_MAX,
    OPENAI_EXPIRES_MIN,
    admin_json,
    cursor_page,
    oxford,
    parse_expires,
    parse_limit,
)
from tests.fakes.fine_tuning import FT_SETTINGS, FakeFineTuning
from tests.fakes.multipart import MultipartSink
from tests.fakes.state import (
    CHUNK,
    CORE_SETTINGS,
    UPLOAD_OPS,
    AdminError,
    Api,
    Fault,
    Op,
    Setting,
    StoredFile,
    StoredUpload,
    UpstreamState,
    new_azure_file_id,
    new_openai_file_id,
    rand_alnum,
)

# --- OpenAI facts (shared/specs/openai-openapi.yaml, CreateFileRequest / listFiles) ------------
OPENAI_CREATE_PURPOSES: tuple[str, ...] = (
    "assistants",
    "batch",
    "fine-tune",
    "vision",
    "user_data",
    "evals",
)
OPENAI_CREATE_FIELDS = frozenset(
    {"purpose", "file", "expires_after[anchor]", "expires_after[seconds]"}
)
OPENAI_BATCH_DEFAULT_TTL = 2_592_000  # "purpose=batch files expire after 30 days" by default
OPENAI_LIST_MAX = 10_000
# Uploads (shared/specs/openai-files-contract.md): 8 GB in all, parts of 64 MB, an hour to live.
UPLOAD_MAX_BYTES = 8 * 1024**3
UPLOAD_PART_MAX = 64 * 1024**2
UPLOAD_TTL = 3600
UPLOAD_CREATE_FIELDS = frozenset({"filename", "purpose", "bytes", "mime_type", "expires_after"})
# Azure's dated data plane has /openai/uploads from this preview version on (none on GA versions).
AZURE_UPLOADS_SINCE = "2024-08-01"


# --- Azure facts --------------------------------------------------------------------------------
# Classic purposes: authoring/stable/2024-10-21/azureopenai.json, Files_Upload formData enum.
AZURE_CLASSIC_PURPOSES: tuple[str, ...] = (
    "fine-tune",
    "fine-tune-results",
    "assistants",
    "assistants_output",
    "batch",
)
# v1 purposes: OpenAI.v1 azure-v1-v1-generated.yaml, AzureCreateFileRequestMultiPart.
AZURE_V1_PURPOSES: tuple[str, ...] = ("assistants", "batch", "fine-tune", "evals")
AZURE_STATUSES: tuple[str, ...] = (
    "uploaded",
    "pending",
    "running",
    "processed",
    "error",
    "deleting",
    "deleted",
)

FILE_SETTINGS: dict[str, Setting] = {
    "azure_initial_status": Setting(
        "pending", lambda v: v in AZURE_STATUSES, f"one of {AZURE_STATUSES}"
    ),
    "azure_status_steps": Setting(
        ["running", "processed"],
        lambda v: isinstance(v, list) and all(x in AZURE_STATUSES for x in v),
        f"a list of {AZURE_STATUSES}",
    ),
    "azure_classic_list": Setting(
        "spec", lambda v: v in ("spec", "paginated"), "spec or paginated"
    ),
    "azure_v1_create_status": Setting(200, lambda v: v in (200, 201), "200 or 201"),
    "azure_validate_filename": Setting(True, lambda v: isinstance(v, bool), "a boolean"),
}
# A feature's admin calls: ``/__admin/{action}[/{item}]``; None when the action is not its own.
AdminHandler = Callable[[Request, str, str | None], Awaitable[Response | None]]


class StreamedFile(Response):
    """Serve a stored file in chunks; optionally stall and/or drop after ``cut`` bytes."""

    def __init__(
        self,
        path: Path,
        size: int,
        headers: dict[str, str],
        *,
        cut: int | None,
        delay: float,
        on_cut: Callable[[], Awaitable[bool]] | None,
    ) -> None:
        super().__init__(status_code=200, headers=headers, media_type="application/octet-stream")
        self.path = path
        self.size = size
        self.cut = cut
        self.delay = delay
        self.on_cut = on_cut

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.headers["content-length"] = str(self.size)
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        with open_blob(self.path) as fh:
            if self.cut is not None:
                sent = 0
                while sent < self.cut:
                    data = fh.read(min(CHUNK, self.cut - sent))
                    if not data:
                        break
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                    sent += len(data)
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self.on_cut is not None and await self.on_cut():
                    return
            while data := fh.read(CHUNK):
                await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class FakeUpstream:
    def __init__(self, state: UpstreamState, admins: list[AdminHandler]) -> None:
        self.state = state
        self.admins = admins

    # -- entry point for every provider request -------------------------------------------------
    async def handle(self, request: Request, api: Api, op: Op) -> Response:
        call = Call(self.state, request, api, op)
        file_id = call.file_id
        try:
            problem = call.check_auth() or call.check_api_version()
            if problem is not None:
                await call.drain()
                return problem
            if op in UPLOAD_OPS and not self.uploads_supported(call):
                await call.drain()
                return call.resource_not_found()
            fault = self.state.take_fault(op, call.surface)
            if fault is not None:
                call.entry["fault"] = fault.describe()
            if op == "create":
                return await self.create(call, fault)
            if op == "upload_part":
                return await self.create(call, fault, part=True)
            if op in UPLOAD_OPS:
                return await self.upload_op(call, fault)
            await call.drain()
            mid_download = op == "content" and fault is not None and fault.after_bytes is not None
            if not mid_download:  # a mid-download fault acts while the content is sent
                faulted = await apply_fault(call, fault)
                if faulted is not None:
                    return faulted
            if op == "list":
                return self.list(call)
            assert file_id is not None
            f = self.state.get(call.surface, file_id)
            if f is None:
                return call.not_found(file_id)
            if op == "retrieve":
                return self.retrieve(call, f)
            if op == "delete":
                self.state.remove(f)
                return call.json(200, {"id": f.id, "object": "file", "deleted": True})
            return self.content(call, f, fault)
        except ClientDisconnect:
            call.entry["client_disconnected"] = True
            return NoResponse()

    def azure_expires_supported(self, call: Call) -> bool:
        return azure_version_at_least(call, AZURE_EXPIRES_SINCE)

    # -- create ----------------------------------------------------------------------------------
    async def create(self, call: Call, fault: Fault | None, *, part: bool = False) -> Response:
        """A file create, or (``part``) an upload part in field ``data``."""
        if part:
            upload = self.open_upload(call)
            if isinstance(upload, Response):
                await call.drain()
                return upload
        if fault is not None and fault.drop and fault.after_bytes is None:
            return await call.drop(fault)
        mime, params = parse_options_header(call.request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if mime != b"multipart/form-data" or not boundary:
            await call.drain()
            shown = mime.decode("latin-1") or "none"
            if call.surface == "openai":
                return call.openai_error(
                    400,
                    f"Invalid Content-Type header ({shown}), expected multipart/form-data. (HINT: "
                    "If you're using curl, you can pass -H 'Content-Type: multipart/form-data')",
                )
            return call.azure_error(
                400, "invalidPayload", "The request content type must be multipart/form-data."
            )
        sink = MultipartSink(self.state.new_tmp_path(), "data" if part else "file")
        try:
            return await self._receive_and_create(call, fault, sink, boundary)
        finally:
            call.entry["multipart"] = sink.snapshot()
            sink.discard()  # no-op once the file was moved into blobs/

    async def _receive_and_create(
        self, call: Call, fault: Fault | None, sink: MultipartSink, boundary: bytes
    ) -> Response:
        parser = MultipartParser(boundary, callbacks=cast(Any, sink.callbacks()))
        mid = fault is not None and fault.after_bytes is not None
        fired = False
        malformed: str | None = None

        def feed(data: bytes) -> None:
            nonlocal malformed
            sink.received += len(data)
            call.entry["body_bytes"] = sink.received
            if malformed is None and data:
                try:
                    parser.write(data)
                except Exception as exc:  # python-multipart raises several error types
                    malformed = str(exc) or type(exc).__name__

        try:
            async for chunk in call.request.stream():
                if mid and not fired:
                    assert fault is not None and fault.after_bytes is not None
                    room = fault.after_bytes - sink.received
                    if len(chunk) >= room:
                        feed(chunk[:room])
                        chunk = chunk[room:]
                        fired = True
                        early = await self._fire_mid_upload(call, fault, len(chunk))
                        if early is not None:
                            return early
                feed(chunk)
        except ClientDisconnect:
            call.entry["client_disconnected"] = True
            return NoResponse()
        call.entry["body_complete"] = True
        if malformed is None:
            try:
                parser.finalize()
            except Exception as exc:
                malformed = str(exc) or type(exc).__name__
        if malformed is None and not sink.ended:
            malformed = "the multipart body ended before its closing boundary"

        if not fired:
            faulted = await apply_fault(call, fault)
            if faulted is not None:
                return faulted

        if malformed is not None:
            return call.invalid(f"Could not parse multipart form: {malformed}")
        if call.op == "upload_part":
            return self._add_part(call, sink)
        if call.surface == "openai":
            return self._create_openai(call, sink)
        return self._create_azure(call, sink)

    async def _fire_mid_upload(self, call: Call, fault: Fault, leftover: int) -> Response | None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop:
            return await call.drop(fault)
        if fault.status is not None:
            call.entry["body_bytes"] += leftover  # the rest of the current chunk, unparsed
            await call.drain()  # read the rest so the client reliably sees the status
            return call.fault_response(fault)
        return None

    def _store(self, sink: MultipartSink, file_id: str) -> Path:
        dest = self.state.blob_dir / file_id
        os.replace(sink.tmp_path, dest)
        return dest

    def _create_openai(self, call: Call, sink: MultipartSink) -> Response:
        for name in sink.order:
            if name not in OPENAI_CREATE_FIELDS:
                return call.invalid(
                    f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
                )
        purpose = sink.values.get("purpose")
        if purpose is None:
            return call.invalid(
                "Missing required parameter: 'purpose'.",
                param="purpose",
                code="missing_required_parameter",
            )
        if purpose not in OPENAI_CREATE_PURPOSES:
            return call.invalid(
                f"Invalid value: '{purpose}'. Supported values are: "
                + oxford(OPENAI_CREATE_PURPOSES)
                + ".",
                param="purpose",
                code="invalid_value",
            )
        if sink.file is None:
            if "file" in sink.values:
                return call.invalid(
                    "Invalid type for 'file': expected a file, but got a string instead.",
                    param="file",
                    code="invalid_type",
                )
            return call.invalid(
                "Missing required parameter: 'file'.",
                param="file",
                code="missing_required_parameter",
            )
        expires = parse_expires(
            call, sink.values, OPENAI_EXPIRES_MIN, OPENAI_EXPIRES_MAX, openai_style=True
        )
        if isinstance(expires, Response):
            return expires
        now = int(time.time())
        if expires is None and purpose == "batch":
            expires = OPENAI_BATCH_DEFAULT_TTL
        file_id = new_openai_file_id()
        f = StoredFile(
            id=file_id,
            surface="openai",
            purpose=purpose,
            filename=sink.file.filename,
            bytes=sink.file.size,
            created_at=now,
            seq=self.state.next_seq(),
            path=self._store(sink, file_id),
            sha256=sink.file.sha256,
            status="processed",
            expires_at=now + expires if expires is not None else None,
            content_type=sink.file.content_type,
            organization=call.request.headers.get("openai-organization"),
            project=call.request.headers.get("openai-project"),
        )
        self.state.files[file_id] = f
        call.entry["file_id"] = file_id
        return call.json(200, f.wire())

    def _create_azure(self, call: Call, sink: MultipartSink) -> Response:
        purposes = AZURE_V1_PURPOSES if call.api == "azure-v1" else AZURE_CLASSIC_PURPOSES
        purpose = sink.values.get("purpose")
        if purpose is None:
            return call.invalid("The purpose field is required.", param="purpose")
        if purpose not in purposes:
            return call.invalid("Invalid value for purpose.", param="purpose")
        if sink.file is None:
            return call.invalid("The file field is required.", param="file")
        if not sink.file.content_type:
            return call.invalid("The file has no or an empty content type specified.", param="file")
        if (
            self.state.config["azure_validate_filename"]
            and purpose == "fine-tune"
            and not sink.file.filename.lower().endswith(".jsonl")
        ):
            return call.invalid(
                "fileName contains an invalid filename: wrong suffix.", param="file"
            )
        expires: int | None = None
        if self.azure_expires_supported(call):
            parsed = parse_expires(
                call, sink.values, AZURE_EXPIRES_MIN, AZURE_EXPIRES_MAX, openai_style=False
            )
            if isinstance(parsed, Response):
                return parsed
            expires = parsed
        now = int(time.time())
        file_id = new_azure_file_id(purpose)
        f = StoredFile(
            id=file_id,
            surface="azure",
            purpose=purpose,
            filename=sink.file.filename,
            bytes=sink.file.size,
            created_at=now,
            seq=self.state.next_seq(),
            path=self._store(sink, file_id),
            sha256=sink.file.sha256,
            status=self.state.config["azure_initial_status"],
            steps=list(self.state.config["azure_status_steps"]),
            expires_at=now + expires if expires is not None else None,
            content_type=sink.file.content_type,
        )
        self.state.files[file_id] = f
        call.entry["file_id"] = file_id
        if call.api == "azure-v1":
            return call.json(self.state.config["azure_v1_create_status"], f.wire())
        location = f"{str(call.request.base_url).rstrip('/')}/openai/files/{file_id}"
        return call.json(201, f.wire(), {"location": location})

    # -- uploads ---------------------------------------------------------------------------------
    def uploads_supported(self, call: Call) -> bool:
        if call.api != "azure-classic":
            return True
        version = call.api_version or ""
        return version.endswith("-preview") and version[:10] >= AZURE_UPLOADS_SINCE

    def open_upload(self, call: Call) -> StoredUpload | Response:
        """The upload named in the path, if it still takes parts and completes."""
        upload_id = call.request.path_params["upload_id"]
        upload = self.state.uploads.get(upload_id)
        if upload is None or upload.surface != call.surface:
            if call.surface == "openai":
                return call.openai_error(
                    404, f"No such Upload object: {upload_id}", param="upload_id"
                )
            return call.azure_error(
                404, "notFound", f"Upload with id '{upload_id}' not found.", param="upload_id"
            )
        status = upload.wire()["status"]
        if status != "pending":
            return call.invalid(
                f"Upload {upload_id} is {status}; it takes no more changes.",
                param="upload_id",
                code=f"upload_{status}",
            )
        return upload

    def _add_part(self, call: Call, sink: MultipartSink) -> Response:
        upload = self.open_upload(call)  # again: it may have closed while the part came in
        if isinstance(upload, Response):
            return upload
        for name in sink.order:
            if name != "data":
                return call.invalid(
                    f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
                )
        if sink.file is None:
            return call.invalid(
                "Missing required parameter: 'data'.",
                param="data",
                code="missing_required_parameter",
            )
        if sink.file.size > UPLOAD_PART_MAX:
            return call.invalid(f"A part can hold at most {UPLOAD_PART_MAX} bytes.", param="data")
        part_id = "part_" + rand_alnum(24)
        dest = self.state.blob_dir / part_id
        os.replace(sink.tmp_path, dest)
        upload.parts[part_id] = (dest, sink.file.size)
        return call.json(
            200,
            {
                "id": part_id,
                "object": "upload.part",
                "created_at": int(time.time()),
                "upload_id": upload.id,
            },
        )

    async def upload_op(self, call: Call, fault: Fault | None) -> Response:
        raw = await call.read_body()
        faulted = await apply_fault(call, fault)
        if faulted is not None:
            return faulted
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return call.invalid("We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return call.invalid("The JSON body must be an object.")
        if call.op == "upload_create":
            return self._create_upload(call, body)
        upload = self.open_upload(call)
        if isinstance(upload, Response):
            return upload
        if call.op == "upload_cancel":
            upload.status = "cancelled"
            self._drop_upload_parts(upload)
            return call.json(200, upload.wire())
        return self._complete_upload(call, upload, body)

    def _create_upload(self, call: Call, body: dict[str, Any]) -> Response:
        for name in body:
            if name not in UPLOAD_CREATE_FIELDS:
                return call.invalid(
                    f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
                )
        for name in ("filename", "purpose", "bytes", "mime_type"):
            if name not in body:
                return call.invalid(
                    f"Missing required parameter: '{name}'.",
                    param=name,
                    code="missing_required_parameter",
                )
        purposes = {
            "openai": OPENAI_CREATE_PURPOSES,
            "azure-v1": AZURE_V1_PURPOSES,
            "azure-classic": AZURE_CLASSIC_PURPOSES,
        }[call.api]
        if body["purpose"] not in purposes:
            return call.invalid(
                f"Invalid value: '{body['purpose']}'. Supported values are: "
                + oxford(purposes)
                + ".",
                param="purpose",
                code="invalid_value",
            )
        nbytes = body["bytes"]
        if not isinstance(nbytes, int) or not 0 <= nbytes <= UPLOAD_MAX_BYTES:
            return call.invalid(
                f"'bytes' must be an integer from 0 to {UPLOAD_MAX_BYTES}.",
                param="bytes",
                code="invalid_value",
            )
        expires_after = None
        spec = body.get("expires_after")
        if isinstance(spec, dict):
            parsed = parse_expires(
                call,
                {
                    "expires_after[anchor]": str(spec.get("anchor")),
                    "expires_after[seconds]": str(spec.get("seconds")),
                },
                OPENAI_EXPIRES_MIN if call.api != "azure-classic" else AZURE_EXPIRES_MIN,
                OPENAI_EXPIRES_MAX,
                openai_style=call.surface == "openai",
            )
            if isinstance(parsed, Response):
                return parsed
            expires_after = parsed
        now = int(time.time())
        upload = StoredUpload(
            id="upload_" + rand_alnum(24),
            surface=call.surface,
            filename=str(body["filename"]),
            purpose=str(body["purpose"]),
            bytes=nbytes,
            mime_type=str(body["mime_type"]),
            created_at=now,
            expires_at=now + UPLOAD_TTL,
            file_expires_after=expires_after,
        )
        self.state.uploads[upload.id] = upload
        call.entry["upload_id"] = upload.id
        return call.json(200, upload.wire())

    def _complete_upload(self, call: Call, upload: StoredUpload, body: dict[str, Any]) -> Response:
        part_ids = body.get("part_ids")
        if not isinstance(part_ids, list) or not all(isinstance(p, str) for p in part_ids):
            return call.invalid(
                "Missing required parameter: 'part_ids'.",
                param="part_ids",
                code="missing_required_parameter",
            )
        if len(set(part_ids)) != len(part_ids):
            return call.invalid("'part_ids' names a part twice.", param="part_ids")
        for part_id in part_ids:
            if part_id not in upload.parts:
                return call.invalid(f"No part {part_id} in upload {upload.id}.", param="part_ids")
        total = sum(upload.parts[p][1] for p in part_ids)
        if total != upload.bytes:
            return call.invalid(
                f"The number of bytes uploaded ({total}) does not match the number of bytes "
                f"declared at creation ({upload.bytes}).",
                param="part_ids",
                code="bytes_mismatch",
            )
        tmp = self.state.new_tmp_path()
        sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        with tmp.open("wb") as out:
            for part_id in part_ids:
                with open_blob(upload.parts[part_id][0]) as fh:
                    while data := fh.read(CHUNK):
                        sha.update(data)
                        md5.update(data)
                        out.write(data)
        wanted = body.get("md5")
        if wanted and str(wanted).lower() != md5.hexdigest():
            tmp.unlink()
            return call.invalid(
                f"The md5 checksum ({wanted}) does not match the parts ({md5.hexdigest()}).",
                param="md5",
                code="md5_mismatch",
            )
        now = int(time.time())
        if call.surface == "openai":
            file_id = new_openai_file_id()
            status, steps = "processed", []
            expires = upload.file_expires_after
            if expires is None and upload.purpose == "batch":
                expires = OPENAI_BATCH_DEFAULT_TTL
        else:
            file_id = new_azure_file_id(upload.purpose)
            status = self.state.config["azure_initial_status"]
            steps = list(self.state.config["azure_status_steps"])
            expires = upload.file_expires_after
        dest = self.state.blob_dir / file_id
        os.replace(tmp, dest)
        f = StoredFile(
            id=file_id,
            surface=call.surface,
            purpose=upload.purpose,
            filename=upload.filename,
            bytes=total,
            created_at=now,
            seq=self.state.next_seq(),
            path=dest,
            sha256=sha.hexdigest(),
            status=status,
            steps=steps,
            expires_at=now + expires if expires is not None else None,
            content_type=upload.mime_type,
            origin="upload",
        )
        self.state.files[file_id] = f
        call.entry["file_id"] = file_id
        upload.file = f
        upload.status = "completed"
        self._drop_upload_parts(upload)
        return call.json(200, upload.wire())

    def _drop_upload_parts(self, upload: StoredUpload) -> None:
        for path, _ in upload.parts.values():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        upload.parts.clear()

    # -- list / retrieve / content ---------------------------------------------------------------
    def list(self, call: Call) -> Response:
        q = call.request.query_params
        purpose = q.get("purpose")
        files = self.state.listing(call.surface, purpose)
        if call.api == "azure-classic" and self.state.config["azure_classic_list"] == "spec":
            # 2024-10-21 Files_List: only `purpose`; FileList is {object, data}.
            return call.json(200, {"object": "list", "data": [f.wire() for f in reversed(files)]})
        limit = parse_limit(call, OPENAI_LIST_MAX, OPENAI_LIST_MAX)
        if isinstance(limit, Response):
            return limit
        order = q.get("order", "desc")
        if order not in ("asc", "desc"):
            return call.invalid(
                f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
                param="order",
                code="invalid_value",
            )
        if order == "desc":
            files.reverse()
        page = cursor_page(files, [f.id for f in files], q.get("after"), limit, StoredFile.wire)
        return call.json(200, page)

    def retrieve(self, call: Call, f: StoredFile) -> Response:
        if f.surface == "azure" and f.steps:
            f.status = f.steps.pop(0)
        return call.json(200, f.wire())

    def content(self, call: Call, f: StoredFile, fault: Fault | None) -> Response:
        headers = call.headers()
        if fault is not None and fault.after_bytes is not None:
            call.entry["status"] = 200
            request = call.request
            chosen = fault

            async def on_cut() -> bool:
                if not chosen.drop:
                    return False
                call.entry["dropped"] = True
                return await drop_connection(request, chosen.drop_mode)

            return StreamedFile(
                f.path, f.bytes, headers, cut=fault.after_bytes, delay=fault.delay, on_cut=on_cut
            )
        return call.finish(
            FileResponse(f.path, media_type="application/octet-stream", headers=headers)
        )

    # -- admin -----------------------------------------------------------------------------------
    async def admin(self, request: Request) -> Response:
        action = request.path_params["action"]
        try:
            item = request.path_params.get("item")
            for handler in self.admins:
                answer = await handler(request, action, item)
                if answer is not None:
                    return answer
            if item is not None:
                return json_response(404, {"error": f"unknown admin call {request.url.path}"})
            return await self._admin(request, action)
        except AdminError as exc:
            return json_response(400, {"error": str(exc)})

    async def _admin(self, request: Request, action: str) -> Response:
        st = self.state
        method = request.method
        if action == "health" and method == "GET":
            return json_response(200, {"ok": True})
        if action == "reset" and method == "POST":
            st.reset()
            return json_response(200, {"ok": True})
        if action == "requests":
            if method == "DELETE":
                st.log.clear()
                return json_response(200, {"ok": True})
            q = request.query_params
            entries = [
                e
                for e in st.log
                if all(q.get(k) in (None, e.get(k)) for k in ("surface", "api", "op"))
            ]
            return json_response(200, {"requests": entries})
        if action == "faults":
            if method == "POST":
                body = await admin_json(request)
                specs = body if isinstance(body, list) else [body]
                added = [st.add_fault(s).describe() for s in specs]
                return json_response(200, {"faults": added})
            if method == "DELETE":
                st.faults.clear()
                return json_response(200, {"ok": True})
            return json_response(200, {"faults": [f.describe() for f in st.faults]})
        if action == "config":
            if method == "POST":
                st.update_config(await admin_json(request))
            return json_response(200, {"config": st.config})
        if action == "files" and method == "GET":
            return json_response(200, {"data": [f.admin() for f in st.files.values()]})
        if action == "uploads" and method == "GET":
            return json_response(200, {"data": [u.admin() for u in st.uploads.values()]})
        if action == "azure-status" and method == "POST":
            return self._force_status(await admin_json(request))
        if action == "seed" and method == "POST":
            return self._seed(await admin_json(request))
        return json_response(404, {"error": f"unknown admin call {method} /__admin/{action}"})

    def _force_status(self, body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise AdminError("body must be {id, status, status_details?, steps?}")
        f = self.state.files.get(body["id"])
        if f is None:
            return json_response(404, {"error": f"no file {body['id']}"})
        status = body.get("status", f.status)
        if status not in AZURE_STATUSES:
            raise AdminError(f"status must be one of {AZURE_STATUSES}")
        steps = body.get("steps", [])
        if not isinstance(steps, list) or any(s not in AZURE_STATUSES for s in steps):
            raise AdminError(f"steps must be a list of {AZURE_STATUSES}")
        f.status = status
        f.steps = list(steps)
        if "status_details" in body:
            f.status_details = body["status_details"]
        return json_response(200, f.admin())

    def _seed(self, body: Any) -> Response:
        if not isinstance(body, dict):
            raise AdminError("seed body must be a JSON object")
        surface = body.get("surface", "openai")
        if surface not in ("openai", "azure"):
            raise AdminError("surface must be openai or azure")
        count = body.get("count", 1)
        if not isinstance(count, int) or not 1 <= count <= 10_000:
            raise AdminError("count must be 1..10000")
        purpose = body.get("purpose", "batch" if surface == "openai" else "fine-tune")
        filename = body.get("filename", "seeded.jsonl")
        status = body.get("status", "processed")
        if status not in AZURE_STATUSES:
            raise AdminError(f"status must be one of {AZURE_STATUSES}")
        if "content_b64" in body:
            content = base64.b64decode(body["content_b64"])
        elif "content" in body:
            content = str(body["content"]).encode()
        else:
            size = int(body.get("size", 64))
            content = (b'{"seeded": true}\n' * (size // 17 + 1))[:size]
        base_created = int(body.get("created_at", time.time() - 3600))
        expires_at = body.get("expires_at")
        made: list[dict[str, Any]] = []
        for i in range(count):
            if "id" in body and count == 1:
                file_id = str(body["id"])
            elif surface == "openai":
                file_id = new_openai_file_id()
            else:
                file_id = new_azure_file_id(purpose)
            path = self.state.blob_dir / file_id
            path.write_bytes(content)
            name = filename
            if count > 1:
                stem, dot, ext = filename.rpartition(".")
                name = f"{stem}-{i}.{ext}" if dot else f"{filename}-{i}"
            f = StoredFile(
                id=file_id,
                surface=surface,
                purpose=purpose,
                filename=name,
                bytes=len(content),
                created_at=base_created + i,
                seq=self.state.next_seq(),
                path=path,
                sha256=hashlib.sha256(content).hexdigest(),
                status=status,
                status_details=body.get("status_details"),
                expires_at=int(expires_at) if expires_at is not None else None,
                origin="seed",
            )
            self.state.files[file_id] = f
            made.append(f.wire())
        return json_response(200, {"data": made})

    # -- fallbacks -------------------------------------------------------------------------------
    async def openai_unknown(self, request: Request) -> Response:
        return json_response(
            404,
            openai_error_body(f"Invalid URL ({request.method} {request.url.path})"),
        )

    async def azure_unknown(self, request: Request) -> Response:
        return json_response(404, {"error": {"code": "404", "message": "Resource not found"}})


def create_app(
    state_dir: Path,
    *,
    openai_key: str = "sk-upstream",
    azure_key: str = "azure-key",
    azure_ad_token: str = "aad-token",
) -> Starlette:
    """Build the fake upstream. Uploaded files are kept under ``state_dir`` (wiped on reset)."""
    state = UpstreamState(
        Path(state_dir),
        openai_key=openai_key,
        azure_key=azure_key,
        azure_ad_token=azure_ad_token,
        settings={**CORE_SETTINGS, **FILE_SETTINGS, **BATCH_SETTINGS, **FT_SETTINGS},
    )
    batches = FakeBatches(state)
    fine_tuning = FakeFineTuning(state)
    fake = FakeUpstream(state, [batches.admin, fine_tuning.admin])

    def endpoint(api: Api, op_by_method: dict[str, Op]) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            op = op_by_method.get(request.method) or op_by_method["GET"]  # HEAD acts as GET
            return await fake.handle(request, api, op)

        return handler

    admin_methods = ["GET", "POST", "DELETE"]
    routes: list[BaseRoute] = [
        Route("/__admin/{action}", fake.admin, methods=admin_methods),
        Route("/__admin/{action}/{item}", fake.admin, methods=admin_methods),
    ]
    surfaces: list[tuple[str, Api]] = [
        ("/v1", "openai"),
        ("/openai/v1", "azure-v1"),
        ("/openai", "azure-classic"),
    ]
    for prefix, a in surfaces:
        routes += [
            Route(
                f"{prefix}/files",
                endpoint(a, {"GET": "list", "POST": "create"}),
                methods=["GET", "POST"],
            ),
            Route(
                f"{prefix}/files/{{file_id}}",
                endpoint(a, {"GET": "retrieve", "DELETE": "delete"}),
                methods=["GET", "DELETE"],
            ),
            Route(
                f"{prefix}/files/{{file_id}}/content",
                endpoint(a, {"GET": "content"}),
                methods=["GET"],
            ),
            Route(f"{prefix}/uploads", endpoint(a, {"POST": "upload_create"}), methods=["POST"]),
        ]
        for action, op in (
            ("parts", "upload_part"),
            ("complete", "upload_complete"),
            ("cancel", "upload_cancel"),
        ):
            routes.append(
                Route(
                    f"{prefix}/uploads/{{upload_id}}/{action}",
                    endpoint(a, {"POST": op}),
                    methods=["POST"],
                )
            )
        routes += batches.routes(prefix, a) + fine_tuning.routes(prefix, a)
    all_methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes += [
        Route("/v1/{rest:path}", fake.openai_unknown, methods=all_methods),
        Route("/openai/{rest:path}", fake.azure_unknown, methods=all_methods),
    ]
    app = Starlette(routes=routes)
    app.state.upstream = state
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI / Azure OpenAI Files upstream.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--openai-key", default="sk-upstream")
    parser.add_argument("--azure-key", default="azure-key")
    parser.add_argument("--azure-ad-token", default="aad-token")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    app = create_app(
        args.state_dir,
        openai_key=args.openai_key,
        azure_key=args.azure_key,
        azure_ad_token=args.azure_ad_token,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
