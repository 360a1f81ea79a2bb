"""Batches on filegate ids: where a batch runs, its life at the provider, and its output.

A batch runs at the deployment that holds its input file's copy, chosen by the same
routing as files; a file only in filegate's own store is first copied there (streamed,
recorded as another location of the file, reused by later batches). The provider's
batch id stays behind filegate's ``batch_`` id, and its output and error files become
filegate file records once, whose bytes are read from the provider on demand.

Knows the catalog, blob-store and provider interfaces, nothing of HTTP or SQL, and
never asks which provider it has: a deployment runs batches when its provider has the
``BatchesProvider`` capability (``providers.base.batching``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from filegate.catalog.base import BatchRunStore, BatchStore
from filegate.core import in_progress
from filegate.core.batch_runner import WINDOW_SECONDS, BatchRunner
from filegate.core.copies import FileCopies, JobWords, Placer, own_ids, provider_file_record
from filegate.core.files.service import FileService
from filegate.core.ids import is_filegate_id, new_id
from filegate.core.params import EXPIRES_MAX, EXPIRES_MIN
from filegate.core.targets import Target, TargetTable
from filegate.errors import FilegateError, FileNotFound, InvalidRequest
from filegate.providers.base import BatchesProvider, ProviderBatch, batching, sending_lines
from filegate.records import (
    BatchPage,
    BatchQuery,
    BatchRecord,
    BatchState,
    ExpiresAfter,
    FileRecord,
    Location,
    Scope,
)

log = logging.getLogger("filegate")

BATCH_PREFIX = "batch_"
# shared/specs/openai-openapi.yaml, CreateBatchRequest.endpoint.
ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
COMPLETION_WINDOWS = ("24h",)
# OpenAI's Metadata: at most 16 pairs, keys up to 64 characters, values up to 512.
METADATA_MAX_PAIRS, METADATA_KEY_MAX, METADATA_VALUE_MAX = 16, 64, 512
LIST_DEFAULT, LIST_MAX = 20, 100
# Polling clients are answered from the catalog for this long after the provider was
# last asked about a batch (across every gateway sharing the catalog).
CACHE_SECONDS = 1.5
# Batches of one page refreshed at once.
REFRESH_CONCURRENCY = 8
OUTPUT_CONTENT_TYPE = "application/jsonl"
BATCH_WORDS = JobWords(
    one="batch",
    many="batches",
    param="input_file_id",
    code="no_batch_deployment",
    able="an OpenAI or Azure OpenAI",
)


def batch_not_found(batch_id: str) -> FileNotFound:
    return FileNotFound(f"No batch found with id '{batch_id[:128]}'.", param="batch_id")


def _input_not_found(file_id: str) -> FileNotFound:
    return FileNotFound(f"No such File object: {file_id[:128]}", param="input_file_id")


def is_batch_id(value: str) -> bool:
    return is_filegate_id(value, BATCH_PREFIX)


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """A create's fields, as the client sent them (types already checked)."""

    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: Mapping[str, str] | None = None
    output_expires_after: ExpiresAfter | None = None


def check_endpoint(endpoint: str) -> str:
    if endpoint not in ENDPOINTS:
        raise InvalidRequest(
            f"Invalid value: '{endpoint[:64]}'. Supported values are: "
            + ", ".join(f"'{e}'" for e in ENDPOINTS)
            + ".",
            param="endpoint",
            code="invalid_value",
        )
    return endpoint


def check_completion_window(window: str) -> str:
    if window not in COMPLETION_WINDOWS:
        raise InvalidRequest(
            f"Invalid value: '{window[:32]}'. Supported values are: '24h'.",
            param="completion_window",
            code="invalid_value",
        )
    return window


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str] | None:
    if metadata is None:
        return None
    if len(metadata) > METADATA_MAX_PAIRS:
        raise InvalidRequest(
            f"Invalid 'metadata': at most {METADATA_MAX_PAIRS} key-value pairs are allowed.",
            param="metadata",
            code="invalid_value",
        )
    for key, value in metadata.items():
        if len(key) > METADATA_KEY_MAX:
            raise InvalidRequest(
                f"Invalid 'metadata': keys may have at most {METADATA_KEY_MAX} characters.",
                param="metadata",
                code="invalid_value",
            )
        if len(value) > METADATA_VALUE_MAX:
            raise InvalidRequest(
                f"Invalid 'metadata': values may have at most {METADATA_VALUE_MAX} characters.",
                param="metadata",
                code="invalid_value",
            )
        if "\x00" in key or "\x00" in value:
            raise InvalidRequest(
                "Invalid 'metadata': it contains a NUL character.",
                param="metadata",
                code="invalid_value",
            )
    return dict(metadata)


def parse_output_expires_after(anchor: object, seconds: object) -> ExpiresAfter:
    if anchor != "created_at":
        raise InvalidRequest(
            "Invalid 'output_expires_after.anchor': expected 'created_at'.",
            param="output_expires_after.anchor",
            code="invalid_value",
        )
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise InvalidRequest(
            "Invalid 'output_expires_after.seconds': expected an integer.",
            param="output_expires_after.seconds",
            code="invalid_value",
        )
    if not EXPIRES_MIN <= seconds <= EXPIRES_MAX:
        raise InvalidRequest(
            f"Invalid 'output_expires_after.seconds': {seconds}. It must be between "
            f"{EXPIRES_MIN} and {EXPIRES_MAX}.",
            param="output_expires_after.seconds",
            code="invalid_value",
        )
    return ExpiresAfter(seconds=seconds)


def parse_batch_after(value: str | None) -> str | None:
    if value is None:
        return None
    if not is_batch_id(value):
        raise InvalidRequest(
            f"Invalid value for 'after': {value[:64]!r} is not a batch id "
            "(the previous page's last_id).",
            param="after",
            code="invalid_value",
        )
    return value


def parse_batch_limit(value: str | None) -> int:
    if value is None:
        return LIST_DEFAULT
    if not value.isascii() or not value.lstrip("-").isdigit():
        raise InvalidRequest(
            "Invalid value for 'limit': expected an integer.", param="limit", code="invalid_value"
        )
    limit = int(value)
    if not 1 <= limit <= LIST_MAX:
        raise InvalidRequest(
            f"Invalid value for 'limit': {limit}. It must be between 1 and {LIST_MAX}.",
            param="limit",
            code="invalid_value",
        )
    return limit


def state_of(pb: ProviderBatch) -> BatchState:
    return BatchState(
        status=pb.status,
        errors=pb.errors,
        request_counts=pb.request_counts,
        timestamps=dict(pb.timestamps),
        model=pb.model,
        usage=pb.usage,
        provider_output_file_id=pb.output_file_id,
        provider_error_file_id=pb.error_file_id,
    )


class BatchService:
    def __init__(
        self,
        store: BatchStore,
        files: FileService,
        targets: TargetTable,
        *,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = CACHE_SECONDS,
        runs: BatchRunStore | None = None,
        lease_seconds: float = 30.0,
    ) -> None:
        self.store = store
        self.files = files
        self.targets = targets
        self.clock = clock
        self.cache_seconds = cache_seconds
        self.placer = Placer(files, targets, batching, BATCH_WORDS, runs_here=self.runs_here)
        self.copies = FileCopies(files, store.add_copy, clock=clock)
        # Provider retrieves in flight, by batch: concurrent polls of one batch share one.
        self._asking: dict[str, asyncio.Future[ProviderBatch]] = {}
        # Deployments whose batches filegate runs itself (no Batch API upstream).
        senders = {
            name: sender
            for name, provider in files.providers.items()
            if (sender := sending_lines(provider)) is not None
        }
        self.runner: BatchRunner | None = (
            BatchRunner(runs, store, files, senders, lease_seconds=lease_seconds, clock=clock)
            if runs is not None and senders
            else None
        )

    # -- where a batch runs ------------------------------------------------------------------

    def runs_here(self, deployment: str) -> bool:
        """Whether filegate runs this deployment's batches itself, line by line."""
        return self.runner is not None and deployment in self.runner.senders

    def _runner(self, target: Target) -> BatchesProvider:
        return self.placer.runner(target)

    def place(
        self, file: FileRecord, options: Mapping[str, str], path_provider: str | None
    ) -> tuple[Target, Location | None]:
        """The deployment a batch over ``file`` runs at, and the file's copy there (None:
        there is none yet, and the file's bytes are in filegate's store to copy from)."""
        return self.placer.place(file, options, path_provider)

    # -- the operations ----------------------------------------------------------------------

    async def create(
        self,
        scope: Scope,
        request: BatchRequest,
        *,
        options: Mapping[str, str],
        path_provider: str | None = None,
        key_cap: int | None = None,
        team_cap: int | None = None,
    ) -> BatchRecord:
        endpoint = check_endpoint(request.endpoint)
        window = check_completion_window(request.completion_window)
        metadata = check_metadata(request.metadata)
        if not self.files.is_own_id(request.input_file_id):
            raise _input_not_found(request.input_file_id)
        try:
            file = await self.files.get(scope, request.input_file_id)
        except FileNotFound:
            raise _input_not_found(request.input_file_id) from None
        if file.purpose != "batch":
            raise InvalidRequest(
                f"The input file {file.id} has purpose '{file.purpose}'; a batch needs a file "
                "uploaded with purpose 'batch'.",
                param="input_file_id",
                code="invalid_value",
            )
        target, copy = self.place(file, options, path_provider)
        if self.runs_here(target.deployment):
            return await self._create_here(scope, file, target, request, key_cap, team_cap)
        runner = self._runner(target)
        check = getattr(runner, "check_output_expires_after", None)
        if request.output_expires_after is not None and callable(check):
            check(request.output_expires_after)
        batch_id, created_at = new_id(BATCH_PREFIX)
        record = BatchRecord(
            id=batch_id,
            created_at=created_at,
            deployment=target.deployment,
            provider=target.provider,
            provider_batch_id="",
            input_file_id=file.id,
            endpoint=endpoint,
            completion_window=window,
            metadata=metadata,
            owner=scope.owner,
            team=scope.team,
        )
        await self._reserve(record, key_cap, team_cap)
        try:
            if copy is None:
                copy = await self.copies.ensure(file, target)
            with own_ids({copy.provider_file_id: file.id}):
                made = await runner.create_batch(
                    input_file_id=copy.provider_file_id,
                    endpoint=endpoint,
                    completion_window=window,
                    metadata=metadata,
                    output_expires_after=request.output_expires_after,
                )
        except BaseException:
            # The copy, if one was made, stays recorded for the next batch.
            await self.store.drop(record.id)
            raise
        record.provider_batch_id = made.id
        record.state = state_of(made)
        record.fetched_at = self.clock()
        await self.store.publish(record)
        await self._map_files(record, strict=False)
        return record

    async def _create_here(
        self,
        scope: Scope,
        file: FileRecord,
        target: Target,
        request: BatchRequest,
        key_cap: int | None,
        team_cap: int | None,
    ) -> BatchRecord:
        """A batch filegate runs itself: recorded, then taken by a runner (this process's
        at once, or any gateway's), over the file in filegate's own store."""
        if request.output_expires_after is not None:
            # Its output files are written when the batch ends, without an expiry yet:
            # refused rather than silently dropped.
            raise InvalidRequest(
                f"Deployment {target.deployment!r} runs batches in filegate, which does not "
                "expire their output yet; leave output_expires_after out.",
                param="output_expires_after",
                code="unsupported_parameter",
            )
        batch_id, created_at = new_id(BATCH_PREFIX)
        record = BatchRecord(
            id=batch_id,
            created_at=created_at,
            deployment=target.deployment,
            provider=target.provider,
            provider_batch_id=batch_id,
            input_file_id=file.id,
            endpoint=check_endpoint(request.endpoint),
            completion_window=check_completion_window(request.completion_window),
            metadata=check_metadata(request.metadata),
            owner=scope.owner,
            team=scope.team,
            state=BatchState(
                status="validating",
                request_counts={"total": 0, "completed": 0, "failed": 0},
                timestamps={"expires_at": created_at + WINDOW_SECONDS},
            ),
        )
        await self._reserve(record, key_cap, team_cap)
        record.fetched_at = self.clock()
        await self.store.publish(record)
        assert self.runner is not None
        self.runner.wake()
        return record

    async def _cancel_here(self, record: BatchRecord) -> BatchRecord:
        if record.terminal:
            raise InvalidRequest(
                f"Cannot cancel a batch with status '{record.state.status}'.",
                param="batch_id",
                code="invalid_state",
            )
        now = int(self.clock())

        def cancelling(state: BatchState) -> BatchState:
            if state.terminal or state.status == "cancelling":
                return state
            state.status = "cancelling"
            state.timestamps = {**state.timestamps, "cancelling_at": now}
            return state

        assert self.runner is not None
        record.state = await self.runner.runs.request_cancel(record.id, cancelling)
        self.runner.wake()
        return record

    async def _reserve(
        self, record: BatchRecord, key_cap: int | None, team_cap: int | None
    ) -> None:
        await in_progress.reserve(
            self.store,
            record,
            clock=self.clock,
            key_cap=key_cap,
            team_cap=team_cap,
            refresh=self._refresh_all,
            param="input_file_id",
            code="too_many_batches_in_progress",
        )

    async def get(self, scope: Scope, batch_id: str) -> BatchRecord:
        """A batch the scope may see, as the provider says it is now (or a moment ago)."""
        record = await self._find(scope, batch_id)
        await self._refresh(record, strict=True)
        return record

    async def _find(self, scope: Scope, batch_id: str) -> BatchRecord:
        if not is_batch_id(batch_id):
            raise batch_not_found(batch_id)
        record = await self.store.get(batch_id, scope)
        if record is None:
            raise batch_not_found(batch_id)
        return record

    async def page(self, scope: Scope, query: BatchQuery) -> BatchPage:
        page = await self.store.page(scope, query)
        await self._refresh_all(page.data)
        return page

    async def cancel(self, scope: Scope, batch_id: str) -> BatchRecord:
        record = await self._find(scope, batch_id)
        if self.runs_here(record.deployment):
            return await self._cancel_here(record)
        runner = self._runner(self.targets.named(record.deployment))
        with own_ids({record.provider_batch_id: record.id}):
            answer = await runner.cancel_batch(record.provider_batch_id)
        await self._absorb(record, answer)
        await self._map_files(record, strict=False)
        return record

    # -- keeping up with the provider -------------------------------------------------------

    async def _refresh_all(self, records: list[BatchRecord]) -> None:
        gate = asyncio.Semaphore(REFRESH_CONCURRENCY)

        async def one(record: BatchRecord) -> None:
            async with gate:
                try:
                    await self._refresh(record, strict=False)
                except FilegateError as exc:
                    # The listing shows what was last known.
                    log.warning("could not refresh batch %s: %s", record.id, exc)

        await asyncio.gather(*(one(r) for r in records))

    async def _refresh(self, record: BatchRecord, *, strict: bool) -> None:
        # A batch filegate runs is as its runner last committed it: the catalog is the truth.
        here = self.runs_here(record.deployment)
        stale = self.clock() - record.fetched_at >= self.cache_seconds
        if not here and not record.terminal and stale:
            asking = self._asking.get(record.id)
            if asking is None:
                asking = asyncio.ensure_future(self._ask(record))
                self._asking[record.id] = asking
                asking.add_done_callback(lambda _: self._asking.pop(record.id, None))
            answer = await asyncio.shield(asking)
            record.state, record.fetched_at = state_of(answer), self.clock()
        await self._map_files(record, strict=strict)

    async def _ask(self, record: BatchRecord) -> ProviderBatch:
        runner = self._runner(self.targets.named(record.deployment))
        with own_ids({record.provider_batch_id: record.id}):
            answer = await runner.retrieve_batch(record.provider_batch_id)
        await self.store.save_state(record.id, state_of(answer), self.clock())
        return answer

    async def _absorb(self, record: BatchRecord, answer: ProviderBatch) -> None:
        record.state = state_of(answer)
        record.fetched_at = self.clock()
        await self.store.save_state(record.id, record.state, record.fetched_at)

    async def _map_files(self, record: BatchRecord, *, strict: bool) -> None:
        """Give the provider's output and error files filegate ids, once per batch."""
        wanted = (
            ("output", record.state.provider_output_file_id, record.output_file_id),
            ("error", record.state.provider_error_file_id, record.error_file_id),
        )
        for kind, theirs, ours in wanted:
            if theirs is None or ours is not None:
                continue
            try:
                file = await self._file_record(record, kind, theirs)
            except FileNotFound:
                # Gone at the provider already (expired or deleted there).
                log.warning("batch %s: the provider's %s file is gone", record.id, kind)
                continue
            except FilegateError:
                if strict:
                    raise
                log.warning("batch %s: could not map its %s file yet", record.id, kind)
                continue
            winner = await self.store.attach_file(record.id, kind, file)
            if kind == "output":
                record.output_file_id = winner
            else:
                record.error_file_id = winner

    async def _file_record(self, record: BatchRecord, kind: str, theirs: str) -> FileRecord:
        remote = await self.files.provider(record.deployment).retrieve_file(theirs)
        return provider_file_record(
            remote,
            deployment=record.deployment,
            provider=record.provider,
            # The provider's name carries its own batch id; ours carries ours.
            filename=f"{record.id}_{kind}.jsonl",
            purpose="batch_output",
            content_type=OUTPUT_CONTENT_TYPE,
            owner=record.owner,
            team=record.team,
        )
