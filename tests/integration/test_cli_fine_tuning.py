"""``filegate fine-tuning ...`` as a real process against a real gateway in front of the fake
upstream's fine-tuning jobs (which move only when an admin call moves them): every verb,
the --json shapes, what reaches the provider, ``wait``'s exit codes, errors."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli, error_of, run_on_pty
from fine_tuning_support import HOLD, JOB_ID, ft_server, only_upstream_job, training_data
from tenants_support import make_key
from upstream_support import Fake

from tests.conftest import ServerProcess

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
FAST = ("--interval", "0.1")
COMMON_KEYS = {
    "id",
    "object",
    "model",
    "created_at",
    "finished_at",
    "fine_tuned_model",
    "organization_id",
    "result_files",
    "status",
    "training_file",
    "validation_file",
    "hyperparameters",
    "trained_tokens",
    "error",
    "user_provided_suffix",
    "seed",
    "estimated_finish",
    "integrations",
    "metadata",
    "method",
}


@pytest.fixture(scope="module")
def server(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ft_server(fake, tmp_path_factory.mktemp("cli-fine-tuning"))
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.reset()
    fake.config(**HOLD)


@pytest.fixture
def cli(server: ServerProcess, tmp_path: Path) -> Cli:
    """The command with a fresh virtual key: its listings hold only what the test made."""
    work = tmp_path / "work"
    work.mkdir()
    return Cli(server, tmp_path / "cache", work, api_key=make_key(server)[0])


def training_file(cli: Cli, name: str = "train.jsonl", deployment: str = "openai") -> str:
    """A training file uploaded with the command, kept at ``deployment``."""
    (cli.cwd / name).write_bytes(training_data())
    made = cli.json("files", "upload", name, "--purpose", "fine-tune", "--model", deployment)
    file_id: str = made["id"]
    return file_id


def start(cli: Cli, file_id: str, *more: str) -> dict[str, Any]:
    job: dict[str, Any] = cli.json(
        "fine-tuning", "create", "--training-file", file_id, "--model", "gpt-4o-mini", *more
    )
    return job


def test_create_with_every_option_reaches_the_provider(cli: Cli, fake: Fake) -> None:
    train, valid = training_file(cli), training_file(cli, "valid.jsonl")
    job = start(
        cli,
        train,
        "--validation-file",
        valid,
        "--suffix",
        "nightly",
        "--hyperparameters",
        "n_epochs=2",
        "--hyperparameters",
        "batch_size=auto",
        "--seed",
        "7",
        "--metadata",
        "team=search",
    )
    assert set(job) >= COMMON_KEYS
    assert JOB_ID.fullmatch(job["id"]) and job["object"] == "fine_tuning.job"
    assert (job["training_file"], job["validation_file"]) == (train, valid)
    assert job["status"] == "validating_files" and job["seed"] == 7
    assert job["metadata"] == {"team": "search"}
    upstream = only_upstream_job(fake)
    assert upstream["user_provided_suffix"] == "nightly"
    # n_epochs=2 went as a number, batch_size=auto as a string.
    assert upstream["hyperparameters"]["n_epochs"] == 2
    assert upstream["hyperparameters"]["batch_size"] == "auto"
    assert cli.json("fine-tuning", "get", job["id"]) == job


def test_a_method_takes_the_hyperparameters(cli: Cli, fake: Fake) -> None:
    job = start(cli, training_file(cli), "--method", "dpo", "--hyperparameters", "beta=0.2")
    assert job["method"]["type"] == "dpo"
    upstream = only_upstream_job(fake)
    assert upstream["method"]["type"] == "dpo"
    assert upstream["method"]["dpo"]["hyperparameters"]["beta"] == 0.2


def test_provider_routing(cli: Cli, fake: Fake) -> None:
    at_azure = training_file(cli, deployment="azure")
    job = start(cli, at_azure, "--provider", "azure")
    assert job["training_file"] == at_azure
    assert only_upstream_job(fake)["surface"] == "azure"
    # A file at OpenAI cannot train at Azure: the gateway's 400, naming the file.
    wrong = cli.run(
        "fine-tuning",
        "create",
        "--training-file",
        training_file(cli),
        "--model",
        "gpt-4o-mini",
        "--provider",
        "azure",
    )
    assert wrong.returncode == 1
    line = error_of(wrong)
    assert "param: training_file" in line and "code: file_not_at_deployment" in line


def test_list_walks_every_page_newest_first(cli: Cli) -> None:
    train = training_file(cli)
    ids = [start(cli, train)["id"] for _ in range(3)]
    listed = cli.lines("fine-tuning", "list", "--limit", "1")
    assert [j["id"] for j in listed] == ids[::-1]
    assert all(set(j) >= COMMON_KEYS for j in listed)
    assert [j["id"] for j in cli.lines("fine-tuning", "list", "--after", ids[2])] == ids[1::-1]

    table = cli.ok("fine-tuning", "list").stdout.splitlines()
    assert table[0].split() == [
        "id",
        "status",
        "model",
        "fine_tuned_model",
        "training_file",
        "created_at",
    ]
    assert [line.split()[0] for line in table[1:]] == ids[::-1]
    empty = cli.run("fine-tuning", "list", api_key=make_key(cli.server)[0])
    assert empty.returncode == 0 and empty.stderr == "no fine-tuning jobs\n"


def test_pause_resume_cancel_and_the_events_they_leave(cli: Cli, fake: Fake) -> None:
    job = start(cli, training_file(cli))
    fake.job(only_upstream_job(fake)["id"], status="running")
    assert cli.json("fine-tuning", "pause", job["id"])["status"] == "paused"
    assert cli.json("fine-tuning", "resume", job["id"])["status"] == "queued"
    cancelled = cli.json("fine-tuning", "cancel", job["id"])
    assert cancelled["status"] == "cancelled" and cancelled["id"] == job["id"]

    events = cli.lines("fine-tuning", "events", job["id"])
    messages = [e["message"] for e in events]
    assert messages[:3] == [
        "Fine-tuning job cancelled",
        "Fine-tuning job resumed",
        "Fine-tuning job paused",
    ]
    assert all(e["object"] == "fine_tuning.job.event" for e in events)
    two = cli.lines("fine-tuning", "events", job["id"], "--limit", "2")
    assert [e["id"] for e in two] == [e["id"] for e in events[:2]]
    older = cli.lines("fine-tuning", "events", job["id"], "--after", events[0]["id"])
    assert older[0]["id"] == events[1]["id"]

    text = cli.ok("fine-tuning", "events", job["id"], "--limit", "1").stdout.splitlines()
    assert text[0].split() == ["created_at", "level", "message"]
    assert text[1].endswith("Fine-tuning job cancelled")

    # A job that has ended cannot be paused: the provider's 400, on one line.
    again = cli.run("fine-tuning", "pause", job["id"])
    assert again.returncode == 1
    line = error_of(again)
    assert "Cannot pause a fine-tuning job with status 'cancelled'" in line
    assert "type: invalid_request_error" in line


def test_wait_exits_0_on_success_with_the_job_and_its_checkpoints(cli: Cli, fake: Fake) -> None:
    job = start(cli, training_file(cli))
    proc = subprocess.Popen(
        cli.argv("fine-tuning", "wait", job["id"], "--json", *FAST),
        env=cli.env(),
        cwd=cli.cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1)
        assert proc.poll() is None  # a validating job is waited for
        upstream = only_upstream_job(fake)["id"]
        fake.job(upstream, status="running")
        fake.job(upstream, status="succeeded")
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert err == ""  # piped: no status line
    done = json.loads(out)
    assert done["status"] == "succeeded" and done["fine_tuned_model"]
    assert done["fine_tuned_model"] == fake.job(upstream)["fine_tuned_model"]

    checkpoints = cli.lines("fine-tuning", "checkpoints", job["id"])
    assert checkpoints and all(c["object"] == "fine_tuning.job.checkpoint" for c in checkpoints)
    assert len(cli.lines("fine-tuning", "checkpoints", job["id"], "--limit", "1")) == 1
    table = cli.ok("fine-tuning", "checkpoints", job["id"]).stdout.splitlines()
    assert table[0].split() == ["id", "step_number", "fine_tuned_model_checkpoint", "created_at"]
    assert table[1].startswith(checkpoints[0]["id"])


def test_wait_exits_1_on_a_cancelled_job_and_shows_its_status_on_a_terminal(
    cli: Cli, fake: Fake
) -> None:
    job = start(cli, training_file(cli))
    cli.ok("fine-tuning", "cancel", job["id"])
    code, out, terminal = run_on_pty(cli, "fine-tuning", "wait", job["id"], "--json", *FAST)
    assert code == 1, terminal
    assert json.loads(out)["status"] == "cancelled"
    text = ANSI.sub("", terminal)
    assert job["id"] in text and "cancelled" in text

    piped = cli.run("fine-tuning", "wait", job["id"])
    assert piped.returncode == 1 and piped.stderr == ""
    fields = dict(line.split(None, 1) for line in piped.stdout.splitlines())
    assert fields["status"] == "cancelled" and fields["id"] == job["id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", fields["created_at"])


def test_an_unknown_job_is_exit_1_with_the_404s_message(cli: Cli) -> None:
    for verb in ("get", "cancel", "pause", "resume", "events", "checkpoints", "wait"):
        proc = cli.run("fine-tuning", verb, "ftjob-nope")
        assert proc.returncode == 1 and proc.stdout == "", verb
        line = error_of(proc)
        assert line.startswith("error: ") and "ftjob-nope" in line, line
        assert "type: invalid_request_error" in line, line


def test_an_unknown_training_file_names_the_field(cli: Cli) -> None:
    proc = cli.run(
        "fine-tuning", "create", "--training-file", "file-nope", "--model", "gpt-4o-mini", "--json"
    )
    assert proc.returncode == 1 and proc.stdout == ""
    doc = json.loads(error_of(proc))
    assert doc["error"]["param"] == "training_file"


@pytest.mark.parametrize(
    "args",
    [
        ["fine-tuning", "create", "--model", "gpt-4o-mini"],  # no --training-file
        ["fine-tuning", "create", "--training-file", "file-x"],  # no --model
        ["fine-tuning", "create", "--training-file", "f", "--model", "m", "--method", "magic"],
        ["fine-tuning", "create", "--training-file", "f", "--model", "m", "--hyperparameters", "x"],
        ["fine-tuning", "create", "--training-file", "f", "--model", "m", "--metadata", "x"],
        ["fine-tuning", "create", "--training-file", "f", "--model", "m", "--seed", "many"],
        ["fine-tuning", "list", "--limit", "0"],
        ["fine-tuning", "events"],
        ["fine-tuning", "events", "ftjob-x", "--limit", "1000"],
        ["fine-tuning", "pause"],
        ["fine-tuning", "wait", "ftjob-x", "--interval", "-1"],
        ["fine-tuning", "frobnicate"],
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str]) -> None:
    proc = cli.run(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "error" in proc.stderr.lower()
