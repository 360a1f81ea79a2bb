"""What jobs over filegate files share: where a job runs, the file's copy there, its outputs.

A job (a batch, a fine-tuning job) runs at a deployment whose provider has the job's
capability, chosen by the same routing as files; a file only in filegate's own store is
first copied there (streamed, recorded as another location of the file, reused by later
jobs). Files the provider makes for a job become filegate file records, whose bytes are
read from the provider on demand. Knows the catalog, blob-store and provider interfaces,
nothing of HTTP or SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from filegate.core.files.service import BlobSource, FileService
from filegate.core.ids import new_id
from filegate.core.targets import Target, TargetTable
from filegate.errors import FilegateError, InvalidRequest
from filegate.providers.base import Provider, ProviderFile
from filegate.records import FileRecord, FileState, Location, Scope

log = logging.getLogger("filegate")

T = TypeVar("T")


@contextlib.contextmanager
def own_ids(names: Mapping[str, str]) -> Iterator[None]:
    """Provider errors name the provider's ids; the client knows filegate's."""
    try:
        yield
    except FilegateError as exc:
        message = exc.message
        for theirs, ours in names.items():
            if theirs:
                message = message.replace(theirs, ours)
        exc.message = message
        exc.args = (message,)
        raise


@dataclass(frozen=True, slots=True)
class JobWords:
    """How a kind of job is named in the errors of placing it."""

    one: str  # "batch"
    many: str  # "batches"
    param: str  # the request field naming the job's file
    code: str  # the error code when no deployment can run it
    able: str  # which deployments can, for the hint


class Placer(Generic[T]):
    """Chooses the deployment a job over a file runs at, by a provider capability."""

    def __init__(
        self,
        files: FileService,
        targets: TargetTable,
        capability: Callable[[Provider], T | None],
        words: JobWords,
        *,
        runs_here: Callable[[str], bool] = lambda deployment: False,
    ) -> None:
        self.files = files
        self.targets = targets
        self.capability = capability
        self.words = words
        # Deployments whose jobs filegate runs itself over its own store (batches on an
        # openai_compatible model server): no capability upstream, and no copy to make.
        self.runs_here = runs_here

    def at(self, deployment: str) -> T | None:
        provider = self.files.providers.get(deployment)
        return self.capability(provider) if provider is not None else None

    def can_run(self, deployment: str) -> bool:
        return self.runs_here(deployment) or self.at(deployment) is not None

    def runner(self, target: Target) -> T:
        w = self.words
        if target.embedded:
            raise InvalidRequest(
                f"filegate's own store runs no {w.many}; configure {w.able} deployment "
                "and choose it with custom_llm_provider or model.",
                param="custom_llm_provider",
                code=w.code,
            )
        runner = self.at(target.deployment)
        if runner is None:
            raise InvalidRequest(
                f"Deployment {target.deployment!r} ({target.provider}) does not run {w.many}.",
                param="custom_llm_provider",
                code=w.code,
            )
        return runner

    def place(
        self, file: FileRecord, options: Mapping[str, str], path_provider: str | None
    ) -> tuple[Target, Location | None]:
        """The deployment a job over ``file`` runs at, and the file's copy there (None:
        there is none yet, and the file's bytes are in filegate's store to copy from)."""
        w = self.words
        explicit = path_provider or any(
            options.get(name) for name in ("custom_llm_provider", "model", "target_model_names")
        )
        if explicit:
            targets = self.targets.resolve(options, path_provider)
            if len(targets) != 1:
                raise InvalidRequest(
                    f"A {w.one} runs at one deployment; name one.",
                    param="model",
                    code="too_many_deployments",
                )
            target = targets[0]
            if not self.runs_here(target.deployment):
                self.runner(target)
            return target, self.copy_at(file, target)
        runnable = [c for c in file.locations if self.at(c.deployment) is not None]
        default = self.targets.default
        if runnable:
            copy = next((c for c in runnable if c.deployment == default.deployment), runnable[0])
            return self.targets.named(copy.deployment), copy
        if file.blob_key is not None:
            if not default.embedded and self.can_run(default.deployment):
                return default, None
            able = [t for t in self.targets.deployments.values() if self.can_run(t.deployment)]
            if len(able) == 1:
                return able[0], None
            if able:
                names = ", ".join(sorted(t.deployment for t in able))
                raise InvalidRequest(
                    f"File {file.id} is in filegate's own store and several deployments can run "
                    f"{w.many} ({names}); choose one with custom_llm_provider or model.",
                    param="model",
                    code=w.code,
                )
        held = ", ".join(sorted(c.deployment for c in file.locations)) or "filegate's own store"
        raise InvalidRequest(
            f"No deployment can run a {w.one} over file {file.id} (kept at {held}): configure "
            f"{w.able} deployment (FILEGATE_CONFIG deployments) and upload the "
            "file there, or name it with custom_llm_provider or model.",
            param=w.param,
            code=w.code,
        )

    def copy_at(
        self, file: FileRecord, target: Target, param: str | None = None
    ) -> Location | None:
        """``file``'s copy at ``target`` (None: to be made from filegate's store); a file
        kept only elsewhere cannot be used there."""
        copy = next((c for c in file.locations if c.deployment == target.deployment), None)
        if copy is not None or file.blob_key is not None:
            return copy
        held = ", ".join(sorted(c.deployment for c in file.locations))
        raise InvalidRequest(
            f"File {file.id} is kept at {held}, not at {target.deployment!r}; run the "
            f"{self.words.one} where the file is, or upload the file there.",
            param=param or self.words.param,
            code="file_not_at_deployment",
        )


class FileCopies:
    """Copies of filegate files at deployments, made on demand and once."""

    def __init__(
        self,
        files: FileService,
        record: Callable[[str, Location], Awaitable[Location]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.files = files
        # Records a copy unless one at that deployment already is; the one kept.
        self.record = record
        self.clock = clock
        # One copy of a file per deployment at a time in this process (the catalog
        # settles a race between processes).
        self._copying: dict[tuple[str, str], asyncio.Lock] = {}

    async def ensure(self, file: FileRecord, target: Target) -> Location:
        """Copy a file from filegate's store to ``target``, once; the copy recorded."""
        # The lock stays in the table (one per file and deployment): a second request
        # waits for the first copy instead of making another.
        lock = self._copying.setdefault((file.id, target.deployment), asyncio.Lock())
        async with lock:
            fresh = await self.files.catalog.get(file.id, Scope(), int(self.clock()))
            copy = next(
                (
                    c
                    for c in (fresh.locations if fresh else [])
                    if c.deployment == target.deployment
                ),
                None,
            )
            if copy is not None:
                return copy
            assert file.blob_key is not None
            provider = self.files.provider(target.deployment)
            remote = await provider.create_file(
                BlobSource(self.files.blobs, file.blob_key, file.bytes),
                filename=file.filename,
                purpose=file.purpose,
                content_type=file.content_type,
                expires_after=None,
            )
            made = Location(
                target.deployment, target.provider, remote.id, remote.status, remote.status_details
            )
            kept = await self.record(file.id, made)
            if kept.provider_file_id != made.provider_file_id:
                # Another gateway copied it first: ours is not needed.
                with contextlib.suppress(FilegateError):
                    await provider.delete_file(made.provider_file_id)
            log.info("copied %s to %s for a job", file.id, target.deployment)
            return kept


def provider_file_record(
    remote: ProviderFile,
    *,
    deployment: str,
    provider: str,
    filename: str,
    purpose: str,
    content_type: str,
    owner: str | None,
    team: str | None,
) -> FileRecord:
    """A filegate file record for a file a provider made for a job (its bytes stay there)."""
    file_id, created_at = new_id()
    status = remote.status if remote.status in ("uploaded", "processed", "error") else "processed"
    return FileRecord(
        id=file_id,
        filename=filename,
        purpose=purpose,
        created_at=created_at,
        bytes=remote.bytes,
        content_type=content_type,
        expires_at=int(remote.expires_at) if remote.expires_at else None,
        status=status,
        status_details=remote.status_details,
        owner=owner,
        team=team,
        state=FileState.READY,
        locations=[Location(deployment, provider, remote.id, status, remote.status_details)],
    )
