"""The OpenAI provider against Prism serving OpenAI's own spec.

Prism validates every request filegate sends upstream against the spec and
answers with the spec's examples; a request that breaks the spec gets a 422,
which filegate would pass on as a 400. CI installs Prism (see .ci/run); where it
is missing these tests are skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import ServerProcess, free_port, start_server

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "specs" / "openai-openapi.yaml"
UPSTREAM_KEY = "sk-prism"


def prism_binary() -> str | None:
    for candidate in (
        os.environ.get("PRISM_BIN"),
        ROOT / ".ci/node/node_modules/.bin/prism",
        shutil.which("prism"),
    ):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    binary = prism_binary()
    if binary is None:
        pytest.skip("Prism is not installed (npm i @stoplight/prism-cli; .ci/run does it)")
    if not SPEC.exists():
        pytest.skip(f"OpenAI's spec is not at {SPEC}")
    port = free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # parsing the 3 MB spec takes a while
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"prism exited:\n{log.read_text()}")
            try:
                httpx.get(
                    f"{url}/files", headers={"Authorization": f"Bearer {UPSTREAM_KEY}"}, timeout=1
                )
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"prism did not start:\n{log.read_text()}")
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def gateway(
    prism: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    url, _ = prism
    srv = start_server(
        tmp_path_factory.mktemp("gw"), env={"OPENAI_API_KEY": UPSTREAM_KEY, "OPENAI_BASE_URL": url}
    )
    yield srv
    srv.stop()


def violations(log: Path) -> list[str]:
    # Prism logs each request that breaks the spec with a cross and the rule.
    return [
        line
        for line in log.read_text(errors="replace").splitlines()
        if "✖" in line or "Violation" in line
    ]


def test_every_operation_passes_the_spec(
    gateway: ServerProcess, prism: tuple[str, Path], tmp_path: Path
) -> None:
    _, log = prism
    client = openai.OpenAI(base_url=gateway.api_url, api_key=gateway.master_key, max_retries=0)
    path = tmp_path / "train.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')

    created = client.files.create(file=path, purpose="fine-tune")
    assert created.id.startswith("file-") and created.filename == "train.jsonl"
    expiring = client.files.create(
        file=("b.jsonl", path.read_bytes(), "application/jsonl"),
        purpose="user_data",
        expires_after={"anchor": "created_at", "seconds": 7200},
    )
    assert expiring.expires_at == expiring.created_at + 7200

    listed = [f.id for f in client.files.list()]
    assert created.id in listed and expiring.id in listed
    assert client.files.retrieve(created.id).id == created.id
    assert client.files.content(created.id).read()  # Prism's example body
    raw = client.files.list(extra_query={"passthrough": "true", "limit": 5, "order": "asc"})
    assert raw.data and raw.has_more is False
    assert client.files.delete(created.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)
    assert violations(log) == []
