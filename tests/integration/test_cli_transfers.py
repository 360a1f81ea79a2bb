"""The ``filegate`` command's transfers, as a real process against a real server: a
200 MiB upload through the Uploads API killed mid-way and finished with --resume,
a download killed and resumed with Range, checks that catch bad bytes, part retries,
routing, and progress bars that appear on a terminal only."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
from cli_support import Cli, error_of, run_on_pty
from upstream_support import Fake, config_kwargs

from filegate.cli.state import StateFile
from tests.conftest import ServerProcess, start_server

MIB = 1024 * 1024
PART = 64 * MIB
BIG = 200 * MIB  # four parts: 64 + 64 + 64 + 8 MiB


def write_random(path: Path, size: int) -> str:
    """``size`` random bytes at ``path`` (a MiB at a time); their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        left = size
        while left:
            block = os.urandom(min(MIB, left))
            fh.write(block)
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def wait_for(predicate: Any, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "the command ended before it could be interrupted"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture
def cli(server: ServerProcess, tmp_path: Path) -> Cli:
    work = tmp_path / "work"
    work.mkdir()
    return Cli(server, tmp_path / "cache", work)


def state_files(cli: Cli, kind: str) -> list[Path]:
    folder = cli.cache / "filegate" / kind
    return sorted(folder.glob("*.json")) if folder.exists() else []


def accepted_parts(cli: Cli) -> dict[str, str]:
    for path in state_files(cli, "uploads"):
        try:
            return dict(json.loads(path.read_bytes())["parts"])
        except (OSError, ValueError):
            return {}
    return {}


# -- uploads ------------------------------------------------------------------------------------


def test_large_upload_killed_midway_is_finished_by_resume(cli: Cli) -> None:
    source = cli.cwd / "big.bin"
    expected = write_random(source, BIG)
    # One part at a time, so the kill lands between parts with some still to send.
    proc = subprocess.Popen(
        cli.argv("files", "upload", str(source), "--purpose", "user_data", "--parallel", "1"),
        env=cli.env(),
        cwd=cli.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: len(accepted_parts(cli)) >= 1, proc)
    kill(proc)
    (state_path,) = state_files(cli, "uploads")
    state = json.loads(state_path.read_bytes())
    accepted = len(state["parts"])
    assert 1 <= accepted < 4, state
    # The state is in the cache folder, never where the command ran; it holds no key.
    assert sorted(p.name for p in cli.cwd.iterdir()) == ["big.bin"]
    assert cli.server.master_key not in state_path.read_text()
    assert state_path.stat().st_mode & 0o077 == 0

    resumed = cli.run(
        "files", "upload", str(source), "--purpose", "user_data", "--resume", "--json"
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.strip() == (
        f"resuming {state['upload_id']}: {accepted} of 4 parts already accepted"
    )
    made = json.loads(resumed.stdout)
    assert made["bytes"] == BIG and made["filename"] == "big.bin"
    assert state_files(cli, "uploads") == []

    got = cli.json("files", "download", made["id"], "-o", "copy.bin")
    assert got["sha256"] == expected and got["verified"] == "sha256"
    assert sha256_file(cli.cwd / "copy.bin") == expected


def test_upload_without_resume_starts_afresh_and_cancels_the_old_upload(
    cli: Cli, server: ServerProcess
) -> None:
    source = cli.cwd / "again.bin"
    expected = write_random(source, 2 * PART)
    proc = subprocess.Popen(
        cli.argv("files", "upload", str(source), "--purpose", "user_data", "--parallel", "1"),
        env=cli.env(),
        cwd=cli.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: len(accepted_parts(cli)) >= 1, proc)
    kill(proc)
    (state_path,) = state_files(cli, "uploads")
    old = json.loads(state_path.read_bytes())["upload_id"]

    fresh = cli.run("files", "upload", str(source), "--purpose", "user_data", "--json")
    assert fresh.returncode == 0, fresh.stderr
    assert f"an earlier upload of again.bin ({old}) was interrupted" in fresh.stderr
    made = json.loads(fresh.stdout)
    assert cli.json("files", "download", made["id"], "-o", "a.bin")["sha256"] == expected
    # The old upload was cancelled: it takes no more parts.
    resp = httpx.post(
        f"{server.api_url}/uploads/{old}/complete",
        headers=server.headers,
        json={"part_ids": []},
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "upload_cancelled"


def test_a_changed_file_is_not_resumed_into_the_old_upload(cli: Cli) -> None:
    source = cli.cwd / "changing.bin"
    write_random(source, 2 * PART)  # the second part takes a while: time to kill
    proc = subprocess.Popen(
        cli.argv("files", "upload", str(source), "--purpose", "user_data", "--parallel", "1"),
        env=cli.env(),
        cwd=cli.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: len(accepted_parts(cli)) >= 1, proc)
    kill(proc)
    expected = write_random(source, 2 * PART + MIB)  # new bytes, new size and mtime
    resumed = cli.run(
        "files", "upload", str(source), "--purpose", "user_data", "--resume", "--json"
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "no interrupted upload" in resumed.stderr
    made = json.loads(resumed.stdout)
    assert made["bytes"] == 2 * PART + MIB
    assert cli.json("files", "download", made["id"], "-o", "c.bin")["sha256"] == expected


def test_resume_of_an_upload_the_server_no_longer_has(cli: Cli, server: ServerProcess) -> None:
    source = cli.cwd / "gone.bin"
    write_random(source, 2 * PART)  # the second part takes a while: time to kill
    proc = subprocess.Popen(
        cli.argv("files", "upload", str(source), "--purpose", "user_data", "--parallel", "1"),
        env=cli.env(),
        cwd=cli.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: len(accepted_parts(cli)) >= 1, proc)
    kill(proc)
    (state_path,) = state_files(cli, "uploads")
    upload_id = json.loads(state_path.read_bytes())["upload_id"]
    resp = httpx.post(f"{server.api_url}/uploads/{upload_id}/cancel", headers=server.headers)
    assert resp.status_code == 200, resp.text
    resumed = cli.run("files", "upload", str(source), "--purpose", "user_data", "--resume")
    assert resumed.returncode == 1
    note, line = resumed.stderr.strip().splitlines()
    assert note == f"resuming {upload_id}: 1 of 2 parts already accepted"
    assert line.startswith(f"error: Upload {upload_id} is cancelled") and "param: upload_id" in line
    # Nothing is left to resume, so the next try starts afresh without a note.
    assert state_files(cli, "uploads") == []


# -- downloads ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 200 MiB file on the server, uploaded once for the download tests."""
    base = tmp_path_factory.mktemp("stored")
    source = base / "download-me.bin"
    digest = write_random(source, BIG)
    cli = Cli(server, base / "cache", base)
    made = cli.json("files", "upload", str(source), "--purpose", "user_data")
    source.unlink()
    return {"id": made["id"], "sha256": digest, "bytes": BIG}


def test_download_killed_midway_is_finished_by_resume(cli: Cli, stored: dict[str, Any]) -> None:
    part = cli.cwd / "out.bin.part"
    proc = subprocess.Popen(
        cli.argv("files", "download", stored["id"], "-o", "out.bin"),
        env=cli.env(),
        cwd=cli.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: part.exists() and part.stat().st_size >= 8 * MIB, proc)
    kill(proc)
    have = part.stat().st_size
    assert have < BIG and not (cli.cwd / "out.bin").exists()

    done = cli.json("files", "download", stored["id"], "-o", "out.bin", "--resume")
    assert done == {
        "path": "out.bin",
        "bytes": BIG,
        "sha256": stored["sha256"],
        "verified": "sha256",
        "resumed_from": have,
    }
    assert sha256_file(cli.cwd / "out.bin") == stored["sha256"]
    assert not part.exists() and state_files(cli, "downloads") == []


def _partial(cli: Cli, file_id: str, nbytes: int, etag: str | None, dest: str) -> Path:
    """A ``dest.part`` of the file's first ``nbytes`` and the state an interrupted
    download leaves (written here as the command writes it)."""
    server = cli.server
    with httpx.stream(
        "GET",
        f"{server.api_url}/files/{file_id}/content",
        headers={**server.headers, "Range": f"bytes=0-{nbytes - 1}"},
    ) as resp:
        assert resp.status_code == 206
        part = cli.cwd / f"{dest}.part"
        with part.open("wb") as fh:
            for chunk in resp.iter_raw():
                fh.write(chunk)
    with mock.patch.dict(os.environ, {"XDG_CACHE_HOME": str(cli.cache)}):
        StateFile("downloads", server.api_url, part.resolve()).save(
            {"file_id": file_id, "etag": etag, "path": dest}
        )
    return part


def test_resumed_bytes_that_do_not_match_the_sha256_are_refused(
    cli: Cli, stored: dict[str, Any]
) -> None:
    part = _partial(cli, stored["id"], 3 * MIB, f'"{stored["sha256"]}"', "bad.bin")
    with part.open("r+b") as fh:  # one byte of the kept part goes bad
        fh.seek(MIB)
        byte = fh.read(1)
        fh.seek(MIB)
        fh.write(bytes([byte[0] ^ 0xFF]))
    proc = cli.run("files", "download", stored["id"], "-o", "bad.bin", "--resume")
    assert proc.returncode == 1
    line = error_of(proc)
    assert f"the server's ETag says {stored['sha256']}" in line
    assert "code: checksum_mismatch" in line
    assert not part.exists() and not (cli.cwd / "bad.bin").exists()
    assert state_files(cli, "downloads") == []


def test_a_stale_etag_gets_the_whole_file(cli: Cli, stored: dict[str, Any]) -> None:
    # The ETag the first attempt saw is not the file's now: If-Range makes the server
    # send the whole file, and the part is started over.
    _partial(cli, stored["id"], MIB, '"0000"', "stale.bin")
    done = cli.json("files", "download", stored["id"], "-o", "stale.bin", "--resume")
    assert done["resumed_from"] == 0 and done["sha256"] == stored["sha256"]


def test_a_part_of_another_file_is_not_resumed(cli: Cli, stored: dict[str, Any]) -> None:
    (cli.cwd / "other.bin.part").write_bytes(b"not this file")
    proc = cli.run("files", "download", stored["id"], "-o", "other.bin", "--resume", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "is not a part of" in proc.stderr
    assert json.loads(proc.stdout)["resumed_from"] == 0
    assert sha256_file(cli.cwd / "other.bin") == stored["sha256"]


# -- progress bars ------------------------------------------------------------------------------


def test_progress_bar_on_a_terminal_and_none_when_piped(cli: Cli) -> None:
    source = cli.cwd / "shown.bin"
    write_random(source, 3 * MIB)
    code, out, terminal = run_on_pty(
        cli, "files", "upload", str(source), "--purpose", "user_data", "--json"
    )
    assert code == 0, terminal
    made = json.loads(out)  # stdout holds the result only
    assert "upload shown.bin" in terminal and "3.0/3.0 MiB" in terminal
    assert "━" in terminal and "\x1b[" in terminal  # a drawn bar, with control codes

    code, _, terminal = run_on_pty(cli, "files", "download", made["id"], "-o", "back.bin")
    assert code == 0, terminal
    assert "download back.bin" in terminal and "3.0/3.0 MiB" in terminal

    piped = cli.run("files", "upload", str(source), "--purpose", "user_data", "--json")
    assert piped.returncode == 0 and piped.stderr == ""
    again = cli.run("files", "download", made["id"], "-o", "piped.bin")
    assert again.returncode == 0 and again.stderr == ""


# -- retries and routing, with a provider behind the gateway ------------------------------------


@pytest.fixture(scope="module")
def routed(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A gateway with deployments at the fake upstream (uploads forwarded to its
    Uploads API)."""
    base = tmp_path_factory.mktemp("cli-routed")
    srv = start_server(base, **config_kwargs(base / "filegate.yaml", fake))
    yield srv
    srv.stop()


def test_routing_options_choose_where_the_file_is_kept(
    routed: ServerProcess, fake: Fake, tmp_path: Path
) -> None:
    cli = Cli(routed, tmp_path / "cache", tmp_path)
    path = tmp_path / "routed.txt"
    path.write_bytes(b"kept at the provider")
    by_model = cli.json("files", "upload", str(path), "--purpose", "user_data", "--model", "openai")
    by_provider = cli.json(
        "files", "upload", str(path), "--purpose", "user_data", "--provider", "openai"
    )
    assert by_model["bytes"] == by_provider["bytes"] == 20
    assert len(fake.files(filename="routed.txt")) == 2
    assert cli.ok("files", "download", by_model["id"], "-o", "-").stdout == "kept at the provider"


def test_a_failed_part_is_sent_again(routed: ServerProcess, fake: Fake, tmp_path: Path) -> None:
    cli = Cli(routed, tmp_path / "cache", tmp_path)
    source = tmp_path / "retried.bin"
    expected = write_random(source, PART + MIB)
    # The deployment tries twice (max_retries 1); both fail, so the gateway answers 502
    # and the command sends the part again.
    fake.fault(op="upload_part", status=503, times=2)
    made = cli.json("files", "upload", str(source), "--purpose", "user_data", "--model", "openai")
    assert made["bytes"] == PART + MIB
    parts = fake.requests(op="upload_part")
    assert len(parts) >= 4, parts  # two refused, then both parts
    got = cli.json("files", "download", made["id"], "-o", "back.bin")
    assert got["sha256"] == expected
