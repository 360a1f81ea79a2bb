"""The ``filegate`` command."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from filegate import __version__
from filegate.cli.batches import batches
from filegate.cli.files import files
from filegate.cli.fine_tuning import fine_tuning
from filegate.cli.keys import keys
from filegate.cli.teams import teams
from filegate.config import load_settings
from filegate.errors import ConfigError, StartupError
from filegate.server.logs import configure_logging
from filegate.server.redaction import RedactSecrets, redact_url

__all__ = ["RedactSecrets", "cli", "main"]

_SERVE_OPTIONS = [
    click.option(
        "--host",
        default=None,
        help="Interface to bind [env FILEGATE_HOST; default "
        "0.0.0.0, or 127.0.0.1 when no master key is set].",
    ),
    click.option("--port", default=None, type=int, help="Port [env FILEGATE_PORT; default 4000]."),
    click.option(
        "--config",
        "config_file",
        default=None,
        type=click.Path(dir_okay=False),
        help="YAML config file [env FILEGATE_CONFIG].",
    ),
    click.option(
        "--data-dir",
        default=None,
        help="Data folder [env FILEGATE_DATA_DIR; default ./filegate-data].",
    ),
    click.option("--log-level", default=None, help="Log level [env FILEGATE_LOG_LEVEL]."),
    click.option(
        "--log-format",
        default=None,
        type=click.Choice(["text", "json"]),
        help="Log lines for people, or one JSON object per record and per request "
        "[env FILEGATE_LOG_FORMAT; default text].",
    ),
    click.option(
        "--max-connections",
        default=None,
        type=int,
        help="Open connections before new ones get 503 [env FILEGATE_MAX_CONNECTIONS; "
        "default 1000].",
    ),
    click.option(
        "--max-header-size",
        default=None,
        help="Largest request line + headers [env FILEGATE_MAX_HEADER_SIZE; default 32KiB].",
    ),
    click.option(
        "--header-timeout",
        default=None,
        type=float,
        help="Seconds to send the request line and headers [env FILEGATE_HEADER_TIMEOUT; "
        "default 10].",
    ),
    click.option(
        "--body-timeout",
        default=None,
        type=float,
        help="Seconds a body may pause, or a response go unread [env FILEGATE_BODY_TIMEOUT; "
        "default 30].",
    ),
    click.option(
        "--keep-alive-timeout",
        default=None,
        type=float,
        help="Seconds an idle connection stays open [env FILEGATE_KEEP_ALIVE_TIMEOUT; default 5].",
    ),
]


def serve_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_SERVE_OPTIONS):
        func = option(func)
    return func


def _serve(config_file: str | None, **overrides: Any) -> None:
    # The composition root pulls in every backend: imported only by the commands
    # that need it, so `filegate --help` stays quick.
    from filegate.gateway import check_backends, open_gateway

    try:
        settings = load_settings(config_file=config_file, overrides=overrides)
        check_backends(settings)
    except ConfigError as exc:
        click.echo(f"filegate: configuration error: {exc}", err=True)
        sys.exit(2)
    from filegate.server.serve import serve

    configure_logging(settings.log_level, settings.log_format)
    # A line per upstream request is noise at info level; filegate logs the failures.
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, logging.root.level))
    try:
        started = serve(settings, open_gateway)
    except StartupError as exc:
        click.echo(f"filegate: cannot start: {exc}", err=True)
        sys.exit(1)
    if not started:
        sys.exit(1)


@click.group(invoke_without_command=True)
@serve_options
@click.version_option(__version__, prog_name="filegate")
@click.pass_context
def cli(ctx: click.Context, /, config_file: str | None, **overrides: Any) -> None:
    """filegate: an OpenAI-compatible Files API gateway. With no command, serves.

    \b
    The client commands (files, batches, fine-tuning, keys, teams) speak the
    OpenAI API to a gateway at --base-url / FILEGATE_API_BASE (default
    http://localhost:4000/v1) with --api-key / FILEGATE_API_KEY; files also work
    against OpenAI itself or any compatible server. Each takes --json; exit codes:
    0 done, 1 the API refused (one line: message, type, param), 2 a usage error.

    \b
    Examples:
      filegate serve --port 4000
      filegate files upload batch.jsonl --purpose batch
      filegate files list --json
      filegate batches run requests.jsonl --endpoint /v1/chat/completions
    """
    if ctx.invoked_subcommand is None:
        _serve(config_file, **overrides)


@cli.command()
@serve_options
def serve(config_file: str | None, **overrides: Any) -> None:
    """Start the gateway."""
    _serve(config_file, **overrides)


@cli.group()
def db() -> None:
    """Catalog database commands."""


@db.command("upgrade")
@click.option(
    "--config",
    "config_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="YAML config file [env FILEGATE_CONFIG].",
)
def db_upgrade(config_file: str | None) -> None:
    """Apply the catalog's migrations (the server also does this at start-up)."""
    import asyncio

    # The composition root pulls in every backend: imported only by the commands
    # that need it, so `filegate --help` stays quick.
    from filegate.gateway import check_backends, upgrade_catalog

    try:
        settings = load_settings(config_file=config_file)
        check_backends(settings)
    except ConfigError as exc:
        click.echo(f"filegate: configuration error: {exc}", err=True)
        sys.exit(2)

    asyncio.run(upgrade_catalog(settings))
    click.echo(f"catalog at {redact_url(settings.resolved_database_url)} is up to date")


cli.add_command(files)
cli.add_command(batches)
cli.add_command(fine_tuning)
cli.add_command(keys)
cli.add_command(teams)


def main() -> None:
    cli()
