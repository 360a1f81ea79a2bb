"""A 256 MB file streamed through filegate to a provider and back, in constant server memory.

The client's body is a generator (the bytes never sit in the test's memory); the
gateway spools them to disk and streams them on to the fake upstream with an exact
Content-Length. The fake's admin view and a download through the gateway both
check the SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from support import Part, seeded_chunks, streamed_upload
from upstream_support import (
    CLEAN_ENV,
    Fake,
    client,
    openai_env,
    spool_files,
    start_servers,
    stop_servers,
)

from tests.conftest import RssSampler, ServerProcess

MB = 1024 * 1024
SIZE = 256 * MB
CHUNK = MB
MAX_GROWTH = 50 * MB


@pytest.fixture(scope="module")
def srv(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("streaming")
    started = start_servers(base, {"oa": {"env": {**CLEAN_ENV, **openai_env(fake)}}})
    yield started["oa"]
    stop_servers(started)


def test_256mb_through_the_gateway_to_a_provider_in_constant_memory(
    fake: Fake, srv: ServerProcess
) -> None:
    fake.reset()
    with client(srv, timeout=300) as c:
        # Warm every code path once, so the baseline includes imports and pools.
        warm = c.post(
            "/v1/files", data={"purpose": "user_data"}, files={"file": ("w.bin", b"w" * MB)}
        ).json()
        assert c.get(f"/v1/files/{warm['id']}/content").content == b"w" * MB
        assert c.delete(f"/v1/files/{warm['id']}").status_code == 200
        fake.reset()
        baseline = RssSampler(srv.proc.pid).peak

        sent = hashlib.sha256()
        body, headers = streamed_upload(
            [Part("purpose", "user_data")],
            Part("file", filename="big.bin", content_type="application/octet-stream"),
            seeded_chunks(20261125, SIZE, sent, CHUNK),
            SIZE,
        )
        with RssSampler(srv.proc.pid) as up:
            r = c.post("/v1/files", content=body, headers=headers)
        assert r.status_code == 200, r.text
        obj = r.json()
        assert obj["bytes"] == SIZE
        want = sent.hexdigest()

        (upload,) = fake.requests(op="create")
        assert upload["transfer_encoding"] is None
        assert upload["content_length"] == upload["body_bytes"] > SIZE
        (stored,) = fake.files()
        assert stored["bytes"] == SIZE and stored["sha256"] == want
        assert spool_files(srv) == []

        received = hashlib.sha256()
        size = 0
        with (
            RssSampler(srv.proc.pid) as down,
            c.stream("GET", f"/v1/files/{obj['id']}/content") as stream,
        ):
            assert stream.status_code == 200
            assert stream.headers["content-length"] == str(SIZE)
            for chunk in stream.iter_raw():
                received.update(chunk)
                size += len(chunk)
        assert size == SIZE and received.hexdigest() == want

        assert up.samples >= 3 and down.samples >= 3  # sampled while the bytes moved
        assert up.peak - baseline < MAX_GROWTH, (
            f"upload grew the server's RSS by {(up.peak - baseline) / MB:.1f} MB"
        )
        assert down.peak - baseline < MAX_GROWTH, (
            f"download grew the server's RSS by {(down.peak - baseline) / MB:.1f} MB"
        )
        assert c.delete(f"/v1/files/{obj['id']}").json()["deleted"] is True
        assert fake.files() == []
