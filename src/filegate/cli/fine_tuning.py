"""``filegate fine-tuning ...``: OpenAI's fine-tuning jobs from the command line."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import click

from filegate import (
    FineTuningJob,
    acancel_fine_tuning_job,
    acreate_fine_tuning_job,
    alist_fine_tuning_checkpoints,
    alist_fine_tuning_events,
    alist_fine_tuning_jobs,
    apause_fine_tuning_job,
    aresume_fine_tuning_job,
    aretrieve_fine_tuning_job,
)
from filegate.cli.jobs import interval_option, json_pairs, poll
from filegate.cli.limits import metadata_from
from filegate.cli.options import EXIT_API, Client, client_command
from filegate.cli.progress import Waiting

__all__ = ["fine_tuning"]

JOB_TIMES = ("created_at", "finished_at", "estimated_finish")
LIST_COLUMNS = ("id", "status", "model", "fine_tuned_model", "training_file", "created_at")
EVENT_COLUMNS = ("created_at", "level", "message")
CHECKPOINT_COLUMNS = ("id", "step_number", "fine_tuned_model_checkpoint", "created_at")
METHODS = ("supervised", "dpo", "reinforcement")
FINAL = frozenset({"succeeded", "failed", "cancelled"})
MAX_PAGE = 100


@click.group("fine-tuning")
def fine_tuning() -> None:
    """Start, follow, list and stop fine-tuning jobs (OpenAI's API), on filegate ids.

    \b
    Example:
      filegate fine-tuning create --training-file file-abc123 --model gpt-4o-mini
    """


def _doc(job: FineTuningJob) -> dict[str, Any]:
    return job.model_dump(mode="json")


def _method(method: str | None, hyperparameters: dict[str, Any] | None) -> dict[str, Any] | None:
    """OpenAI's ``method``: with one chosen, the hyperparameters are that method's."""
    if method is None:
        return None
    chosen: dict[str, Any] = {"type": method}
    if hyperparameters:
        chosen[method] = {"hyperparameters": hyperparameters}
    return chosen


@client_command(
    fine_tuning,
    "create",
    epilog="""\b
--hyperparameters values are JSON when they parse as JSON (n_epochs=3 is a
number, batch_size=auto a string). With --method they are that method's
(method.<type>.hyperparameters), else the job's own.

\b
Examples:
  filegate fine-tuning create --training-file file-abc123 --model gpt-4o-mini \\
      --suffix nightly --hyperparameters n_epochs=2
  filegate fine-tuning create --training-file file-abc123 --model gpt-4o-mini \\
      --method dpo --hyperparameters beta=0.1 --metadata team=search""",
)
@click.option("--training-file", required=True, metavar="FILE_ID", help="A fine-tune file.")
@click.option("--validation-file", default=None, metavar="FILE_ID", help="A fine-tune file.")
@click.option("--model", required=True, help="The base model to train.")
@click.option("--suffix", default=None, help="Up to 64 characters in the fine-tuned model's name.")
@click.option(
    "--hyperparameters",
    "hyperparameters",
    multiple=True,
    metavar="KEY=VALUE",
    help="n_epochs, batch_size, learning_rate_multiplier, ... (repeat for more).",
)
@click.option("--method", type=click.Choice(METHODS), default=None, help="The training method.")
@click.option("--seed", type=int, default=None, help="For a reproducible job.")
@click.option(
    "--metadata",
    "metadata",
    multiple=True,
    metavar="KEY=VALUE",
    help="A metadata entry (repeat for more).",
)
@click.option(
    "--provider", default=None, help="Run it at this provider (routing): openai, azure..."
)
async def create(
    client: Client,
    training_file: str,
    validation_file: str | None,
    model: str,
    suffix: str | None,
    hyperparameters: tuple[str, ...],
    method: str | None,
    seed: int | None,
    metadata: tuple[str, ...],
    provider: str | None,
) -> None:
    """Start a fine-tuning job and print it."""
    params = json_pairs(hyperparameters, "--hyperparameters")
    made = await acreate_fine_tuning_job(
        model,
        training_file,
        hyperparameters=None if method else params,
        suffix=suffix,
        validation_file=validation_file,
        seed=seed,
        method=_method(method, params),
        metadata=metadata_from(metadata),
        extra_body={"custom_llm_provider": provider} if provider else None,
        **client.files_sdk,
    )
    client.out.record(_doc(made), times=JOB_TIMES)


@client_command(fine_tuning, "get", epilog="\b\nExample:\n  filegate fine-tuning get ftjob-abc123")
@click.argument("job_id")
async def get(client: Client, job_id: str) -> None:
    """Print a job as it is now (status, fine_tuned_model, result_files...)."""
    found = await aretrieve_fine_tuning_job(job_id, **client.files_sdk)
    client.out.record(_doc(found), times=JOB_TIMES)


@client_command(
    fine_tuning,
    "list",
    epilog="""\b
Examples:
  filegate fine-tuning list
  filegate fine-tuning list --json | jq -r 'select(.status == "succeeded") | .fine_tuned_model'""",
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_PAGE),
    default=None,
    help="Jobs per page asked of the server (every page is listed).",
)
@click.option("--after", default=None, metavar="JOB_ID", help="Start after this job.")
async def list_(client: Client, limit: int | None, after: str | None) -> None:
    """List jobs, newest first, every page: a table, or with --json one JSON object per
    line."""
    page = await alist_fine_tuning_jobs(after=after, limit=limit, **client.files_sdk)
    if client.out.as_json:
        async for job in page:
            client.out.json(_doc(job))
        return
    docs = [_doc(job) async for job in page]
    client.out.rows(docs, LIST_COLUMNS, times=("created_at",), empty="no fine-tuning jobs")


Action = Callable[..., Awaitable[FineTuningJob]]


def _action(name: str, call: Action, summary: str) -> None:
    """``fine-tuning NAME JOB_ID``: one POST on the job, which is printed after it."""

    async def act(client: Client, job_id: str) -> None:
        found = await call(job_id, **client.files_sdk)
        client.out.record(_doc(found), times=JOB_TIMES)

    act.__doc__ = summary
    act.__name__ = name
    epilog = f"\b\nExample:\n  filegate fine-tuning {name} ftjob-abc123"
    client_command(fine_tuning, name, epilog=epilog)(click.argument("job_id")(act))


_action("cancel", acancel_fine_tuning_job, "Cancel a job; print it as it is then.")
_action(
    "pause",
    apause_fine_tuning_job,
    "Pause a running job (where the provider can); print it as it is then.",
)
_action("resume", aresume_fine_tuning_job, "Resume a paused job; print it as it is then.")


@client_command(
    fine_tuning,
    "events",
    epilog="""\b
Examples:
  filegate fine-tuning events ftjob-abc123 --limit 50
  filegate fine-tuning events ftjob-abc123 --json | jq -r .message""",
)
@click.argument("job_id")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_PAGE),
    default=20,
    show_default=True,
    help="How many, newest first.",
)
@click.option("--after", default=None, metavar="EVENT_ID", help="Start after this event.")
async def events(client: Client, job_id: str, limit: int, after: str | None) -> None:
    """A job's latest events, newest first: a table, or JSON lines with --json."""
    found = await alist_fine_tuning_events(job_id, after=after, limit=limit, **client.files_sdk)
    client.out.rows(found["data"], EVENT_COLUMNS, times=("created_at",), empty="no events")


@client_command(
    fine_tuning,
    "checkpoints",
    epilog="\b\nExample:\n  filegate fine-tuning checkpoints ftjob-abc123 --json",
)
@click.argument("job_id")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_PAGE),
    default=10,
    show_default=True,
    help="How many, newest first.",
)
@click.option("--after", default=None, metavar="CHECKPOINT_ID", help="Start after this one.")
async def checkpoints(client: Client, job_id: str, limit: int, after: str | None) -> None:
    """A job's latest checkpoints (a model per saved step), newest first."""
    found = await alist_fine_tuning_checkpoints(
        job_id, after=after, limit=limit, **client.files_sdk
    )
    client.out.rows(
        found["data"], CHECKPOINT_COLUMNS, times=("created_at",), empty="no checkpoints"
    )


@client_command(
    fine_tuning,
    "wait",
    epilog="""\b
Exits 0 when the job succeeded, 1 when it failed or was cancelled; either way the
final job is printed. On a terminal, stderr shows the job's status as it moves;
piped, nothing. A paused job is waited for too (until resumed and done).

\b
Examples:
  filegate fine-tuning wait ftjob-abc123
  filegate fine-tuning wait ftjob-abc123 --json | jq -r .fine_tuned_model""",
)
@click.argument("job_id")
@interval_option
async def wait(client: Client, job_id: str, interval: float) -> int:
    """Wait for a job to end and print it."""
    with Waiting(job_id) as bar:
        done = await poll(
            lambda: aretrieve_fine_tuning_job(job_id, **client.files_sdk),
            lambda j: j.status in FINAL,
            lambda j: bar.update(j.status),
            interval,
        )
    client.out.record(_doc(done), times=JOB_TIMES)
    return 0 if done.status == "succeeded" else EXIT_API
