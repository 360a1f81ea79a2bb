"""The console's batches pages, in a real browser, on batches that really run.

The gateway runs these batches itself against the fake OpenAI-compatible model server
(tests/fakes/model_server.py), as tests/integration/test_batches_self*.py do; the fake's
latency makes a batch last long enough for the page to show it part done.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Console
from tests.conftest import ServerProcess
from tests.fakes.harness import FakeModelServerProcess, running_model_server
from tests.integration.self_batches_support import (
    CHAT,
    DEPLOYMENT,
    chat_line,
    create,
    jsonl,
    sdk,
    self_server,
    upload,
    wait_for,
)

# Each request waits this long at the model server, two at a time: 40 lines take ~6 s,
# two of the page's 3 s polls.
LATENCY = 0.3
LINES = 40
MARKUP = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeModelServerProcess]:
    with running_model_server(tmp_path_factory.mktemp("model-server")) as fake:
        yield fake


@pytest.fixture(scope="module")
def server(
    llm: FakeModelServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    srv = self_server(tmp_path_factory.mktemp("console-batches"), llm, concurrency=2)
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _reset(llm: FakeModelServerProcess) -> None:
    llm.reset()


def api(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60)


def progress_of(console: Console) -> dict[str, object]:
    """The detail page's status and progress bar, as shown."""
    state: dict[str, object] = console.page.evaluate(
        """() => {
            const bar = document.querySelector("#view .facts progress.batch-progress");
            const status = document.querySelector("#view .facts .status");
            return {
              status: status?.textContent ?? null,
              value: bar?.hasAttribute("value") ? bar.value : null,
              max: bar?.max ?? null,
              text: bar?.parentElement.querySelector("small")?.textContent ?? null,
            };
        }"""
    )
    return state


def test_a_running_batch_shows_its_progress_then_its_output(
    console: Console, server: ServerProcess, llm: FakeModelServerProcess, tmp_path: Path
) -> None:
    llm.config(latency=LATENCY)
    client = sdk(server)
    file_id = upload(client, [chat_line(i) for i in range(LINES)])
    batch = create(client, file_id, metadata={"run": "console", "note": MARKUP})
    console.sign_in()
    console.go("#/batches")
    page = console.page
    row = page.locator(f'[data-testid="batch-row"][data-batch-id="{batch.id}"]')
    expect(row).to_have_count(1)
    expect(row.locator(".batch-progress")).to_be_visible()
    row.get_by_role("link", name=batch.id).click()
    expect(page.locator("#view h1")).to_have_text(f"Batch {batch.id}")

    # The page polls on its own: it shows the batch part done, as the API says it is.
    seen: list[dict[str, object]] = []

    def part_done() -> bool:
        seen.append(progress_of(console))
        last = seen[-1]
        value = last["value"]
        return (
            last["status"] == "in_progress"
            and isinstance(value, int | float)
            and (0 < value < LINES)
        )

    while not part_done() and len(seen) < 150:
        page.wait_for_timeout(100)
    assert part_done(), seen
    shown = seen[-1]
    assert shown["max"] == LINES
    match = re.fullmatch(rf"(\d+) done, (\d+) failed of {LINES}", str(shown["text"]))
    assert match and int(match[1]) + int(match[2]) == shown["value"]
    expect(page.get_by_role("button", name="Cancel batch")).to_be_visible()

    # And then done, with no reload: the output file is a link that works.
    expect(page.locator("#view .facts .status")).to_have_text("completed", timeout=30_000)
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.output_file_id
    final = progress_of(console)
    assert (final["value"], final["text"]) == (LINES, f"{LINES} done, 0 failed of {LINES}")
    expect(page.get_by_role("button", name="Cancel batch")).to_be_hidden()
    facts = page.locator("#view .facts")
    expect(facts).to_contain_text("run: console")
    # Metadata is the client's own text: shown as written, never markup.
    expect(facts).to_contain_text(f"note: {MARKUP}")
    assert page.evaluate("document.querySelectorAll('#view img').length") == 0
    assert console.dialogs == []
    expect(facts.get_by_role("link", name=file_id)).to_have_attribute("href", f"#/files/{file_id}")
    assert done.error_file_id is None
    shown_files = facts.evaluate(
        """dl => Object.fromEntries([...dl.querySelectorAll("dt")]
            .filter((dt) => dt.textContent.endsWith(" file"))
            .map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))"""
    )
    assert shown_files == {
        "Input file": file_id,
        "Output file": done.output_file_id,
        "Error file": "none",
    }

    facts.get_by_role("link", name=done.output_file_id).click()
    expect(page.locator("#view h1")).to_have_text(f"{batch.id}_output.jsonl")
    lines = page.locator(".lines li pre")
    expect(lines).to_have_count(20)
    shown_ids = [json.loads(t)["custom_id"] for t in lines.all_inner_texts()]
    assert len(set(shown_ids)) == 20 and set(shown_ids) <= {f"c-{i}" for i in range(LINES)}
    with page.expect_download() as info:
        page.get_by_role("button", name="Download").click()
    saved = tmp_path / "output.jsonl"
    info.value.save_as(saved)
    expected = client.files.content(done.output_file_id).content
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(expected).digest()
    # The back link leads to the list, where the row now shows the batch full.
    console.go("#/batches")
    expect(row.locator("small")).to_have_text(f"{LINES} done, 0 failed of {LINES}")
    expect(row.locator(".status")).to_have_text("completed")


def test_cancel_a_running_batch(
    console: Console, server: ServerProcess, llm: FakeModelServerProcess
) -> None:
    llm.config(latency=1.0)  # 60 lines at two a second: a minute, never reached
    client = sdk(server)
    batch = create(client, upload(client, [chat_line(i) for i in range(60)]))
    wait_for(client, batch.id, {"in_progress"}, done=1)
    console.sign_in()
    console.go(f"#/batches/{batch.id}")
    page = console.page
    cancel = page.get_by_role("button", name="Cancel batch")
    cancel.click()
    # Declining leaves it running.
    page.keyboard.press("Escape")
    assert client.batches.retrieve(batch.id).status == "in_progress"
    cancel.click()
    page.get_by_test_id("confirm-delete").click()
    expect(page.locator("#view .facts .status")).to_have_text(
        re.compile("^(cancelling|cancelled)$")
    )
    ended = wait_for(client, batch.id, {"cancelled"}, timeout=30)
    counts = ended.request_counts
    assert counts is not None and counts.completed < 60
    expect(page.locator("#view .facts .status")).to_have_text("cancelled", timeout=15_000)
    expect(cancel).to_be_hidden()
    expect(page.locator("#view .facts")).to_contain_text("Cancelled")


def test_create_a_batch_from_an_uploaded_file(
    console: Console, server: ServerProcess, llm: FakeModelServerProcess, tmp_path: Path
) -> None:
    source = tmp_path / "questions.jsonl"
    source.write_bytes(jsonl([chat_line(i, f"question {i}") for i in range(5)]))
    console.sign_in()
    page = console.page
    page.get_by_test_id("upload-purpose").select_option("batch")
    page.get_by_test_id("upload-input").set_input_files(source)
    row = page.get_by_test_id("file-row").filter(has_text=source.name)
    expect(row).to_have_count(1)
    file_id = row.get_attribute("data-file-id")
    assert file_id
    expect(row.get_by_test_id("stored-at")).to_have_text("filegate store")

    row.get_by_role("link", name=source.name).click()
    page.get_by_role("link", name="Create a batch from this file").click()
    form = page.locator("form", has=page.get_by_role("button", name="Create batch"))
    expect(form.get_by_label("Input file (purpose batch)")).to_have_value(file_id)
    # The file's own batch files are suggested (the list fills in after the form
    # shows, so wait for it rather than counting once).
    expect(page.locator(f'#batch-files option[value="{file_id}"]')).to_have_count(1)
    form.get_by_label("Endpoint").select_option(CHAT)
    form.get_by_label("Metadata").fill("source=console\nowner=tests")
    form.get_by_label("Deployment (optional)").fill(DEPLOYMENT)
    form.get_by_role("button", name="Create batch").click()

    expect(page.locator("#view h1")).to_have_text(re.compile(r"^Batch batch_"))
    batch_id = page.locator("#view h1").inner_text().removeprefix("Batch ")
    made = sdk(server).batches.retrieve(batch_id)
    assert made.input_file_id == file_id and made.endpoint == CHAT
    assert made.metadata == {"source": "console", "owner": "tests"}
    expect(page.locator("#view .facts .status")).to_have_text("completed", timeout=30_000)
    assert llm.stats()["by_op"] == {"chat": 5}


def test_a_refused_batch_shows_the_api_message(console: Console, server: ServerProcess) -> None:
    with api(server) as c:
        made = c.post(
            "/v1/files",
            files={"file": ("plain.txt", b"not for batches")},
            data={"purpose": "user_data"},
        ).json()
        expected = c.post(
            "/v1/batches",
            json={
                "input_file_id": made["id"],
                "endpoint": CHAT,
                "completion_window": "24h",
                "model": DEPLOYMENT,
            },
        )
        missing = c.get("/v1/batches/batch_nope")
    assert expected.status_code == 400 and missing.status_code == 404
    console.sign_in()
    console.go(f"#/batches/new?input={made['id']}")
    page = console.page
    page.get_by_label("Deployment (optional)").fill(DEPLOYMENT)
    page.get_by_role("button", name="Create batch").click()
    assert console.error_text() == expected.json()["error"]["message"]
    expect(page.locator("#view h1")).to_have_text("New batch")

    console.go("#/batches/batch_nope")
    expect(page.get_by_test_id("error-message")).to_have_text(missing.json()["error"]["message"])


@pytest.mark.parametrize("console", [{"viewport": {"width": 375, "height": 740}}], indirect=True)
def test_batch_pages_fit_a_phone(console: Console, server: ServerProcess) -> None:
    client = sdk(server)
    batch = create(client, upload(client, [chat_line(i) for i in range(3)]), metadata={"k": "v"})
    wait_for(client, batch.id, {"completed"})
    console.sign_in()
    page = console.page
    for fragment in ("#/batches", f"#/batches/{batch.id}", "#/batches/new"):
        console.go(fragment)
        page.locator("#view h1").wait_for()
        page.wait_for_load_state("networkidle")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (fragment, width)
