"""The fake OpenAI / Azure upstream as a process, and filegate servers pointed at it.

Shared by the ``test_provider*.py`` modules (imported as a plain module, like
``support``). The fake is ``tests/fakes/upstream.py``; its module docstring
describes the admin endpoints used here.
"""

from __future__ import annotations

import re
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
import psutil

from tests.conftest import ServerProcess, free_port, start_server, stop_process, wait_ready

UPSTREAM = Path(__file__).parents[1] / "fakes" / "upstream.py"
OPENAI_KEY = "sk-upstream"
AZURE_KEY = "azure-key"
AAD_TOKEN = "aad-token"
CLASSIC_VERSION = "2024-10-21"
FILEGATE_ID = re.compile(r"file-[0-9A-HJKMNP-TV-Z]{26}")
# The second OpenAI deployment sends this organization, so the fake's log tells
# the two OpenAI deployments apart.
ORG_B = "org-deployment-b"
# Provider variables that would otherwise leak into a server from the test's own
# environment; an empty value counts as "not set".
CLEAN_ENV = {
    "OPENAI_API_KEY": "",
    "OPENAI_BASE_URL": "",
    "OPENAI_API_BASE": "",
    "OPENAI_ORG_ID": "",
    "OPENAI_PROJECT_ID": "",
    "AZURE_API_KEY": "",
    "AZURE_AD_TOKEN": "",
    "AZURE_API_BASE": "",
    "AZURE_API_VERSION": "",
}


@dataclass
class Fake:
    """A running ``tests/fakes/upstream.py`` and its admin API."""

    url: str
    proc: subprocess.Popen[bytes]
    state_dir: Path
    log_path: Path

    def admin(self, method: str, action: str, body: Any = None) -> Any:
        r = httpx.request(method, f"{self.url}/__admin/{action}", json=body, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def reset(self) -> None:
        self.admin("POST", "reset")

    def fault(self, **spec: Any) -> None:
        self.admin("POST", "faults", spec)

    def config(self, **values: Any) -> None:
        self.admin("POST", "config", values)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.admin("GET", "requests")["requests"]
        return [e for e in entries if all(e.get(k) == v for k, v in filters.items())]

    def files(self, **filters: Any) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.admin("GET", "files")["data"]
        return [f for f in data if all(f.get(k) == v for k, v in filters.items())]

    def uploads(self) -> list[dict[str, Any]]:
        """The fake's own uploads (its Uploads API), in the admin view."""
        data: list[dict[str, Any]] = self.admin("GET", "uploads")["data"]
        return data

    def seed(self, **spec: Any) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.admin("POST", "seed", spec)["data"]
        return data

    def batches(self) -> list[dict[str, Any]]:
        """The fake's own batches (its Batch API), in the admin view."""
        data: list[dict[str, Any]] = self.admin("GET", "batches")["data"]
        return data

    def batch(self, batch_id: str, **drive: Any) -> dict[str, Any]:
        """One batch's admin view; with ``status``/``requests``/``errors``, move it on first."""
        view: dict[str, Any] = self.admin("POST" if drive else "GET", f"batches/{batch_id}", drive)
        return view

    def jobs(self) -> list[dict[str, Any]]:
        """The fake's own fine-tuning jobs, in the admin view."""
        data: list[dict[str, Any]] = self.admin("GET", "fine_tuning")["data"]
        return data

    def job(self, job_id: str, **drive: Any) -> dict[str, Any]:
        """One job's admin view; with ``status``/``steps``/``error``, move it on first."""
        view: dict[str, Any] = self.admin(
            "POST" if drive else "GET", f"fine_tuning/{job_id}", drive
        )
        return view

    def rss(self) -> int:
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def oai(self, **kwargs: Any) -> openai.OpenAI:
        """The official client straight at the fake's OpenAI surface."""
        return openai.OpenAI(
            base_url=f"{self.url}/v1",
            api_key=kwargs.pop("api_key", OPENAI_KEY),
            max_retries=0,
            **kwargs,
        )

    def azure(self, **kwargs: Any) -> openai.AzureOpenAI:
        """The official Azure client straight at the fake's classic Azure surface."""
        if "azure_ad_token" not in kwargs:
            kwargs.setdefault("api_key", AZURE_KEY)
        return openai.AzureOpenAI(
            azure_endpoint=self.url,
            api_version=kwargs.pop("api_version", CLASSIC_VERSION),
            max_retries=0,
            **kwargs,
        )

    def azure_v1(self, **kwargs: Any) -> openai.OpenAI:
        """The official client at the fake's Azure v1 surface (``/openai/v1``)."""
        return openai.OpenAI(
            base_url=f"{self.url}/openai/v1",
            api_key=kwargs.pop("api_key", AZURE_KEY),
            max_retries=0,
            **kwargs,
        )

    def stop(self) -> None:
        stop_process(self.proc)


@contextmanager
def running_fake(base: Path) -> Iterator[Fake]:
    """Start the fake upstream on a free port; stop it (by its own pid) afterwards."""
    port = free_port()
    log_path = base / "upstream.log"
    cmd = [sys.executable, str(UPSTREAM), "--port", str(port), "--state-dir", str(base / "state")]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    fake = Fake(f"http://127.0.0.1:{port}", proc, base / "state", log_path)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"fake upstream exited:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{fake.url}/__admin/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"fake upstream did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield fake
    finally:
        fake.stop()


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def deployments_yaml(fake: Fake, *, default_target: str | None = None) -> str:
    """Named deployments, all at the fake: two OpenAI, Azure classic, Azure v1, a slow one.

    ``openai`` and ``azure`` are the providers' own deployments (named after them).
    """
    lines = [
        "deployments:",
        "  - name: openai",
        "    provider: openai",
        f"    api_base: {fake.url}/v1",
        "    api_key: os.environ/FAKE_OPENAI_KEY",
        "    timeout: 30",
        "    max_retries: 1",
        "  - name: openai-b",
        "    provider: openai",
        f"    api_base: {fake.url}/v1",
        f"    api_key: {OPENAI_KEY}",
        f"    organization: {ORG_B}",
        "    timeout: 30",
        "    max_retries: 1",
        "  - name: azure",
        "    provider: azure",
        f"    api_base: {fake.url}",
        "    api_key: os.environ/FAKE_AZURE_KEY",
        f"    api_version: '{CLASSIC_VERSION}'",
        "    timeout: 30",
        "    max_retries: 1",
        # A create waits this long for Azure to process the file (default 5 s): the
        # fake's files are processed after two retrieves, well within it, and a
        # test whose file never gets there waits no longer than this.
        "    processing_wait: 1",
        "  - name: azure-v1",
        "    provider: azure",
        f"    api_base: {fake.url}/openai/v1",
        f"    api_key: {AZURE_KEY}",
        "    api_version: v1",
        "    timeout: 30",
        "    max_retries: 1",
        "    processing_wait: 1",
        # A deployment with a short timeout and no retries, for the 504 cases.
        "  - name: openai-slow",
        "    provider: openai",
        f"    api_base: {fake.url}/v1",
        f"    api_key: {OPENAI_KEY}",
        "    timeout: 1",
        "    max_retries: 0",
    ]
    if default_target:
        lines.append(f"default_target: {default_target}")
    return "\n".join(lines) + "\n"


CONFIG_ENV = {**CLEAN_ENV, "FAKE_OPENAI_KEY": OPENAI_KEY, "FAKE_AZURE_KEY": AZURE_KEY}


def config_kwargs(path: Path, fake: Fake, *, default_target: str | None = None) -> dict[str, Any]:
    """``start_server`` arguments for a server with the named deployments (config at ``path``)."""
    write_config(path, deployments_yaml(fake, default_target=default_target))
    return {"env": dict(CONFIG_ENV), "args": ["--config", str(path)]}


def start_servers(base: Path, specs: dict[str, dict[str, Any]]) -> dict[str, ServerProcess]:
    """Start several servers at once (start-up is mostly imports) and wait for all."""
    started: dict[str, ServerProcess] = {}
    try:
        for name, kwargs in specs.items():
            folder = base / name
            folder.mkdir(parents=True, exist_ok=True)
            started[name] = start_server(folder, wait=False, **kwargs)
        for srv in started.values():
            wait_ready(srv, timeout=60)
    except BaseException:
        stop_servers(started)
        raise
    return started


def stop_servers(servers: dict[str, ServerProcess]) -> None:
    for srv in servers.values():
        srv.stop()


def openai_env(fake: Fake) -> dict[str, str]:
    return {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": f"{fake.url}/v1"}


def azure_env(fake: Fake, version: str = CLASSIC_VERSION) -> dict[str, str]:
    return {
        "AZURE_API_KEY": AZURE_KEY,
        "AZURE_API_BASE": fake.url,
        "AZURE_API_VERSION": version,
    }


def sdk(server: ServerProcess, *, base: str = "/v1", **kwargs: Any) -> openai.OpenAI:
    """The official client pointed at ``server`` (optionally under a provider prefix)."""
    return openai.OpenAI(
        base_url=f"{server.base_url}{base}",
        api_key=server.master_key or "unused",
        max_retries=0,
        timeout=120,
        **kwargs,
    )


def client(server: ServerProcess, timeout: float = 120) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers=server.headers, timeout=timeout)


def spool_files(server: ServerProcess) -> list[Path]:
    """Files under ``<data_dir>/spool`` (bytes waiting for a provider)."""
    root = server.data_dir / "spool"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def upstream_creates(fake: Fake, **filters: Any) -> list[dict[str, Any]]:
    return fake.requests(op="create", **filters)


def post_file(
    c: httpx.Client,
    data: bytes = b"hello provider\n",
    *,
    path: str = "/v1/files",
    purpose: str = "assistants",
    filename: str = "notes.txt",
    content_type: str = "text/plain",
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> httpx.Response:
    """A create with httpx's multipart encoder (form fields before the file)."""
    return c.post(
        path,
        params=params,
        headers=headers,
        data={"purpose": purpose, **fields},
        files={"file": (filename, data, content_type)},
    )


def reset_all(fake: Fake, servers: dict[str, ServerProcess]) -> None:
    """Every gateway's files deleted, and the fake upstream forgetting everything."""
    for srv in servers.values():
        with client(srv) as c:
            wipe(c)
    fake.reset()


def wipe(c: httpx.Client) -> None:
    """Delete every file the gateway lists (its copies upstream go too, where still there)."""
    for _ in range(20):
        r = c.get("/v1/files", params={"limit": 10000})
        assert r.status_code == 200, r.text
        ids = [f["id"] for f in r.json()["data"]]
        if not ids:
            return
        for file_id in ids:
            c.delete(f"/v1/files/{file_id}")
    raise AssertionError("the gateway's files could not be deleted")
