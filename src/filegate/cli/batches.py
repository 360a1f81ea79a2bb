"""``filegate batches ...``: OpenAI's Batch API from the command line, through a gateway."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
from anyio import to_thread

from filegate import Batch, acancel_batch, acreate_batch, alist_batches, aretrieve_batch
from filegate.cli.downloads import download_file
from filegate.cli.jobs import interval_option, poll
from filegate.cli.limits import metadata_from
from filegate.cli.options import EXIT_API, Client, UsageProblem, client_command
from filegate.cli.progress import Waiting
from filegate.cli.uploads import upload_file

__all__ = ["batches"]

BATCH_TIMES = (
    "created_at",
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)
LIST_COLUMNS = ("id", "status", "endpoint", "lines", "created_at", "output_file_id")
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})
MAX_PAGE = 100  # the Batch API's largest page


@click.group()
def batches() -> None:
    """Start, follow, list and cancel batches (OpenAI's Batch API), on filegate ids.

    \b
    Example:
      filegate batches run requests.jsonl --endpoint /v1/chat/completions
    """


def _create_options(func: Any) -> Any:
    options = [
        click.option(
            "--endpoint",
            required=True,
            help="What every line calls: /v1/chat/completions, /v1/embeddings, /v1/responses...",
        ),
        click.option(
            "--model",
            default=None,
            metavar="DEPLOYMENT",
            help="Run it at this deployment of the gateway (routing).",
        ),
        click.option(
            "--provider", default=None, help="Run it at this provider (routing): openai, azure..."
        ),
        click.option(
            "--completion-window",
            default="24h",
            show_default=True,
            help="How long the batch may take.",
        ),
        click.option(
            "--metadata",
            "metadata",
            multiple=True,
            metavar="KEY=VALUE",
            help="A metadata entry (repeat for more).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _routing(model: str | None, provider: str | None) -> dict[str, str]:
    routing = {"model": model} if model else {}
    if provider:
        routing["custom_llm_provider"] = provider
    return routing


async def _create(
    client: Client,
    file_id: str,
    endpoint: str,
    model: str | None,
    provider: str | None,
    completion_window: str,
    metadata: tuple[str, ...],
) -> Batch:
    return await acreate_batch(
        completion_window,
        endpoint,
        file_id,
        metadata=metadata_from(metadata),
        extra_body=_routing(model, provider) or None,
        **client.files_sdk,
    )


def _doc(batch: Batch) -> dict[str, Any]:
    return batch.model_dump(mode="json")


def _lines(batch: Batch) -> tuple[int, int | None]:
    """Lines finished (answered or failed) and the total, once the server has counted."""
    counts = batch.request_counts or {}
    return counts.get("completed", 0) + counts.get("failed", 0), counts.get("total") or None


async def _wait(client: Client, batch_id: str, interval: float) -> Batch:
    with Waiting(batch_id, unit="lines") as bar:
        return await poll(
            lambda: aretrieve_batch(batch_id, **client.files_sdk),
            lambda b: b.status in FINAL,
            lambda b: bar.update(b.status, *_lines(b)),
            interval,
        )


@client_command(
    batches,
    "create",
    epilog="""\b
FILE_ID is a file of purpose batch. Without --model or --provider the batch runs
where the file is kept (the gateway's default deployment for a file in its own store).

\b
Examples:
  filegate batches create file-abc123 --endpoint /v1/chat/completions
  filegate batches create file-abc123 --endpoint /v1/embeddings --model local-llm \\
      --metadata job=nightly""",
)
@click.argument("file_id")
@_create_options
async def create(
    client: Client,
    file_id: str,
    endpoint: str,
    model: str | None,
    provider: str | None,
    completion_window: str,
    metadata: tuple[str, ...],
) -> None:
    """Start a batch over an uploaded file and print it."""
    made = await _create(client, file_id, endpoint, model, provider, completion_window, metadata)
    client.out.record(_doc(made), times=BATCH_TIMES)


@client_command(batches, "get", epilog="\b\nExample:\n  filegate batches get batch_abc123")
@click.argument("batch_id")
async def get(client: Client, batch_id: str) -> None:
    """Print a batch as it is now (status, request_counts, output_file_id...)."""
    found = await aretrieve_batch(batch_id, **client.files_sdk)
    client.out.record(_doc(found), times=BATCH_TIMES)


@client_command(
    batches,
    "list",
    epilog="""\b
Examples:
  filegate batches list
  filegate batches list --json | jq -r 'select(.status == "completed") | .id'""",
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_PAGE),
    default=None,
    help="Batches per page asked of the server (every page is listed).",
)
@click.option("--after", default=None, metavar="BATCH_ID", help="Start after this batch.")
async def list_(client: Client, limit: int | None, after: str | None) -> None:
    """List batches, newest first, every page: a table, or with --json one JSON object
    per line."""
    page = await alist_batches(after=after, limit=limit, **client.files_sdk)
    if client.out.as_json:
        # Lines as pages come, so a pipe sees the first batches at once.
        async for item in page:
            client.out.json(_doc(item))
        return
    docs = []
    async for item in page:
        done, total = _lines(item)
        docs.append({**_doc(item), "lines": f"{done}/{total}" if total else ""})
    client.out.rows(docs, LIST_COLUMNS, times=("created_at",), empty="no batches")


@client_command(batches, "cancel", epilog="\b\nExample:\n  filegate batches cancel batch_abc123")
@click.argument("batch_id")
async def cancel(client: Client, batch_id: str) -> None:
    """Ask for a batch to be cancelled; print it as it is then (cancelling)."""
    found = await acancel_batch(batch_id, **client.files_sdk)
    client.out.record(_doc(found), times=BATCH_TIMES)


@client_command(
    batches,
    "wait",
    epilog="""\b
Exits 0 when the batch completed, 1 when it failed, expired or was cancelled;
either way the final batch is printed. On a terminal, stderr shows a bar of the
lines done; piped, nothing.

\b
Examples:
  filegate batches wait batch_abc123
  filegate batches wait batch_abc123 --json | jq -r .output_file_id""",
)
@click.argument("batch_id")
@interval_option
async def wait(client: Client, batch_id: str, interval: float) -> int:
    """Wait for a batch to end and print it."""
    done = await _wait(client, batch_id, interval)
    client.out.record(_doc(done), times=BATCH_TIMES)
    return 0 if done.status == "completed" else EXIT_API


async def _refuse_existing(paths: list[Path], force: bool) -> None:
    """Before a batch that may run for hours: an output in the way is said now, not then."""
    for path in paths:
        if not force and await to_thread.run_sync(path.exists):
            raise UsageProblem(f"{path} exists; pass --force to replace it")


@client_command(
    batches,
    "run",
    epilog="""\b
One command for the whole round: upload INPUT (purpose batch), start the batch,
wait for it (a bar of the lines done on a terminal), then download its output
to -o and, when some lines failed, its errors to --errors. With --model or
--provider the input is kept in the gateway's own store, which copies it to the
deployment chosen (and runs it itself on an openai_compatible one). Exits 0 when
the batch completed (some lines may have failed: see the errors file), 1 when it
failed, expired or was cancelled (what finished is downloaded still).

\b
Examples:
  filegate batches run requests.jsonl --endpoint /v1/chat/completions
  filegate batches run in.jsonl --endpoint /v1/embeddings --model local-llm \\
      -o out.jsonl --errors failed.jsonl""",
)
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@_create_options
@click.option(
    "-o",
    "--output",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the output goes [default: INPUT's name + .output.jsonl, here].",
)
@click.option(
    "--errors",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the failed lines go [default: INPUT's name + .errors.jsonl, here].",
)
@click.option("--force", is_flag=True, help="Replace the output files if they exist.")
@interval_option
async def run(
    client: Client,
    input_path: Path,
    endpoint: str,
    model: str | None,
    provider: str | None,
    completion_window: str,
    metadata: tuple[str, ...],
    output: Path | None,
    errors: Path | None,
    force: bool,
    interval: float,
) -> int:
    """Upload a JSONL file, run it as a batch, wait, and download the results."""
    output = output or Path(f"{input_path.stem}.output.jsonl")
    errors = errors or Path(f"{input_path.stem}.errors.jsonl")
    if output == errors:
        raise UsageProblem("-o and --errors name the same file")
    await _refuse_existing([output, errors], force)
    metadata_from(metadata)  # a bad entry is refused before the upload
    routing = _routing(model, provider)
    # A deployment chosen may have no Files API (a model server filegate runs batches
    # on): the gateway's own store keeps the input and copies it where it is needed.
    store = {"custom_llm_provider": "filegate"} if routing else {}
    uploaded = await upload_file(
        client, input_path, purpose="batch", expires_after=None, routing=store, resume=False
    )
    made = await _create(
        client, uploaded.id, endpoint, model, provider, completion_window, metadata
    )
    try:
        done = await _wait(client, made.id, interval)
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Ctrl-C reaches a coroutine as a cancellation: the batch goes on at the server.
        client.out.note(f"{made.id} runs on; follow it with: filegate batches wait {made.id}")
        raise
    got: dict[str, Any] = {"batch": _doc(done), "output": None, "errors": None}
    for name, file_id, path in (
        ("output", done.output_file_id, output),
        ("errors", done.error_file_id, errors),
    ):
        if file_id:
            fetched = await download_file(client, file_id, str(path), resume=False, force=force)
            got[name] = fetched.to_dict()
    if client.out.as_json:
        client.out.json(got)
    else:
        client.out.record(got["batch"], times=BATCH_TIMES)
        for name in ("output", "errors"):
            if got[name]:
                client.out.line(f"{name}: {got[name]['path']} ({got[name]['bytes']} bytes)")
    return 0 if done.status == "completed" else EXIT_API
