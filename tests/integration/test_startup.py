"""Start-up: a bad setting stops the server with a message naming it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"FILEGATE_MAX_FILE_SIZE": "lots"}, "FILEGATE_MAX_FILE_SIZE"),
        ({"FILEGATE_SWEEP_INTERVAL": "-1"}, "FILEGATE_SWEEP_INTERVAL"),
        ({"FILEGATE_LOG_LEVEL": "loud"}, "FILEGATE_LOG_LEVEL"),
        ({"FILEGATE_DATABASE_URL": "mysql://db/files"}, "database_url"),
        ({"FILEGATE_STORAGE_URL": "ftp://bucket/files"}, "storage_url"),
        ({"FILEGATE_MAX_CONNECTIONS": "0"}, "FILEGATE_MAX_CONNECTIONS"),
        ({"FILEGATE_HEADER_TIMEOUT": "-1"}, "FILEGATE_HEADER_TIMEOUT"),
    ],
)
def test_bad_setting_stops_start_up(
    server_factory: Callable[..., Any], env: dict[str, str], named: str
) -> None:
    srv = server_factory(env=env, wait=False)
    assert srv.proc.wait(timeout=60) != 0
    assert named in srv.log()


def run_serve(tmp_path: Path, env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    """``filegate serve`` to its end, with stdout and stderr apart."""
    child = {k: v for k, v in os.environ.items() if not k.startswith("FILEGATE_")}
    child.update({"FILEGATE_DATA_DIR": str(tmp_path / "data"), "FILEGATE_LOG_LEVEL": "info"})
    child.update(env)
    cmd = [sys.executable, "-m", "filegate", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.run(cmd, env=child, capture_output=True, text=True, timeout=60)


def test_unreachable_postgresql_is_one_line_without_the_password(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    url = f"postgresql://filegate:hunter2-secret@127.0.0.1:{closed}/filegate"
    done = run_serve(tmp_path, {"FILEGATE_DATABASE_URL": url}, free_port())
    assert done.returncode != 0
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "FILEGATE_DATABASE_URL" in lines[0]
    assert f"127.0.0.1:{closed}" in lines[0]
    assert "refused" in lines[0].lower()  # the cause
    assert "hunter2-secret" not in done.stderr + done.stdout


def test_a_port_in_use_is_one_line_before_anything_says_started(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_serve(tmp_path, {}, port)
    assert done.returncode != 0
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0]
    everything = (done.stderr + done.stdout).lower()
    assert "started" not in everything and "startup complete" not in everything
