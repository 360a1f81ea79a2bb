"""Uploads relayed to a provider while they arrive, and every way back to safety.

The relay predicts the file's size from the client's Content-Length; these
tests send bodies where the prediction holds and where it does not, fail the
upstream mid-relay, and reject a file on its very last line.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from upstream_support import Fake, openai_env, spool_files

from tests.conftest import ServerProcess, start_server

DATA = b"".join(b"line %06d of a relayed file\n" % i for i in range(40_000))


@pytest.fixture(scope="module")
def gateway(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path_factory.mktemp("relay-gw"), env=openai_env(fake))
    yield srv
    srv.stop()


@pytest.fixture
def c(gateway: ServerProcess, fake: Fake) -> Iterator[httpx.Client]:
    fake.reset()
    with httpx.Client(base_url=gateway.base_url, headers=gateway.headers, timeout=120) as client:
        yield client


def body(*parts: tuple[str, bytes, str | None]) -> tuple[bytes, str]:
    """A multipart body with parts in exactly this order."""
    boundary = uuid.uuid4().hex
    out = b""
    for name, value, filename in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(c: httpx.Client, *parts: tuple[str, bytes, str | None]) -> httpx.Response:
    raw, ctype = body(*parts)
    return c.post("/v1/files", content=raw, headers={"Content-Type": ctype})


def only_upstream_file(fake: Fake) -> dict[str, object]:
    files = fake.files()
    assert len(files) == 1, files
    return files[0]


def test_file_last_is_relayed_with_the_exact_length(c: httpx.Client, fake: Fake) -> None:
    r = upload(c, ("purpose", b"user_data", None), ("file", DATA, "a.txt"))
    assert r.status_code == 200, r.text
    [create] = fake.requests(op="create")
    assert create["content_length"] == create["body_bytes"]
    assert create["transfer_encoding"] is None
    assert only_upstream_file(fake)["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert c.get(f"/v1/files/{r.json()['id']}/content").content == DATA


def test_a_part_after_the_file_falls_back_to_the_spool(
    c: httpx.Client, fake: Fake, gateway: ServerProcess
) -> None:
    r = upload(
        c,
        ("purpose", b"user_data", None),
        ("file", DATA, "b.txt"),
        ("litellm_metadata[tag]", b"after the file", None),
    )
    assert r.status_code == 200, r.text
    # The relayed attempt had the wrong length and never became a file.
    assert only_upstream_file(fake)["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert c.get(f"/v1/files/{r.json()['id']}/content").content == DATA
    assert spool_files(gateway) == []


def test_a_choice_of_the_embedded_store_after_the_file_moves_it_there(
    c: httpx.Client, fake: Fake, gateway: ServerProcess
) -> None:
    """The bytes waited in the spool, bound for OpenAI (the default); the late
    routing field sends them to filegate's own store, which hashes them."""
    r = upload(
        c,
        ("purpose", b"user_data", None),
        ("file", DATA, "late.txt"),
        ("custom_llm_provider", b"filegate", None),
    )
    assert r.status_code == 200, r.text
    assert fake.files() == []
    got = c.get(f"/v1/files/{r.json()['id']}/content")
    assert got.content == DATA
    assert got.headers["etag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
    assert spool_files(gateway) == []


def test_expiry_sent_after_the_file_is_honoured(c: httpx.Client, fake: Fake) -> None:
    r = upload(
        c,
        ("purpose", b"user_data", None),
        ("file", DATA, "c.txt"),
        ("expires_after[anchor]", b"created_at", None),
        ("expires_after[seconds]", b"7200", None),
    )
    assert r.status_code == 200, r.text
    assert r.json()["expires_at"] == r.json()["created_at"] + 7200
    upstream = only_upstream_file(fake)
    assert upstream["expires_at"] is not None


def test_a_bad_last_line_never_reaches_upstream(
    c: httpx.Client, fake: Fake, gateway: ServerProcess
) -> None:
    good = b'{"messages": [{"role": "user", "content": "hi"}]}\n' * 5000
    before = c.get("/v1/files").json()["data"]
    r = upload(c, ("purpose", b"fine-tune", None), ("file", good + b"[1, 2]", "ft.jsonl"))
    assert r.status_code == 400, r.text
    assert "line 5001" in r.json()["error"]["message"]
    assert fake.files() == []
    assert c.get("/v1/files").json()["data"] == before
    assert spool_files(gateway) == []


@pytest.mark.parametrize(
    "fault",
    [{"status": 500}, {"after_bytes": 200_000, "drop": True}],
    ids=["5xx", "dropped"],
)
def test_a_failed_relay_is_retried_from_the_spool(
    c: httpx.Client, fake: Fake, fault: dict[str, object]
) -> None:
    fake.fault(op="create", surface="openai", times=1, **fault)
    r = upload(c, ("purpose", b"user_data", None), ("file", DATA, "d.txt"))
    assert r.status_code == 200, r.text
    assert len(fake.requests(op="create")) == 2
    assert only_upstream_file(fake)["sha256"] == hashlib.sha256(DATA).hexdigest()


def test_upstream_receives_bytes_before_the_client_has_finished(
    c: httpx.Client, fake: Fake
) -> None:
    """Cut-through, observed: the client holds back its last bytes until the
    upstream has been seen receiving the first ones."""
    raw, ctype = body(("purpose", b"user_data", None), ("file", DATA, "e.txt"))
    half = len(raw) // 2
    seen_upstream = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield raw[:half]
        seen_upstream.wait(timeout=30)
        yield raw[half:]

    result: dict[str, httpx.Response] = {}
    sender = threading.Thread(
        target=lambda: result.setdefault(
            "r",
            c.post(
                "/v1/files",
                content=slow_body(),
                headers={"Content-Type": ctype, "Content-Length": str(len(raw))},
            ),
        )
    )
    sender.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        creates = fake.requests(op="create")
        if creates and creates[0]["body_bytes"] > 0:
            seen_upstream.set()
            break
        time.sleep(0.05)
    sender.join(timeout=60)
    assert seen_upstream.is_set(), "the upstream got nothing until the client finished"
    assert result["r"].status_code == 200, result["r"].text
    assert only_upstream_file(fake)["sha256"] == hashlib.sha256(DATA).hexdigest()
