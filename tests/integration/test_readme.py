"""The README's first steps, run as a new user would: its first command, then its SDK example.

The first command starts a gateway (here on a free port, bound to loopback, in a fresh
folder); the first SDK example runs as written, in a clean environment with no
provider's key, against that gateway.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import filegate
from filegate.errors import UpstreamError
from tests.conftest import ServerProcess, free_port, stop_process, wait_ready

README = Path(__file__).resolve().parents[2] / "README.md"
LINE = (
    b'{"messages": [{"role": "user", "content": "hi"}, '
    b'{"role": "assistant", "content": "hello"}]}\n'
)


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _clean_env() -> dict[str, str]:
    """A new user's environment: no provider's credentials, no filegate settings."""
    drop = ("OPENAI_", "AZURE_", "FILEGATE_", "VERTEXAI_", "GOOGLE_", "GCS_", "AWS_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def first_gateway(
    readme: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, Path]]:
    """What the set-up's first command starts: ``FILEGATE_MASTER_KEY=... filegate``."""
    command = _blocks(_section(readme, "## Set-up: two commands"), "bash")[0].strip()
    m = re.fullmatch(r"python -m pip install \. && ((?:[A-Z_]+=\S+ )*)filegate", command)
    assert m, command
    env = _clean_env()
    env.update(a.split("=", 1) for a in m.group(1).split())
    # Only the port (4000 may be taken here) and the bind address (tests stay on
    # loopback) differ from the README's command.
    port = free_port()
    env.update({"FILEGATE_PORT": str(port), "FILEGATE_HOST": "127.0.0.1"})
    cwd = tmp_path_factory.mktemp("new-user")
    log_path = cwd / "filegate.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "filegate"], cwd=cwd, env=env, stdout=log, stderr=log
        )
    server = ServerProcess(
        f"http://127.0.0.1:{port}", port, cwd / "filegate-data", proc, log_path,
        env.get("FILEGATE_MASTER_KEY"), env,
    )  # fmt: skip
    wait_ready(server)
    yield server, cwd
    stop_process(proc)


def test_the_first_sdk_example_runs_against_the_first_command(
    readme: str, first_gateway: tuple[ServerProcess, Path]
) -> None:
    server, cwd = first_gateway
    example = _blocks(_section(readme, "## The SDK"), "python")[0]
    assert 'custom_llm_provider": "filegate"' in example
    code = example.replace("http://localhost:4000", server.base_url)
    assert code != example, "the example names the gateway's address"
    (cwd / "mydata.jsonl").write_bytes(LINE * 3)
    done = subprocess.run(
        [sys.executable, "-c", code + "\nprint('data', len(data))\n"],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    size = len(LINE) * 3
    assert re.fullmatch(rf"file-[0-9A-Z]{{26}} mydata\.jsonl {size}", lines[0]), lines
    assert lines[1:] == ["processed", f"data {size}"], lines


def test_the_environment_is_enough(
    first_gateway: tuple[ServerProcess, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """FILEGATE_API_BASE and FILEGATE_API_KEY, as the README says, stand for the arguments."""
    server, _ = first_gateway
    monkeypatch.setenv("FILEGATE_API_BASE", server.api_url)
    monkeypatch.setenv("FILEGATE_API_KEY", server.master_key or "")
    made = filegate.create_file(("env.txt", b"from the environment"), "user_data",
                                custom_llm_provider="filegate")  # fmt: skip
    assert filegate.retrieve_file(made.id, custom_llm_provider="filegate").id == made.id
    monkeypatch.setenv("FILEGATE_API_KEY", "sk-wrong")
    with pytest.raises(filegate.AuthError):
        filegate.list_files(custom_llm_provider="filegate")


def test_a_gateway_that_cannot_be_reached_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    base = f"http://127.0.0.1:{closed}/v1"
    for call in (
        lambda: filegate.list_files(custom_llm_provider="filegate", api_base=base),
        lambda: filegate.file_content("file-x", custom_llm_provider="filegate", api_base=base),
    ):
        with pytest.raises(UpstreamError) as info:
            call()
        assert info.value.code == "upstream_unreachable"
        assert f"{base}/files" in str(info.value), str(info.value)
