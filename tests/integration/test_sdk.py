"""The SDK in-process against the fake upstream (OpenAI and both Azure surfaces) and a real
filegate server: every function, async and sync, errors, streaming and sync-inside-a-loop."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from upstream_support import (
    AAD_TOKEN,
    AZURE_KEY,
    CLASSIC_VERSION,
    CLEAN_ENV,
    OPENAI_KEY,
    Fake,
    running_fake,
)

import filegate
from filegate import FileContent, FileDeleted, FileObject, FilePage

MiB = 1024 * 1024
JSONL = b'{"messages": [{"role": "user", "content": "hi"}]}\n'
SDK_ENV = (*CLEAN_ENV, "FILEGATE_API_KEY", "FILEGATE_API_BASE")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fake]:
    """The fake upstream as its own process (so memory measured here is the SDK's)."""
    with running_fake(tmp_path_factory.mktemp("upstream")) as fake:
        yield fake


@pytest.fixture
def admin(running: Fake) -> Fake:
    """The fake upstream, emptied for this test."""
    running.reset()
    return running


@pytest.fixture
def upstream(running: Fake) -> str:
    return running.url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Real credentials in the developer's environment must not leak into these tests.
    for name in SDK_ENV:
        monkeypatch.delenv(name, raising=False)


def openai_kw(upstream: str) -> dict[str, Any]:
    return {"custom_llm_provider": "openai", "api_key": OPENAI_KEY, "api_base": f"{upstream}/v1"}


def azure_kw(upstream: str, api_version: str = CLASSIC_VERSION) -> dict[str, Any]:
    return {
        "custom_llm_provider": "azure",
        "api_key": AZURE_KEY,
        "api_base": upstream,
        "api_version": api_version,
    }


TARGETS = ["openai", "azure-classic", "azure-v1"]


def target_kw(name: str, upstream: str) -> dict[str, Any]:
    if name == "openai":
        return openai_kw(upstream)
    return azure_kw(upstream, CLASSIC_VERSION if name == "azure-classic" else "v1")


# -- every function, async and sync, on each provider surface ---------------------------------


@pytest.mark.parametrize("target", TARGETS)
async def test_every_async_function(
    target: str, upstream: str, admin: Fake, tmp_path: Path
) -> None:
    kw = target_kw(target, upstream)
    path = tmp_path / "train.jsonl"
    path.write_bytes(JSONL * 3)

    created = await filegate.acreate_file(path, "fine-tune", **kw)
    assert isinstance(created, FileObject)
    assert created.object == "file" and created.bytes == len(JSONL) * 3
    assert created.filename == "train.jsonl" and created.purpose == "fine-tune"
    create_log = admin.requests(op="create")[-1]
    assert create_log["content_length"] is not None and create_log["transfer_encoding"] is None

    got = await filegate.aretrieve_file(created.id, **kw)
    assert got.id == created.id and got.bytes == created.bytes
    # Azure's pending and running come as OpenAI's statuses; a create waits for it.
    assert created.status == got.status == "processed"

    page = await filegate.alist_files(purpose="fine-tune", **kw)
    assert isinstance(page, FilePage)
    assert [f.id for f in page.data] == [created.id] and page.first_id == page.last_id

    content = await filegate.afile_content(created.id, **kw)
    assert isinstance(content, FileContent) and not content.is_stream
    assert content.content == JSONL * 3 and content.text == (JSONL * 3).decode()
    await content.awrite_to_file(tmp_path / "copy.jsonl")
    assert (tmp_path / "copy.jsonl").read_bytes() == JSONL * 3

    deleted = await filegate.adelete_file(created.id, **kw)
    assert deleted == FileDeleted(id=created.id, object="file", deleted=True)
    with pytest.raises(filegate.FileNotFound):
        await filegate.aretrieve_file(created.id, **kw)


@pytest.mark.parametrize("target", TARGETS)
def test_every_sync_function(target: str, upstream: str, admin: Fake, tmp_path: Path) -> None:
    kw = target_kw(target, upstream)
    created = filegate.create_file(("sync.jsonl", io.BytesIO(JSONL)), "fine-tune", **kw)
    assert created.filename == "sync.jsonl" and created.bytes == len(JSONL)
    assert filegate.retrieve_file(created.id, **kw).id == created.id
    assert [f.id for f in filegate.list_files(**kw).data] == [created.id]
    content = filegate.file_content(created.id, **kw)
    assert content.content == JSONL
    content.write_to_file(tmp_path / "out.jsonl")
    assert (tmp_path / "out.jsonl").read_bytes() == JSONL
    assert filegate.delete_file(created.id, **kw).deleted is True
    with pytest.raises(filegate.FileNotFound):
        filegate.file_content(created.id, **kw)


async def test_litellm_aliases(upstream: str, admin: Fake) -> None:
    kw = openai_kw(upstream)
    a = await filegate.acreate_file(JSONL, "batch", **kw)
    b = filegate.create_file(JSONL, "batch", **kw)
    assert {f.id for f in (await filegate.afile_list(**kw)).data} == {a.id, b.id}
    assert {f.id for f in filegate.file_list(**kw).data} == {a.id, b.id}
    assert (await filegate.afile_retrieve(a.id, **kw)).id == a.id
    assert filegate.file_retrieve(b.id, **kw).id == b.id
    assert (await filegate.afile_delete(a.id, **kw)).deleted
    assert filegate.file_delete(b.id, **kw).deleted


async def test_azure_entra_token_from_kwarg_env_and_extra_body(
    upstream: str, admin: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    kw: dict[str, Any] = {
        "custom_llm_provider": "azure",
        "api_base": upstream,
        "api_version": "2024-10-21",
    }
    f = await filegate.acreate_file(("t.jsonl", JSONL), "fine-tune", azure_ad_token=AAD_TOKEN, **kw)
    # Older LiteLLM releases pass the token in extra_body.
    assert (await filegate.aretrieve_file(f.id, extra_body={"azure_ad_token": AAD_TOKEN}, **kw)).id
    monkeypatch.setenv("AZURE_AD_TOKEN", AAD_TOKEN)
    assert (await filegate.aretrieve_file(f.id, **kw)).id == f.id
    sent = admin.requests(op="retrieve")[-1]["headers"]
    assert sent["authorization"] == f"Bearer {AAD_TOKEN}" and "api-key" not in sent


async def test_credentials_from_the_environment(
    upstream: str, admin: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{upstream}/v1")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-123")
    f = await filegate.acreate_file(JSONL, "batch")
    assert admin.requests(op="create")[-1]["openai_organization"] == "org-123"
    monkeypatch.setenv("AZURE_API_KEY", AZURE_KEY)
    monkeypatch.setenv("AZURE_API_BASE", upstream)
    monkeypatch.setenv("AZURE_API_VERSION", "v1")
    a = filegate.create_file(("e.jsonl", JSONL), "batch", custom_llm_provider="azure")
    assert admin.requests(op="create")[-1]["api"] == "azure-v1"
    assert filegate.retrieve_file(f.id).id == f.id
    assert filegate.retrieve_file(a.id, custom_llm_provider="azure").id == a.id


def test_missing_credentials_name_the_parameter_and_variable() -> None:
    with pytest.raises(filegate.ConfigError, match=r"api_key.*OPENAI_API_KEY"):
        filegate.list_files()
    with pytest.raises(filegate.ConfigError, match=r"api_base.*AZURE_API_BASE"):
        filegate.list_files(custom_llm_provider="azure", api_key="k")
    with pytest.raises(filegate.ConfigError, match=r"api_key.*azure_ad_token.*AZURE_API_KEY"):
        filegate.list_files(custom_llm_provider="azure", api_base="http://127.0.0.1:9")


# -- options: honoured or refused, never dropped -------------------------------------------------


async def test_unknown_kwargs_raise_and_litellm_ones_are_ignored(
    upstream: str, admin: Fake
) -> None:
    kw = openai_kw(upstream)
    with pytest.raises(TypeError, match=r"'foo'.*'user'"):
        await filegate.alist_files(foo=1, user="x", **kw)
    with pytest.raises(TypeError, match="'bogus'"):
        filegate.retrieve_file("file-x", bogus=True, **kw)
    page = await filegate.alist_files(litellm_call_id="abc", litellm_logging_obj=object(), **kw)
    assert page.data == []


async def test_unsupported_providers_and_unused_options_are_refused(upstream: str) -> None:
    with pytest.raises(filegate.InvalidRequest, match="not supported by filegate yet") as exc:
        await filegate.alist_files(custom_llm_provider="gemini")
    assert exc.value.param == "custom_llm_provider"
    with pytest.raises(filegate.InvalidRequest, match="unknown custom_llm_provider"):
        filegate.list_files(custom_llm_provider="nope")
    with pytest.raises(filegate.InvalidRequest, match="does not use api_version"):
        await filegate.alist_files(api_version="2024-10-21", **openai_kw(upstream))
    with pytest.raises(filegate.InvalidRequest, match="does not use organization"):
        await filegate.alist_files(organization="org", **azure_kw(upstream))
    with pytest.raises(filegate.InvalidRequest, match="extra_body"):
        await filegate.alist_files(extra_body={"x": 1}, **openai_kw(upstream))
    with pytest.raises(filegate.InvalidRequest, match="azure cannot take extra_body"):
        await filegate.acreate_file(JSONL, "batch", extra_body={"x": "1"}, **azure_kw(upstream))
    with pytest.raises(TypeError, match="pass that by keyword"):
        await filegate.acreate_file(JSONL, "batch", "azure")  # type: ignore[arg-type]
    with pytest.raises(filegate.InvalidRequest, match="timeout"):
        await filegate.alist_files(timeout=0, **openai_kw(upstream))


async def test_extra_headers_and_extra_body_are_sent(upstream: str, admin: Fake) -> None:
    kw = openai_kw(upstream)
    await filegate.alist_files(extra_headers={"X-Trace": "t-1"}, **kw)
    assert admin.requests(op="list")[-1]["headers"]["x-trace"] == "t-1"
    # OpenAI refuses form fields it does not know: the upstream's own 400 comes back.
    with pytest.raises(filegate.InvalidRequest, match="Unknown parameter: 'foo'") as exc:
        await filegate.acreate_file(JSONL, "batch", extra_body={"foo": "bar"}, **kw)
    assert exc.value.param == "foo"


async def test_expires_after_is_honoured_or_refused_before_sending(
    upstream: str, admin: Fake
) -> None:
    kw = openai_kw(upstream)
    f = await filegate.acreate_file(
        JSONL, "assistants", {"anchor": "created_at", "seconds": 7200}, **kw
    )
    assert f.expires_at == f.created_at + 7200
    with pytest.raises(filegate.InvalidRequest, match="between 3600 and"):
        await filegate.acreate_file(JSONL, "assistants", {"seconds": 60}, **kw)
    with pytest.raises(filegate.InvalidRequest, match=r"cannot be honoured|between"):
        await filegate.acreate_file(
            ("a.jsonl", JSONL), "fine-tune", {"seconds": 3600}, **azure_kw(upstream)
        )
    assert len(admin.requests(op="create")) == 1


# -- pagination ----------------------------------------------------------------------------------


async def test_pages_follow_after_last_id(upstream: str, admin: Fake) -> None:
    admin.seed(surface="openai", count=5)
    kw = openai_kw(upstream)
    first = await filegate.alist_files(limit=2, order="asc", **kw)
    assert len(first.data) == 2 and first.has_more
    second = await first.anext_page()
    assert second is not None and second.data[0].created_at > first.data[-1].created_at
    assert admin.requests(op="list")[-1]["query_params"]["after"] == first.last_id
    everything = [f.id async for f in first]
    assert len(everything) == len(set(everything)) == 5
    assert [f.id for f in first.auto_paging_iter()] == everything
    sync_first = filegate.list_files(limit=2, order="asc", **kw)
    pages = [sync_first]
    while (nxt := pages[-1].next_page()) is not None:
        pages.append(nxt)
    assert [len(p.data) for p in pages] == [2, 2, 1]
    assert [f.id for p in pages for f in p.data] == everything
    assert pages[-1].to_dict()["has_more"] is False


async def test_azure_dated_listing_pages_and_ends(upstream: str, admin: Fake) -> None:
    # Azure's dated list (2024-10-21) takes neither limit nor after; paging still ends.
    admin.seed(surface="azure", count=3)
    page = await filegate.alist_files(limit=2, **azure_kw(upstream))
    assert len(page.data) == 2 and page.has_more
    ids = [f.id async for f in page]
    assert len(ids) == len(set(ids)) == 3


# -- streaming -----------------------------------------------------------------------------------


def write_big_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(MiB)
    with path.open("wb") as fh:
        for _ in range(size // MiB):
            fh.write(block)
            digest.update(block)
    return digest.hexdigest()


async def test_64_mib_streams_with_flat_memory(upstream: str, admin: Fake, tmp_path: Path) -> None:
    kw = openai_kw(upstream)
    path = tmp_path / "big.jsonl"
    expected = write_big_file(path, 64 * MiB)
    tracemalloc.start()
    try:
        created = await filegate.acreate_file(path, "assistants", **kw)
        _, upload_peak = tracemalloc.get_traced_memory()

        tracemalloc.reset_peak()
        digest, biggest = hashlib.sha256(), 0
        async with await filegate.afile_content(created.id, stream=True, **kw) as content:
            async for chunk in content.aiter_bytes():
                digest.update(chunk)
                biggest = max(biggest, len(chunk))
        _, async_peak = tracemalloc.get_traced_memory()

        # The sync stream, called inside this running loop, pulls from the portal thread.
        tracemalloc.reset_peak()
        sync_digest = hashlib.sha256()
        with filegate.file_content(created.id, stream=True, **kw) as sync_content:
            for chunk in sync_content.iter_bytes():
                sync_digest.update(chunk)
        _, sync_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert created.bytes == 64 * MiB
    assert digest.hexdigest() == sync_digest.hexdigest() == expected
    assert content.is_closed and sync_content.is_closed
    assert biggest <= 1 * MiB
    peaks = {"upload": upload_peak, "async": async_peak, "sync": sync_peak}
    assert max(peaks.values()) < 8 * MiB, {k: f"{v / MiB:.1f} MiB" for k, v in peaks.items()}


def test_sync_stream_without_a_loop(upstream: str, admin: Fake, tmp_path: Path) -> None:
    kw = openai_kw(upstream)
    f = filegate.create_file(b"0123456789", "assistants", **kw)
    with filegate.file_content(f.id, stream=True, chunk_size=4, **kw) as content:
        assert [*content.iter_bytes()] == [b"0123", b"4567", b"89"]
        assert content.is_closed
        with pytest.raises(RuntimeError, match="read once"):
            content.iter_bytes()
    # Positional, as LiteLLM orders them: provider, headers, body, chunk_size, stream.
    lazy = filegate.file_content(
        f.id, "openai", None, None, None, True, api_key=OPENAI_KEY, api_base=kw["api_base"]
    )
    assert lazy.is_stream and not lazy.is_closed
    assert lazy.content == b"0123456789" and lazy.is_closed  # read when asked
    saved = filegate.file_content(f.id, stream=True, **kw)
    saved.write_to_file(tmp_path / "saved.bin")
    assert (tmp_path / "saved.bin").read_bytes() == b"0123456789" and saved.is_closed


def test_sync_stream_left_early_closes_the_response(upstream: str, admin: Fake) -> None:
    kw = openai_kw(upstream)
    f = filegate.create_file(os.urandom(3 * MiB), "assistants", **kw)
    with filegate.file_content(f.id, stream=True, chunk_size=1024, **kw) as content:
        for _ in content.iter_bytes():
            break
    assert content.is_closed


async def test_async_stream_rules(upstream: str, admin: Fake) -> None:
    kw = openai_kw(upstream)
    f = await filegate.acreate_file(b"abcdef", "assistants", **kw)
    content = await filegate.afile_content(f.id, stream=True, **kw)
    with pytest.raises(RuntimeError, match="aread"):
        _ = content.content
    with pytest.raises(RuntimeError, match="aiter_bytes"):
        content.iter_bytes()
    assert await content.aread() == b"abcdef" and content.content == b"abcdef"
    assert content.is_closed
    async with await filegate.afile_content(f.id, stream=True, chunk_size=2, **kw) as partial:
        async for _ in partial.aiter_bytes():
            break
    assert partial.is_closed


async def test_a_download_cut_off_midway_raises_upstream_error(upstream: str, admin: Fake) -> None:
    kw = openai_kw(upstream)
    f = await filegate.acreate_file(os.urandom(2 * MiB), "assistants", **kw)
    admin.fault(op="content", after_bytes=MiB, drop=True)
    async with await filegate.afile_content(f.id, stream=True, **kw) as content:
        with pytest.raises(filegate.UpstreamError, match="broke off"):
            async for _ in content.aiter_bytes():
                pass
    assert content.is_closed


# -- sync calls inside a running event loop (Jupyter) ---------------------------------------------


async def test_sync_functions_inside_a_running_loop(upstream: str, admin: Fake) -> None:
    kw = openai_kw(upstream)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    created = filegate.create_file(JSONL, "batch", **kw)
    assert filegate.retrieve_file(created.id, **kw).id == created.id
    page = filegate.list_files(limit=1, **kw)
    assert [f.id for f in page] == [created.id]  # sync auto-paging inside the loop
    assert filegate.file_content(created.id, **kw).content == JSONL
    assert filegate.delete_file(created.id, **kw).deleted
    task.cancel()
    # The caller's loop stays usable and was never re-entered.
    assert (await filegate.alist_files(**kw)).data == []


# -- errors as the upstream reports them ----------------------------------------------------------


async def test_upstream_errors_map_to_filegate_errors(upstream: str, admin: Fake) -> None:
    kw = openai_kw(upstream)
    with pytest.raises(filegate.AuthError, match="Incorrect API key"):
        await filegate.alist_files(**{**kw, "api_key": "sk-wrong"})
    with pytest.raises(filegate.AuthError):
        filegate.list_files(**{**azure_kw(upstream), "api_key": "wrong"})
    with pytest.raises(filegate.FileNotFound):
        await filegate.afile_content("file-missing", **kw)
    with pytest.raises(filegate.FileNotFound):
        filegate.delete_file("file-missing", **kw)
    with pytest.raises(filegate.FileNotFound):
        await filegate.aretrieve_file("file-missing", **azure_kw(upstream, "v1"))
    with pytest.raises(filegate.InvalidRequest, match="limit") as bad:
        await filegate.alist_files(limit=0, **kw)
    assert bad.value.status_code == 400 and bad.value.param == "limit"


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, filegate.RateLimited), (500, filegate.UpstreamError), (403, filegate.PermissionDenied)],
)
async def test_fault_statuses(
    status: int, error: type[Exception], upstream: str, admin: Fake
) -> None:
    admin.fault(op="list", status=status)
    with pytest.raises(error):
        await filegate.alist_files(max_retries=0, **openai_kw(upstream))


async def test_retries_and_timeouts(upstream: str, admin: Fake) -> None:
    kw = openai_kw(upstream)
    admin.fault(op="retrieve", status=503)
    admin.fault(op="list", delay=2.0)
    f = await filegate.acreate_file(JSONL, "batch", **kw)
    assert (await filegate.aretrieve_file(f.id, max_retries=1, **kw)).id == f.id
    assert len(admin.requests(op="retrieve")) == 2
    with pytest.raises(filegate.UpstreamTimeout):
        await filegate.alist_files(timeout=0.3, max_retries=0, **kw)


# -- a real filegate server as the upstream -------------------------------------------------------


def gateway_file(server: Any, file_id: str) -> dict[str, Any]:
    with httpx.Client(base_url=server.base_url, headers=server.headers) as http:
        return dict(http.get(f"/v1/files/{file_id}").json())


async def test_filegate_provider_talks_to_a_gateway(
    server_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = server_factory()
    kw: dict[str, Any] = {"custom_llm_provider": "filegate", "api_key": server.master_key}
    monkeypatch.setenv("FILEGATE_API_BASE", server.api_url)
    path = tmp_path / "gw.jsonl"
    path.write_bytes(JSONL * 2)
    created = await filegate.acreate_file(path, "fine-tune", **kw)
    assert created.id.startswith("file-") and created.bytes == len(JSONL) * 2
    # The upload landed in the gateway's own store, under the gateway's id.
    assert gateway_file(server, created.id)["filename"] == "gw.jsonl"
    assert (await filegate.aretrieve_file(created.id, **kw)).filename == "gw.jsonl"
    assert [f.id for f in (await filegate.alist_files(purpose="fine-tune", **kw)).data] == [
        created.id
    ]
    assert filegate.file_content(created.id, **kw).content == JSONL * 2
    async with await filegate.afile_content(created.id, stream=True, **kw) as content:
        assert await content.aread() == JSONL * 2
    with pytest.raises(filegate.InvalidRequest, match="foo"):
        await filegate.acreate_file(JSONL, "batch", extra_body={"foo": "1"}, **kw)
    # Expiry and purpose are the gateway's to judge, against its own targets.
    expiring = await filegate.acreate_file(JSONL, "assistants", {"seconds": 3600}, **kw)
    assert expiring.expires_at == expiring.created_at + 3600
    with pytest.raises(filegate.InvalidRequest, match=r"^filegate: .*expires_after"):
        await filegate.acreate_file(JSONL, "assistants", {"seconds": 60}, **kw)
    with pytest.raises(filegate.AuthError):
        await filegate.alist_files(custom_llm_provider="filegate", api_key="sk-wrong")
    monkeypatch.setenv("FILEGATE_API_KEY", server.master_key)
    assert filegate.delete_file(created.id, custom_llm_provider="filegate").deleted
    with pytest.raises(filegate.FileNotFound):
        await filegate.aretrieve_file(created.id, **kw)
