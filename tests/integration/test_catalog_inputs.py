"""Strings and numbers no catalog can keep are refused at the edge, alike on both catalogs.

PostgreSQL's text refuses NUL and its varchar(255) a longer value, orjson writes no
integer past 64 bits and no JSON deeper than 255 levels; SQLite takes much of that
as it comes. Each input here once made a 500 on one catalog or both; each must be a
400 naming the parameter (or the 404/200 any other unknown value gets), on SQLite
and on PostgreSQL, with nothing logged as an unhandled error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from support import assert_error

from tests.conftest import ServerProcess, start_server
from tests.postgres import postgres_url  # noqa: F401 - a fixture

NUL = "\x00"
LONG = "x" * 300


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {}
    if request.param == "postgresql":
        env["FILEGATE_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    srv = start_server(tmp_path_factory.mktemp(f"catalog-{request.param}"), env=env)
    yield srv
    srv.stop()
    assert "unhandled error" not in srv.log(), srv.log()


@pytest.fixture
def master(gateway: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.base_url, headers=gateway.headers, timeout=30) as c:
        yield c


def _form(disposition: str) -> tuple[bytes, dict[str, str]]:
    """A file upload whose file part has exactly this Content-Disposition."""
    b = "catalog-inputs"
    body = (
        f'--{b}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n'
        f"--{b}\r\nContent-Disposition: {disposition}\r\nContent-Type: text/plain\r\n\r\n"
        f"hello\r\n--{b}--\r\n"
    ).encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={b}"}


UPLOAD = {"filename": "a.txt", "purpose": "user_data", "bytes": 5, "mime_type": "text/plain"}

# (method, path, query, JSON body, the param the 400 names)
REFUSED: list[tuple[str, str, dict[str, str] | None, dict[str, Any] | None, str]] = [
    ("GET", "/v1/files", {"after": NUL}, None, "after"),
    ("GET", "/v1/files", {"purpose": NUL}, None, "purpose"),
    ("GET", "/v1/files", {"custom_llm_provider": NUL}, None, "custom_llm_provider"),
    ("POST", "/v1/uploads", None, {**UPLOAD, "filename": f"a{NUL}b.txt"}, "filename"),
    ("POST", "/v1/uploads", None, {**UPLOAD, "mime_type": "text/" + "x" * 297}, "mime_type"),
    ("POST", "/key/generate", None, {"key_alias": f"a{NUL}"}, "key_alias"),
    ("POST", "/key/generate", None, {"user_id": NUL}, "user_id"),
    ("POST", "/key/generate", None, {"team_id": NUL}, "team_id"),
    ("POST", "/key/generate", None, {"metadata": {"note": NUL}}, "metadata.note"),
    ("GET", "/key/info", {"key": NUL}, None, "key"),
    ("GET", "/key/info", {"key": f"sk-{NUL}"}, None, "key"),
    ("GET", "/key/list", {"team_id": NUL}, None, "team_id"),
    ("GET", "/key/list", {"key_alias": NUL}, None, "key_alias"),
    ("POST", "/key/update", None, {"key": NUL}, "key"),
    ("POST", "/key/delete", None, {"keys": [NUL]}, "keys.0"),
    ("POST", "/key/delete", None, {"key_aliases": [NUL]}, "key_aliases.0"),
    ("POST", "/team/new", None, {"team_id": f"t{NUL}"}, "team_id"),
    ("POST", "/team/new", None, {"team_alias": NUL}, "team_alias"),
    ("GET", "/team/info", {"team_id": NUL}, None, "team_id"),
    ("POST", "/team/update", None, {"team_id": NUL}, "team_id"),
    ("POST", "/team/delete", None, {"team_ids": [NUL]}, "team_ids.0"),
    ("GET", "/audit", {"after": NUL}, None, "after"),
    ("GET", "/audit", {"actor": NUL}, None, "actor"),
    ("GET", "/audit", {"subject": NUL}, None, "subject"),
    ("GET", "/key/list", {"page": "99999999999999999999"}, None, "page"),
]


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "param"),
    REFUSED,
    ids=[f"{m} {p} {param}" for m, p, _, _, param in REFUSED],
)
def test_refused_with_the_param_named(
    master: httpx.Client,
    method: str,
    path: str,
    params: dict[str, str] | None,
    body: dict[str, Any] | None,
    param: str,
) -> None:
    resp = master.request(method, path, params=params, json=body)
    assert_error(resp, 400, param=param)


@pytest.mark.parametrize(
    "disposition",
    [
        f'form-data; name="file"; filename="a{NUL}b.txt"',
        "form-data; name=\"file\"; filename*=UTF-8''a%00b.txt",
    ],
    ids=["raw", "rfc5987"],
)
def test_a_file_name_with_nul_is_refused(master: httpx.Client, disposition: str) -> None:
    before = master.get("/v1/files").json()["data"]
    body, headers = _form(disposition)
    assert_error(master.post("/v1/files", content=body, headers=headers), 400, param="file")
    assert master.get("/v1/files").json()["data"] == before, "nothing was stored"


@pytest.mark.parametrize("action", ["parts", "complete", "cancel"])
@pytest.mark.parametrize("upload_id", [NUL, f"upload_{NUL}", LONG], ids=["nul", "prefixed", "long"])
def test_an_upload_id_no_upload_can_have_is_404(
    master: httpx.Client, action: str, upload_id: str
) -> None:
    url = f"/v1/uploads/{quote(upload_id, safe='')}/{action}"
    if action == "parts":
        resp = master.post(url, files={"data": ("blob", b"x")})
    elif action == "complete":
        resp = master.post(url, json={"part_ids": []})
    else:
        resp = master.post(url)
    assert_error(resp, 404, param="upload_id")


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/key/info", {"key": LONG}, 404),
        ("/team/info", {"team_id": LONG}, 404),
        ("/key/list", {"team_id": LONG, "user_id": LONG, "key_alias": LONG}, 200),
        ("/audit", {"after": LONG, "actor": LONG, "action": LONG, "subject": LONG}, 200),
    ],
)
def test_an_over_long_filter_finds_nothing(
    master: httpx.Client, path: str, params: dict[str, str], status: int
) -> None:
    resp = master.get(path, params=params)
    assert resp.status_code == status, resp.text


def _nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for _ in range(depth):
        doc = {"a": doc}
    return doc


@pytest.mark.parametrize("path", ["/key/generate", "/team/new"])
def test_metadata_nested_too_deep_is_refused(master: httpx.Client, path: str) -> None:
    # Written out by hand: Python's json module cannot nest this deep either.
    deep = '{"metadata": ' + '{"a": ' * 1000 + "{}" + "}" * 1000 + "}"
    resp = master.post(path, content=deep, headers={"Content-Type": "application/json"})
    assert_error(resp, 400, param="metadata", code="invalid_value")
    ok = master.post(path, json={"metadata": _nested(20)})
    assert ok.status_code == 200, ok.text
    assert ok.json()["metadata"] == _nested(20)


def test_a_master_key_page_past_64_bits_is_refused(master: httpx.Client) -> None:
    last = master.get("/key/list", params={"page": str(2**63 - 1)})
    assert last.status_code == 200, last.text
    assert last.json()["keys"] == [] and last.json()["current_page"] == 2**63 - 1
    assert_error(master.get("/key/list", params={"page": str(2**63)}), 400, param="page")
