"""Take the console screenshots in docs/ with the real browser, on a gateway that really runs.

    python docs/screenshots.py [--out docs] [--chromium /usr/bin/chromium]

Starts, from the repository's own test fakes, the fake OpenAI-compatible model server
(tests/fakes/model_server.py, with some latency so a batch takes a few seconds), the fake
OpenAI upstream (tests/fakes/upstream.py) and ``filegate serve`` with a deployment of each
(``local-llm``, whose batches filegate runs itself, and ``openai``). It uploads a handful of
files, runs one batch to the end and starts another, then drives headless Chromium through
Playwright to write:

* ``console-files.png``: the files page (1200 px wide), with where each file is kept;
* ``console-files-phone.png``: the same on a phone-sized screen (390 x 844);
* ``console-batch.png``: a batch's detail while it runs, its progress bar part full.

Everything it starts is stopped when it ends; nothing outside ``--out`` is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import openai  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.conftest import ServerProcess  # noqa: E402
from tests.fakes.harness import FakeModelServerProcess, running_model_server  # noqa: E402
from tests.integration.self_batches_support import (  # noqa: E402
    chat_line,
    create,
    jsonl,
    sdk,
    self_server,
    upload,
    wait_for,
)
from tests.integration.upstream_support import OPENAI_KEY, running_fake  # noqa: E402

WIDE = {"width": 1200, "height": 850}
PHONE = {"width": 390, "height": 844}


def training_lines(n: int) -> bytes:
    return jsonl(
        [
            {
                "messages": [
                    {"role": "user", "content": f"question {i}"},
                    {"role": "assistant", "content": f"answer {i}"},
                ]
            }
            for i in range(n)
        ]
    )


def seed(client: openai.OpenAI) -> None:
    """The files the pages show: most in filegate's store, one at the openai deployment."""
    own = {"custom_llm_provider": "filegate"}
    client.files.create(
        file=("notes-2025-q3.pdf", os.urandom(180_000)), purpose="user_data", extra_body=own
    )
    client.files.create(
        file=("eval-questions.jsonl", b'{"q": "What is 2+2?", "a": "4"}\n' * 600),
        purpose="evals",
        extra_body=own,
    )
    client.files.create(
        file=("train-support.jsonl", training_lines(20)),
        purpose="fine-tune",
        expires_after={"anchor": "created_at", "seconds": 7 * 86400},
        extra_body={"model": "openai"},
    )
    client.files.create(
        file=("product-photos.zip", os.urandom(2_400_000)), purpose="user_data", extra_body=own
    )


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/ui/")
    page.get_by_test_id("key-input").fill(key)
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("sign-out").wait_for()


def settle(page: Page) -> None:
    page.locator("#view h1").wait_for()
    page.wait_for_load_state("networkidle")
    # No caret or focus ring in a picture.
    page.evaluate("document.activeElement?.blur()")


def shoot(server: ServerProcess, llm: FakeModelServerProcess, out: Path, chromium: str) -> None:
    client = sdk(server)
    seed(client)
    # One batch run to the end (its output file is listed too), one left running.
    small = upload(client, [chat_line(i) for i in range(12)])
    wait_for(client, create(client, small, metadata={"job": "smoke"}).id, {"completed"})
    llm.config(latency=0.25, jitter=0.05)
    lines = [chat_line(i, f"Summarise support ticket {i}") for i in range(160)]
    tickets = client.files.create(
        file=("support-tickets.jsonl", jsonl(lines)),
        purpose="batch",
        extra_body={"custom_llm_provider": "filegate"},
    )
    running = create(client, tickets.id, metadata={"job": "nightly-summaries"})
    url, key = server.base_url, server.master_key or ""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=WIDE)
            sign_in(page, url, key)
            settle(page)
            page.screenshot(path=out / "console-files.png", full_page=True)

            # About half done: the detail page as it polls.
            wait_for(client, running.id, {"in_progress"}, timeout=120, done=len(lines) * 2 // 5)
            page.set_viewport_size({"width": WIDE["width"], "height": 600})
            page.evaluate("id => { location.hash = `#/batches/${id}` }", running.id)
            settle(page)
            page.screenshot(path=out / "console-batch.png")

            phone = browser.new_page(viewport=PHONE)
            sign_in(phone, url, key)
            settle(phone)
            phone.screenshot(path=out / "console-files-phone.png")
        finally:
            browser.close()
    client.batches.cancel(running.id)
    for name in ("console-files.png", "console-batch.png", "console-files-phone.png"):
        print(f"wrote {out / name} ({(out / name).stat().st_size} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument(
        "--chromium", default=os.environ.get("FILEGATE_TEST_CHROMIUM", "/usr/bin/chromium")
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="filegate-shots-") as tmp:
        base = Path(tmp)
        for folder in ("llm", "upstream"):
            (base / folder).mkdir()
        with running_model_server(base / "llm") as llm, running_fake(base / "upstream") as fake:
            openai_deployment = {
                "name": "openai",
                "provider": "openai",
                "api_base": f"{fake.url}/v1",
                "api_key": OPENAI_KEY,
            }
            server = self_server(base / "gateway", llm, concurrency=2, extra=[openai_deployment])
            try:
                shoot(server, llm, args.out, args.chromium)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
