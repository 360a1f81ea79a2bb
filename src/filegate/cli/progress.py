"""Progress bars for transfers and batches: on stderr, and only when stderr is a terminal.

A piped or redirected stderr gets no bar (nor its control codes), so logs and
scripts see only the command's own lines. Counting is thread-safe: parts are
read on worker threads, several at once.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

__all__ = ["Transfer", "Waiting"]


class Transfer:
    """One transfer of ``total`` bytes; ``advance(n)`` as bytes move (negative when a
    part is sent again), a context manager around the whole transfer."""

    def __init__(self, description: str, total: int | None) -> None:
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if sys.stderr.isatty():
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._task = self._progress.add_task(description, total=total)

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def advance(self, nbytes: int) -> None:
        with self._lock:
            self.done += nbytes
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, completed=self.done)

    def set_total(self, total: int) -> None:
        self.total = total
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)

    def __enter__(self) -> Transfer:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


class Waiting:
    """A job being waited for, on stderr when it is a terminal: its status and, with
    ``unit`` (a batch's ``"lines"``), a bar of those done out of the total. Until there
    is a total (a batch still validating; a fine-tuning job never has one) the bar
    pulses. A context manager."""

    def __init__(self, description: str, unit: str | None = None) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if sys.stderr.isatty():
            counted = (MofNCompleteColumn(), TextColumn(unit)) if unit else ()
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                *counted,
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._task = self._progress.add_task(description, total=None, status="")

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def update(self, status: str, done: int = 0, total: int | None = None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, total=total or None, status=status)

    def __enter__(self) -> Waiting:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
