"""How client commands print: text for people, JSON for scripts, errors on one line.

Results go to stdout; errors, notes and progress bars go to stderr, so a pipe gets
only the results. With ``--json`` a single object is printed as one JSON document
and a listing as one JSON object per line (all pages); an error is then OpenAI's
envelope on stderr, also one line.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click
import orjson
from rich.console import Console
from rich.table import Table

from filegate import FilegateError

__all__ = ["Output", "error_line"]


def _message(exc: FilegateError) -> str:
    # Without the SDK's "filegate: " prefix: every answer comes from the server asked.
    message = " ".join(exc.message.removeprefix("filegate: ").split())
    # To the SDK any server is an upstream; to a person at the command line it is the server.
    return message.replace("the connection to the upstream failed", "cannot connect to the server")


def error_line(exc: FilegateError) -> str:
    """``error: MESSAGE (type: T, param: P, code: C)`` on one line."""
    message = _message(exc)
    details = [f"type: {exc.error_type}"]
    if exc.param:
        details.append(f"param: {exc.param}")
    if exc.code:
        details.append(f"code: {exc.code}")
    return f"error: {message} ({', '.join(details)})"


def _when(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return "" if value is None else str(value)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


class Output:
    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        # Tables are as wide as the terminal; piped, wide enough not to wrap ids.
        self.console = Console(
            file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 200
        )

    # -- results -----------------------------------------------------------------------------
    def json(self, doc: object) -> None:
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        sys.stdout.flush()

    def record(self, doc: Mapping[str, Any], *, times: Sequence[str] = ()) -> None:
        """One object: JSON, or a field per line (timestamps in ``times`` as UTC dates)."""
        if self.as_json:
            self.json(doc)
            return
        shown = {k: v for k, v in doc.items() if v is not None}
        width = max(map(len, shown), default=0)
        for name, value in shown.items():
            text = _when(value) if name in times else _cell(value)
            click.echo(f"{name:<{width}}  {text}")

    def rows(
        self,
        docs: Iterable[Mapping[str, Any]],
        columns: Sequence[str],
        *,
        times: Sequence[str] = (),
        empty: str = "nothing to list",
    ) -> int:
        """A listing: JSON lines as they come, or a table once all are in; the count."""
        count = 0
        if self.as_json:
            for doc in docs:
                self.json(doc)
                count += 1
            return count
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for doc in docs:
            table.add_row(
                *(_when(doc.get(c)) if c in times else _cell(doc.get(c)) for c in columns)
            )
            count += 1
        if count:
            with self.console.capture() as captured:
                self.console.print(table)
            # Rich pads every cell to its column's width; a pipe needs no trailing blanks.
            click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))
        else:
            self.note(empty)
        return count

    def line(self, text: str) -> None:
        """A line of text for people (nothing with ``--json``)."""
        if not self.as_json:
            click.echo(text)

    # -- stderr ------------------------------------------------------------------------------
    def note(self, text: str) -> None:
        click.echo(text, err=True)

    def error(self, exc: FilegateError) -> None:
        if self.as_json:
            doc = exc.to_dict()
            doc["error"] = {**doc["error"], "message": _message(exc)}  # type: ignore[dict-item]
            click.echo(orjson.dumps(doc).decode(), err=True)
        else:
            click.echo(error_line(exc), err=True)

    def usage_error(self, text: str) -> None:
        click.echo(f"error: {' '.join(text.split())}", err=True)
