"""Files at a provider: every operation through filegate to OpenAI, Azure classic and Azure v1.

A fake upstream process (tests/fakes/upstream.py) plays OpenAI and Azure; its
request log shows exactly what filegate sent. Two filegate servers point at it:
``cfg`` (named deployments, a master key) and ``zero`` (zero-config from
OPENAI_* and AZURE_* variables, no master key at all).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from support import assert_error
from upstream_support import (
    AZURE_KEY,
    CLASSIC_VERSION,
    CLEAN_ENV,
    FILEGATE_ID,
    OPENAI_KEY,
    ORG_B,
    Fake,
    azure_env,
    client,
    config_kwargs,
    openai_env,
    post_file,
    reset_all,
    sdk,
    spool_files,
    start_servers,
    stop_servers,
)

from tests.conftest import ServerProcess

DATA = b"".join(b"line %05d of a file kept at a provider\n" % i for i in range(2500))


@pytest.fixture(scope="module")
def servers(
    fake: Fake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServerProcess]]:
    base = tmp_path_factory.mktemp("gateway")
    zero_env = {**CLEAN_ENV, **openai_env(fake), **azure_env(fake)}
    started = start_servers(
        base,
        {
            "cfg": config_kwargs(base / "filegate.yaml", fake),
            "zero": {"env": zero_env, "master_key": None},
        },
    )
    yield started
    stop_servers(started)


@pytest.fixture(autouse=True)
def _clean(fake: Fake, servers: dict[str, ServerProcess]) -> None:
    reset_all(fake, servers)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ids(page: dict[str, Any]) -> list[str]:
    return [f["id"] for f in page["data"]]


# --- every operation, per provider ---------------------------------------------------------

# server, how the client routes (SDK base path, extra_body, extra_headers), the fake's api,
# the provider prefix for listings.
TARGETS = [
    pytest.param("cfg", "/v1", {"custom_llm_provider": "openai"}, {}, "openai", "openai",
                 id="openai-by-field"),
    pytest.param("cfg", "/azure/v1", {}, {}, "azure-classic", "azure", id="azure-classic-by-path"),
    pytest.param("cfg", "/v1", {"model": "azure-v1"}, {}, "azure-v1", "azure",
                 id="azure-v1-by-model"),
    pytest.param("zero", "/v1", {}, {}, "openai", "openai", id="zero-config-openai-default"),
    pytest.param("zero", "/v1", {}, {"custom-llm-provider": "azure"}, "azure-classic", "azure",
                 id="zero-config-azure-by-header"),
]  # fmt: skip


@pytest.mark.parametrize(("server", "base", "body", "headers", "api", "provider"), TARGETS)
def test_every_operation_at_a_provider(
    fake: Fake,
    servers: dict[str, ServerProcess],
    server: str,
    base: str,
    body: dict[str, str],
    headers: dict[str, str],
    api: str,
    provider: str,
) -> None:
    srv = servers[server]
    cl = sdk(srv, base=base)
    azure = api != "openai"

    # create: streamed upstream with an exact Content-Length, the client gets a filegate id
    created = cl.files.create(
        file=("notes.txt", DATA, "text/plain"),
        purpose="assistants",
        extra_body=body,
        extra_headers=headers,
    )
    assert FILEGATE_ID.fullmatch(created.id), created.id
    assert (created.bytes, created.filename, created.purpose) == (
        len(DATA),
        "notes.txt",
        "assistants",
    )
    (up,) = fake.requests(op="create")
    assert up["api"] == api and up["status"] == (201 if api == "azure-classic" else 200)
    assert up["transfer_encoding"] is None, "the upstream body must not be chunked"
    assert up["content_length"] == up["body_bytes"] > len(DATA)
    assert up["body_complete"] is True
    assert up["multipart"]["file"] == {
        "field": "file",
        "filename": "notes.txt",
        "content_type": "text/plain",
        "size": len(DATA),
        "sha256": sha256(DATA),
    }
    if azure:
        assert up["headers"]["api-key"] == AZURE_KEY and "authorization" not in up["headers"]
    else:
        assert up["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
        assert "api-key" not in up["headers"]
    if api == "azure-classic":
        assert up["query_params"] == {"api-version": CLASSIC_VERSION}
    else:
        assert up["query_params"] == {}
    provider_id = up["file_id"]
    assert provider_id and provider_id != created.id

    # Azure's status moves pending -> running -> processed; the create waited for it
    # (as OpenAI's answers processed), and from then on the catalog answers.
    assert created.status == "processed"
    again = cl.files.retrieve(created.id)
    assert again == created
    retrieves = fake.requests(op="retrieve")
    assert len(retrieves) == (2 if azure else 0)
    assert all(e["file_id"] == provider_id and e["api"] == api for e in retrieves)

    # list: across all targets, and at this provider only
    with client(srv) as c:
        assert created.id in ids(c.get("/v1/files").json())
        assert created.id in ids(c.get(f"/{provider}/v1/files").json())
        other = "openai" if azure else "azure"
        assert created.id not in ids(c.get(f"/{other}/v1/files").json())
        assert fake.requests(op="list") == []

        # content: streamed through, whole or a range
        assert cl.files.content(created.id).content == DATA
        r = c.get(f"/v1/files/{created.id}/content", headers={"Range": "bytes=10-29"})
        assert r.status_code == 206 and r.content == DATA[10:30]
        assert r.headers["content-range"] == f"bytes 10-29/{len(DATA)}"
        contents = fake.requests(op="content")
        assert [e["file_id"] for e in contents] == [provider_id, provider_id]
        assert contents[1]["headers"]["range"] == "bytes=10-29"

        # The gateway did not hash bytes it does not serve itself; the id, under
        # which the bytes never change, is the validator. A match costs no upstream call.
        assert r.headers["etag"] == f'"{created.id}"'
        r = c.get(f"/v1/files/{created.id}/content", headers={"If-None-Match": r.headers["etag"]})
        assert r.status_code == 304 and r.content == b""
        stale = c.get(
            f"/v1/files/{created.id}/content",
            headers={"Range": "bytes=0-9", "If-Range": '"other"'},
        )
        assert stale.status_code == 200 and stale.content == DATA
        assert len(fake.requests(op="content")) == 3

    # delete: the upstream copy goes, then the id is gone
    deleted = cl.files.delete(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)
    (gone,) = fake.requests(op="delete")
    assert gone["file_id"] == provider_id and gone["status"] == 200 and gone["api"] == api
    assert fake.files() == []
    for call in (cl.files.retrieve, cl.files.content, cl.files.delete):
        with pytest.raises(openai.NotFoundError):
            call(created.id)
    assert spool_files(srv) == []


def test_listing_across_targets_is_the_catalog_with_exact_pagination(
    fake: Fake, servers: dict[str, ServerProcess]
) -> None:
    srv = servers["cfg"]
    with client(srv) as c:
        made: dict[str, str] = {}
        for name, fields in (
            ("openai", {"custom_llm_provider": "openai"}),
            ("openai-b", {"model": "openai-b"}),
            ("azure", {"custom_llm_provider": "azure"}),
            ("azure-v1", {"model": "azure-v1"}),
            ("embedded", {"custom_llm_provider": "filegate"}),
        ):
            r = post_file(c, name.encode(), **fields)
            assert r.status_code == 200, r.text
            made[name] = r.json()["id"]
        newest_first = list(reversed(made.values()))
        assert ids(c.get("/v1/files").json()) == newest_first
        assert ids(c.get("/openai/v1/files").json()) == [made["openai-b"], made["openai"]]
        assert ids(c.get("/openai/files").json()) == [made["openai-b"], made["openai"]]
        assert ids(c.get("/azure/v1/files").json()) == [made["azure-v1"], made["azure"]]
        azure_by_query = c.get("/v1/files", params={"custom_llm_provider": "azure"}).json()
        assert ids(azure_by_query) == [made["azure-v1"], made["azure"]]
        by_header = c.get("/v1/files", headers={"custom-llm-provider": "openai"}).json()
        assert ids(by_header) == [made["openai-b"], made["openai"]]
        assert ids(c.get("/filegate/v1/files").json()) == [made["embedded"]]

        page = c.get("/v1/files", params={"limit": 2, "order": "asc"}).json()
        assert ids(page) == [made["openai"], made["openai-b"]] and page["has_more"] is True
        page = c.get(
            "/v1/files", params={"limit": 2, "order": "asc", "after": made["openai-b"]}
        ).json()
        assert ids(page) == [made["azure"], made["azure-v1"]] and page["has_more"] is True
    # The SDK's auto-pagination walks the whole catalog listing and ends.
    assert [f.id for f in sdk(srv).files.list(limit=2)] == newest_first
    assert [f.id for f in sdk(srv, base="/azure/v1").files.list(limit=1)] == [
        made["azure-v1"],
        made["azure"],
    ]
    assert fake.requests(op="list") == []  # listings never ask the providers


# --- the admin passthrough: the provider's own listing --------------------------------------


def test_passthrough_lists_the_providers_own_files(
    fake: Fake, servers: dict[str, ServerProcess]
) -> None:
    srv = servers["cfg"]
    seeded = fake.seed(surface="openai", purpose="batch", count=5, created_at=1_700_000_000)
    fake.seed(surface="openai", purpose="assistants", filename="other.txt")
    with client(srv) as c:
        ours = post_file(c, b"via filegate", path="/openai/v1/files").json()
        fake.admin("DELETE", "requests")

        r = c.get(
            "/openai/v1/files",
            params={"passthrough": "true", "purpose": "batch", "limit": 2, "order": "asc"},
        )
        assert r.status_code == 200, r.text
        page = r.json()
        assert ids(page) == [seeded[0]["id"], seeded[1]["id"]]
        assert page["data"][0] == seeded[0]  # the provider's object, with its own id
        assert page["has_more"] is True and page["object"] == "list"
        assert (page["first_id"], page["last_id"]) == (seeded[0]["id"], seeded[1]["id"])
        (listed,) = fake.requests(op="list")
        assert listed["query_params"] == {"purpose": "batch", "limit": "2", "order": "asc"}
        assert listed["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"

        r = c.get(
            "/openai/v1/files",
            params={
                "passthrough": "true",
                "purpose": "batch",
                "limit": 2,
                "order": "asc",
                "after": seeded[3]["id"],
            },
        )
        assert ids(r.json()) == [seeded[4]["id"]] and r.json()["has_more"] is False
        assert fake.requests(op="list")[-1]["query_params"]["after"] == seeded[3]["id"]

        # Without passthrough the same path lists the catalog: filegate ids only.
        assert ids(c.get("/openai/v1/files").json()) == [ours["id"]]
        assert_error(c.get("/openai/v1/files", params={"passthrough": "maybe"}), 400)
    with httpx.Client(base_url=srv.base_url, timeout=30) as anon:
        r = anon.get(
            "/openai/v1/files",
            params={"passthrough": "true"},
            headers={"Authorization": "Bearer not-the-master-key"},
        )
        assert_error(r, 401)

    # The SDK's auto-pagination over the passthrough listing follows has_more and ends.
    fake.admin("DELETE", "requests")
    raw = sdk(srv, base="/openai/v1").files.list(
        purpose="batch", limit=2, extra_query={"passthrough": "true"}
    )
    assert [f.id for f in itertools.islice(raw, 50)] == [f["id"] for f in reversed(seeded)]
    assert len(fake.requests(op="list")) == 3


def test_passthrough_at_azure_v1_and_classic_ends(
    fake: Fake, servers: dict[str, ServerProcess]
) -> None:
    srv = servers["cfg"]
    seeded = fake.seed(surface="azure", purpose="fine-tune", count=3, created_at=1_700_000_000)
    newest_first = [f["id"] for f in reversed(seeded)]

    v1 = sdk(srv).files.list(limit=2, extra_query={"passthrough": "true", "model": "azure-v1"})
    assert [f.id for f in itertools.islice(v1, 50)] == newest_first
    v1_lists = fake.requests(op="list", api="azure-v1")
    assert [e["query_params"].get("limit") for e in v1_lists] == ["2", "2"]

    # Azure's dated API lists everything at once, without has_more: one page, and the end.
    fake.admin("DELETE", "requests")
    classic = sdk(srv, base="/azure/v1").files.list(extra_query={"passthrough": "true"})
    assert [f.id for f in itertools.islice(classic, 50)] == newest_first
    (listed,) = fake.requests(op="list")
    assert listed["api"] == "azure-classic" and listed["headers"]["api-key"] == AZURE_KEY
    assert listed["query_params"]["api-version"] == CLASSIC_VERSION

    # With a limit the dated API ignores, the SDK must still come to an end.
    fake.admin("DELETE", "requests")
    limited = sdk(srv, base="/azure/v1").files.list(limit=2, extra_query={"passthrough": "true"})
    assert [f.id for f in itertools.islice(limited, 50)] == newest_first


# --- raw provider ids ----------------------------------------------------------------------


@pytest.mark.parametrize("server", ["cfg", "zero"])
def test_raw_provider_ids_with_the_master_key(
    fake: Fake, servers: dict[str, ServerProcess], server: str
) -> None:
    """Files made outside filegate, by the provider's own id, through the provider's path.

    ``zero`` has no master key at all, so every caller is the admin there.
    """
    srv = servers[server]
    content = b"made outside filegate\n" * 100
    (oai,) = fake.seed(surface="openai", purpose="batch", content=content.decode())
    (az,) = fake.seed(surface="azure", purpose="fine-tune", content=content.decode())
    with client(srv) as c:
        for prefix, obj, api in (("/openai/v1", oai, "openai"), ("/azure/v1", az, "azure-classic")):
            raw_id = obj["id"]
            r = c.get(f"{prefix}/files/{raw_id}")
            assert r.status_code == 200, r.text
            assert r.json() == obj
            r = c.get(f"{prefix}/files/{raw_id}/content")
            assert r.status_code == 200 and r.content == content
            r = c.get(f"{prefix}/files/{raw_id}/content", headers={"Range": "bytes=5-14"})
            assert r.status_code == 206 and r.content == content[5:15]
            r = c.delete(f"{prefix}/files/{raw_id}")
            assert r.status_code == 200 and r.json() == {
                "id": raw_id,
                "object": "file",
                "deleted": True,
            }
            assert raw_id not in [f["id"] for f in fake.files()]
            assert_error(c.get(f"{prefix}/files/{raw_id}"), 404)
            assert {e["api"] for e in fake.requests(file_id=raw_id)} == {api}
        # Through the SDK, by the default target (OpenAI) as well.
        (again,) = fake.seed(surface="openai", content="sdk")
        assert sdk(srv).files.retrieve(again["id"]).filename == again["filename"]
        assert sdk(srv).files.content(again["id"]).content == b"sdk"
        assert sdk(srv, base="/openai/v1").files.delete(again["id"]).deleted is True
        # Unknown upstream: the provider's 404, in OpenAI's envelope.
        assert_error(c.get("/openai/v1/files/file-doesnotexist000000000000"), 404)


def test_other_keys_see_neither_raw_ids_nor_the_passthrough(
    fake: Fake, servers: dict[str, ServerProcess]
) -> None:
    srv = servers["cfg"]
    (raw,) = fake.seed(surface="openai", purpose="batch", content="not yours")
    with client(srv) as admin:
        r = admin.post("/key/generate", json={"key_alias": "tenant-a"})
        assert r.status_code == 200, r.text
        tenant_key = r.json()["key"]
        admins = post_file(admin, b"the admin's", custom_llm_provider="openai").json()
    fake.admin("DELETE", "requests")
    tenant = httpx.Client(
        base_url=srv.base_url, headers={"Authorization": f"Bearer {tenant_key}"}, timeout=60
    )
    with tenant:
        for method, url in (
            ("GET", f"/openai/v1/files/{raw['id']}"),
            ("GET", f"/openai/v1/files/{raw['id']}/content"),
            ("DELETE", f"/openai/v1/files/{raw['id']}"),
            ("GET", f"/v1/files/{raw['id']}"),
        ):
            assert_error(tenant.request(method, url), 404)
        assert_error(tenant.get("/openai/v1/files", params={"passthrough": "true"}), 403)
        # The tenant's own provider files work, and listings are the tenant's alone.
        own = post_file(tenant, b"the tenant's", path="/azure/v1/files").json()
        assert ids(tenant.get("/v1/files").json()) == [own["id"]]
        assert ids(tenant.get("/openai/v1/files").json()) == []
        assert_error(tenant.get(f"/v1/files/{admins['id']}"), 404)
        assert tenant.get(f"/v1/files/{own['id']}/content").content == b"the tenant's"
    # Only the tenant's own file went upstream (its create waited through Azure's two
    # steps to processed, so its content needed no refresh).
    assert [e["op"] for e in fake.requests()] == ["create", "retrieve", "retrieve", "content"]
    assert {e["api"] for e in fake.requests()} == {"azure-classic"}
    assert raw["id"] in [f["id"] for f in fake.files()]  # nothing was deleted
    with httpx.Client(base_url=srv.base_url, timeout=30) as other:
        r = other.get(f"/openai/v1/files/{raw['id']}", headers={"Authorization": "Bearer sk-x"})
        assert_error(r, 401)


# --- expires_after and purposes --------------------------------------------------------------


def test_expires_after_is_forwarded_where_supported(
    fake: Fake, servers: dict[str, ServerProcess]
) -> None:
    cl = sdk(servers["cfg"])
    for extra, seconds, api in (
        ({"custom_llm_provider": "openai"}, 7200, "openai"),
        # Microsoft documents 3600..2592000 for /openai/v1 (filegate's check); the fake
        # keeps Azure's older 14..30 days, so the value here is inside both.
        ({"model": "azure-v1"}, 1_296_000, "azure-v1"),
        ({"custom_llm_provider": "azure"}, 1_209_600, "azure-classic"),
    ):
        fake.reset()
        created = cl.files.create(
            file=("e.txt", b"expiring", "text/plain"),
            purpose="assistants",
            expires_after={"anchor": "created_at", "seconds": seconds},
            extra_body=extra,
        )
        assert created.expires_at == created.created_at + seconds
        (up,) = fake.requests(op="create")
        assert up["api"] == api
        values = up["multipart"]["values"]
        assert values["expires_after[anchor]"] == "created_at"
        assert values["expires_after[seconds]"] == str(seconds)
        if api != "azure-classic":  # the dated API takes the fields only from 2025-03-01
            (stored,) = fake.files()
            assert stored["expires_at"] == stored["created_at"] + seconds


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"custom_llm_provider": "azure", "expires_after[anchor]": "created_at",
          "expires_after[seconds]": "3600"}, "expires_after[seconds]", "invalid_value"),
        ({"custom_llm_provider": "azure", "expires_after[anchor]": "created_at",
          "expires_after[seconds]": "1209599"}, "expires_after[seconds]", "invalid_value"),
        ({"custom_llm_provider": "azure", "expires_after[anchor]": "created_at",
          "expires_after[seconds]": "2592001"}, "expires_after[seconds]", "invalid_value"),
        ({"custom_llm_provider": "openai", "expires_after[anchor]": "created_at",
          "expires_after[seconds]": "60"}, "expires_after[seconds]", "invalid_value"),
        ({"custom_llm_provider": "azure", "purpose": "user_data"}, "purpose",
         "unsupported_purpose"),
        ({"custom_llm_provider": "azure", "purpose": "vision"}, "purpose",
         "unsupported_purpose"),
        ({"target_model_names": "openai,azure", "purpose": "user_data"}, "purpose",
         "unsupported_purpose"),
    ],
)  # fmt: skip
def test_what_a_provider_cannot_honour_is_a_400_before_upload(
    fake: Fake,
    servers: dict[str, ServerProcess],
    fields: dict[str, str],
    param: str,
    code: str,
) -> None:
    srv = servers["cfg"]
    fields = {"purpose": "assistants", **fields}
    with client(srv) as c:
        r = post_file(c, b"z" * 1_000_000, **fields)
        assert_error(r, 400, param=param, code=code)
        assert c.get("/v1/files").json()["data"] == []
    assert fake.requests() == [], "no byte may reach the upstream"
    assert spool_files(srv) == []


# --- several deployments at once -------------------------------------------------------------


def test_multi_target_upload_keeps_one_copy_at_each_deployment(
    fake: Fake, servers: dict[str, ServerProcess]
) -> None:
    srv = servers["cfg"]
    cl = sdk(srv)
    created = cl.files.create(
        file=("both.txt", DATA, "text/plain"),
        purpose="assistants",
        extra_body={"target_model_names": "openai,openai-b"},
    )
    assert FILEGATE_ID.fullmatch(created.id) and created.status == "processed"
    creates = fake.requests(op="create")
    assert sorted(str(e["openai_organization"]) for e in creates) == sorted(["None", ORG_B])
    for e in creates:
        assert e["content_length"] == e["body_bytes"] and e["transfer_encoding"] is None
        assert e["multipart"]["file"]["sha256"] == sha256(DATA)
    copies = {e["file_id"] for e in creates}
    assert len(copies) == 2 and {f["id"] for f in fake.files()} == copies

    assert cl.files.retrieve(created.id).status == "processed"
    assert cl.files.content(created.id).content == DATA
    (content,) = fake.requests(op="content")
    assert content["file_id"] in copies
    with client(srv) as c:
        assert ids(c.get("/openai/v1/files").json()) == [created.id]

    assert cl.files.delete(created.id).deleted is True
    assert {e["file_id"] for e in fake.requests(op="delete")} == copies
    assert fake.files() == []
    with pytest.raises(openai.NotFoundError):
        cl.files.retrieve(created.id)


def test_multi_target_status_combines_the_copies(
    fake: Fake, servers: dict[str, ServerProcess]
) -> None:
    cl = sdk(servers["cfg"])
    fake.config(azure_status_steps=["running"])  # not processed within the create's wait
    created = cl.files.create(
        file=("mixed.txt", b"openai and azure", "text/plain"),
        purpose="assistants",
        extra_body={"target_model_names": "openai,azure-v1"},
    )
    assert created.status == "uploaded"  # the Azure copy is still being processed
    creates = fake.requests(op="create")
    assert {e["api"] for e in creates} == {"openai", "azure-v1"}
    asked = len(fake.requests(op="retrieve"))  # by the create, while it waited
    assert cl.files.retrieve(created.id).status == "uploaded"
    (azure_id,) = [e["file_id"] for e in creates if e["api"] == "azure-v1"]
    fake.admin("POST", "azure-status", {"id": azure_id, "status": "processed", "steps": []})
    assert cl.files.retrieve(created.id).status == "processed"
    assert cl.files.retrieve(created.id).status == "processed"
    retrieves = fake.requests(op="retrieve")
    assert len(retrieves) == asked + 2  # the last answer came from the catalog
    assert {e["file_id"] for e in retrieves} == {azure_id}  # only the pending copy
    assert cl.files.delete(created.id).deleted is True
    assert {e["api"] for e in fake.requests(op="delete")} == {"openai", "azure-v1"}
    assert fake.files() == []


def test_include_locations_names_the_deployments_holding_a_file(
    fake: Fake, servers: dict[str, ServerProcess]
) -> None:
    srv = servers["cfg"]
    with client(srv) as admin:
        secret = admin.post("/key/generate", json={"key_alias": "where"}).json()["key"]
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=srv.base_url, headers=headers, timeout=60) as c:
        both = c.post(
            "/v1/files",
            files={"file": ("both.txt", b"two copies")},
            data={"purpose": "assistants", "target_model_names": "openai,azure-v1"},
        ).json()
        own = c.post(
            "/v1/files",
            files={"file": ("own.txt", b"kept by filegate")},
            data={"purpose": "assistants", "custom_llm_provider": "filegate"},
        ).json()
        # OpenAI's object exactly, unless asked.
        assert "locations" not in both and "locations" not in c.get(f"/v1/files/{own['id']}").json()
        got = c.get(f"/v1/files/{both['id']}", params={"include": "locations"}).json()
        assert sorted(got.pop("locations"), key=lambda x: x["deployment"]) == [
            {"deployment": "azure-v1", "provider": "azure", "status": "processed"},
            {"deployment": "openai", "provider": "openai", "status": "processed"},
        ]
        assert got == c.get(f"/v1/files/{both['id']}").json()
        listed = c.get("/v1/files", params={"include": "locations", "limit": 2}).json()["data"]
        assert [f["id"] for f in listed] == [own["id"], both["id"]]
        assert listed[0]["locations"] == [
            {"deployment": "filegate", "provider": "filegate", "status": "processed"}
        ]
        # The providers' own ids are named nowhere.
        provider_ids = {f["id"] for f in fake.files()}
        assert len(provider_ids) == 2
        assert not [p for p in provider_ids if p in str(listed)]

        for params in ({"include": "sha256"}, {"include": "locations", "passthrough": "true"}):
            assert_error(c.get("/v1/files", params=params), 400, param="include")
        assert_error(
            c.get(f"/v1/files/{both['id']}", params={"include": "everything"}), 400, param="include"
        )
    (raw,) = [e["file_id"] for e in fake.requests(op="create") if e["api"] == "openai"]
    with client(srv) as admin:
        r = admin.get(f"/openai/v1/files/{raw}", params={"include": "locations"})
    assert_error(r, 400, param="include")
