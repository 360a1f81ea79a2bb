"""What every client command takes: where the server is, the key, and ``--json``.

A command is an ``async`` function of a :class:`Client` and its own options;
:func:`client_command` turns it into a click command that runs it and maps
what can go wrong onto the exit codes: 0 done, 1 the API (or the network)
refused, 2 a usage error (click's own, or one the command finds).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from filegate import FilegateError
from filegate.cli.output import Output
from filegate.errors import ConfigError

__all__ = ["EXIT_API", "EXIT_OK", "EXIT_USAGE", "Client", "UsageProblem", "client_command"]

DEFAULT_BASE_URL = "http://localhost:4000/v1"
EXIT_OK, EXIT_API, EXIT_USAGE = 0, 1, 2

F = TypeVar("F", bound=Callable[..., Any])


class UsageProblem(Exception):
    """The command cannot run as asked (exit code 2): a local file in the way, say."""


@dataclass(frozen=True, slots=True)
class Client:
    """The connection options and the output of one command run."""

    base_url: str
    api_key: str | None
    out: Output

    @property
    def sdk(self) -> dict[str, Any]:
        """Keyword arguments for the SDK's calls."""
        return {"api_key": self.api_key, "api_base": self.base_url}

    @property
    def files_sdk(self) -> dict[str, Any]:
        """Keyword arguments for the SDK's Files, Batch and fine-tuning functions
        (LiteLLM's, which choose a provider: a gateway, or any OpenAI-compatible server
        through its base URL)."""
        return {**self.sdk, "custom_llm_provider": "filegate"}


def _connection_options(func: F) -> F:
    options = [
        click.option(
            "--base-url",
            envvar="FILEGATE_API_BASE",
            default=DEFAULT_BASE_URL,
            show_default=True,
            help="The API's base URL [env FILEGATE_API_BASE]. Any OpenAI-compatible "
            "server works for files, OpenAI's own included.",
        ),
        click.option(
            "--api-key",
            envvar="FILEGATE_API_KEY",
            default=None,
            help="A virtual key, or the master key for keys and teams [env FILEGATE_API_KEY].",
        ),
        click.option(
            "--json", "as_json", is_flag=True, help="Print JSON for scripts instead of text."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def client_command(
    group: click.Group, name: str, **attrs: Any
) -> Callable[[Callable[..., Coroutine[Any, Any, int | None]]], click.Command]:
    """Register an async ``fn(client, **options)`` as ``group``'s command ``name``.

    ``fn`` returns None (or 0) when done, or an exit code of its own (1 when some of
    several items failed, each already reported).
    """

    def decorate(fn: Callable[..., Coroutine[Any, Any, int | None]]) -> click.Command:
        @functools.wraps(fn)
        def run(base_url: str, api_key: str | None, as_json: bool, **options: Any) -> None:
            # The SDK logs each retry; a command's stderr carries only its own lines.
            logging.getLogger("filegate").setLevel(logging.ERROR)
            out = Output(as_json=as_json)
            client = Client(base_url=base_url.rstrip("/"), api_key=api_key or None, out=out)
            try:
                code = asyncio.run(fn(client, **options))
            except FilegateError as exc:
                out.error(exc)
                sys.exit(EXIT_API)
            except (UsageProblem, ConfigError) as exc:
                out.usage_error(str(exc))
                sys.exit(EXIT_USAGE)
            except OSError as exc:
                # A local file that cannot be read or written (the disk is full, say).
                out.usage_error(str(exc))
                sys.exit(EXIT_API)
            except KeyboardInterrupt:
                out.usage_error("interrupted")
                sys.exit(130)
            sys.exit(code or EXIT_OK)

        return group.command(name, **attrs)(_connection_options(run))

    return decorate
