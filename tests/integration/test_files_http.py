"""Raw HTTP against a real server: the file object, list parameters and paging, both prefixes."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import Part as P
from support import assert_error, list_all, multipart, upload

LIST_KEYS = {"object", "data", "first_id", "last_id", "has_more"}
FILE_KEYS = {"id", "object", "bytes", "created_at", "filename", "purpose", "status"}


@pytest.fixture(scope="module")
def vision_ids(server: Any) -> list[str]:
    """Five `vision` files (no other test here uses that purpose), oldest first."""
    with httpx.Client(base_url=server.base_url, headers=server.headers) as client:
        return [upload(client, b"img%d" % i, purpose="vision")["id"] for i in range(5)]


def test_file_object_shape(http: httpx.Client) -> None:
    data = b"hello, world\n"
    before = int(time.time())
    obj = upload(http, data, filename="hello.txt", content_type="text/plain")
    assert set(obj) == FILE_KEYS, "expires_at is omitted when not set"
    assert obj["id"].startswith("file-")
    assert obj["object"] == "file"
    assert obj["bytes"] == len(data)
    assert type(obj["created_at"]) is int and before <= obj["created_at"] <= time.time()
    assert obj["filename"] == "hello.txt"
    assert obj["purpose"] == "user_data"
    assert obj["status"] == "processed"
    assert http.get(f"/v1/files/{obj['id']}").json() == obj


def test_ids_are_unique_and_time_sortable(http: httpx.Client) -> None:
    first = upload(http, b"a")
    time.sleep(0.01)
    second = upload(http, b"b")
    assert first["id"] != second["id"]
    assert first["id"] < second["id"]


def test_both_prefixes_serve_the_same_files(http: httpx.Client) -> None:
    obj = upload(http, b"no prefix", path="/files")
    assert http.get(f"/files/{obj['id']}").json() == obj
    assert http.get(f"/v1/files/{obj['id']}").json() == obj
    assert http.get(f"/files/{obj['id']}/content").content == b"no prefix"
    assert obj["id"] in {f["id"] for f in http.get("/files").json()["data"]}
    deleted = http.delete(f"/files/{obj['id']}")
    assert deleted.json() == {"id": obj["id"], "object": "file", "deleted": True}
    assert_error(http.get(f"/v1/files/{obj['id']}"), 404)


def test_delete_then_everything_is_404(http: httpx.Client) -> None:
    obj = upload(http, b"to delete")
    resp = http.delete(f"/v1/files/{obj['id']}")
    assert resp.status_code == 200
    assert resp.json() == {"id": obj["id"], "object": "file", "deleted": True}
    for method, path in (
        ("GET", f"/v1/files/{obj['id']}"),
        ("GET", f"/v1/files/{obj['id']}/content"),
        ("DELETE", f"/v1/files/{obj['id']}"),
    ):
        assert_error(http.request(method, path), 404, param="file_id")
    assert obj["id"] not in {f["id"] for f in list_all(http)}


@pytest.mark.parametrize("path", ["/v1/files/file-01ABSENT", "/v1/files/whatever/content"])
def test_unknown_ids_are_404(http: httpx.Client, path: str) -> None:
    assert_error(http.get(path), 404, param="file_id")
    assert_error(http.delete(path.removesuffix("/content")), 404, param="file_id")


def test_list_default_is_everything_newest_first(http: httpx.Client, vision_ids: list[str]) -> None:
    body = http.get("/v1/files").json()
    assert set(body) == LIST_KEYS
    assert body["object"] == "list"
    assert body["has_more"] is False
    ids = [f["id"] for f in body["data"]]
    assert set(vision_ids) <= set(ids)
    assert ids == sorted(ids, reverse=True)
    stamps = [f["created_at"] for f in body["data"]]
    assert stamps == sorted(stamps, reverse=True)
    assert body["first_id"] == ids[0] and body["last_id"] == ids[-1]


def test_list_empty_result(http: httpx.Client) -> None:
    # No test in this module uploads `evals` files.
    resp = http.get("/v1/files", params={"purpose": "evals"})
    assert resp.status_code == 200
    assert resp.json() == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_list_purpose_filter(http: httpx.Client, vision_ids: list[str]) -> None:
    upload(http, b"other", purpose="assistants")
    body = http.get("/v1/files", params={"purpose": "vision"}).json()
    assert [f["id"] for f in body["data"]] == vision_ids[::-1]
    assert {f["purpose"] for f in body["data"]} == {"vision"}
    assert {f["purpose"] for f in list_all(http, purpose="assistants")} == {"assistants"}


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_list_pages_with_after(http: httpx.Client, vision_ids: list[str], order: str) -> None:
    expected = vision_ids if order == "asc" else vision_ids[::-1]
    seen: list[str] = []
    after: str | None = None
    pages = []
    while True:
        params: dict[str, Any] = {"purpose": "vision", "limit": 2, "order": order}
        if after:
            params["after"] = after
        body = http.get("/v1/files", params=params).json()
        ids = [f["id"] for f in body["data"]]
        assert body["first_id"] == ids[0] and body["last_id"] == ids[-1]
        pages.append((ids, body["has_more"]))
        seen += ids
        if not body["has_more"]:
            break
        after = body["last_id"]
    assert seen == expected
    assert [has_more for _, has_more in pages] == [True, True, False]
    assert [len(ids) for ids, _ in pages] == [2, 2, 1]


def test_has_more_is_false_when_limit_equals_count(
    http: httpx.Client, vision_ids: list[str]
) -> None:
    full = http.get("/v1/files", params={"purpose": "vision", "limit": 5}).json()
    assert len(full["data"]) == 5 and full["has_more"] is False
    short = http.get("/v1/files", params={"purpose": "vision", "limit": 4}).json()
    assert len(short["data"]) == 4 and short["has_more"] is True
    after_last = http.get(
        "/v1/files", params={"purpose": "vision", "after": full["last_id"]}
    ).json()
    assert after_last["data"] == [] and after_last["has_more"] is False
    assert after_last["first_id"] is None and after_last["last_id"] is None


@pytest.mark.parametrize("limit", ["1", "10000"])
def test_list_limit_bounds_accepted(http: httpx.Client, vision_ids: list[str], limit: str) -> None:
    body = http.get("/v1/files", params={"purpose": "vision", "limit": limit}).json()
    assert len(body["data"]) == min(int(limit), len(vision_ids))


@pytest.mark.parametrize(
    "limit", ["0", "10001", "abc", "-1", "", "1.5", "1_0", " 5", "\u0663", "9" * 30]
)
def test_list_bad_limit(http: httpx.Client, limit: str) -> None:
    assert_error(http.get("/v1/files", params={"limit": limit}), 400, param="limit")


@pytest.mark.parametrize("order", ["sideways", "ASC", ""])
def test_list_bad_order(http: httpx.Client, order: str) -> None:
    assert_error(http.get("/v1/files", params={"order": order}), 400, param="order")


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/v1/files?before=file-x", "before"),
        ("/v1/files?purpose=vision&color=red", "color"),
        ("/v1/files/file-01ABSENT?verbose=1", "verbose"),
        ("/v1/files/file-01ABSENT/content?download=1", "download"),
    ],
)
def test_unknown_query_params(http: httpx.Client, path: str, param: str) -> None:
    assert_error(http.get(path), 400, param=param, code="unknown_parameter")


def test_unknown_query_param_on_create_and_delete(http: httpx.Client) -> None:
    body, ctype = multipart([P("purpose", "user_data"), P("file", b"x", filename="x.bin")])
    before = list_all(http)
    resp = http.post("/v1/files?force=1", content=body, headers={"Content-Type": ctype})
    assert_error(resp, 400, param="force")
    assert list_all(http) == before
    obj = upload(http, b"keep")
    assert_error(http.delete(f"/v1/files/{obj['id']}?hard=true"), 400, param="hard")
    assert http.get(f"/v1/files/{obj['id']}").status_code == 200


def test_routing_query_params(http: httpx.Client, vision_ids: list[str]) -> None:
    ok = http.get("/v1/files", params={"purpose": "vision", "custom_llm_provider": "filegate"})
    assert ok.status_code == 200 and len(ok.json()["data"]) == len(vision_ids)
    assert http.get(f"/v1/files/{vision_ids[0]}", params={"target_storage": "default"}).is_success
    assert_error(
        http.get("/v1/files", params={"custom_llm_provider": "openai"}),
        400,
        param="custom_llm_provider",
    )
    assert_error(
        http.get("/v1/files", headers={"custom-llm-provider": "azure"}),
        400,
        param="custom_llm_provider",
    )
    assert_error(
        http.get(f"/v1/files/{vision_ids[0]}", params={"model": "gpt-4o"}), 400, param="model"
    )


def test_after_a_deleted_file_still_pages(http: httpx.Client) -> None:
    ids = [
        upload(http, b'{"n": %d}\n' % i, purpose="fine-tune", filename="f.jsonl")["id"]
        for i in range(3)
    ]
    assert http.delete(f"/v1/files/{ids[1]}").status_code == 200
    params = {"purpose": "fine-tune", "after": ids[1]}
    asc = http.get("/v1/files", params={**params, "order": "asc"}).json()
    assert [f["id"] for f in asc["data"]] == [ids[2]]
    desc = http.get("/v1/files", params={**params, "order": "desc"}).json()
    assert [f["id"] for f in desc["data"]] == [ids[0]]
    assert asc["has_more"] is False and desc["has_more"] is False


def test_curl_quick_start(server: Any, tmp_path: Path) -> None:
    """The documented curl session, verbatim apart from host and key."""
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    data = b'{"messages": [{"role": "user", "content": "hi"}]}\n'
    (tmp_path / "mydata.jsonl").write_bytes(data)
    auth = ["-H", f"Authorization: Bearer {server.master_key}"]

    def run(*args: str) -> bytes:
        out = subprocess.run(
            [curl, "-sS", "--fail-with-body", *args], cwd=tmp_path, capture_output=True, check=True
        )
        return out.stdout

    url = f"{server.base_url}/v1/files"
    created = json.loads(run(url, *auth, "-F", "purpose=fine-tune", "-F", "file=@mydata.jsonl"))
    assert created["filename"] == "mydata.jsonl" and created["bytes"] == len(data)
    file_id = created["id"]
    assert file_id in {f["id"] for f in json.loads(run(url, *auth))["data"]}
    assert json.loads(run(f"{url}/{file_id}", *auth)) == created
    assert run(f"{url}/{file_id}/content", *auth) == data
    deleted = json.loads(run(f"{url}/{file_id}", "-X", "DELETE", *auth))
    assert deleted == {"id": file_id, "object": "file", "deleted": True}


@pytest.mark.parametrize("purpose", ["", "foo", "Batch", "batch ", "user_data\x00", "x" * 500])
def test_list_refuses_a_purpose_no_file_can_have(http: httpx.Client, purpose: str) -> None:
    resp = http.get("/v1/files", params={"purpose": purpose})
    assert_error(resp, 400, param="purpose", code="invalid_value")


@pytest.mark.parametrize("purpose", ["batch_output", "fine-tune-results", "assistants_output"])
def test_list_takes_the_purposes_of_files_providers_make(http: httpx.Client, purpose: str) -> None:
    resp = http.get("/v1/files", params={"purpose": purpose})
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"] == []


@pytest.mark.parametrize(
    "after",
    [
        "",
        "notanid",
        "file-",
        "file-abc123",
        "file-01absent0000000000000000",  # lower case: not a ULID
        "batch_01J0000000000000000000000",
        "file-01J00000000000000000000000\x00",
        "\x00",
    ],
)
def test_list_refuses_an_after_that_is_no_file_id(http: httpx.Client, after: str) -> None:
    resp = http.get("/v1/files", params={"after": after})
    assert_error(resp, 400, param="after", code="invalid_value")


def test_a_well_formed_unknown_after_still_pages(http: httpx.Client) -> None:
    newest = upload(http, b"newest")["id"]
    never = "file-" + "0" * 26  # well-formed, older than every file
    asc = http.get("/v1/files", params={"after": never, "order": "asc", "limit": 10000})
    assert asc.status_code == 200, asc.text
    assert newest in [f["id"] for f in asc.json()["data"]]
    desc = http.get("/v1/files", params={"after": never})
    assert desc.status_code == 200 and desc.json()["data"] == []
