"""Batches filegate runs itself, line by line, on an OpenAI-compatible model server.

A deployment whose provider sends single request lines (``providers.base.sending_lines``)
has no Batch API of its own: this runner reads the input file from filegate's store as a
stream, sends each line with at most ``batch_concurrency`` in flight, and commits every
finished line to the catalog before its slot goes to the next line, so a process killed
mid-run leaves at most ``batch_concurrency`` lines to send again. Each batch is run by one
process of a fleet at a time: a lease in the catalog, renewed with every commit, taken
over when it lapses. At the end the committed lines become the batch's output and error
files, in input order, as normal files of the batch's owner.

Knows the catalog, blob-store and provider interfaces, nothing of HTTP or SQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson

from filegate.catalog.base import BatchRunStore, BatchStore, RunLine
from filegate.core.files.service import FileService
from filegate.core.ids import new_id
from filegate.core.jsonl import BatchValidator
from filegate.errors import InvalidRequest
from filegate.providers.base import LineAnswer, LineSendingProvider
from filegate.records import BatchRecord, BatchState, FileRecord, FileState, Scope

log = logging.getLogger("filegate")

WINDOW_SECONDS = 24 * 3600
POLL_SECONDS = 1.0
# How often a running batch's line commits also write its state (request_counts), renew
# its lease and read back a cancel from another process; the commits between record the
# lines only. Every commit did it all: at two lines a commit (a fast model server) the
# state's two rows were half of each commit's pages and most of its Python.
STATE_SECONDS = 0.2
# How long a finished line waits at most for others to share its commit. A commit costs
# nearly the same for one line as for four; but a slot waiting is a request not sent, so
# the wait is about one commit's time, and ends early once half the slots are answered.
# (A fixed 1 ms idled the slots: a batch ran at half its model server's speed. No wait
# at all made two lines a commit, and commits a third of the runner's CPU.)
GROUP_LINGER_SECONDS = 0.0005
# Output lines read back from the catalog per page while writing the files.
PAGE_LINES = 500
OUTPUT_CONTENT_TYPE = "application/jsonl"
_LINE_RE = re.compile(r"\bline (\d+)\b")


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


async def numbered_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    """Non-blank lines of a JSONL stream with their 1-based line numbers."""
    buf = bytearray()
    number = 0
    async for chunk in chunks:
        buf += chunk
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            number += 1
            line = bytes(buf[start:end])
            start = end + 1
            if line.strip():
                yield number, line
        del buf[:start]
    if buf.strip():
        yield number + 1, bytes(buf)


def result_line(custom_id: str, answer: LineAnswer) -> tuple[bool, str]:
    """The output (or error) file's line for one answer, in OpenAI's format."""
    # Random, as OpenAI's are: an id per output line, where new_id's time-sortable
    # ULID (5 us) bought nothing.
    request_id = "batch_req_" + os.urandom(16).hex()
    failed = answer.status_code == 0 or answer.status_code >= 400
    response = (
        {
            "status_code": answer.status_code,
            "request_id": answer.request_id or "",
            "body": answer.body,
        }
        if answer.status_code
        else None
    )
    doc = {"id": request_id, "custom_id": custom_id, "response": response, "error": answer.error}
    return failed, orjson.dumps(doc).decode()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _with(state: BatchState, **changes: Any) -> BatchState:
    stamps = changes.pop("stamps", {})
    made = dataclasses.replace(state, **changes)
    # A moment already stamped keeps its first value (a resumed run re-enters states).
    made.timestamps = {**stamps, **state.timestamps}
    return made


class BatchRunner:
    """Runs this process's share of the gateway-run batches; start ``run_forever``."""

    def __init__(
        self,
        runs: BatchRunStore,
        batches: BatchStore,
        files: FileService,
        senders: Mapping[str, LineSendingProvider],
        *,
        lease_seconds: float = 30.0,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.runs = runs
        self.batches = batches
        self.files = files
        self.blobs = files.blobs
        self.senders = dict(senders)
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.clock = clock
        # This process, as the catalog's leases name it.
        self.holder = uuid.uuid4().hex
        self._tasks: dict[str, tuple[str, asyncio.Task[None]]] = {}
        self._runs: dict[str, _Run] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A batch was made or cancelled: look now rather than at the next poll, and let
        the running batches read their state at their next commit (a cancel)."""
        self._wake.set()
        for run in self._runs.values():
            run.state_due = True

    async def run_forever(self) -> None:
        if not self.senders:
            return
        try:
            while True:
                try:
                    await self.tick()
                except Exception:
                    log.exception("looking for batches to run failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                self._wake.clear()
        finally:
            await self.stop()

    async def stop(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def tick(self) -> None:
        """Take runnable batches up to each deployment's max_batches_running."""
        now = _ms(self.clock())
        for deployment, sender in self.senders.items():
            mine = [b for b, (d, _) in self._tasks.items() if d == deployment]
            room = sender.max_batches_running - len(mine)
            if room <= 0:
                continue
            found = await self.runs.runnable([deployment], now, room + len(mine))
            for batch_id in found:
                if room <= 0:
                    break
                if batch_id in self._tasks:
                    continue
                until = now + _ms(self.lease_seconds)
                if not await self.runs.claim(batch_id, deployment, self.holder, now, until):
                    continue
                room -= 1
                task = asyncio.create_task(self._run(batch_id, sender))
                self._tasks[batch_id] = (deployment, task)
                task.add_done_callback(functools.partial(self._done, batch_id))

    def _done(self, batch_id: str, _: object = None) -> None:
        self._tasks.pop(batch_id, None)
        # Room for the next batch.
        self._wake.set()

    async def _run(self, batch_id: str, sender: LineSendingProvider) -> None:
        record = await self.batches.get(batch_id, Scope())
        if record is None or record.terminal:
            return
        run = _Run(self, record, sender)
        self._runs[batch_id] = run
        try:
            await run.go()
        except asyncio.CancelledError:
            # Shutting down: let another process take the batch at once.
            with contextlib.suppress(Exception):
                await asyncio.shield(self.runs.release(batch_id, self.holder))
            raise
        except _LeaseLost:
            log.warning("batch %s: another process holds it now", batch_id)
        except Exception:
            log.exception("batch %s: the run stopped; it resumes when its lease lapses", batch_id)
        finally:
            self._runs.pop(batch_id, None)


class _LeaseLost(Exception):
    pass


class _Run:
    """One batch being run by this process."""

    def __init__(
        self, owner: BatchRunner, record: BatchRecord, sender: LineSendingProvider
    ) -> None:
        self.o = owner
        self.record = record
        self.sender = sender
        self.state = record.state
        self.total = (record.state.request_counts or {}).get("total", 0)
        self.completed = 0
        self.failed = 0
        self.cancelled = record.state.status == "cancelling"
        self.lost = False
        self._pending: list[tuple[RunLine, asyncio.Future[None]]] = []
        self._flush = asyncio.Event()
        self._committing = False
        # While a finished line waits for others to share its commit: done when they have.
        self._gathering: asyncio.Future[None] | None = None
        self._group = max(1, sender.batch_concurrency // 2)
        # Lines sent and not yet answered.
        self._out = 0
        # Line commits this process made for the batch (the log says how well they grouped).
        self.commits = 0
        # Whether the next line commit writes the state too (see STATE_SECONDS).
        self.state_due = True
        self._state_at = 0.0

    @property
    def now(self) -> float:
        return self.o.clock()

    @property
    def expires_at(self) -> int:
        return self.state.timestamps.get("expires_at") or self.record.created_at + WINDOW_SECONDS

    def _until(self) -> int:
        return _ms(self.now + self.o.lease_seconds)

    def _counts(self) -> dict[str, int]:
        return {"total": self.total, "completed": self.completed, "failed": self.failed}

    async def go(self) -> None:
        if not self.cancelled and self.now >= self.expires_at:
            await self._finish("expired")
            return
        if not self.cancelled and self.state.status == "validating" and not await self._validate():
            return
        done, failed = await self.o.runs.done_lines(self.record.id)
        self.completed, self.failed = len(done) - failed, failed
        if not self.cancelled:
            try:
                await self._send_all(done)
            except FileNotFoundError:
                gone = {
                    "code": "file_not_found",
                    "message": f"The input file {self.record.input_file_id} was deleted.",
                    "param": "input_file_id",
                    "line": None,
                }
                await self._finish("failed", errors={"object": "list", "data": [gone]})
                return
        if self.lost:
            log.warning("batch %s: another process holds it now", self.record.id)
            return
        if self.cancelled:
            await self._finish("cancelled")
        elif self.now >= self.expires_at:
            await self._finish("expired")
        else:
            await self._commit_state(
                lambda s: (
                    _with(
                        s,
                        status="finalizing",
                        request_counts=self._counts(),
                        stamps={"finalizing_at": int(self.now)},
                    )
                    if s.status != "cancelling"
                    else s
                )
            )
            await self._finish("cancelled" if self.cancelled else "completed")

    # -- validating --------------------------------------------------------------------------

    async def _validate(self) -> bool:
        """Check the whole input once, streamed; a bad file fails the batch, naming the line."""
        validator = BatchValidator()
        problem: InvalidRequest | None = None
        try:
            async for chunk in await self._input():
                validator.feed(chunk)
            validator.finish()
        except InvalidRequest as exc:
            problem = exc
        except FileNotFoundError:
            problem = InvalidRequest(
                f"The input file {self.record.input_file_id} is gone.", code="file_not_found"
            )
        total = validator.records
        if problem is None and total == 0:
            problem = InvalidRequest("The input file has no requests.", code="empty_file")
        if problem is None and validator.url != self.record.endpoint:
            problem = InvalidRequest(
                f"Invalid batch file: line 1 has url {validator.url!r} but the batch's endpoint "
                f"is {self.record.endpoint!r}.",
                code="mismatched_endpoint",
            )
        if problem is not None:
            found = _LINE_RE.search(problem.message)
            error = {
                "code": problem.code or "invalid_file",
                "message": problem.message,
                "param": "input_file_id",
                "line": int(found.group(1)) if found else None,
            }
            await self._finish("failed", errors={"object": "list", "data": [error]})
            return False
        self.total = total
        await self._commit_state(
            lambda s: (
                s
                if s.status == "cancelling"
                else _with(
                    s,
                    status="in_progress",
                    request_counts=self._counts(),
                    stamps={"in_progress_at": int(self.now)},
                )
            )
        )
        return not self.cancelled

    async def _input(self) -> AsyncIterator[bytes]:
        file = await self.o.files.catalog.get(self.record.input_file_id, Scope(), int(self.now))
        if file is None or file.blob_key is None:
            raise FileNotFoundError(self.record.input_file_id)
        return await self.o.blobs.get(file.blob_key)

    # -- in progress -------------------------------------------------------------------------

    async def _send_all(self, done: set[int]) -> None:
        slots = asyncio.Semaphore(self.sender.batch_concurrency)
        sending: set[asyncio.Task[None]] = set()
        committer = asyncio.create_task(self._committer())
        try:
            async for number, raw in numbered_lines(await self._input()):
                if number in done:
                    continue
                await slots.acquire()
                if self.cancelled or self.lost or self.now >= self.expires_at:
                    slots.release()
                    break
                task = asyncio.create_task(self._send(number, raw, slots))
                sending.add(task)
                task.add_done_callback(sending.discard)
            # In-flight requests finish (or time out) and are kept.
            if sending:
                await asyncio.gather(*sending, return_exceptions=True)
        finally:
            committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await committer
            for task in list(sending):
                task.cancel()

    async def _send(self, number: int, raw: bytes, slots: asyncio.Semaphore) -> None:
        try:
            doc = orjson.loads(raw)
            self._out += 1
            try:
                answer = await self.sender.send_line(str(doc["url"]), orjson.dumps(doc["body"]))
            finally:
                self._out -= 1
            failed, text = result_line(str(doc["custom_id"]), answer)
            loop = asyncio.get_running_loop()
            done: asyncio.Future[None] = loop.create_future()
            self._pending.append(((number, failed, text), done))
            gathering = self._gathering
            if gathering is not None:
                # A group is gathering: this line joins it, and may be what fills it.
                if not gathering.done() and (len(self._pending) >= self._group or not self._out):
                    gathering.set_result(None)
            elif not self._committing:
                # The first line to finish while no commit runs commits every finished
                # line at once, itself, once the group is full (half the slots answered,
                # or none left out) or GROUP_LINGER_SECONDS have passed; lines finishing
                # during the commit wait for the next group. No hop to another task: a
                # slot is free again as soon as its line is committed.
                if self._out and len(self._pending) < self._group:
                    self._gathering = gathering = loop.create_future()
                    timer = loop.call_later(GROUP_LINGER_SECONDS, _resolve, gathering)
                    try:
                        await gathering
                    finally:
                        timer.cancel()
                        self._gathering = None
                if not await self._commit_pending():
                    self._flush.set()
            # The slot is held until the line is in the catalog: a crash now re-sends
            # at most the lines that hold slots (sent, or answered but not committed).
            await done
        finally:
            slots.release()

    async def _committer(self) -> None:
        """Retry a group the catalog refused, and with nothing finishing still renew
        the lease and see a cancel."""
        quiet = self.o.lease_seconds / 3
        while not self.lost:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush.wait(), quiet)
            self._flush.clear()
            # A line is committing, or gathering its group: that commit takes the rest.
            if self._committing or self._gathering is not None:
                continue
            if not await self._commit_pending():
                await asyncio.sleep(1.0)
                self._flush.set()

    async def _commit_pending(self) -> bool:
        """Commit the finished lines in groups, one transaction each (renewing the
        lease, updating request_counts), until none is left; False: the catalog
        refused, the lines are kept (their slots stay held) for a retry."""
        self._committing = True
        try:
            while True:
                batch, self._pending = self._pending, []
                if not await self._commit_group(batch):
                    return False
                if not self._pending or self.lost:
                    return True
        finally:
            self._committing = False

    async def _commit_group(self, batch: list[tuple[RunLine, asyncio.Future[None]]]) -> bool:
        lines = [line for line, _ in batch]
        for _, failed, _ in lines:
            if failed:
                self.failed += 1
            else:
                self.completed += 1
        now = self.now
        with_state = (
            not lines
            or self.state_due
            or now - self._state_at >= min(STATE_SECONDS, self.o.lease_seconds / 4)
        )
        try:
            if with_state:
                state: BatchState | None = await self.o.runs.commit(
                    self.record.id,
                    self.o.holder,
                    lines,
                    self._until(),
                    functools.partial(_with, request_counts=self._counts()),
                )
            else:
                held = await self.o.runs.add_lines(self.record.id, self.o.holder, lines)
                state = self.state if held else None
        except Exception:
            # A lease that lapses meanwhile is found at the next try.
            log.warning("batch %s: committing lines failed; retrying", self.record.id)
            for _, failed, _ in lines:
                if failed:
                    self.failed -= 1
                else:
                    self.completed -= 1
            self._pending = batch + self._pending
            return False
        if with_state:
            self.state_due = False
            self._state_at = now
        self.commits += 1
        for _, future in batch:
            if not future.done():
                future.set_result(None)
        if state is None:
            self.lost = True
            return True
        self.state = state
        if state.status == "cancelling":
            self.cancelled = True
        return True

    async def _commit_state(self, change: Callable[[BatchState], BatchState]) -> None:
        state = await self.o.runs.commit(self.record.id, self.o.holder, [], self._until(), change)
        if state is None:
            self.lost = True
            raise _LeaseLost(self.record.id)
        self.state = state
        self.cancelled = state.status == "cancelling"

    # -- the end -----------------------------------------------------------------------------

    async def _finish(self, status: str, errors: dict[str, Any] | None = None) -> None:
        outputs: list[tuple[str, FileRecord]] = []
        try:
            if status != "failed":
                for kind, failed in (("output", False), ("error", True)):
                    file = await self._write(kind, failed)
                    if file is not None:
                        outputs.append((kind, file))
            now = int(self.now)
            counts = self._counts()

            def end(s: BatchState) -> BatchState:
                stamps = {f"{status}_at": now}
                if status == "cancelled":
                    stamps["cancelling_at"] = now
                return _with(
                    s,
                    status=status,
                    errors=errors if errors is not None else s.errors,
                    request_counts=counts,
                    stamps=stamps,
                )

            state = await self.o.runs.finish(self.record.id, self.o.holder, outputs, end)
        except BaseException:
            await self._drop(outputs)
            raise
        if state is None:
            self.lost = True
            await self._drop(outputs)
            return
        self.state = state
        log.info(
            "batch %s %s: %d completed, %d failed (%d line commits by this process)",
            self.record.id,
            status,
            self.completed,
            self.failed,
            self.commits,
        )

    async def _write(self, kind: str, failed: bool) -> FileRecord | None:
        """The output (or error) file, streamed from the catalog into filegate's store."""
        first = await self.o.runs.results(self.record.id, failed, 0, PAGE_LINES)
        if not first:
            return None
        file_id, created_at = new_id()

        async def chunks() -> AsyncIterator[bytes]:
            page = first
            while page:
                yield "".join(text + "\n" for _, text in page).encode()
                page = await self.o.runs.results(self.record.id, failed, page[-1][0], PAGE_LINES)

        stored = await self.o.blobs.put(file_id, chunks())
        return FileRecord(
            id=file_id,
            filename=f"{self.record.id}_{kind}.jsonl",
            purpose="batch_output",
            created_at=created_at,
            bytes=stored.size,
            content_type=OUTPUT_CONTENT_TYPE,
            sha256=stored.sha256,
            owner=self.record.owner,
            team=self.record.team,
            state=FileState.READY,
            blob_key=file_id,
        )

    async def _drop(self, outputs: list[tuple[str, FileRecord]]) -> None:
        for _, file in outputs:
            with contextlib.suppress(Exception):
                await self.o.blobs.delete(file.id)
