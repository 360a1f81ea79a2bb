"""The console's defences, in a real browser: CSP in force, markup in data stays text."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from playwright.sync_api import expect

from filegate.server.routes.console import HEADERS
from tests.browser.conftest import Console
from tests.conftest import ServerProcess

XSS_NAME = "<img src=x onerror=alert(1)>.jsonl"
XSS_LINES = [
    {"text": "<script>alert(2)</script>", "html": "<img src=y onerror=alert(3)>"},
    {"a": '"><svg onload=alert(4)>', "b": "</pre><iframe src=javascript:alert(5)>"},
]


def test_security_headers_on_the_page_and_every_asset(
    console: Console, server: ServerProcess
) -> None:
    responses = []
    console.page.on("response", lambda r: responses.append(r))
    console.open()
    console.page.get_by_test_id("key-input").wait_for()
    ours = [r for r in responses if "/ui/" in r.url]
    assert {r.url.rsplit("/", 1)[-1] for r in ours} >= {
        "",
        "app.js",
        "api.js",
        "dom.js",
        "ui.js",
        "files.js",
        "upload.js",
        "download.js",
        "listing.js",
        "batches.js",
        "finetuning.js",
        "admin.js",
        "console.css",
        "icon.svg",
    }
    # The policy's content is checked in tests/integration/test_console_http.py;
    # here, that the browser got all of it on every response it loaded.
    for r in ours:
        for name, value in HEADERS.items():
            assert r.headers[name.lower()] == value, (r.url, name)
    # Every request the page made stayed on the gateway's origin (no CDN, no fonts).
    assert all(r.url.startswith(server.base_url) for r in console.requests)


def test_csp_blocks_inline_script_and_markup_strings(console: Console) -> None:
    console.open()
    page = console.page
    page.get_by_test_id("key-input").wait_for()
    result = page.evaluate(
        """async () => {
            const violations = [];
            document.addEventListener("securitypolicyviolation", (e) =>
              violations.push(e.violatedDirective));
            const attempt = (f) => { try { f(); return "allowed"; } catch (e) { return e.name; } };
            window.ran = false;
            const s = document.createElement("script");
            s.append(document.createTextNode("window.ran = true"));
            document.body.append(s);
            const out = {
              innerHTML: attempt(() => { document.createElement("div").innerHTML = "<b>x</b>"; }),
              handler: attempt(() => document.body.setAttribute("onclick", "window.ran = 1")),
              scriptText: attempt(() => { document.createElement("script").text = "1"; }),
              // No new policy can be made: not another name, nor the console's again.
              otherPolicy: attempt(() => trustedTypes.createPolicy("x", { createHTML: (v) => v })),
              samePolicy: attempt(() =>
                trustedTypes.createPolicy("filegate-console", { createHTML: (v) => v })),
            };
            await new Promise((r) => setTimeout(r, 50));
            return { ...out, ran: window.ran, violations };
        }"""
    )
    assert result["ran"] is False, result
    # Trusted Types: a plain string can never become markup or code, wherever it came from.
    for name in ("innerHTML", "handler", "scriptText", "otherPolicy", "samePolicy"):
        assert result[name] == "TypeError", (name, result)
    assert "require-trusted-types-for" in result["violations"], result


def test_framing_is_refused(console: Console, server: ServerProcess, tmp_path: Path) -> None:
    # A page on another origin (a data: URL) that tries to frame the console.
    page = console.page
    page.set_content(f'<iframe id="f" src="{server.base_url}/ui/"></iframe>')
    page.wait_for_timeout(500)
    frame = page.frame_locator("#f")
    expect(frame.get_by_test_id("key-input")).to_have_count(0)


def test_markup_in_a_file_name_and_content_stays_text(
    console: Console, server: ServerProcess, tmp_path: Path
) -> None:
    source = tmp_path / XSS_NAME
    source.write_text("".join(json.dumps(line) + "\n" for line in XSS_LINES))
    console.sign_in()
    page = console.page
    page.get_by_test_id("upload-purpose").select_option("user_data")
    page.get_by_test_id("upload-input").set_input_files(source)
    row = page.get_by_test_id("file-row").filter(has_text=XSS_NAME)
    expect(row).to_have_count(1)
    file_id = row.get_attribute("data-file-id")
    with httpx.Client(base_url=server.base_url, headers=server.headers) as c:
        assert c.get(f"/v1/files/{file_id}").json()["filename"] == XSS_NAME
    # The name is shown as written, and became no element.
    expect(row.get_by_role("link", name=XSS_NAME)).to_be_visible()
    row.get_by_test_id("delete-file").click()
    expect(page.locator("#confirm-text")).to_contain_text(XSS_NAME)
    page.keyboard.press("Escape")

    row.get_by_role("link", name=XSS_NAME).click()
    shown = page.locator(".lines li pre")
    expect(shown).to_have_count(2)
    assert [json.loads(t) for t in shown.all_inner_texts()] == XSS_LINES
    expect(page.locator("#view h1")).to_have_text(XSS_NAME)

    page.wait_for_timeout(300)  # room for any onerror/onload to fire
    assert console.dialogs == []
    injected = page.evaluate(
        """() => ({
            img: document.querySelectorAll("img:not(.brand img)").length,
            svg: document.querySelectorAll("svg").length,
            iframe: document.querySelectorAll("iframe").length,
            scripts: [...document.scripts].map((s) => s.getAttribute("src")),
        })"""
    )
    assert injected == {"img": 0, "svg": 0, "iframe": 0, "scripts": ["app.js"]}
    # No request went to the markup's URLs (src=x, src=y).
    assert not [r for r in console.requests if r.url.rsplit("/", 1)[-1] in ("x", "y")]
