"""The Uploads API across gateway processes sharing one data dir, the sweep, provider targets.

Three ``filegate serve`` processes share ``FILEGATE_DATA_DIR`` (one SQLite catalog,
one local blob store) and sweep every 0.2 s; any of them takes any part.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import assert_error, catalog_execute, wait_until
from uploads_support import (
    add_part,
    blob_names,
    blob_path,
    check_upload,
    complete,
    completed,
    create,
    md5,
    part_rows,
    post_part,
    upload_row,
)
from upstream_support import (
    CLEAN_ENV,
    FILEGATE_ID,
    Fake,
    config_kwargs,
    sdk,
    spool_files,
)

from tests.conftest import ServerProcess, start_server, wait_ready

SWEEP_INTERVAL = "0.2"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[ServerProcess]]]:
    """Three gateways on one data dir: the first migrates the catalog, then two more join."""
    base = tmp_path_factory.mktemp("shared")
    data_dir = base / "data"
    env = {"FILEGATE_DATA_DIR": str(data_dir), "FILEGATE_SWEEP_INTERVAL": SWEEP_INTERVAL}
    servers = [start_server(base, env=env)]
    try:
        servers += [start_server(base, env=env, wait=False) for _ in range(2)]
        for srv in servers[1:]:
            wait_ready(srv)
        yield data_dir, servers
    finally:
        for srv in servers:
            srv.stop()


def clients(servers: list[ServerProcess]) -> list[httpx.Client]:
    return [httpx.Client(base_url=s.base_url, headers=s.headers, timeout=60) for s in servers]


def test_parts_to_different_processes(shared: tuple[Path, list[ServerProcess]]) -> None:
    data_dir, servers = shared
    assert len({s.proc.pid for s in servers}) == 3
    rng = random.Random(11)
    chunks = [os.urandom(rng.randrange(1, 400_000)) for _ in range(15)]
    data = b"".join(chunks)
    a, b, c = cs = clients(servers)
    try:
        upload = create(a, len(data), filename="spread.bin")
        uid = upload["id"]
        # Each part to the next process round-robin, all at once, in a shuffled order.
        order = list(range(len(chunks)))
        rng.shuffle(order)
        jobs = list(zip(order, itertools.cycle(servers), strict=False))

        def send(job: tuple[int, ServerProcess]) -> tuple[int, str]:
            i, srv = job
            with httpx.Client(base_url=srv.base_url, headers=srv.headers, timeout=60) as one:
                return i, add_part(one, uid, chunks[i])

        with ThreadPoolExecutor(max_workers=6) as pool:
            ids = dict(pool.map(send, jobs))
        assert part_rows(data_dir, uid) == sorted(ids.values())
        ordered = [ids[i] for i in range(len(chunks))]
        # Completed through a third process, which took only some of the parts.
        done = completed(c, uid, ordered, md5(data))
        assert done["file"]["bytes"] == len(data)
        file_id = done["file"]["id"]
        for one in cs:
            assert one.get(f"/v1/files/{file_id}/content").content == data
            assert one.get(f"/v1/files/{file_id}").json() == done["file"]
        # Every process sees it completed now.
        assert_error(post_part(a, uid, b"late"), 400, code="upload_completed")
        assert_error(b.post(f"/v1/uploads/{uid}/cancel"), 400, code="upload_completed")
        assert_error(complete(a, uid, ordered), 400, code="upload_completed")
        assert not any(blob_path(data_dir, p).exists() for p in ordered)

        # Cancel in one process; the others refuse parts afterwards.
        other = create(b, 6)
        parts = [add_part(a, other["id"], b"abc"), add_part(c, other["id"], b"def")]
        r = a.post(f"/v1/uploads/{other['id']}/cancel")
        assert r.status_code == 200
        check_upload(r.json(), "cancelled")
        assert not any(blob_path(data_dir, p).exists() for p in parts)
        assert_error(post_part(c, other["id"], b"ghi"), 400, code="upload_cancelled")
        assert_error(complete(b, other["id"], parts), 400, code="upload_cancelled")
    finally:
        for one in cs:
            one.close()


def test_completes_at_once_in_two_processes(shared: tuple[Path, list[ServerProcess]]) -> None:
    data_dir, servers = shared
    data = os.urandom(6 * 1024 * 1024)
    with httpx.Client(base_url=servers[0].base_url, headers=servers[0].headers) as a:
        upload = create(a, len(data))
        part = add_part(a, upload["id"], data)

    def finish(srv: ServerProcess) -> httpx.Response:
        with httpx.Client(base_url=srv.base_url, headers=srv.headers, timeout=60) as one:
            return complete(one, upload["id"], [part])

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(finish, servers[1:]))
    assert sorted(r.status_code for r in results) == [200, 400], [r.text for r in results]
    ok = next(r for r in results if r.status_code == 200).json()
    assert upload_row(data_dir, upload["id"])["file_id"] == ok["file"]["id"]
    with httpx.Client(base_url=servers[0].base_url, headers=servers[0].headers) as a:
        assert a.get(f"/v1/files/{ok['file']['id']}/content").content == data
        ids = [f["id"] for f in a.get("/v1/files", params={"limit": 10000}).json()["data"]]
    # One file, not two: the loser stored nothing.
    assert sum(1 for i in ids if i == ok["file"]["id"]) == 1
    assert not blob_path(data_dir, part).exists()


def test_the_sweep_clears_expired_uploads(shared: tuple[Path, list[ServerProcess]]) -> None:
    data_dir, servers = shared
    a, b, c = cs = clients(servers)
    try:
        upload = create(a, 9)
        uid = upload["id"]
        parts = [add_part(one, uid, b"xyz") for one in cs]
        # A second upload whose completion died half-way (its process was killed).
        stuck = create(b, 3)
        stuck_part = add_part(b, stuck["id"], b"stk")
        kept = create(c, 1)
        kept_part = add_part(c, kept["id"], b"k")
        assert {*parts, stuck_part, kept_part} <= blob_names(data_dir)
        # The hour is up (the catalog is the clock's only witness).
        catalog_execute(
            data_dir, "UPDATE uploads SET expires_at = created_at - 1 WHERE id = ?", [uid]
        )
        catalog_execute(
            data_dir,
            "UPDATE uploads SET status = 'completing', expires_at = created_at - 7201 WHERE id = ?",
            [stuck["id"]],
        )
        gone = {*parts, stuck_part}
        # The sweep removes a part's bytes before its row: wait for both.
        assert wait_until(
            lambda: (
                not gone & blob_names(data_dir)
                and not part_rows(data_dir, uid)
                and not part_rows(data_dir, stuck["id"])
            ),
            timeout=20,
        )
        assert upload_row(data_dir, uid)["status"] == "expired"
        assert upload_row(data_dir, stuck["id"])["status"] == "expired"
        assert part_rows(data_dir, uid) == [] and part_rows(data_dir, stuck["id"]) == []
        # Later parts, completes and cancels are refused, in every process.
        for one in cs:
            assert_error(
                post_part(one, uid, b"late"), 400, param="upload_id", code="upload_expired"
            )
        assert_error(complete(b, uid, parts), 400, code="upload_expired")
        assert_error(c.post(f"/v1/uploads/{uid}/cancel"), 400, code="upload_expired")
        assert_error(post_part(a, stuck["id"], b"s"), 400, code="upload_expired")
        assert part_rows(data_dir, uid) == []
        # The open upload was left alone.
        assert kept_part in blob_names(data_dir)
        assert upload_row(data_dir, kept["id"])["status"] == "pending"
        assert completed(a, kept["id"], [kept_part])["file"]["bytes"] == 1
    finally:
        for one in cs:
            one.close()


# --------------------------------------------------------------------------- provider targets


@pytest.fixture(scope="module")
def routed(fake: Fake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A gateway with OpenAI and Azure deployments at the fake; by default files stay here."""
    base = tmp_path_factory.mktemp("routed")
    kwargs: dict[str, Any] = config_kwargs(base / "filegate.yaml", fake, default_target="filegate")
    kwargs["env"] = {**CLEAN_ENV, **kwargs["env"]}
    srv = start_server(base, **kwargs)
    yield srv
    srv.stop()


def batch_lines(n: int) -> bytes:
    return b"".join(
        b'{"custom_id": "r%d", "method": "POST", "url": "/v1/chat/completions", '
        b'"body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}}\n' % i
        for i in range(n)
    )


# Assembled here and sent through the provider's Files API on complete: Azure's GA
# dated API (2024-10-21) has no Uploads API, and batch/fine-tune JSONL is validated
# on complete. (Uploads to OpenAI and Azure v1 are forwarded: test_uploads_forwarded.py.)
@pytest.mark.parametrize("how", ["azure", "batch-query", "batch-prefix"])
def test_provider_target_gets_the_assembled_file(
    fake: Fake, routed: ServerProcess, how: str
) -> None:
    fake.reset()
    rng = random.Random(how)
    purpose = "assistants" if how == "azure" else "batch"
    mime = "text/plain" if how == "azure" else "application/jsonl"
    if how == "azure":
        chunks = [rng.randbytes(rng.randrange(1, 300_000)) for _ in range(5)]
        data = b"".join(chunks)
    else:
        data = batch_lines(3000)
        cuts = sorted(rng.sample(range(1, len(data)), 4))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    with httpx.Client(base_url=routed.base_url, headers=routed.headers, timeout=60) as c:
        before = blob_names(routed.data_dir)
        if how == "batch-prefix":
            client = sdk(routed, base="/openai/v1")
            upload = client.uploads.create(
                bytes=len(data), filename="remote.jsonl", mime_type=mime, purpose="batch"
            )
            uid = upload.id
            parts = [client.uploads.parts.create(upload_id=uid, data=d).id for d in chunks]
            assert blob_names(routed.data_dir) - before == set(parts)
            assert fake.requests() == []
            done_model = client.uploads.complete(upload_id=uid, part_ids=parts, md5=md5(data))
            done = check_upload(done_model.model_dump(), "completed")
        else:
            query = {"custom_llm_provider": "openai"} if how == "batch-query" else {}
            field = {"custom_llm_provider": "azure"} if how == "azure" else {}
            r = c.post(
                "/v1/uploads",
                params=query,
                json={
                    "filename": "remote.jsonl",
                    "purpose": purpose,
                    "bytes": len(data),
                    "mime_type": mime,
                    **field,
                },
            )
            assert r.status_code == 200, r.text
            uid = check_upload(r.json(), "pending")["id"]
            parts = [add_part(c, uid, d) for d in chunks]
            # The parts wait here, not upstream.
            assert fake.requests() == []
            done = completed(c, uid, parts, md5(data))
        file = done["file"]
        assert FILEGATE_ID.fullmatch(file["id"]), file
        assert file["bytes"] == len(data) and file["filename"] == "remote.jsonl"
        # One create upstream, with the whole assembled file and an exact Content-Length.
        (entry,) = fake.requests(op="create")
        assert entry["api"] == ("azure-classic" if how == "azure" else "openai")
        assert fake.requests(op="upload_create") == []
        assert entry["content_length"] is not None
        assert entry["content_length"] == entry["body_bytes"]
        assert entry["transfer_encoding"] in (None, "")
        assert entry["body_complete"] is True and entry["status"] in (200, 201)
        sent = entry["multipart"]["file"]
        assert sent["size"] == len(data)
        assert sent["sha256"] == hashlib.sha256(data).hexdigest()
        assert sent["filename"] == "remote.jsonl"
        assert entry["multipart"]["values"]["purpose"] == purpose
        (remote,) = fake.files()
        assert remote["sha256"] == hashlib.sha256(data).hexdigest()
        # The client sees only the filegate id; the bytes come back through the gateway.
        assert c.get(f"/v1/files/{file['id']}/content").content == data
        assert remote["id"] not in c.get(f"/v1/files/{file['id']}").text
        # Nothing stays behind locally: no parts, no copy of the file, no spool.
        assert blob_names(routed.data_dir) == before
        assert spool_files(routed) == []
        assert part_rows(routed.data_dir, uid) == []
        assert c.delete(f"/v1/files/{file['id']}").status_code == 200
        assert fake.files() == []


def test_batch_upload_for_a_provider_is_validated_on_complete(
    fake: Fake, routed: ServerProcess
) -> None:
    fake.reset()
    data = batch_lines(3) + b"not json\n"
    with httpx.Client(base_url=routed.base_url, headers=routed.headers, timeout=60) as c:
        uid = create(
            c,
            len(data),
            purpose="batch",
            mime_type="application/jsonl",
            custom_llm_provider="openai",
        )["id"]
        parts = [add_part(c, uid, data[:100]), add_part(c, uid, data[100:])]
        r = complete(c, uid, parts)
        assert r.status_code == 400, r.text
        assert "line 4" in r.text
        assert fake.requests() == []
        assert upload_row(routed.data_dir, uid)["status"] == "pending"


def test_provider_target_refusing_keeps_the_upload(fake: Fake, routed: ServerProcess) -> None:
    """An upstream failure on complete stores nothing; the upload can be completed again."""
    fake.reset()
    data = b"retry me"
    with httpx.Client(base_url=routed.base_url, headers=routed.headers, timeout=60) as c:
        # Azure's GA dated API has no Uploads API: the file goes through /files on complete.
        uid = create(c, len(data), purpose="assistants", custom_llm_provider="azure")["id"]
        part = add_part(c, uid, data)
        fake.fault(op="create", status=500, times=5)
        r = complete(c, uid, [part])
        assert r.status_code >= 500, r.text
        assert upload_row(routed.data_dir, uid)["status"] == "pending"
        assert part_rows(routed.data_dir, uid) == [part]
        assert spool_files(routed) == []
        fake.admin("DELETE", "faults")
        done = completed(c, uid, [part])
        assert c.get(f"/v1/files/{done['file']['id']}/content").content == data
        assert len(fake.files()) == 1
