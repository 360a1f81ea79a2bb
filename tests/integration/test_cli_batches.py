"""``filegate batches ...`` as a real process against a real gateway that runs the batches
itself on the fake model server (tests/fakes/model_server.py): every verb, the --json
shapes, ``run`` end to end, ``wait``'s exit codes and its bar on a terminal only."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli, error_of, run_on_pty
from self_batches_support import (
    CHAT,
    DEPLOYMENT,
    EMBEDDINGS,
    chat_line,
    embedding_line,
    jsonl,
    read_lines,
    sdk,
    self_server,
)
from tenants_support import make_key

from tests.conftest import ServerProcess
from tests.fakes.harness import FakeModelServerProcess, running_model_server

BATCH_KEYS = {
    "id",
    "object",
    "endpoint",
    "model",
    "errors",
    "input_file_id",
    "completion_window",
    "status",
    "output_file_id",
    "error_file_id",
    "created_at",
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
    "request_counts",
    "usage",
    "metadata",
}
FAST = ("--interval", "0.1")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeModelServerProcess]:
    with running_model_server(tmp_path_factory.mktemp("cli-model-server")) as fake:
        yield fake


@pytest.fixture(scope="module")
def server(
    llm: FakeModelServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    srv = self_server(tmp_path_factory.mktemp("cli-batches"), llm)
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(llm: FakeModelServerProcess) -> None:
    llm.reset()


@pytest.fixture
def cli(server: ServerProcess, tmp_path: Path) -> Cli:
    """The command with a fresh virtual key: its listings hold only what the test made."""
    work = tmp_path / "work"
    work.mkdir()
    return Cli(server, tmp_path / "cache", work, api_key=make_key(server)[0])


def input_file(cli: Cli, lines: list[dict[str, Any]], name: str = "in.jsonl") -> str:
    """An input file in the gateway's own store, uploaded with the command; its id."""
    path = cli.cwd / name
    path.write_bytes(jsonl(lines))
    made = cli.json("files", "upload", str(path), "--purpose", "batch", "--provider", "filegate")
    file_id: str = made["id"]
    return file_id


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- run ----------------------------------------------------------------------------------------


def test_run_uploads_runs_waits_and_downloads_output_and_errors(
    cli: Cli, llm: FakeModelServerProcess, server: ServerProcess
) -> None:
    llm.fault(op="chat", match="line-3", status=400, times=None)
    (cli.cwd / "requests.jsonl").write_bytes(jsonl([chat_line(i) for i in range(20)]))
    got = cli.json(
        "batches",
        "run",
        "requests.jsonl",
        "--endpoint",
        CHAT,
        "--model",
        DEPLOYMENT,
        "--metadata",
        "job=cli",
        *FAST,
    )
    assert set(got) == {"batch", "output", "errors"}
    batch = got["batch"]
    assert set(batch) == BATCH_KEYS
    assert batch["status"] == "completed" and batch["metadata"] == {"job": "cli"}
    assert batch["request_counts"] == {"total": 20, "completed": 19, "failed": 1}
    assert got["output"]["path"] == "requests.output.jsonl"
    assert got["errors"]["path"] == "requests.errors.jsonl"
    assert got["output"]["verified"] == got["errors"]["verified"] == "sha256"

    out = read_jsonl(cli.cwd / "requests.output.jsonl")
    assert [o["custom_id"] for o in out] == [f"c-{i}" for i in range(20) if i != 3]
    for o in out:
        i = o["custom_id"].removeprefix("c-")
        assert o["response"]["body"]["choices"][0]["message"]["content"] == f"echo: line-{i}"
    errors = read_jsonl(cli.cwd / "requests.errors.jsonl")
    assert [e["custom_id"] for e in errors] == ["c-3"]
    assert errors[0]["response"]["status_code"] == 400
    # The files downloaded are the batch's, byte for byte.
    client = sdk(server, cli.api_key)
    assert read_lines(client, batch["output_file_id"]) == out
    assert (cli.cwd / "requests.output.jsonl").stat().st_size == got["output"]["bytes"]
    # The input went to the gateway's own store, purpose batch.
    uploaded = client.files.retrieve(batch["input_file_id"])
    assert uploaded.purpose == "batch" and uploaded.filename == "requests.jsonl"
    assert llm.stats()["by_op"] == {"chat": 20}


def test_run_with_named_outputs_and_text_for_people(cli: Cli) -> None:
    (cli.cwd / "emb.jsonl").write_bytes(jsonl([embedding_line(i) for i in range(5)]))
    proc = cli.ok(
        "batches",
        "run",
        "emb.jsonl",
        "--endpoint",
        EMBEDDINGS,
        "--model",
        DEPLOYMENT,
        "-o",
        "vectors.jsonl",
        "--errors",
        "failed.jsonl",
        *FAST,
    )
    assert proc.stderr == ""  # piped: no bar, no notes
    lines = proc.stdout.splitlines()
    fields = dict(line.split(None, 1) for line in lines[:-1])
    assert fields["status"] == "completed" and fields["endpoint"] == EMBEDDINGS
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", fields["completed_at"])
    size = (cli.cwd / "vectors.jsonl").stat().st_size
    assert lines[-1] == f"output: vectors.jsonl ({size} bytes)"
    assert sorted(o["custom_id"] for o in read_jsonl(cli.cwd / "vectors.jsonl")) == [
        f"e-{i}" for i in range(5)
    ]
    # No line failed, so there is no error file to fetch.
    assert not (cli.cwd / "failed.jsonl").exists()


def test_run_of_a_batch_that_fails_exits_1_and_writes_nothing(cli: Cli) -> None:
    # Embedding lines for the chat endpoint: the batch fails, naming the line.
    (cli.cwd / "wrong.jsonl").write_bytes(jsonl([embedding_line(i) for i in range(3)]))
    proc = cli.run(
        "batches", "run", "wrong.jsonl", "--endpoint", CHAT, "--model", DEPLOYMENT, "--json", *FAST
    )
    assert proc.returncode == 1, proc.stderr
    got = json.loads(proc.stdout)
    assert got["batch"]["status"] == "failed" and got["batch"]["failed_at"]
    assert got["batch"]["errors"]["data"][0]["code"] == "mismatched_endpoint"
    assert got["output"] is None and got["errors"] is None
    assert sorted(p.name for p in cli.cwd.iterdir()) == ["wrong.jsonl"]


def test_run_refuses_an_output_in_the_way_before_uploading(cli: Cli, server: ServerProcess) -> None:
    (cli.cwd / "in.jsonl").write_bytes(jsonl([chat_line(0)]))
    (cli.cwd / "in.output.jsonl").write_text("keep me")
    proc = cli.run("batches", "run", "in.jsonl", "--endpoint", CHAT, "--model", DEPLOYMENT)
    assert proc.returncode == 2 and proc.stdout == ""
    assert error_of(proc) == "error: in.output.jsonl exists; pass --force to replace it"
    assert (cli.cwd / "in.output.jsonl").read_text() == "keep me"
    assert sdk(server, cli.api_key).files.list().data == []  # nothing was uploaded

    got = cli.json(
        "batches", "run", "in.jsonl", "--endpoint", CHAT, "--model", DEPLOYMENT, "--force", *FAST
    )
    assert got["batch"]["status"] == "completed"
    assert read_jsonl(cli.cwd / "in.output.jsonl")[0]["custom_id"] == "c-0"


# -- create, get, list, cancel, wait ------------------------------------------------------------


def test_create_get_list_wait_with_json(cli: Cli) -> None:
    file_id = input_file(cli, [chat_line(i) for i in range(4)])
    made = cli.json(
        "batches",
        "create",
        file_id,
        "--endpoint",
        CHAT,
        "--model",
        DEPLOYMENT,
        "--completion-window",
        "24h",
        "--metadata",
        "owner=ops",
        "--metadata",
        "run=1",
    )
    assert set(made) == BATCH_KEYS
    assert made["object"] == "batch" and made["id"].startswith("batch_")
    assert made["input_file_id"] == file_id and made["endpoint"] == CHAT
    assert made["metadata"] == {"owner": "ops", "run": "1"}
    assert made["completion_window"] == "24h" and made["status"] == "validating"

    done = cli.json("batches", "wait", made["id"], *FAST)
    assert done["status"] == "completed" and done["id"] == made["id"]
    assert done["request_counts"] == {"total": 4, "completed": 4, "failed": 0}
    assert cli.json("batches", "get", made["id"]) == done

    second = cli.json("batches", "create", file_id, "--endpoint", CHAT, "--model", DEPLOYMENT)
    cli.json("batches", "wait", second["id"], *FAST)
    # One batch a page: every page is walked, newest first, one JSON object per line.
    listed = cli.lines("batches", "list", "--limit", "1")
    assert [b["id"] for b in listed] == [second["id"], made["id"]]
    assert all(set(b) == BATCH_KEYS for b in listed)
    assert [b["id"] for b in cli.lines("batches", "list", "--after", second["id"])] == [made["id"]]


def test_text_output_for_people(cli: Cli) -> None:
    file_id = input_file(cli, [chat_line(0), chat_line(1)])
    # Routed by provider this time: the gateway's one openai_compatible deployment.
    out = cli.ok(
        "batches", "create", file_id, "--endpoint", CHAT, "--provider", "openai_compatible"
    ).stdout
    fields = dict(line.split(None, 1) for line in out.splitlines())
    assert fields["status"] == "validating" and fields["input_file_id"] == file_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", fields["created_at"])
    batch_id = fields["id"]
    cli.ok("batches", "wait", batch_id, *FAST)

    table = cli.ok("batches", "list").stdout.splitlines()
    assert table[0].split() == list(
        ("id", "status", "endpoint", "lines", "created_at", "output_file_id")
    )
    (row,) = table[1:]
    assert row.startswith(batch_id) and " completed " in row and " 2/2 " in row
    assert all(line == line.rstrip() for line in table)

    empty = cli.run("batches", "list", api_key=make_key(cli.server)[0])
    assert empty.returncode == 0 and empty.stdout == "" and empty.stderr == "no batches\n"


def test_cancel_then_wait_exits_1_with_the_cancelled_batch(
    cli: Cli, llm: FakeModelServerProcess
) -> None:
    llm.config(latency=0.2)
    file_id = input_file(cli, [chat_line(i) for i in range(200)])
    made = cli.json("batches", "create", file_id, "--endpoint", CHAT, "--model", DEPLOYMENT)
    cancelling = cli.json("batches", "cancel", made["id"])
    assert cancelling["id"] == made["id"] and cancelling["status"] in ("cancelling", "cancelled")
    assert cancelling["cancelling_at"]

    proc = cli.run("batches", "wait", made["id"], "--json", *FAST)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""  # an ended batch is the answer, not an error
    done = json.loads(proc.stdout)
    assert done["status"] == "cancelled" and done["cancelled_at"]
    assert done["request_counts"]["completed"] < 200

    again = cli.run("batches", "cancel", made["id"])
    assert again.returncode == 1 and "code: invalid_state" in error_of(again)


def test_wait_on_a_failed_batch_exits_1(cli: Cli) -> None:
    file_id = input_file(cli, [embedding_line(0)])
    made = cli.json("batches", "create", file_id, "--endpoint", CHAT, "--model", DEPLOYMENT)
    proc = cli.run("batches", "wait", made["id"], *FAST)
    assert proc.returncode == 1 and proc.stderr == ""
    fields = dict(line.split(None, 1) for line in proc.stdout.splitlines())
    assert fields["status"] == "failed" and "mismatched_endpoint" in fields["errors"]


# -- the bar ------------------------------------------------------------------------------------


def test_wait_draws_a_bar_of_the_lines_on_a_terminal_and_nothing_when_piped(
    cli: Cli, llm: FakeModelServerProcess
) -> None:
    llm.config(latency=0.02)
    file_id = input_file(cli, [chat_line(i) for i in range(40)])
    made = cli.json("batches", "create", file_id, "--endpoint", CHAT, "--model", DEPLOYMENT)
    code, out, terminal = run_on_pty(cli, "batches", "wait", made["id"], "--json", *FAST)
    assert code == 0, terminal
    assert json.loads(out)["status"] == "completed"  # stdout holds the result only
    assert "━" in terminal and "\x1b[" in terminal  # a drawn bar, with control codes
    text = ANSI.sub("", terminal)
    assert made["id"] in text and "40/40 lines completed" in text

    piped = cli.run("batches", "wait", made["id"], "--json")
    assert piped.returncode == 0 and piped.stderr == ""
    assert json.loads(piped.stdout)["status"] == "completed"


def test_run_on_a_terminal_shows_the_upload_and_the_lines(cli: Cli) -> None:
    (cli.cwd / "t.jsonl").write_bytes(jsonl([chat_line(i) for i in range(3)]))
    code, out, terminal = run_on_pty(
        cli, "batches", "run", "t.jsonl", "--endpoint", CHAT, "--model", DEPLOYMENT, *FAST
    )
    assert code == 0, terminal
    text = ANSI.sub("", terminal)
    assert "upload t.jsonl" in text and "3/3 lines completed" in text
    assert "download t.output.jsonl" in text
    assert b"output: t.output.jsonl" in out


# -- errors and exit codes ----------------------------------------------------------------------


def test_an_unknown_batch_is_exit_1_with_the_404s_message(cli: Cli) -> None:
    for verb in ("get", "cancel", "wait"):
        proc = cli.run("batches", verb, "batch_nope")
        assert proc.returncode == 1 and proc.stdout == "", verb
        assert error_of(proc) == (
            "error: No batch found with id 'batch_nope'. "
            "(type: invalid_request_error, param: batch_id)"
        ), verb

    proc = cli.run("batches", "get", "batch_nope", "--json")
    doc = json.loads(error_of(proc))
    assert doc["error"]["type"] == "invalid_request_error" and doc["error"]["param"] == "batch_id"


def test_api_refusals_are_exit_1_naming_the_field(cli: Cli) -> None:
    missing = cli.run("batches", "create", "file-nope", "--endpoint", CHAT, "--model", DEPLOYMENT)
    assert missing.returncode == 1 and "param: input_file_id" in error_of(missing)
    file_id = input_file(cli, [chat_line(0)])
    bad = cli.run("batches", "create", file_id, "--endpoint", "/v1/nowhere", "--model", DEPLOYMENT)
    assert bad.returncode == 1 and "param: endpoint" in error_of(bad)
    window = cli.run(
        "batches",
        "create",
        file_id,
        "--endpoint",
        CHAT,
        "--model",
        DEPLOYMENT,
        "--completion-window",
        "1h",
    )
    assert window.returncode == 1 and "param: completion_window" in error_of(window)


@pytest.mark.parametrize(
    "args",
    [
        ["batches", "create", "file-x"],  # no --endpoint
        ["batches", "create", "--endpoint", CHAT],  # no file id
        ["batches", "create", "file-x", "--endpoint", CHAT, "--metadata", "novalue"],
        ["batches", "list", "--limit", "0"],
        ["batches", "list", "--limit", "101"],
        ["batches", "get"],
        ["batches", "wait", "batch_x", "--interval", "0"],
        ["batches", "run", "missing.jsonl", "--endpoint", CHAT],
        ["batches", "run", "x.jsonl"],  # no --endpoint
        ["batches", "run", "x.jsonl", "--endpoint", CHAT, "-o", "same", "--errors", "same"],
        ["batches", "run", "x.jsonl", "--endpoint", CHAT, "--metadata", "=v"],
        ["batches", "frobnicate"],
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str]) -> None:
    (cli.cwd / "x.jsonl").write_bytes(jsonl([chat_line(0)]))
    proc = cli.run(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "error" in proc.stderr.lower()


def test_interrupted_run_says_how_to_follow_the_batch(
    cli: Cli, llm: FakeModelServerProcess, server: ServerProcess
) -> None:
    llm.config(latency=0.5)
    (cli.cwd / "slow.jsonl").write_bytes(jsonl([chat_line(i) for i in range(50)]))
    proc = subprocess.Popen(
        cli.argv("batches", "run", "slow.jsonl", "--endpoint", CHAT, "--model", DEPLOYMENT, *FAST),
        env=cli.env(),
        cwd=cli.cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = sdk(server, cli.api_key)
    try:
        # Some lines done: the command has its batch and is waiting for it.
        _wait_for(lambda: _lines_done(client) >= 4, proc)
        proc.send_signal(2)  # SIGINT, as Ctrl-C
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    (batch,) = client.batches.list().data
    assert proc.returncode == 130 and out == ""
    assert f"{batch.id} runs on; follow it with: filegate batches wait {batch.id}" in err
    assert client.batches.retrieve(batch.id).status not in ("cancelled", "cancelling")
    client.batches.cancel(batch.id)


def _lines_done(client: Any) -> int:
    found = client.batches.list().data
    return found[0].request_counts.completed if found and found[0].request_counts else 0


def _wait_for(predicate: Any, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
