"""``filegate files ...``: OpenAI's Files API from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from filegate import FilegateError, adelete_file, alist_files, aretrieve_file
from filegate.cli.downloads import download_file
from filegate.cli.options import EXIT_API, Client, UsageProblem, client_command
from filegate.cli.state import cache_dir
from filegate.cli.uploads import CONCURRENCY, PART_BYTES, upload_file

__all__ = ["files"]

FILE_TIMES = ("created_at", "expires_at")
LIST_COLUMNS = ("id", "bytes", "created_at", "filename", "purpose", "status")
MAX_PAGE = 10_000


@click.group()
def files() -> None:
    """Upload, list, fetch and delete files (OpenAI's Files API).

    \b
    Works against a filegate gateway or any OpenAI-compatible server, OpenAI's
    own included (--base-url https://api.openai.com/v1).

    \b
    Example:
      filegate files upload train.jsonl --purpose fine-tune
    """


@client_command(
    files,
    "upload",
    epilog=f"""\b
Files above {PART_BYTES // 2**20} MiB go through the Uploads API in {PART_BYTES // 2**20} MiB
parts, several at a time, each retried. If such an upload is interrupted, run
the same command with --resume: only the parts the server has not accepted are
sent. The parts accepted so far are noted in a small state file under
{cache_dir() / "uploads"} (keyed by the file's path, size and modification time;
$XDG_CACHE_HOME moves it), removed when the upload completes.

\b
Examples:
  filegate files upload batch.jsonl --purpose batch
  filegate files upload big.jsonl --purpose user_data --expires-after 86400
  filegate files upload big.jsonl --purpose user_data --resume""",
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--purpose",
    required=True,
    help="assistants, batch, fine-tune, vision, user_data or evals.",
)
@click.option(
    "--expires-after",
    type=click.IntRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Delete the file this long after it is made.",
)
@click.option("--provider", default=None, help="Store it at this provider (a gateway's routing).")
@click.option(
    "--model", default=None, metavar="DEPLOYMENT", help="Store it at this deployment (routing)."
)
@click.option("--resume", is_flag=True, help="Continue an interrupted upload of this file.")
@click.option(
    "--parallel",
    type=click.IntRange(1, 16),
    default=CONCURRENCY,
    show_default=True,
    help="Parts in flight at once (Uploads API).",
)
async def upload(
    client: Client,
    path: Path,
    purpose: str,
    expires_after: int | None,
    provider: str | None,
    model: str | None,
    resume: bool,
    parallel: int,
) -> None:
    """Upload a file and print its file object, with a progress bar on a terminal."""
    if provider and model:
        raise UsageProblem("pass --provider or --model, not both")
    routing = {"custom_llm_provider": provider} if provider else {}
    if model:
        routing["target_model_names"] = model
    created = await upload_file(
        client,
        path,
        purpose=purpose,
        expires_after=expires_after,
        routing=routing,
        resume=resume,
        concurrency=parallel,
    )
    client.out.record(created.model_dump(mode="json"), times=FILE_TIMES)


@client_command(
    files,
    "list",
    epilog="""\b
Examples:
  filegate files list --purpose batch
  filegate files list --json | jq -r .id""",
)
@click.option("--purpose", default=None, help="Only files of this purpose.")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_PAGE),
    default=None,
    help="Files per page asked of the server (every page is listed).",
)
@click.option("--order", type=click.Choice(["asc", "desc"]), default=None, help="By creation time.")
async def list_(client: Client, purpose: str | None, limit: int | None, order: str | None) -> None:
    """List files, every page: a table, or with --json one JSON object per line."""
    page = await alist_files(purpose=purpose, limit=limit, order=order, **client.files_sdk)
    if client.out.as_json:
        # Lines as pages come, so a pipe sees the first files at once.
        async for item in page:
            client.out.json(item.model_dump(mode="json"))
        return
    docs = [item.model_dump(mode="json") async for item in page]
    client.out.rows(docs, LIST_COLUMNS, times=FILE_TIMES, empty="no files")


@client_command(files, "get", epilog="\b\nExample:\n  filegate files get file-abc123")
@click.argument("file_id")
async def get(client: Client, file_id: str) -> None:
    """Print a file's object (its status included)."""
    found = await aretrieve_file(file_id, **client.files_sdk)
    client.out.record(found.model_dump(mode="json"), times=FILE_TIMES)


@client_command(
    files,
    "download",
    epilog=f"""\b
The bytes go to PATH.part and are renamed to PATH once complete and checked:
against the SHA-256 in the server's ETag when it gives one (a filegate gateway
does for the files it stores), else against the size. If the download is
interrupted, run it again with --resume to fetch only the rest (Range); its
ETag is kept under {cache_dir() / "downloads"} meanwhile.

\b
Examples:
  filegate files download file-abc123 -o output.jsonl
  filegate files download file-abc123 -o output.jsonl --resume
  filegate files download file-abc123 -o - | head""",
)
@click.argument("file_id")
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="PATH",
    help="Where to write ('-' for stdout) [default: the file's name, here].",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted download into PATH.")
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
async def download(
    client: Client, file_id: str, output: str | None, resume: bool, force: bool
) -> None:
    """Download a file's content, with a progress bar on a terminal."""
    if output == "-" and resume:
        raise UsageProblem("--resume needs a file to continue, not stdout")
    done = await download_file(client, file_id, output, resume=resume, force=force)
    if output == "-":
        return
    if client.out.as_json:
        client.out.json(done.to_dict())
    else:
        client.out.line(
            f"{done.path}: {done.bytes} bytes, sha256 {done.sha256} (checked: {done.verified})"
        )


@client_command(
    files, "delete", epilog="\b\nExample:\n  filegate files delete file-abc123 file-def456"
)
@click.argument("file_ids", nargs=-1, required=True)
async def delete(client: Client, file_ids: tuple[str, ...]) -> int:
    """Delete files; each one's outcome is printed, and any failure makes the exit code 1."""
    failed = 0
    for file_id in file_ids:
        try:
            gone = await adelete_file(file_id, **client.files_sdk)
        except FilegateError as exc:
            failed += 1
            client.out.error(exc)
            continue
        if client.out.as_json:
            client.out.json(gone.model_dump(mode="json"))
        else:
            client.out.line(f"deleted {gone.id}")
    return EXIT_API if failed else 0
