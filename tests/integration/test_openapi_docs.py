"""/openapi.json and /docs: the document describes the real server, the page works offline."""

from __future__ import annotations

import copy
import datetime
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import orjson
import pytest
import schemathesis
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from filegate import records
from filegate.config import Settings
from filegate.core.files.uploads import MAX_PART_BYTES, MAX_UPLOAD_BYTES, check_mime_type
from filegate.core.params import EXPIRES_MAX, EXPIRES_MIN, LIST_LIMIT_MAX
from filegate.core.targets import ROUTING_FIELDS
from filegate.errors import InvalidRequest
from filegate.gateway import open_gateway
from filegate.records import PURPOSES
from filegate.server.app import create_app
from filegate.server.openapi import swagger_ui
from filegate.server.openapi import uploads as uploads_doc
from filegate.server.openapi.document import (
    DOCS_PATH,
    OPENAPI_PATH,
    Routing,
    build_document,
    document_bytes,
)
from filegate.server.routes import files, uploads

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_document()


@pytest.fixture(scope="module")
def api(doc: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_dict(copy.deepcopy(doc))


@pytest.fixture
def client(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=30) as c:
        yield c


def _deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        _, *parts = node["$ref"].split("/")
        target: Any = doc
        for part in parts:
            target = target[part]
        node = target
    return node


def assert_conforms(
    doc: dict[str, Any], api: Any, path: str, method: str, resp: httpx.Response
) -> None:
    """Status documented, required headers present, body valid against the document."""
    operation = doc["paths"][path][method]
    status = str(resp.status_code)
    assert status in operation["responses"], f"{method} {path}: {status} is undocumented"
    response = _deref(doc, operation["responses"][status])
    for name, header in response.get("headers", {}).items():
        if _deref(doc, header).get("required"):
            assert name.lower() in resp.headers, f"{method} {path} {status}: no {name}"
    resp.request.read()  # schemathesis looks at the request too; a multipart one is a stream
    api[path][method.upper()].validate_response(resp)


# --- the document itself -------------------------------------------------------------


def test_document_is_valid_openapi_31(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(copy.deepcopy(doc)).validate()
    # The validation is real: a broken copy is refused.
    broken = copy.deepcopy(doc)
    broken["paths"]["/v1/files"]["get"]["responses"] = "nothing"
    with pytest.raises(Exception, match=r"responses|nothing"):
        schemathesis.openapi.from_dict(broken).validate()


def test_document_with_deployments_is_valid_too() -> None:
    routing = Routing(providers=("azure", "filegate", "openai"), deployments=("gpt", "az-eu"))
    doc = build_document(routing)
    schemathesis.openapi.from_dict(copy.deepcopy(doc)).validate()
    params = doc["components"]["parameters"]
    assert params["Provider"]["schema"]["enum"] == ["azure", "filegate", "openai"]
    assert "az-eu" in params["Routing_model"]["description"]
    assert "ProviderFile" in doc["components"]["schemas"]


def _real_routes() -> set[tuple[str, str]]:
    app: Any = create_app(Settings(), open_gateway)
    while not hasattr(app, "routes"):  # through the middleware to the Starlette app
        app = app.app
    out: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount) or not isinstance(route, Route):
            continue
        if not route.include_in_schema:
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        out |= {(path, m.lower()) for m in route.methods or () if m != "HEAD"}
    return out


def test_document_lists_exactly_the_real_routes(doc: dict[str, Any]) -> None:
    documented = {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented == _real_routes()


def _api_group(path: str) -> str | None:
    """`Files`, `Uploads`, `Batches` or `Fine-tuning` for the OpenAI routes (under any
    prefix), else None."""
    segments = path.split("/")
    for name in ("files", "uploads", "batches"):
        if name in segments:
            return name.capitalize()
    return "Fine-tuning" if "fine_tuning" in segments else None


def test_operation_ids_are_unique_and_aliases_marked(doc: dict[str, Any]) -> None:
    ops = [(p, m, op) for p, item in doc["paths"].items() for m, op in item.items()]
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids))
    aliases = 0
    for path, method, op in ops:
        group = _api_group(path)
        if group is None:
            continue
        if path.startswith("/v1/"):
            assert "x-alias-of" not in op and op["tags"] == [group]
        else:
            # An alias points at the /v1 operation it repeats, with the same answers.
            target = doc["paths"][op["x-alias-of"]][method]
            assert op["operationId"].startswith(target["operationId"])
            assert set(op["responses"]) >= set(target["responses"])
            assert op["tags"][0].startswith(f"{group} (")
            aliases += 1
    # Every Files, Uploads, Batches and Fine-tuning operation has its three other prefixes.
    assert aliases == 3 * sum(path.startswith("/v1/") for path, _, _ in ops)


def test_upload_fields_are_the_ones_the_server_accepts(doc: dict[str, Any]) -> None:
    body = doc["paths"]["/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]
    schema = _deref(doc, body["schema"])
    props = schema["properties"]
    assert set(props) == {"file", *files.CREATE_FIELDS, *ROUTING_FIELDS}
    assert schema["required"] == ["file", "purpose"]
    assert schema["additionalProperties"] is False
    assert props["file"] == {**props["file"], "type": "string", "format": "binary"}
    assert props["purpose"]["enum"] == list(PURPOSES)
    assert props["expires_after[anchor]"]["const"] == "created_at"
    seconds = props["expires_after[seconds]"]
    assert (seconds["minimum"], seconds["maximum"]) == (EXPIRES_MIN, EXPIRES_MAX) == (3600, 2592000)
    # expires_after as one JSON part: the same pair, and never beside the bracketed ones.
    assert body["encoding"]["expires_after"] == {"contentType": "application/json"}
    expiry = _deref(doc, props["expires_after"])
    assert expiry["required"] == ["anchor", "seconds"]
    assert expiry["properties"]["anchor"]["const"] == "created_at"
    assert {k: expiry["properties"]["seconds"][k] for k in ("minimum", "maximum")} == {
        "minimum": EXPIRES_MIN,
        "maximum": EXPIRES_MAX,
    }
    validator = jsonschema.Draft202012Validator({**schema, "components": doc["components"]})
    ok = {"file": "x", "purpose": "batch"}
    assert validator.is_valid({**ok, "expires_after": {"anchor": "created_at", "seconds": 3600}})
    assert validator.is_valid(
        {**ok, "expires_after[anchor]": "created_at", "expires_after[seconds]": 3600}
    )
    assert not validator.is_valid(
        {
            **ok,
            "expires_after": {"anchor": "created_at", "seconds": 3600},
            "expires_after[seconds]": 3600,
        }
    )


def test_uploads_fields_are_the_ones_the_server_accepts(doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    body = paths["/v1/uploads"]["post"]["requestBody"]["content"]["application/json"]
    create = _deref(doc, body["schema"])
    model = uploads.CreateUpload.model_fields
    assert set(create["properties"]) == set(model)
    openai_fields = {"filename", "purpose", "bytes", "mime_type", "expires_after"}
    assert set(model) - openai_fields == set(uploads_doc.BODY_ROUTING_FIELDS) <= set(ROUTING_FIELDS)
    assert create["required"] == [name for name, field in model.items() if field.is_required()]
    assert create["additionalProperties"] is False
    props = create["properties"]
    assert props["purpose"]["enum"] == list(PURPOSES)
    assert props["bytes"]["maximum"] == MAX_UPLOAD_BYTES == 8 * 1024**3
    assert props["expires_after"]["anyOf"][0] == {
        "$ref": "#/components/schemas/FileExpirationAfter"
    }

    part = paths["/v1/uploads/{upload_id}/parts"]["post"]["requestBody"]["content"]
    schema = _deref(doc, part["multipart/form-data"]["schema"])
    assert (set(schema["properties"]), schema["required"]) == ({"data"}, ["data"])
    assert str(MAX_PART_BYTES) in schema["properties"]["data"]["description"]

    complete = paths["/v1/uploads/{upload_id}/complete"]["post"]["requestBody"]["content"]
    schema = _deref(doc, complete["application/json"]["schema"])
    assert set(schema["properties"]) == set(uploads.CompleteUpload.model_fields)
    assert schema["required"] == ["part_ids"]

    # The objects: exactly the keys the server sends, all of them always.
    schemas = doc["components"]["schemas"]
    upload = records.Upload("upload_x", "f", "user_data", 1, "text/plain", 1, 2)
    assert schemas["Upload"]["required"] == list(upload.to_openai())
    assert set(schemas["Upload"]["properties"]) == set(upload.to_openai())
    part_obj = records.UploadPart("part_x", "upload_x", 1, 1).to_openai()
    assert schemas["UploadPart"]["required"] == list(part_obj)
    assert set(schemas["UploadPart"]["properties"]) == set(part_obj)


@pytest.mark.parametrize("purpose", PURPOSES)
def test_upload_mime_types_are_the_ones_the_server_accepts(
    doc: dict[str, Any], purpose: str
) -> None:
    """The schema's mime_type rule and `check_mime_type` agree, value by value."""
    schema = doc["components"]["schemas"]["CreateUploadRequest"]
    validator = jsonschema.Draft202012Validator({**schema, "components": doc["components"]})
    candidates = [
        "text/plain",
        "TEXT/Plain",
        " application/jsonl ; charset=utf-8",
        "application/x-ndjson;",
        "Application/JSON\n",
        "image/png",
        "IMAGE/WEBP; q=1",
        "image/svg+xml",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/jsonl\t",
        "image / png",
        "image/",
        "/png",
        "png",
        "",
        " ",
        ";text/plain",
        "text/plain/x",
        "text/pl@in",
        "t\u00e9xt/plain",
    ]
    for mime_type in candidates:
        body = {"filename": "f", "purpose": purpose, "bytes": 1, "mime_type": mime_type}
        try:
            check_mime_type(purpose, mime_type)
            accepted = True
        except InvalidRequest:
            accepted = False
        assert validator.is_valid(body) == accepted, (purpose, mime_type)


def test_list_parameters_are_the_ones_the_server_accepts(doc: dict[str, Any]) -> None:
    params = [_deref(doc, p) for p in doc["paths"]["/v1/files"]["get"]["parameters"]]
    query = {p["name"]: p["schema"] for p in params if p["in"] == "query"}
    assert set(query) == {*files.LIST_PARAMS, *ROUTING_FIELDS}
    assert query["limit"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": LIST_LIMIT_MAX,
        "default": 10000,
    }
    assert query["order"] == {"type": "string", "enum": ["asc", "desc"], "default": "desc"}
    assert query["after"]["type"] == "string"


def test_objects_and_errors_follow_openai(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    file_obj = schemas["OpenAIFile"]
    assert "expires_at" in file_obj["properties"] and "expires_at" not in file_obj["required"]
    assert set(file_obj["required"]) == {
        "id",
        "object",
        "bytes",
        "created_at",
        "filename",
        "purpose",
        "status",
    }
    listing = schemas["ListFilesResponse"]
    assert listing["properties"]["first_id"]["type"] == ["string", "null"]
    assert listing["properties"]["last_id"]["type"] == ["string", "null"]
    assert set(listing["required"]) == {"object", "data", "first_id", "last_id", "has_more"}
    assert set(schemas["DeleteFileResponse"]["required"]) == {"id", "object", "deleted"}
    error = schemas["Error"]
    assert set(error["required"]) == {"message", "type", "param", "code"}
    assert schemas["ErrorResponse"]["required"] == ["error"]
    assert doc["components"]["securitySchemes"]["BearerAuth"] == {
        **doc["components"]["securitySchemes"]["BearerAuth"],
        "type": "http",
        "scheme": "bearer",
    }


def test_each_route_documents_its_statuses(doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["MasterKey"] == {**schemes["MasterKey"], "type": "http", "scheme": "bearer"}
    for path, item in paths.items():
        for op in item.values():
            if _api_group(path) is not None:
                # Files and Uploads: the master key or a virtual key.
                assert op["security"] == [{"BearerAuth": []}], path
                assert {"400", "401", "500", "503"} <= set(op["responses"]), path
            elif path.startswith(("/key/", "/team/", "/audit")):
                # Admin: the master key only, except that a virtual key may look at itself.
                if path == "/key/info":
                    assert op["security"] == [{"MasterKey": []}, {"BearerAuth": []}]
                else:
                    assert op["security"] == [{"MasterKey": []}], path
                assert {"400", "401", "403", "500", "503"} <= set(op["responses"]), path
            else:
                assert path.startswith(("/health", DOCS_PATH, OPENAPI_PATH)), path
                assert op["security"] == [], path
    assert "413" in paths["/v1/files"]["post"]["responses"]
    assert "413" in paths["/v1/uploads"]["post"]["responses"]
    for suffix in ("parts", "complete", "cancel"):
        assert {"400", "404"} <= set(
            paths[f"/v1/uploads/{{upload_id}}/{suffix}"]["post"]["responses"]
        )
    assert "413" in paths["/v1/uploads/{upload_id}/parts"]["post"]["responses"]
    assert "403" in paths["/v1/uploads/{upload_id}/complete"]["post"]["responses"]
    for path in ("/v1/files/{file_id}", "/v1/files/{file_id}/content"):
        for op in paths[path].values():
            assert "404" in op["responses"]
    content = paths["/v1/files/{file_id}/content"]["get"]["responses"]
    assert {"200", "206", "304", "416"} <= set(content)
    headers = set(content["200"]["headers"])
    assert {"Content-Length", "Content-Disposition", "ETag", "X-Content-Type-Options"} <= headers
    assert "Content-Range" in content["206"]["headers"]
    assert "Content-Range" in _deref(doc, content["416"])["headers"]
    assert "Allow" in doc["components"]["responses"]["MethodNotAllowed"]["headers"]
    assert "503" in paths["/health/readiness"]["get"]["responses"]


def test_document_is_built_once() -> None:
    assert document_bytes() is document_bytes()
    assert orjson.loads(document_bytes()) == build_document()


# --- served by the running server ----------------------------------------------------


def test_openapi_json_is_served_without_a_key(server: Any, doc: dict[str, Any]) -> None:
    resp = httpx.get(f"{server.base_url}/openapi.json", timeout=30)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers.get("x-request-id")
    # Byte for byte the document test_schemathesis.py fuzzes the server with.
    assert resp.content == document_bytes()
    assert resp.json() == doc


def test_served_document_shows_the_configured_deployments(
    server_factory: Any, tmp_path: Path
) -> None:
    config = tmp_path / "filegate.yaml"
    config.write_text(
        "deployments:\n"
        "  - name: gpt-files\n"
        "    provider: openai\n"
        "    api_key: sk-unused\n"
        "    api_base: http://127.0.0.1:9/v1\n",
        encoding="utf-8",
    )
    srv = server_factory(args=["--config", str(config)])
    served = httpx.get(f"{srv.base_url}/openapi.json", timeout=30).json()
    assert served == build_document(Routing(("filegate", "openai"), ("gpt-files",)))
    assert served["components"]["parameters"]["Provider"]["schema"]["enum"] == [
        "filegate",
        "openai",
    ]


def test_real_responses_conform(client: httpx.Client, doc: dict[str, Any], api: Any) -> None:
    data = b"0123456789" * 10
    created = client.post(
        "/v1/files",
        data={"purpose": "user_data"},
        files={"file": ("notes.txt", data, "text/plain")},
    )
    assert_conforms(doc, api, "/v1/files", "post", created)
    file_id = created.json()["id"]
    by_path = f"/v1/files/{file_id}"

    assert_conforms(doc, api, "/v1/files", "get", client.get("/v1/files", params={"limit": 1}))
    empty = client.get("/v1/files", params={"purpose": "batch_output"})  # none has it
    assert empty.json()["first_id"] is None
    assert_conforms(doc, api, "/v1/files", "get", empty)
    assert_conforms(doc, api, "/files/{file_id}", "get", client.get(f"/files/{file_id}"))

    whole = client.get(f"{by_path}/content")
    assert whole.content == data
    assert whole.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert_conforms(doc, api, "/v1/files/{file_id}/content", "get", whole)
    part = client.get(f"{by_path}/content", headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, data[10:20])
    assert_conforms(doc, api, "/v1/files/{file_id}/content", "get", part)
    same = client.get(f"{by_path}/content", headers={"If-None-Match": whole.headers["etag"]})
    assert same.status_code == 304
    assert_conforms(doc, api, "/v1/files/{file_id}/content", "get", same)
    past = client.get(f"{by_path}/content", headers={"Range": "bytes=1000-"})
    assert past.status_code == 416
    assert_conforms(doc, api, "/v1/files/{file_id}/content", "get", past)

    assert_conforms(doc, api, "/v1/files/{file_id}", "delete", client.delete(by_path))
    gone = client.get(by_path)
    assert gone.status_code == 404
    assert_conforms(doc, api, "/v1/files/{file_id}", "get", gone)


def test_real_upload_responses_conform(client: httpx.Client, doc: dict[str, Any], api: Any) -> None:
    data = b"part one|part two"
    body = {
        "filename": "u.txt",
        "purpose": "user_data",
        "bytes": len(data),
        "mime_type": "text/plain",
    }
    created = client.post("/v1/uploads", json=body)
    assert created.status_code == 200, created.text
    assert_conforms(doc, api, "/v1/uploads", "post", created)
    upload_id = created.json()["id"]

    part_ids = []
    for chunk, prefix in ((data[:9], "/v1"), (data[9:], "")):
        path = f"{prefix}/uploads/{{upload_id}}/parts"
        part = client.post(path.format(upload_id=upload_id), files={"data": ("blob", chunk)})
        assert part.status_code == 200, part.text
        assert_conforms(doc, api, path, "post", part)
        part_ids.append(part.json()["id"])

    complete = "/v1/uploads/{upload_id}/complete"
    url = complete.format(upload_id=upload_id)
    mismatch = client.post(url, json={"part_ids": part_ids[:1]})
    assert mismatch.status_code == 400 and mismatch.json()["error"]["code"] == "bytes_mismatch"
    assert_conforms(doc, api, complete, "post", mismatch)
    wrong_md5 = client.post(url, json={"part_ids": part_ids, "md5": "0" * 32})
    assert wrong_md5.status_code == 400 and wrong_md5.json()["error"]["code"] == "md5_mismatch"
    assert_conforms(doc, api, complete, "post", wrong_md5)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    done = client.post(url, json={"part_ids": part_ids, "md5": md5})
    assert done.status_code == 200 and done.json()["file"]["bytes"] == len(data), done.text
    assert_conforms(doc, api, complete, "post", done)
    closed = client.post(f"/v1/uploads/{upload_id}/cancel")
    assert closed.status_code == 400 and closed.json()["error"]["code"] == "upload_completed"
    assert_conforms(doc, api, "/v1/uploads/{upload_id}/cancel", "post", closed)
    assert client.delete(f"/v1/files/{done.json()['file']['id']}").status_code == 200

    other = client.post("/uploads", json={**body, "expires_after": None, "model": None})
    assert other.status_code == 200, other.text
    cancel = "/uploads/{upload_id}/cancel"
    cancelled = client.post(cancel.format(upload_id=other.json()["id"]))
    assert cancelled.json()["status"] == "cancelled"
    assert_conforms(doc, api, cancel, "post", cancelled)

    missing = client.post("/v1/uploads/upload_nothere/parts", files={"data": ("blob", b"x")})
    assert missing.status_code == 404
    assert_conforms(doc, api, "/v1/uploads/{upload_id}/parts", "post", missing)
    too_large = client.post("/v1/uploads", json={**body, "bytes": MAX_UPLOAD_BYTES + 1})
    assert too_large.status_code == 413
    assert_conforms(doc, api, "/v1/uploads", "post", too_large)
    bad_mime = client.post("/v1/uploads", json={**body, "purpose": "vision"})
    assert bad_mime.status_code == 400
    assert_conforms(doc, api, "/v1/uploads", "post", bad_mime)
    # JSON types as the document states them: false and "17" are no integers.
    for not_an_integer in (False, "17"):
        wrong_type = client.post("/v1/uploads", json={**body, "bytes": not_an_integer})
        assert wrong_type.status_code == 400 and wrong_type.json()["error"]["param"] == "bytes"
        assert_conforms(doc, api, "/v1/uploads", "post", wrong_type)


def _fake(status: int, body: dict[str, Any], **headers: str) -> httpx.Response:
    resp = httpx.Response(
        status, json=body, headers=headers, request=httpx.Request("GET", "http://gw/v1/files")
    )
    resp.elapsed = datetime.timedelta(0)
    return resp


def test_conformance_check_catches_violations(doc: dict[str, Any], api: Any) -> None:
    rid = {"x-request-id": "r"}
    with pytest.raises(Exception, match="first_id"):
        assert_conforms(doc, api, "/v1/files", "get", _fake(200, {"object": "list"}, **rid))
    body = {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
    assert_conforms(doc, api, "/v1/files", "get", _fake(200, body, **rid))
    with pytest.raises(AssertionError, match="x-request-id"):
        assert_conforms(doc, api, "/v1/files", "get", _fake(200, body))
    with pytest.raises(AssertionError, match="undocumented"):
        assert_conforms(doc, api, "/v1/files", "get", _fake(418, body, **rid))


def test_error_responses_conform(server: Any, doc: dict[str, Any], api: Any) -> None:
    base = server.base_url
    no_key = httpx.get(f"{base}/v1/files", timeout=30)
    assert no_key.status_code == 401
    assert_conforms(doc, api, "/v1/files", "get", no_key)
    bad_limit = httpx.get(f"{base}/v1/files?limit=0", headers=server.headers, timeout=30)
    assert bad_limit.status_code == 400
    assert_conforms(doc, api, "/v1/files", "get", bad_limit)
    no_file = httpx.post(
        f"{base}/v1/files", headers=server.headers, data={"purpose": "batch"}, timeout=30
    )
    assert no_file.status_code == 400
    assert_conforms(doc, api, "/v1/files", "post", no_file)
    # A method a path does not list: 405 with Allow and the envelope (a documented component).
    wrong = httpx.put(f"{base}/v1/files", headers=server.headers, timeout=30)
    assert wrong.status_code == 405 and "POST" in wrong.headers["allow"]
    assert set(wrong.json()["error"]) == {"message", "type", "param", "code"}


def test_too_large_conforms(server_factory: Any, doc: dict[str, Any], api: Any) -> None:
    srv = server_factory(env={"FILEGATE_MAX_FILE_SIZE": "1KB"})
    resp = httpx.post(
        f"{srv.api_url}/files",
        headers=srv.headers,
        data={"purpose": "user_data"},
        files={"file": ("big.bin", b"x" * (2 * 1024 * 1024), "application/octet-stream")},
        timeout=30,
    )
    assert resp.status_code == 413
    assert_conforms(doc, api, "/v1/files", "post", resp)


# --- /docs --------------------------------------------------------------------------


def test_docs_page_is_served_without_a_key_and_uses_local_assets(server: Any) -> None:
    resp = httpx.get(f"{server.base_url}/docs", timeout=30)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    page = resp.text
    assert "SwaggerUIBundle" in page and '"/openapi.json"' in page
    # Nothing is fetched from the internet: every asset is the gateway's own.
    assert not re.search(r"(src|href)=\"https?://", page)
    assets = re.findall(r"(?:src|href)=\"(/docs/static/[^\"]+)\"", page)
    assert {Path(a).name for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        got = httpx.get(f"{server.base_url}{asset}", timeout=30)
        assert got.status_code == 200, asset
        assert len(got.content) > 100
    js = httpx.get(f"{server.base_url}/docs/static/swagger-ui-bundle.js", timeout=30)
    assert "javascript" in js.headers["content-type"]
    # Swagger UI 5 or later: version 4 refuses OpenAPI 3.1 documents.
    version = re.search(rb'PACKAGE_VERSION:"(\d+)\.', js.content)
    assert version is not None and int(version.group(1)) >= 5


def test_missing_static_asset_is_a_404_envelope(server: Any) -> None:
    resp = httpx.get(f"{server.base_url}/docs/static/nope.js", timeout=30)
    assert resp.status_code == 404
    assert set(resp.json()["error"]) == {"message", "type", "param", "code"}


def test_docs_fall_back_to_a_cdn_without_the_assets(monkeypatch: pytest.MonkeyPatch) -> None:
    assert swagger_ui.assets_dir() is not None  # the dependency is installed here
    monkeypatch.setattr(swagger_ui, "assets_dir", lambda: None)
    routes = swagger_ui.routes("/docs", "/openapi.json")
    assert [type(r) for r in routes] == [Route]  # no static mount
    page = TestClient(Starlette(routes=routes)).get("/docs").text
    assert f'src="{swagger_ui.CDN}/swagger-ui-bundle.js"' in page
