"""The official `openai` SDK against a real filegate server: the whole Files surface."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import httpx
import openai
import pytest
from support import list_all, sdk

BATCH_LINE = {"method": "POST", "url": "/v1/chat/completions", "body": {"model": "m"}}
THIRTY_DAYS = 30 * 24 * 3600


def batch_jsonl(n: int = 2) -> bytes:
    return b"".join(
        json.dumps({"custom_id": f"req-{i}", **BATCH_LINE}).encode() + b"\n" for i in range(n)
    )


@pytest.fixture
def client(server: Any) -> openai.OpenAI:
    return sdk(server)


def raw_object(http: httpx.Client, file_id: str) -> dict[str, Any]:
    resp = http.get(f"/v1/files/{file_id}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_create_from_path(client: openai.OpenAI, http: httpx.Client, tmp_path: Path) -> None:
    data = b'{"messages": [{"role": "user", "content": "hi"}]}\n' * 3
    path = tmp_path / "mydata.jsonl"
    path.write_bytes(data)
    before = int(time.time())
    created = client.files.create(file=path, purpose="fine-tune")
    after = int(time.time())

    assert created.id.startswith("file-") and len(created.id) > len("file-")
    assert created.object == "file"
    assert created.bytes == len(data)
    assert created.filename == "mydata.jsonl"
    assert created.purpose == "fine-tune"
    assert created.status == "processed"
    assert isinstance(created.created_at, int)
    assert before <= created.created_at <= after
    assert created.expires_at is None
    raw = raw_object(http, created.id)
    assert "expires_at" not in raw, "unset optional fields are omitted, not null"
    assert raw == created.model_dump(exclude_none=True)
    assert client.files.content(created.id).read() == data


def test_create_from_tuple_keeps_utf8_filename(client: openai.OpenAI, http: httpx.Client) -> None:
    name = "déjà vu 📄.jsonl"
    data = '{"text": "ça va"}\n'.encode()
    created = client.files.create(file=(name, data, "application/jsonl"), purpose="user_data")

    assert created.filename == name
    assert created.bytes == len(data)
    assert client.files.retrieve(created.id).filename == name
    listed = {f.id: f for f in client.files.list(purpose="user_data")}
    assert listed[created.id].filename == name
    content = client.files.content(created.id)
    assert content.read() == data
    assert content.response.headers["content-type"] == "application/jsonl"
    assert raw_object(http, created.id)["filename"] == name


def test_create_with_expires_after(client: openai.OpenAI) -> None:
    created = client.files.create(
        file=("notes.txt", b"short-lived", "text/plain"),
        purpose="assistants",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert created.expires_at == created.created_at + 3600
    assert client.files.retrieve(created.id).expires_at == created.expires_at


def test_batch_files_expire_after_30_days_by_default(client: openai.OpenAI) -> None:
    default = client.files.create(
        file=("in.jsonl", batch_jsonl(), "application/jsonl"), purpose="batch"
    )
    assert default.purpose == "batch"
    assert default.expires_at == default.created_at + THIRTY_DAYS
    assert client.files.retrieve(default.id).expires_at == default.expires_at

    explicit = client.files.create(
        file=("in.jsonl", batch_jsonl(), "application/jsonl"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 7200},
    )
    assert explicit.expires_at == explicit.created_at + 7200


def test_retrieve_then_delete(client: openai.OpenAI) -> None:
    created = client.files.create(
        file=("gone.bin", b"\x00\x01\x02", "application/octet-stream"), purpose="vision"
    )
    assert client.files.retrieve(created.id) == created

    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "file", True)

    for call in (client.files.retrieve, client.files.content, client.files.delete):
        with pytest.raises(openai.NotFoundError) as info:
            call(created.id)
        assert info.value.status_code == 404
        assert info.value.request_id
        assert created.id in info.value.message
    assert created.id not in {f.id for f in client.files.list()}


def test_content_and_deprecated_retrieve_content(client: openai.OpenAI) -> None:
    text = "line one\nline two — ünïcode\n"
    created = client.files.create(file=("t.txt", text.encode(), "text/plain"), purpose="user_data")
    assert client.files.content(created.id).read() == text.encode()
    with pytest.warns(DeprecationWarning):
        assert client.files.retrieve_content(created.id) == text


def test_wait_for_processing(client: openai.OpenAI) -> None:
    created = client.files.create(file=("w.bin", b"abc"), purpose="user_data")
    started = time.monotonic()
    done = client.files.wait_for_processing(created.id, poll_interval=0.1, max_wait_seconds=10)
    assert done.status == "processed"
    assert done.id == created.id
    assert time.monotonic() - started < 5


def test_sdk_error_classes(server: Any, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.files.create(file=("x.txt", b"x"), purpose="bogus")  # type: ignore[arg-type]
    assert bad.value.status_code == 400
    assert bad.value.param == "purpose"
    assert bad.value.type == "invalid_request_error"

    with pytest.raises(openai.BadRequestError) as bad_jsonl:
        client.files.create(file=("ft.jsonl", b"{}\nnot json\n"), purpose="fine-tune")
    assert bad_jsonl.value.param == "file"
    assert "line 2" in bad_jsonl.value.message

    with pytest.raises(openai.NotFoundError):
        client.files.retrieve("file-doesnotexist")

    wrong = sdk(server, api_key="sk-wrong")
    with pytest.raises(openai.AuthenticationError) as auth:
        wrong.files.list()
    assert auth.value.status_code == 401


def _create_burst(client: openai.OpenAI, count: int) -> list[Any]:
    # Start just after a second boundary so the burst shares one created_at; sent
    # side by side, so a busy machine still lands most of them in that second.
    time.sleep(1 - time.time() % 1 + 0.01)
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(
            pool.map(
                lambda i: client.files.create(file=(f"p{i}.txt", f"{i}".encode()), purpose="evals"),
                range(count),
            )
        )


def test_auto_pagination_visits_every_file_once(client: openai.OpenAI, http: httpx.Client) -> None:
    created: list[Any] = []
    for _ in range(5):
        created += _create_burst(client, 30)
        if max(Counter(f.created_at for f in created).values()) >= 25:
            break
    assert max(Counter(f.created_at for f in created).values()) >= 25, "files in one second"
    ours = {f.id for f in created}

    everything = [f["id"] for f in list_all(http)]
    assert ours <= set(everything)
    order: Literal["asc", "desc"]
    for order in ("asc", "desc"):
        for purpose in ("evals", None):
            pages = client.files.list(limit=4, order=order, purpose=purpose or openai.omit)
            # Bounded, so a server that ignored `after` fails here instead of looping.
            files = list(islice(pages, len(everything) + 8))
            ids = [f.id for f in files]
            assert len(ids) == len(set(ids)), "no file is visited twice"
            assert ours <= set(ids)
            if purpose is None:
                assert sorted(ids) == sorted(everything)
            else:
                assert set(ids) == ours
            stamps = [f.created_at for f in files]
            assert stamps == sorted(stamps, reverse=order == "desc")

    # The default order is newest first.
    page = client.files.list(purpose="evals", limit=4)
    assert len(page.data) == 4
    assert page.has_more is True
    assert [f.id for f in page.data] == sorted(ours, reverse=True)[:4]
