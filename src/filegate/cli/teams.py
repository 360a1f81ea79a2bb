"""``filegate teams ...``: a gateway's teams, over its admin API (master key)."""

from __future__ import annotations

from typing import Any

import click

from filegate import FilegateError, adelete_teams, alist_teams, anew_team, ateam_info
from filegate.cli.limits import limit_options, limits_from, metadata_from
from filegate.cli.options import EXIT_API, Client, client_command

__all__ = ["teams"]

LIST_COLUMNS = ("team_id", "team_alias", "created_at", "max_files", "max_stored_bytes")


@click.group()
def teams() -> None:
    """Make, list, inspect and delete teams (needs the master key).

    \b
    Example:
      filegate teams new --id research --max-stored-bytes 50GiB
    """


@client_command(
    teams,
    "new",
    epilog="""\b
Examples:
  filegate teams new --id research --alias "Research" --max-files 10000
  filegate teams new --json""",
)
@click.option("--id", "team_id", default=None, help="The team's id [default: made up].")
@click.option("--alias", "team_alias", default=None, help="A name for people.")
@limit_options
async def new(client: Client, **options: Any) -> None:
    """Make a team and print it."""
    limits = limits_from(options)
    made = await anew_team(
        team_id=options["team_id"],
        team_alias=options["team_alias"],
        metadata=metadata_from(options["metadata"]),
        limits=limits,
        **client.sdk,
    )
    client.out.record(made.model_dump(mode="json"))


@client_command(teams, "list", epilog="\b\nExample:\n  filegate teams list --json")
async def list_(client: Client) -> None:
    """List teams: a table, or JSON lines with --json."""
    found = await alist_teams(**client.sdk)
    client.out.rows([t.model_dump(mode="json") for t in found], LIST_COLUMNS, empty="no teams")


@client_command(teams, "info", epilog="\b\nExample:\n  filegate teams info research")
@click.argument("team_id")
async def info(client: Client, team_id: str) -> None:
    """Describe a team and list its keys' ids."""
    found = await ateam_info(team_id, **client.sdk)
    if client.out.as_json:
        client.out.json(found.model_dump(mode="json"))
        return
    client.out.record({**found.team_info.model_dump(mode="json"), "keys": found.keys})


@client_command(teams, "delete", epilog="\b\nExample:\n  filegate teams delete research")
@click.argument("team_ids", nargs=-1, required=True, metavar="TEAM_ID...")
async def delete(client: Client, team_ids: tuple[str, ...]) -> int:
    """Delete teams that hold no keys; each outcome is printed."""
    failed = 0
    for team_id in team_ids:
        try:
            deleted = await adelete_teams([team_id], **client.sdk)
        except FilegateError as exc:
            failed += 1
            client.out.error(exc)
            continue
        for gone in deleted:
            if client.out.as_json:
                client.out.json({"team_id": gone, "deleted": True})
            else:
                client.out.line(f"deleted {gone}")
    return EXIT_API if failed else 0
