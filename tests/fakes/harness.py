"""Start the fake Vertex AI and the fake model server as processes, and talk to their admin APIs.

``running_fake_gcs`` is ``tests.integration.gcs_support``'s fake-gcs-server::

    with running_fake_gcs(tmp / "gcs.log") as gcs, running_fake_vertex(tmp, gcs.url) as vertex:
        vertex.config(auto_advance=False)
        ...  # point the gateway at vertex.url (its Vertex API base), token VERTEX_TOKEN

    with running_model_server(tmp, "--latency", "0.01") as llm:
        client = llm.oai()  # the openai SDK at llm.url + "/v1"
        llm.stats()["max_in_flight"]

Each process binds 127.0.0.1 on a free port and is stopped (by its own pid) on exit.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

from tests.conftest import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
VERTEX_TOKEN = "vertex-token"
VERTEX_PROJECT = "test-project"
VERTEX_PROJECT_NUMBER = "123456789012"
LOCATION = "us-central1"


@dataclass
class FakeProcess:
    """A running fake: its base URL, process and log, and its ``/__admin`` API."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def admin(self, method: str, action: str, body: Any = None, **params: Any) -> Any:
        r = httpx.request(
            method, f"{self.url}/__admin/{action}", json=body, params=params, timeout=60
        )
        assert r.status_code == 200, r.text
        return r.json()

    def reset(self) -> None:
        self.admin("POST", "reset")

    def config(self, **values: Any) -> dict[str, Any]:
        config: dict[str, Any] = self.admin("POST", "config", values)["config"]
        return config

    def fault(self, **spec: Any) -> dict[str, Any]:
        added: dict[str, Any] = self.admin("POST", "faults", spec)["faults"][0]
        return added

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.admin("GET", "requests")["requests"]
        return [e for e in entries if all(e.get(k) == v for k, v in filters.items())]

    def stop(self) -> None:
        stop_process(self.proc)


class FakeVertexProcess(FakeProcess):
    def api(self, path: str) -> str:
        """The URL of ``projects/{project}/locations/{location}/{path}`` under ``/v1``."""
        return f"{self.url}/v1/projects/{VERTEX_PROJECT}/locations/{LOCATION}/{path}"

    def http(self, token: str | None = VERTEX_TOKEN) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(headers=headers, timeout=60)

    def jobs(self, kind: str | None = None) -> list[dict[str, Any]]:
        params = {"kind": kind} if kind else {}
        jobs: list[dict[str, Any]] = self.admin("GET", "jobs", **params)["jobs"]
        return jobs

    def advance(self, name: str) -> dict[str, Any]:
        job: dict[str, Any] = self.admin("POST", "advance", {"name": name})["job"]
        return job

    def force(self, name: str, state: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "state": state}
        if error is not None:
            body["error"] = error
        job: dict[str, Any] = self.admin("POST", "state", body)["job"]
        return job

    def wait_state(self, name: str, states: set[str], timeout: float = 30) -> dict[str, Any]:
        """Poll the admin view until the job is in one of ``states``."""
        job_id = name.rsplit("/", 1)[-1]
        deadline = time.monotonic() + timeout
        while True:
            job = next(j for j in self.jobs() if j["name"].endswith(f"/{job_id}"))
            if job["state"] in states:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} stayed {job['state']}, wanted {states}")
            time.sleep(0.02)


class FakeModelServerProcess(FakeProcess):
    def oai(self, api_key: str = "unused", **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{self.url}/v1",
            api_key=api_key,
            max_retries=kwargs.pop("max_retries", 0),
            **kwargs,
        )

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.admin("GET", "stats")
        return stats

    def bodies(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.admin("GET", "bodies")["data"]
        return data


def _start(cmd: list[str], url: str, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[2]} exited:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/__admin/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"{cmd[2]} did not start:\n{log_path.read_text()}")
        time.sleep(0.05)


@contextmanager
def running_fake_vertex(workdir: Path, gcs_url: str, *args: str) -> Iterator[FakeVertexProcess]:
    port = free_port()
    cmd = [sys.executable, "-m", "tests.fakes.vertex_ai", "--port", str(port)]
    cmd += ["--gcs-endpoint", gcs_url, "--state-dir", str(workdir / "vertex-state"), *args]
    url = f"http://127.0.0.1:{port}"
    fake = FakeVertexProcess(
        url, _start(cmd, url, workdir / "fake-vertex.log"), workdir / "fake-vertex.log"
    )
    try:
        yield fake
    finally:
        fake.stop()


@contextmanager
def running_model_server(workdir: Path, *args: str) -> Iterator[FakeModelServerProcess]:
    port = free_port()
    cmd = [sys.executable, "-m", "tests.fakes.model_server", "--port", str(port), *args]
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / f"model-server-{port}.log"
    fake = FakeModelServerProcess(url, _start(cmd, url, log_path), log_path)
    try:
        yield fake
    finally:
        fake.stop()
