"""The console's files page, in a real browser: upload, list, download, delete, preview."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.conftest import ServerProcess

# The console sends files past this size through the Uploads API (upload.js).
PART_BYTES = 16 * 1024 * 1024


def api(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60)


def post_file(server: ServerProcess, name: str, data: bytes, purpose: str = "user_data") -> str:
    with api(server) as c:
        r = c.post("/v1/files", files={"file": (name, data)}, data={"purpose": purpose})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_list_download_delete(
    console: Console, server: ServerProcess, tmp_path: Path
) -> None:
    source = tmp_path / "report 2025 (final).bin"
    source.write_bytes(os.urandom(300_000))
    console.sign_in()
    page = console.page
    page.get_by_test_id("upload-purpose").select_option("user_data")
    page.get_by_test_id("upload-input").set_input_files(source)

    row = page.get_by_test_id("file-row").filter(has_text=source.name)
    expect(row).to_have_count(1)
    file_id = row.get_attribute("data-file-id")
    assert file_id and file_id.startswith("file-")
    with api(server) as c:
        meta = c.get(f"/v1/files/{file_id}").json()
    assert meta["filename"] == source.name and meta["bytes"] == 300_000
    assert meta["purpose"] == "user_data"
    # The progress bar ended full.
    bar = page.locator(".uploads li.done progress")
    expect(bar).to_have_count(1)
    assert bar.evaluate("b => b.value === b.max")

    # The service worker streams the download into the browser's download manager.
    assert page.evaluate(
        "navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller)"
    )
    with page.expect_download() as info:
        row.get_by_test_id("download-file").click()
    download = info.value
    assert re.fullmatch(rf"{server.base_url}/ui/download/[0-9a-f-]{{36}}", download.url)
    assert download.suggested_filename == source.name
    saved = tmp_path / "downloaded.bin"
    download.save_as(saved)
    assert sha256(saved) == sha256(source)
    # The page itself never fetched the bytes.
    assert not console.api_requests(f"/v1/files/{file_id}/content")

    row.get_by_test_id("delete-file").click()
    page.get_by_test_id("confirm-delete").click()
    expect(page.get_by_test_id("file-row").filter(has_text=source.name)).to_have_count(0)
    with api(server) as c:
        assert c.get(f"/v1/files/{file_id}").status_code == 404


@pytest.mark.parametrize("console", [{"service_workers": "block"}], indirect=True)
def test_download_without_a_service_worker_goes_through_a_blob(
    console: Console, server: ServerProcess, tmp_path: Path
) -> None:
    data = os.urandom(1_500_000)
    file_id = post_file(server, "no-worker.bin", data)
    console.sign_in()
    page = console.page
    row = page.locator(f'[data-testid="file-row"][data-file-id="{file_id}"]')
    assert page.evaluate("navigator.serviceWorker?.controller ?? null") is None
    with page.expect_download() as info:
        row.get_by_test_id("download-file").click()
    download = info.value
    assert download.url.startswith("blob:")
    assert download.suggested_filename == "no-worker.bin"
    saved = tmp_path / "saved.bin"
    download.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    [fetched] = console.api_requests(f"/v1/files/{file_id}/content")
    assert fetched.headers["authorization"] == f"Bearer {server.master_key}"


@pytest.mark.parametrize(
    "console", [{}, {"service_workers": "block"}], indirect=True, ids=["worker", "blob"]
)
def test_a_refused_download_shows_the_api_message(console: Console, server: ServerProcess) -> None:
    file_id = post_file(server, "soon-gone.txt", b"bye")
    console.sign_in()
    page = console.page
    row = page.locator(f'[data-testid="file-row"][data-file-id="{file_id}"]')
    expect(row).to_have_count(1)
    # Deleted elsewhere while the page still lists it.
    with api(server) as c:
        assert c.delete(f"/v1/files/{file_id}").status_code == 200
        expected = c.get(f"/v1/files/{file_id}/content")
    assert expected.status_code == 404
    row.get_by_test_id("download-file").click()
    assert console.error_text() == expected.json()["error"]["message"]


def test_drop_a_file_with_an_expiry(console: Console, server: ServerProcess) -> None:
    console.sign_in()
    page = console.page
    page.get_by_test_id("upload-purpose").select_option("batch")
    page.get_by_label("Expires").select_option(label="1 day")
    line = json.dumps(
        {"custom_id": "d-1", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}
    )
    # What a drag from the desktop delivers: a drop event carrying a File.
    page.locator(".dropzone").evaluate(
        """(zone, text) => {
            const data = new DataTransfer();
            data.items.add(new File([text + "\\n"], "dropped.jsonl"));
            zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true }));
            zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
        }""",
        line,
    )
    row = page.get_by_test_id("file-row").filter(has_text="dropped.jsonl")
    expect(row).to_have_count(1)
    with api(server) as c:
        meta = c.get(f"/v1/files/{row.get_attribute('data-file-id')}").json()
        body = c.get(f"/v1/files/{meta['id']}/content").content
    assert meta["purpose"] == "batch"
    assert meta["expires_at"] - meta["created_at"] == 86400
    assert body == (line + "\n").encode()


def test_cancelled_confirmation_keeps_the_file(console: Console, server: ServerProcess) -> None:
    file_id = post_file(server, "keep-me.txt", b"stay")
    console.sign_in()
    page = console.page
    row = page.locator(f'[data-testid="file-row"][data-file-id="{file_id}"]')
    row.get_by_test_id("delete-file").click()
    page.keyboard.press("Escape")
    expect(page.locator("dialog#confirm")).not_to_be_visible()
    expect(row).to_have_count(1)
    with api(server) as c:
        assert c.get(f"/v1/files/{file_id}").status_code == 200


def test_large_file_goes_through_the_uploads_api(
    console: Console, server: ServerProcess, tmp_path: Path
) -> None:
    source = tmp_path / "big.jsonl"
    line = json.dumps({"text": "x" * 1000}) + "\n"
    with source.open("w") as f:
        while f.tell() < PART_BYTES * 2 + 1000:
            f.write(line)
    size = source.stat().st_size
    console.sign_in()
    page = console.page
    page.get_by_test_id("upload-purpose").select_option("fine-tune")
    page.get_by_test_id("upload-input").set_input_files(source)
    row = page.get_by_test_id("file-row").filter(has_text="big.jsonl")
    expect(row).to_have_count(1, timeout=60_000)

    made = console.api_requests("/v1/uploads")
    assert [r.method for r in made if r.url.endswith("/v1/uploads")] == ["POST"]
    parts = [r for r in made if r.url.endswith("/parts")]
    assert len(parts) == 3  # 16 MiB + 16 MiB + the rest
    assert [r for r in made if r.url.endswith("/complete")]
    assert not [r for r in console.api_requests("/v1/files") if r.method == "POST"]
    file_id = row.get_attribute("data-file-id")
    with api(server) as c:
        meta = c.get(f"/v1/files/{file_id}").json()
        assert meta["bytes"] == size and meta["purpose"] == "fine-tune"
        digest = hashlib.sha256()
        with c.stream("GET", f"/v1/files/{file_id}/content") as r:
            for chunk in r.iter_bytes():
                digest.update(chunk)
    assert digest.hexdigest() == sha256(source)


def test_refused_upload_shows_the_api_validation_error(
    console: Console, server: ServerProcess, tmp_path: Path
) -> None:
    good = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}
    source = tmp_path / "bad-batch.jsonl"
    source.write_text(json.dumps(good) + "\n" + '{"custom_id": "b", "method": "GET"}\n')
    with api(server) as c:
        expected = c.post(
            "/v1/files",
            files={"file": (source.name, source.read_bytes())},
            data={"purpose": "batch"},
        )
    assert expected.status_code == 400
    message = expected.json()["error"]["message"]
    assert "line 2" in message

    console.sign_in()
    page = console.page
    page.get_by_test_id("upload-purpose").select_option("batch")
    page.get_by_test_id("upload-input").set_input_files(source)
    assert console.error_text() == message
    expect(page.locator(".uploads li.failed")).to_contain_text(message)
    expect(page.get_by_test_id("file-row").filter(has_text=source.name)).to_have_count(0)


def test_jsonl_preview_reads_only_the_head_with_range(
    console: Console, server: ServerProcess
) -> None:
    lines = [json.dumps({"n": i, "pad": "y" * 200}) for i in range(2000)]
    data = ("\n".join(lines) + "\n").encode()
    assert len(data) > 400_000
    file_id = post_file(server, "many.jsonl", data)
    console.sign_in()
    console.go(f"#/files/{file_id}")
    page = console.page
    shown = page.locator(".lines li pre")
    expect(shown).to_have_count(20)
    assert [json.loads(t)["n"] for t in shown.all_inner_texts()] == list(range(20))

    content = console.api_requests(f"/v1/files/{file_id}/content")
    assert len(content) == 1
    assert content[0].headers.get("range") == "bytes=0-65535"
    response = content[0].response()
    assert response is not None and response.status == 206
    assert response.headers["content-length"] == "65536"
    # The server agrees: one ranged read of 64 KiB, nothing more.
    log = server.log()
    assert re.search(rf'"GET /v1/files/{file_id}/content HTTP/1.1" 206', log)
    assert not re.search(rf'"GET /v1/files/{file_id}/content HTTP/1.1" 200', log)


def test_purpose_filter_and_cursor_paging(console: Console, server: ServerProcess) -> None:
    # Purpose "evals" is used by this test alone, so the pages hold exactly these.
    ids = [post_file(server, f"eval-{i:02}.jsonl", b'{"a": 1}\n', "evals") for i in range(23)]
    post_file(server, "other.txt", b"other")
    console.sign_in()
    page = console.page
    page.get_by_label("Show purpose").select_option("evals")
    rows = page.get_by_test_id("file-row")
    expect(rows).to_have_count(20)
    newest_first = list(reversed(ids))
    assert [r.get_attribute("data-file-id") for r in rows.all()] == newest_first[:20]
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(3)
    assert [r.get_attribute("data-file-id") for r in rows.all()] == newest_first[20:]
    expect(page.get_by_role("button", name="Next page")).to_have_count(0)
    listing = [r for r in console.api_requests("/v1/files?") if r.method == "GET"]
    assert any(f"after={newest_first[19]}" in r.url and "purpose=evals" in r.url for r in listing)
    page.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(20)
    assert rows.first.get_attribute("data-file-id") == newest_first[0]


def test_unknown_file_shows_the_api_404(console: Console, server: ServerProcess) -> None:
    missing = "file-01AAAAAAAAAAAAAAAAAAAAAAAA"
    with api(server) as c:
        expected = c.get(f"/v1/files/{missing}")
    assert expected.status_code == 404
    console.sign_in()
    console.go(f"#/files/{missing}")
    assert console.error_text() == expected.json()["error"]["message"]


def test_wrong_key_is_refused_with_the_api_message(console: Console, server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        expected = c.get("/v1/files", headers={"Authorization": "Bearer sk-wrong"})
    assert expected.status_code == 401
    console.open()
    console.page.get_by_test_id("key-input").fill("sk-wrong")
    console.page.get_by_test_id("sign-in").click()
    assert console.error_text() == expected.json()["error"]["message"]
    expect(console.page.get_by_test_id("sign-out")).to_be_hidden()
    assert console.page.evaluate("sessionStorage.length") == 0


def test_key_stays_in_session_storage_and_headers(console: Console, server: ServerProcess) -> None:
    key = server.master_key
    assert key
    console.sign_in()
    page = console.page
    expect(page.get_by_test_id("file-row").first.or_(page.locator(".empty"))).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('filegate.key')") == key
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    api_calls = console.api_requests("/v1/")
    assert api_calls
    for r in console.requests:
        assert key not in r.url
    for r in api_calls:
        assert r.headers.get("authorization") == f"Bearer {key}"
    # A reload keeps the tab signed in, from session storage.
    page.reload()
    page.get_by_test_id("sign-out").wait_for()

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("key-input")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_test_id("key-input")).to_be_visible()
    expect(page.get_by_test_id("sign-out")).to_be_hidden()


def test_keyboard_reaches_every_control_in_order_with_visible_focus(
    console: Console, server: ServerProcess
) -> None:
    file_id = post_file(server, "keyboard.txt", b"k")
    console.open()
    page = console.page
    # The key field has focus on arrival; Enter signs in.
    page.keyboard.type(server.master_key or "")
    page.keyboard.press("Enter")
    page.locator(f'[data-file-id="{file_id}"]').wait_for()
    page.locator("a.skip").focus()
    reached: list[str] = []
    while "delete-file" not in reached and len(reached) < 30:
        page.keyboard.press("Tab")
        info = page.evaluate(
            """() => {
                const el = document.activeElement;
                const style = getComputedStyle(el);
                return {
                  name: el.dataset.testid || el.getAttribute("aria-label") || el.name
                    || el.textContent.trim(),
                  outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
                };
            }"""
        )
        assert info["outline"], f"no visible focus on {info}"
        reached.append(info["name"])
    assert reached == [
        "Files",
        "Batches",
        "Fine-tuning",
        "Admin",
        "sign-out",
        "upload-purpose",
        "expires",
        "upload-input",
        "purpose",
        "keyboard.txt",
        "download-file",
        "delete-file",
    ]
    # Space on a focused button acts, as on any button (no clickable divs).
    page.keyboard.press("Space")
    expect(page.get_by_test_id("confirm-delete")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("confirm-delete")).to_be_hidden()


@pytest.mark.parametrize("console", [{"viewport": {"width": 375, "height": 740}}], indirect=True)
def test_phone_screen_has_no_horizontal_scroll(console: Console, server: ServerProcess) -> None:
    file_id = post_file(server, "a-rather-long-file-name-" + "x" * 80 + ".jsonl", b'{"k": 1}\n')
    console.sign_in()
    page = console.page
    page.get_by_test_id("file-row").first.wait_for()
    for fragment in (
        "#/files",
        f"#/files/{file_id}",
        "#/batches",
        "#/batches/new",
        "#/fine-tuning",
        "#/fine-tuning/new",
        "#/admin/keys",
        "#/admin/teams",
        "#/admin/audit",
    ):
        console.go(fragment)
        page.locator("#view h1").wait_for()
        page.wait_for_load_state("networkidle")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (fragment, width)
