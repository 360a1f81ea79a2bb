"""Running the real ``filegate`` client command against a test server."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_UNSET: Any = object()


@dataclass
class Cli:
    """The ``filegate`` command, pointed at ``server`` with ``api_key``, its cache in
    ``cache`` (XDG_CACHE_HOME) and run in ``cwd``."""

    server: Any
    cache: Path
    cwd: Path
    api_key: str | None = None

    def env(self, api_key: str | None = _UNSET, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FILEGATE_", "OPENAI_"))}
        env["FILEGATE_API_BASE"] = self.server.api_url
        key = self.api_key if api_key is _UNSET else api_key
        if key is None and api_key is _UNSET:
            key = self.server.master_key
        if key:
            env["FILEGATE_API_KEY"] = key
        env["XDG_CACHE_HOME"] = str(self.cache)
        env.update(extra)
        return env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "filegate", *args]

    def run(
        self, *args: str, api_key: str | None = _UNSET, timeout: float = 300, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            env=self.env(api_key, **extra),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        proc = self.run(*args, **kwargs)
        assert proc.returncode == 0, f"{args}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def json(self, *args: str, **kwargs: Any) -> Any:
        """A command's --json output: one document."""
        return json.loads(self.ok(*args, "--json", **kwargs).stdout)

    def lines(self, *args: str, **kwargs: Any) -> list[Any]:
        """A listing's --json output: one document per line."""
        out = self.ok(*args, "--json", **kwargs).stdout
        return [json.loads(line) for line in out.splitlines()]


def error_of(proc: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command."""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def run_on_pty(cli: Cli, *args: str) -> tuple[int, bytes, str]:
    """Run with stderr on a pseudo-terminal (stdout piped): exit code, stdout, terminal text."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        cli.argv(*args),
        env=cli.env(TERM="xterm-256color", COLUMNS="120"),
        cwd=cli.cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    seen = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.stdout is not None
    out = proc.stdout.read()
    return proc.wait(timeout=30), out, seen.decode("utf-8", "replace")
