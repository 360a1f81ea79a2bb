"""The web console's files over HTTP: headers, compression, caching, what can be asked for."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from filegate.server.routes import console
from tests.conftest import ServerProcess

STATIC = Path(console.__file__).parent.parent / "static" / "console"
ASSETS = sorted(p.name for p in STATIC.iterdir() if p.suffix in console.MEDIA_TYPES)
# The budget for everything the console ships, compressed.
BUDGET = 200 * 1024


@pytest.fixture
def client(server: ServerProcess) -> httpx.Client:
    # No key: the console's files are public, as a login page must be.
    return httpx.Client(base_url=server.base_url, timeout=30)


def check_security_headers(r: httpx.Response) -> None:
    csp = r.headers["content-security-policy"]
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";")}
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["default-src"] == "default-src 'none'"
    assert directives["script-src"] == "script-src 'self'"
    assert directives["style-src"] == "style-src 'self'"
    assert directives["connect-src"] == "connect-src 'self'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert directives["form-action"] == "form-action 'none'"
    assert directives["frame-src"] == "frame-src 'self'"
    assert directives["require-trusted-types-for"] == "require-trusted-types-for 'script'"
    assert directives["trusted-types"] == "trusted-types filegate-console"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_ui_redirects_to_the_page(client: httpx.Client) -> None:
    r = client.get("/ui")
    assert r.status_code == 308
    assert r.headers["location"] == "/ui/"
    page = client.get("/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.content == (STATIC / "index.html").read_bytes()
    check_security_headers(page)


@pytest.mark.parametrize("name", ASSETS)
def test_every_asset_is_served_as_shipped(client: httpx.Client, name: str) -> None:
    body = (STATIC / name).read_bytes()
    plain = client.get(f"/ui/{name}", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    assert plain.content == body
    assert plain.headers["content-type"] == console.MEDIA_TYPES[Path(name).suffix]
    check_security_headers(plain)

    zipped = client.get(f"/ui/{name}", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == body  # httpx undid the gzip
    assert int(zipped.headers["content-length"]) < len(body) or len(body) < 200

    refused = client.get(f"/ui/{name}", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers

    again = client.get(f"/ui/{name}", headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    check_security_headers(again)


@pytest.mark.parametrize(
    "path",
    [
        "/ui/nope.js",
        "/ui/console.py",
        "/ui/%2e%2e%2fapp.py",
        "/ui/..%2f..%2fconfig.py",
        "/ui/static/app.js",
        "/ui/index.htm",
    ],
)
def test_nothing_but_the_shipped_files_can_be_fetched(client: httpx.Client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}


def test_the_console_weighs_under_its_budget() -> None:
    sizes = {name: len(gzip.compress((STATIC / name).read_bytes(), 9)) for name in ASSETS}
    total = sum(sizes.values())
    print(f"console assets, gzip -9: {total} bytes in {len(sizes)} files: {sizes}")
    assert total < BUDGET


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data.strip()


def test_no_inline_code_or_style_and_no_markup_sinks() -> None:
    parser = _Tags()
    parser.feed((STATIC / "index.html").read_text())
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert scripts == [{"type": "module", "src": "app.js"}]
    assert parser.script_text == ""
    assert not [tag for tag, _ in parser.tags if tag == "style"]
    for tag, attrs in parser.tags:
        assert "style" not in attrs, tag
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"^(https?:)?//", value), f"external {name} on <{tag}>: {value}"
    # The scripts never turn strings into markup or code (CSP and Trusted Types
    # would refuse it at run time; this keeps it out of the source too).
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function"
    )
    for name in ASSETS:
        if name.endswith(".js"):
            assert not sinks.search((STATIC / name).read_text()), name


def test_the_console_is_not_in_the_api_document(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/ui")]
