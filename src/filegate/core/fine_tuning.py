"""Fine-tuning jobs on filegate ids: where a job runs, its life at the provider, its results.

A job runs at the deployment that holds its training file's copy, chosen as for batches
(``core/copies.py``); a file only in filegate's own store is copied there first, and the
validation file must end up at the same deployment. The provider's job id stays behind
filegate's ``ftjob-`` id, its events and checkpoints are the provider's with filegate's
ids put back, and its result files become filegate file records once (purpose
``fine-tune-results``, owned by the job's owner), read from the provider on demand.

Knows the catalog, blob-store and provider interfaces, nothing of HTTP or SQL; a
deployment fine-tunes when its provider has the ``FineTuningProvider`` capability
(``providers.base.tuning``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from filegate.catalog.base import FineTuningStore
from filegate.core import in_progress
from filegate.core.batches import check_metadata
from filegate.core.copies import FileCopies, JobWords, Placer, own_ids, provider_file_record
from filegate.core.files.service import FileService
from filegate.core.ids import is_filegate_id, new_id
from filegate.core.targets import Target, TargetTable
from filegate.errors import FilegateError, FileNotFound, InvalidRequest
from filegate.providers.base import FineTuningProvider, ProviderItems, ProviderJob, tuning
from filegate.records import (
    FileRecord,
    FineTuningPage,
    FineTuningQuery,
    FineTuningRecord,
    FineTuningState,
    Location,
    Scope,
)
from filegate.records.fine_tuning import CHECKPOINT_FIELDS, EVENT_FIELDS, openai_item

log = logging.getLogger("filegate")

JOB_PREFIX = "ftjob-"
PURPOSE = "fine-tune"
RESULTS_PURPOSE = "fine-tune-results"
RESULTS_CONTENT_TYPE = "text/csv"
LIST_DEFAULT, EVENTS_DEFAULT, CHECKPOINTS_DEFAULT, LIST_MAX = 20, 20, 10, 100
# An events or checkpoints cursor is the provider's id of an item; this bounds it:
# printable ASCII (it goes into the provider's query string as it is), ASCII in the
# pattern itself so the OpenAPI document states the same rule.
CURSOR_MAX = 256
CURSOR_PATTERN = f"^[ -~]{{1,{CURSOR_MAX}}}$"
_CURSOR = re.compile(CURSOR_PATTERN)
# Polling clients are answered from the catalog for this long after the provider was
# last asked about a job (across every gateway sharing the catalog).
CACHE_SECONDS = 1.5
# A job is in progress until it ends (records.fine_tuning.TERMINAL: succeeded, failed,
# cancelled): validating_files and queued count as OpenAI counts them against its own
# active-jobs limit, running of course, and paused too, since a paused job keeps its place
# at the provider and resumes without a new create (otherwise pausing would let a key
# hold more jobs than its cap).
REFRESH_CONCURRENCY = 8
JOB_WORDS = JobWords(
    one="fine-tuning job",
    many="fine-tuning jobs",
    param="training_file",
    code="no_fine_tuning_deployment",
    able="an OpenAI, Azure OpenAI or Vertex AI",
)


def job_not_found(job_id: str) -> FileNotFound:
    return FileNotFound(
        f"Could not find fine-tuning job: {job_id[:128]}", param="fine_tuning_job_id"
    )


def is_job_id(value: str) -> bool:
    return is_filegate_id(value, JOB_PREFIX)


@dataclass(frozen=True, slots=True)
class FineTuningRequest:
    """A create's fields, as the client sent them (types already checked).

    ``extra`` holds the fields that pass through to the provider as they are:
    ``hyperparameters``, ``method``, ``suffix``, ``seed``, ``integrations``.
    """

    model: str
    training_file: str
    validation_file: str | None = None
    metadata: Mapping[str, str] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def parse_job_after(value: str | None) -> str | None:
    if value is None:
        return None
    if not is_job_id(value):
        raise InvalidRequest(
            f"Invalid value for 'after': {value[:64]!r} is not a fine-tuning job id "
            "(the previous page's last job).",
            param="after",
            code="invalid_value",
        )
    return value


def parse_cursor(value: str | None) -> str | None:
    """An events or checkpoints ``after``: an id the previous page named."""
    if value is None:
        return None
    if not _CURSOR.fullmatch(value):
        raise InvalidRequest(
            "Invalid value for 'after': expected the id of an item of the previous page.",
            param="after",
            code="invalid_value",
        )
    return value


def parse_limit(value: str | None, default: int = LIST_DEFAULT) -> int:
    if value is None:
        return default
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


def state_of(job: ProviderJob) -> FineTuningState:
    return FineTuningState(
        status=job.status,
        model=job.model,
        fine_tuned_model=job.fine_tuned_model,
        finished_at=job.finished_at,
        trained_tokens=job.trained_tokens,
        error=job.error,
        hyperparameters=job.hyperparameters,
        method=job.method,
        seed=job.seed,
        estimated_finish=job.estimated_finish,
        integrations=job.integrations,
        user_provided_suffix=job.user_provided_suffix,
        organization_id=job.organization_id,
        provider_result_files=list(job.result_files),
    )


class FineTuningService:
    def __init__(
        self,
        store: FineTuningStore,
        files: FileService,
        targets: TargetTable,
        *,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.store = store
        self.files = files
        self.targets = targets
        self.clock = clock
        self.cache_seconds = cache_seconds
        self.placer = Placer(files, targets, tuning, JOB_WORDS)
        self.copies = FileCopies(files, store.add_copy, clock=clock)

    # -- the create --------------------------------------------------------------------------

    async def _file(self, scope: Scope, file_id: str, param: str) -> FileRecord:
        missing = FileNotFound(f"No such File object: {file_id[:128]}", param=param)
        if not self.files.is_own_id(file_id):
            raise missing
        try:
            file = await self.files.get(scope, file_id)
        except FileNotFound:
            raise missing from None
        if file.purpose != PURPOSE:
            raise InvalidRequest(
                f"File {file.id} has purpose '{file.purpose}'; {param} needs a file uploaded "
                f"with purpose '{PURPOSE}'.",
                param=param,
                code="invalid_value",
            )
        return file

    async def create(
        self,
        scope: Scope,
        request: FineTuningRequest,
        *,
        options: Mapping[str, str],
        path_provider: str | None = None,
        key_cap: int | None = None,
        team_cap: int | None = None,
    ) -> FineTuningRecord:
        """Make a job; ``key_cap`` and ``team_cap`` bound the jobs in progress of the
        scope's key and team (None: no cap), checked before anything is sent."""
        metadata = check_metadata(request.metadata)
        training = await self._file(scope, request.training_file, "training_file")
        validation = None
        if request.validation_file is not None:
            validation = await self._file(scope, request.validation_file, "validation_file")
        target, training_copy = self.placer.place(training, options, path_provider)
        runner = self.placer.runner(target)
        validation_copy = None
        if validation is not None:
            validation_copy = self.placer.copy_at(validation, target, "validation_file")
        job_id, created_at = new_id(JOB_PREFIX)
        record = FineTuningRecord(
            id=job_id,
            created_at=created_at,
            deployment=target.deployment,
            provider=target.provider,
            provider_job_id="",
            training_file=training.id,
            validation_file=validation.id if validation else None,
            model=request.model,
            metadata=metadata,
            owner=scope.owner,
            team=scope.team,
        )
        record.state.model = request.model
        await self._reserve(record, key_cap, team_cap)
        try:
            training_copy = await self._copy(training, target, training_copy, "training_file")
            names = {training_copy.provider_file_id: training.id}
            body: dict[str, Any] = {
                "model": request.model,
                "training_file": training_copy.provider_file_id,
            }
            if validation is not None:
                validation_copy = await self._copy(
                    validation, target, validation_copy, "validation_file"
                )
                names[validation_copy.provider_file_id] = validation.id
                body["validation_file"] = validation_copy.provider_file_id
            if metadata is not None:
                body["metadata"] = metadata
            body.update(request.extra)
            with own_ids(names):
                made = await runner.create_fine_tuning_job(body)
        except BaseException:
            # The copies, if any were made, stay recorded for the next job.
            await self.store.drop(record.id)
            raise
        record.provider_job_id = made.id
        record.state = state_of(made)
        record.fetched_at = self.clock()
        await self.store.publish(record)
        await self._map_results(record, strict=False)
        return record

    async def _reserve(
        self, record: FineTuningRecord, key_cap: int | None, team_cap: int | None
    ) -> None:
        await in_progress.reserve(
            self.store,
            record,
            clock=self.clock,
            key_cap=key_cap,
            team_cap=team_cap,
            refresh=self._refresh_all,
            param="training_file",
            code="too_many_fine_tuning_jobs_in_progress",
        )

    async def _copy(
        self, file: FileRecord, target: Target, copy: Location | None, param: str
    ) -> Location:
        if copy is not None:
            return copy
        try:
            return await self.copies.ensure(file, target)
        except InvalidRequest as exc:
            # A deployment that converts files (Vertex AI) names the bad line; the
            # client knows the file by the field that named it.
            if exc.param == "file":
                exc.param = param
            raise

    # -- reading and acting on a job ---------------------------------------------------------

    async def _find(self, scope: Scope, job_id: str) -> FineTuningRecord:
        if not is_job_id(job_id):
            raise job_not_found(job_id)
        record = await self.store.get(job_id, scope)
        if record is None:
            raise job_not_found(job_id)
        return record

    def _runner(self, record: FineTuningRecord) -> FineTuningProvider:
        return self.placer.runner(self.targets.named(record.deployment))

    def _names(self, record: FineTuningRecord) -> dict[str, str]:
        return {record.provider_job_id: record.id}

    async def get(self, scope: Scope, job_id: str) -> FineTuningRecord:
        """A job the scope may see, as the provider says it is now (or a moment ago)."""
        record = await self._find(scope, job_id)
        await self._refresh(record, strict=True)
        return record

    async def page(self, scope: Scope, query: FineTuningQuery) -> FineTuningPage:
        page = await self.store.page(scope, query)
        await self._refresh_all(page.data)
        return page

    async def cancel(self, scope: Scope, job_id: str) -> FineTuningRecord:
        record = await self._find(scope, job_id)
        runner = self._runner(record)
        with own_ids(self._names(record)):
            answer = await runner.cancel_fine_tuning_job(record.provider_job_id)
        return await self._absorbed(record, answer)

    async def pause(self, scope: Scope, job_id: str) -> FineTuningRecord:
        record = await self._find(scope, job_id)
        runner = self._pausable(record, "pause")
        with own_ids(self._names(record)):
            answer = await runner.pause_fine_tuning_job(record.provider_job_id)
        return await self._absorbed(record, answer)

    async def resume(self, scope: Scope, job_id: str) -> FineTuningRecord:
        record = await self._find(scope, job_id)
        runner = self._pausable(record, "resume")
        with own_ids(self._names(record)):
            answer = await runner.resume_fine_tuning_job(record.provider_job_id)
        return await self._absorbed(record, answer)

    def _pausable(self, record: FineTuningRecord, action: str) -> FineTuningProvider:
        runner = self._runner(record)
        if not runner.supports_pause:
            raise InvalidRequest(
                f"Fine-tuning job {record.id} runs at deployment {record.deployment!r} "
                f"({record.provider}), which cannot {action} fine-tuning jobs.",
                param="fine_tuning_job_id",
                code="unsupported_operation",
            )
        return runner

    async def events(
        self, scope: Scope, job_id: str, *, after: str | None, limit: int
    ) -> ProviderItems:
        """The job's events, newest first, with filegate's ids in their messages."""
        record = await self._find(scope, job_id)
        with own_ids(self._names(record)):
            items = await self._runner(record).list_fine_tuning_events(
                record.provider_job_id, after=after, limit=limit
            )
        names = await self._all_names(record)
        data = [openai_item(event, EVENT_FIELDS) for event in items.data]
        for event in data:
            message = event.get("message")
            if isinstance(message, str):
                for theirs, ours in names.items():
                    if theirs:
                        message = message.replace(theirs, ours)
                event["message"] = message
        return ProviderItems(data=data, has_more=items.has_more)

    async def checkpoints(
        self, scope: Scope, job_id: str, *, after: str | None, limit: int
    ) -> ProviderItems:
        record = await self._find(scope, job_id)
        with own_ids(self._names(record)):
            items = await self._runner(record).list_fine_tuning_checkpoints(
                record.provider_job_id, after=after, limit=limit
            )
        data = [
            openai_item({**c, "fine_tuning_job_id": record.id}, CHECKPOINT_FIELDS)
            for c in items.data
        ]
        return ProviderItems(data=data, has_more=items.has_more)

    async def _all_names(self, record: FineTuningRecord) -> dict[str, str]:
        """The provider's ids a job's events may name, and filegate's for each."""
        names = self._names(record)
        for file_id in (record.training_file, record.validation_file):
            if file_id is None:
                continue
            file = await self.files.catalog.get(file_id, Scope(), int(self.clock()))
            for copy in file.locations if file is not None else []:
                if copy.deployment == record.deployment:
                    names[copy.provider_file_id] = file_id
        return names

    # -- keeping up with the provider --------------------------------------------------------

    async def _refresh_all(self, records: list[FineTuningRecord]) -> None:
        gate = asyncio.Semaphore(REFRESH_CONCURRENCY)

        async def one(record: FineTuningRecord) -> None:
            async with gate:
                try:
                    await self._refresh(record, strict=False)
                except FilegateError as exc:
                    # What was last known stands (in a listing, and in the count).
                    log.warning("could not refresh fine-tuning job %s: %s", record.id, exc)

        await asyncio.gather(*(one(r) for r in records))

    async def _refresh(self, record: FineTuningRecord, *, strict: bool) -> None:
        if not record.terminal and self.clock() - record.fetched_at >= self.cache_seconds:
            runner = self._runner(record)
            with own_ids(self._names(record)):
                answer = await runner.retrieve_fine_tuning_job(record.provider_job_id)
            record.state = state_of(answer)
            record.fetched_at = self.clock()
            await self.store.save_state(record.id, record.state, record.fetched_at)
        await self._map_results(record, strict=strict)

    async def _absorbed(self, record: FineTuningRecord, answer: ProviderJob) -> FineTuningRecord:
        record.state = state_of(answer)
        record.fetched_at = self.clock()
        await self.store.save_state(record.id, record.state, record.fetched_at)
        await self._map_results(record, strict=False)
        return record

    async def _map_results(self, record: FineTuningRecord, *, strict: bool) -> None:
        """Give the provider's result files filegate ids, once per job (when it has ended,
        so the list is final)."""
        theirs = record.state.provider_result_files
        if record.result_files is not None or not theirs or not record.terminal:
            return
        provider = self.files.provider(record.deployment)
        made: list[FileRecord] = []
        for n, file_id in enumerate(theirs):
            try:
                remote = await provider.retrieve_file(file_id)
            except FileNotFound:
                # Gone at the provider already (expired or deleted there).
                log.warning("fine-tuning job %s: a result file is gone", record.id)
                continue
            except FilegateError:
                if strict:
                    raise
                log.warning("fine-tuning job %s: could not map its results yet", record.id)
                return
            suffix = f"_{n + 1}" if len(theirs) > 1 else ""
            made.append(
                provider_file_record(
                    remote,
                    deployment=record.deployment,
                    provider=record.provider,
                    filename=f"{record.id}_results{suffix}.csv",
                    purpose=RESULTS_PURPOSE,
                    content_type=RESULTS_CONTENT_TYPE,
                    owner=record.owner,
                    team=record.team,
                )
            )
        record.result_files = await self.store.attach_results(record.id, made)
