"""Fixtures shared by every test: a real filegate server process on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

MASTER_KEY = "sk-test-master-1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate a child process (if it still runs); kill it after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class RssSampler:
    """Samples a process's resident set size in a thread; ``peak`` is the largest seen.

    ``peak`` starts at the RSS when the sampler is made, so it is also a baseline.
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self._proc = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak = self._proc.memory_info().rss
        self.samples = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self.samples += 1
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class ServerProcess:
    """A `filegate serve` child process; stopped by the fixture that made it."""

    base_url: str
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    master_key: str | None
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.master_key}"} if self.master_key else {}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc, timeout=15)


def start_server(
    tmp_path: Path,
    *,
    master_key: str | None = MASTER_KEY,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    wait: bool = True,
    host: str | None = "127.0.0.1",
) -> ServerProcess:
    """``filegate serve`` on a free port; ``host=None`` leaves the bind address to the
    server (loopback only without a master key; never used with one)."""
    port = free_port()
    data_dir = tmp_path / f"data-{port}"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("FILEGATE_")}
    child_env.update({"FILEGATE_DATA_DIR": str(data_dir), "FILEGATE_LOG_LEVEL": "info"})
    if master_key is not None:
        child_env["FILEGATE_MASTER_KEY"] = master_key
    child_env.update(env or {})
    log_path = tmp_path / f"server-{port}.log"
    # Tests bind loopback only (with a master key the server would bind every interface).
    if host is None and master_key is not None:
        raise ValueError("a server with a master key must be given a loopback host")
    bind = ["--host", host] if host else []
    cmd = [sys.executable, "-m", "filegate", "serve", "--port", str(port), *bind, *(args or [])]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=child_env, stdout=log, stderr=subprocess.STDOUT)
    server = ServerProcess(
        f"http://127.0.0.1:{port}", port, data_dir, proc, log_path, master_key, child_env, cmd
    )
    if wait:
        wait_ready(server)
    return server


def _owns_port(server: ServerProcess) -> bool:
    """Whether the server's own process listens on its port (not another test's server)."""
    try:
        conns = psutil.Process(server.proc.pid).net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == server.port for c in conns)


def _rebind(server: ServerProcess) -> None:
    """Start the server again on a new free port (another process took the first one)."""
    port = free_port()
    cmd = list(server.cmd)
    cmd[cmd.index("--port") + 1] = str(port)
    with open(server.log_path, "ab") as log:
        server.proc = subprocess.Popen(cmd, env=server.env, stdout=log, stderr=subprocess.STDOUT)
    server.cmd, server.port, server.base_url = cmd, port, f"http://127.0.0.1:{port}"


def wait_ready(server: ServerProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    rebinds = 0
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            # free_port() only finds a port that is free now: a server started by
            # another test (or xdist worker) may bind it first. Try another one.
            if "Address already in use" in server.log() and server.cmd and rebinds < 5:
                rebinds += 1
                _rebind(server)
                continue
            raise RuntimeError(f"filegate exited with {server.proc.returncode}:\n{server.log()}")
        try:
            ready = httpx.get(f"{server.base_url}/health/readiness", timeout=1).status_code == 200
        except httpx.HTTPError:
            ready = False
        # A 200 from someone else's server on "our" port is not our server being ready.
        if ready and _owns_port(server):
            return
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"filegate did not become ready:\n{server.log()}")


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with custom settings; all are stopped when the test ends."""
    started: list[ServerProcess] = []

    def factory(**kwargs: object) -> ServerProcess:
        server = start_server(tmp_path, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with the master key, shared by a test module."""
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    srv.stop()


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as client:
        yield client
