"""``filegate keys ...``: a gateway's virtual keys, over its admin API (master key)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import click

from filegate import FilegateError, adelete_keys, agenerate_key, akey_info, alist_keys
from filegate.cli.limits import limit_options, limits_from, metadata_from
from filegate.cli.options import EXIT_API, Client, client_command

__all__ = ["keys"]

LIST_COLUMNS = ("token", "key_alias", "key_name", "team_id", "user_id", "created_at", "expires")
PAGE_SIZE = 100


@click.group()
def keys() -> None:
    """Make, list, inspect and delete virtual keys (needs the master key).

    \b
    Example:
      FILEGATE_API_KEY=$MASTER_KEY filegate keys generate --alias ci --rpm 60
    """


@client_command(
    keys,
    "generate",
    epilog="""\b
The key's secret is printed this once; the gateway keeps only its digest.

\b
Examples:
  filegate keys generate --alias ci-bot --team research --duration 30d
  filegate keys generate --alias small --max-file-size 10MB --max-files 100 --json""",
)
@click.option("--alias", "key_alias", default=None, help="A unique name for the key.")
@click.option("--user", "user_id", default=None, help="The user it is for.")
@click.option("--team", "team_id", default=None, help="The team it belongs to.")
@click.option("--team-access", is_flag=True, default=None, help="It sees its team's files.")
@click.option("--duration", default=None, help="It expires after this long: 30s, 15m, 12h, 30d.")
@limit_options
async def generate(client: Client, **options: Any) -> None:
    """Make a virtual key and print it with its secret."""
    limits = limits_from(options)
    made = await agenerate_key(
        key_alias=options["key_alias"],
        user_id=options["user_id"],
        team_id=options["team_id"],
        team_access=options["team_access"],
        duration=options["duration"],
        metadata=metadata_from(options["metadata"]),
        limits=limits,
        **client.sdk,
    )
    doc = made.model_dump(mode="json")
    client.out.record({"key": doc.pop("key"), **doc})


async def _all_keys(
    client: Client, team_id: str | None, user_id: str | None, key_alias: str | None
) -> AsyncIterator[dict[str, Any]]:
    page = 1
    while True:
        found = await alist_keys(
            team_id=team_id,
            user_id=user_id,
            key_alias=key_alias,
            page=page,
            size=PAGE_SIZE,
            **client.sdk,
        )
        for key in found.keys:
            yield key.model_dump(mode="json")
        if page >= found.total_pages or not found.keys:
            return
        page += 1


@client_command(
    keys,
    "list",
    epilog="\b\nExamples:\n  filegate keys list --team research\n  filegate keys list --json",
)
@click.option("--team", "team_id", default=None, help="Only this team's keys.")
@click.option("--user", "user_id", default=None, help="Only this user's keys.")
@click.option("--alias", "key_alias", default=None, help="Only the key with this alias.")
async def list_(
    client: Client, team_id: str | None, user_id: str | None, key_alias: str | None
) -> None:
    """List keys (never their secrets): a table, or JSON lines with --json."""
    docs = [
        d async for d in _all_keys(client, team_id=team_id, user_id=user_id, key_alias=key_alias)
    ]
    client.out.rows(docs, LIST_COLUMNS, empty="no keys")


@client_command(keys, "info", epilog="\b\nExample:\n  filegate keys info ci-bot")
@click.argument("key")
async def info(client: Client, key: str) -> None:
    """Describe a key, named by its id, alias or secret (a key may read its own)."""
    found = await akey_info(key, **client.sdk)
    client.out.record(found.model_dump(mode="json"))


@client_command(keys, "delete", epilog="\b\nExample:\n  filegate keys delete ci-bot old-key")
@click.argument("refs", nargs=-1, required=True, metavar="KEY...")
async def delete(client: Client, refs: tuple[str, ...]) -> int:
    """Delete keys named by id, alias or secret; each outcome is printed."""
    failed = 0
    for ref in refs:
        try:
            deleted = await adelete_keys([ref], **client.sdk)
        except FilegateError as exc:
            failed += 1
            client.out.error(exc)
            continue
        for key_id in deleted:
            if client.out.as_json:
                client.out.json({"key": key_id, "deleted": True})
            else:
                client.out.line(f"deleted {key_id}")
    return EXIT_API if failed else 0
