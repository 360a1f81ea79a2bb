"""The ``filegate`` client command, run as a real process against a real server:
every verb of files, keys and teams, their --json shapes, error lines, exit codes."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli, error_of

from tests.conftest import free_port

FILE_KEYS = {
    "id",
    "object",
    "bytes",
    "created_at",
    "expires_at",
    "filename",
    "purpose",
    "status",
    "status_details",
}
ERROR_KEYS = {"message", "type", "param", "code"}
COMMANDS = {
    "files": ["upload", "list", "get", "download", "delete"],
    "batches": ["create", "get", "list", "cancel", "wait", "run"],
    "fine-tuning": [
        "create",
        "get",
        "list",
        "cancel",
        "pause",
        "resume",
        "events",
        "checkpoints",
        "wait",
    ],
    "keys": ["generate", "list", "info", "delete"],
    "teams": ["new", "list", "info", "delete"],
}


@pytest.fixture
def cli(server: Any, tmp_path: Path) -> Cli:
    work = tmp_path / "work"
    work.mkdir()
    return Cli(server, tmp_path / "cache", work)


def write(cli: Cli, name: str, data: bytes) -> Path:
    path = cli.cwd / name
    path.write_bytes(data)
    return path


# -- help ---------------------------------------------------------------------------------------


def test_root_help_names_the_client_commands_and_openai_compatibility(cli: Cli) -> None:
    out = cli.ok("--help").stdout
    for group in ("files", "batches", "fine-tuning", "keys", "teams", "serve", "db"):
        assert re.search(rf"^\s+{group}\s", out, re.M), group
    assert "OpenAI" in out and "FILEGATE_API_BASE" in out and "FILEGATE_API_KEY" in out


@pytest.mark.parametrize("group", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(cli: Cli, group: str) -> None:
    for verb in COMMANDS[group]:
        out = cli.ok(group, verb, "--help").stdout
        assert "Example" in out, (group, verb)
        assert f"filegate {group} {verb}" in out, (group, verb)
        for option in ("--base-url", "--api-key", "--json"):
            assert option in out, (group, verb, option)


def test_upload_help_says_where_the_resume_state_is_kept(cli: Cli) -> None:
    out = cli.ok("files", "upload", "--help", XDG_CACHE_HOME=str(cli.cache)).stdout
    assert "--resume" in out
    assert str(cli.cache / "filegate" / "uploads") in out


# -- files --------------------------------------------------------------------------------------


def test_upload_get_list_download_delete_with_json(cli: Cli) -> None:
    data = b"hello from the command line\n" * 100
    path = write(cli, "notes.txt", data)
    made = cli.json("files", "upload", str(path), "--purpose", "user_data")
    assert set(made) == FILE_KEYS
    assert made["object"] == "file" and made["bytes"] == len(data)
    assert made["filename"] == "notes.txt" and made["purpose"] == "user_data"

    assert cli.json("files", "get", made["id"]) == made
    listed = cli.lines("files", "list", "--purpose", "user_data")
    assert made["id"] in [f["id"] for f in listed]
    assert all(set(f) == FILE_KEYS for f in listed)

    got = cli.json("files", "download", made["id"], "-o", "copy.txt")
    assert got == {
        "path": "copy.txt",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "verified": "sha256",
        "resumed_from": 0,
    }
    assert (cli.cwd / "copy.txt").read_bytes() == data
    assert not (cli.cwd / "copy.txt.part").exists()

    gone = cli.lines("files", "delete", made["id"])
    assert gone == [{"id": made["id"], "object": "file", "deleted": True}]
    missing = cli.run("files", "get", made["id"])
    assert missing.returncode == 1


def test_text_output_for_people(cli: Cli) -> None:
    path = write(cli, "people.txt", b"x" * 10)
    out = cli.ok("files", "upload", str(path), "--purpose", "user_data").stdout
    fields = dict(line.split(None, 1) for line in out.splitlines())
    assert fields["filename"] == "people.txt" and fields["bytes"] == "10"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", fields["created_at"])
    file_id = fields["id"]

    table = cli.ok("files", "list").stdout.splitlines()
    assert table[0].split() == ["id", "bytes", "created_at", "filename", "purpose", "status"]
    assert any(line.startswith(file_id) for line in table[1:])
    assert all(line == line.rstrip() for line in table)

    out = cli.ok("files", "download", file_id, "-o", "p.txt").stdout
    assert out.startswith("p.txt: 10 bytes, sha256 ") and "(checked: sha256)" in out
    assert cli.ok("files", "delete", file_id).stdout.strip() == f"deleted {file_id}"


def test_download_defaults_to_the_file_name_and_never_to_a_path(cli: Cli, server: Any) -> None:
    import httpx

    # A file name with a path in it (a client may send one): only its last part is used.
    resp = httpx.post(
        f"{server.api_url}/files",
        headers=server.headers,
        data={"purpose": "user_data"},
        files={"file": ("../../escape.txt", b"inside")},
    )
    assert resp.status_code == 200, resp.text
    file_id = resp.json()["id"]
    cli.ok("files", "download", file_id)
    assert (cli.cwd / "escape.txt").read_bytes() == b"inside"
    assert not (cli.cwd.parent.parent / "escape.txt").exists()


def test_download_refuses_to_replace_a_file_without_force(cli: Cli) -> None:
    made = cli.json("files", "upload", str(write(cli, "a.txt", b"new")), "--purpose", "user_data")
    write(cli, "b.txt", b"old")
    proc = cli.run("files", "download", made["id"], "-o", "b.txt")
    assert proc.returncode == 2
    assert error_of(proc) == "error: b.txt exists; pass --force to replace it"
    assert (cli.cwd / "b.txt").read_bytes() == b"old"
    cli.ok("files", "download", made["id"], "-o", "b.txt", "--force")
    assert (cli.cwd / "b.txt").read_bytes() == b"new"


def test_download_to_stdout(cli: Cli) -> None:
    data = bytes(range(256)) * 64
    made = cli.json("files", "upload", str(write(cli, "bin", data)), "--purpose", "user_data")
    proc = subprocess.run(
        cli.argv("files", "download", made["id"], "-o", "-"),
        env=cli.env(),
        cwd=cli.cwd,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == data
    assert list(cli.cwd.iterdir()) == [cli.cwd / "bin"]


def test_list_walks_every_page_in_order(cli: Cli) -> None:
    ids = [
        cli.json("files", "upload", str(write(cli, f"p{i}.txt", b"%d" % i)), "--purpose", "vision")[
            "id"
        ]
        for i in range(5)
    ]
    # Two files a page: three pages, every file once.
    listed = [f["id"] for f in cli.lines("files", "list", "--purpose", "vision", "--limit", "2")]
    assert sorted(listed) == sorted(ids) and len(listed) == 5
    oldest_first = cli.lines(
        "files", "list", "--purpose", "vision", "--order", "asc", "--limit", "2"
    )
    assert [f["id"] for f in oldest_first] == ids
    newest_first = cli.lines("files", "list", "--purpose", "vision", "--order", "desc")
    assert [f["id"] for f in newest_first] == ids[::-1]


def test_upload_with_expiry_and_an_unknown_deployment(cli: Cli) -> None:
    path = write(cli, "e.txt", b"expires")
    made = cli.json(
        "files", "upload", str(path), "--purpose", "user_data", "--expires-after", "7200"
    )
    assert made["expires_at"] == made["created_at"] + 7200
    unknown = cli.run("files", "upload", str(path), "--purpose", "user_data", "--model", "nope")
    assert unknown.returncode == 1
    line = error_of(unknown)
    assert line.startswith("error: ") and "type: invalid_request_error" in line
    assert "param: target_model_names" in line


def test_delete_reports_each_and_fails_if_any_failed(cli: Cli) -> None:
    made = cli.json("files", "upload", str(write(cli, "d.txt", b"d")), "--purpose", "user_data")
    proc = cli.run("files", "delete", "file-doesnotexist", made["id"])
    assert proc.returncode == 1
    assert proc.stdout.strip() == f"deleted {made['id']}"
    line = error_of(proc)
    assert line.startswith("error: No such File object: file-doesnotexist")
    assert "type: invalid_request_error" in line and "param: file_id" in line


# -- errors and exit codes ------------------------------------------------------------------------


def test_api_error_is_one_line_with_message_type_and_param(cli: Cli) -> None:
    proc = cli.run("files", "get", "file-nope")
    assert proc.returncode == 1 and proc.stdout == ""
    assert error_of(proc) == (
        "error: No such File object: file-nope (type: invalid_request_error, param: file_id)"
    )


def test_api_error_with_json_is_openais_envelope_on_stderr(cli: Cli) -> None:
    proc = cli.run("files", "get", "file-nope", "--json")
    assert proc.returncode == 1 and proc.stdout == ""
    doc = json.loads(error_of(proc))
    assert list(doc) == ["error"] and set(doc["error"]) == ERROR_KEYS
    assert doc["error"]["type"] == "invalid_request_error"
    assert doc["error"]["param"] == "file_id"
    assert doc["error"]["message"] == "No such File object: file-nope"


def test_wrong_key_is_an_authentication_error(cli: Cli) -> None:
    proc = cli.run("files", "list", api_key="sk-wrong")
    assert proc.returncode == 1
    line = error_of(proc)
    assert "type: authentication_error" in line
    assert "sk-wrong" not in proc.stderr + proc.stdout


def test_unreachable_server_names_the_url(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    proc = cli.run("files", "list", "--base-url", url)
    assert proc.returncode == 1
    line = error_of(proc)
    assert line.startswith("error: ") and f"tried {url}/files" in line


@pytest.mark.parametrize(
    "args",
    [
        ["files", "upload", "x.txt"],  # no --purpose
        ["files", "upload", "missing.txt", "--purpose", "user_data"],
        ["files", "upload", "x.txt", "--purpose", "user_data", "--provider", "a", "--model", "b"],
        ["files", "list", "--order", "sideways"],
        ["files", "list", "--limit", "0"],
        ["files", "delete"],
        ["files", "download", "file-x", "-o", "-", "--resume"],
        ["keys", "generate", "--metadata", "novalue"],
        ["teams", "info"],
        ["files", "frobnicate"],
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str]) -> None:
    write(cli, "x.txt", b"x")
    proc = cli.run(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "error" in proc.stderr.lower()


def test_base_url_option_wins_over_the_environment(cli: Cli, server: Any) -> None:
    wrong = f"http://127.0.0.1:{free_port()}/v1"
    proc = cli.run("files", "list", "--json", "--base-url", server.api_url, FILEGATE_API_BASE=wrong)
    assert proc.returncode == 0, proc.stderr


# -- keys and teams -------------------------------------------------------------------------------


def test_keys_generate_list_info_delete(cli: Cli) -> None:
    made = cli.json(
        "keys",
        "generate",
        "--alias",
        "cli-bot",
        "--rpm",
        "60",
        "--max-file-size",
        "10MB",
        "--allowed-purpose",
        "user_data",
        "--allowed-purpose",
        "batch",
        "--metadata",
        "owner=ops",
        "--duration",
        "30d",
    )
    secret = made["key"]
    assert secret.startswith("sk-") and made["key_alias"] == "cli-bot"
    assert made["rpm"] == 60 and made["max_file_size"] == 10_000_000
    assert made["allowed_purposes"] == ["user_data", "batch"]
    assert made["metadata"] == {"owner": "ops"} and made["expires"]

    listed = cli.lines("keys", "list", "--alias", "cli-bot")
    assert [k["token"] for k in listed] == [made["token"]]
    everything = cli.ok("keys", "list").stdout + json.dumps(cli.lines("keys", "list"))
    assert secret not in everything

    info = cli.json("keys", "info", "cli-bot")
    assert info["token"] == made["token"] and "key" not in info

    # The new key works, sees its own files only, and may not manage keys.
    path = write(cli, "mine.txt", b"mine")
    own = cli.json("files", "upload", str(path), "--purpose", "user_data", api_key=secret)
    assert [f["id"] for f in cli.lines("files", "list", api_key=secret)] == [own["id"]]
    denied = cli.run("keys", "list", api_key=secret)
    assert denied.returncode == 1 and "type: permission_error" in error_of(denied)
    assert cli.json("keys", "info", secret, api_key=secret)["token"] == made["token"]

    assert cli.lines("keys", "delete", "cli-bot") == [{"key": made["token"], "deleted": True}]
    after = cli.run("files", "list", api_key=secret)
    assert after.returncode == 1 and "type: authentication_error" in error_of(after)
    again = cli.run("keys", "delete", "cli-bot")
    assert again.returncode == 1
    assert error_of(again) == (
        "error: No such key. (type: invalid_request_error, param: key, code: key_not_found)"
    )


def test_keys_text_output_shows_the_secret_once(cli: Cli) -> None:
    out = cli.ok("keys", "generate", "--alias", "shown-once").stdout
    fields = dict(line.split(None, 1) for line in out.splitlines())
    assert fields["key"].startswith("sk-") and fields["key_alias"] == "shown-once"
    table = cli.ok("keys", "list").stdout
    assert "shown-once" in table and fields["key"] not in table
    assert cli.ok("keys", "delete", fields["token"]).stdout.strip() == f"deleted {fields['token']}"


def test_teams_new_list_info_delete(cli: Cli) -> None:
    team = cli.json(
        "teams", "new", "--id", "cli-team", "--alias", "CLI", "--max-stored-bytes", "1GiB"
    )
    assert team["team_id"] == "cli-team" and team["team_alias"] == "CLI"
    assert team["max_stored_bytes"] == 2**30
    assert "cli-team" in [t["team_id"] for t in cli.lines("teams", "list")]
    assert "cli-team" in cli.ok("teams", "list").stdout

    key = cli.json("keys", "generate", "--team", "cli-team")
    info = cli.json("teams", "info", "cli-team")
    assert info["team_id"] == "cli-team" and info["keys"] == [key["token"]]
    assert info["team_info"]["max_stored_bytes"] == 2**30

    busy = cli.run("teams", "delete", "cli-team")
    assert busy.returncode == 1 and "code: team_not_empty" in error_of(busy)
    cli.ok("keys", "delete", key["token"])
    assert cli.lines("teams", "delete", "cli-team") == [{"team_id": "cli-team", "deleted": True}]
    gone = cli.run("teams", "info", "cli-team")
    assert gone.returncode == 1 and "param: team_id" in error_of(gone)


def test_made_up_team_id(cli: Cli) -> None:
    team = cli.json("teams", "new")
    assert team["team_id"].startswith("team-")
    cli.ok("teams", "delete", team["team_id"])
