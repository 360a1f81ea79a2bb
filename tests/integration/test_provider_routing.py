"""Choosing where a file goes: LiteLLM's routing options, defaults and config files.

Real ``filegate serve`` processes point at the fake upstream (tests/fakes/upstream.py);
the fake's request log shows where each upload really went.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from support import assert_error
from upstream_support import (
    AAD_TOKEN,
    AZURE_KEY,
    CLASSIC_VERSION,
    CLEAN_ENV,
    CONFIG_ENV,
    FILEGATE_ID,
    ORG_B,
    Fake,
    client,
    config_kwargs,
    post_file,
    sdk,
    spool_files,
    start_servers,
    stop_servers,
    write_config,
)

from tests.conftest import ServerProcess, start_server

LITELLM_MASTER = "sk-litellm-master-5678"


def litellm_yaml(fake: Fake) -> str:
    """A LiteLLM proxy config: chat models, files_settings and a master key."""
    return f"""\
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: {fake.url}/v1
      api_key: os.environ/FAKE_OPENAI_KEY
  - model_name: azure-gpt
    litellm_params:
      model: azure/gpt-4o-deployment
      api_base: {fake.url}
      api_key: os.environ/FAKE_AZURE_KEY
      api_version: "{CLASSIC_VERSION}"
  - model_name: claude
    litellm_params:
      model: anthropic/claude-3-5-sonnet
      api_key: os.environ/ANTHROPIC_KEY_THAT_IS_NOT_SET
files_settings:
  - custom_llm_provider: azure
    api_base: {fake.url}
    api_key: os.environ/FAKE_AZURE_KEY
    api_version: v1
  - custom_llm_provider: openai
    api_base: {fake.url}/v1
    api_key: os.environ/FAKE_OPENAI_KEY
general_settings:
  master_key: {LITELLM_MASTER}
litellm_settings:
  drop_params: true
router_settings:
  routing_strategy: simple-shuffle
"""


@pytest.fixture(scope="module")
def servers(
    fake: Fake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServerProcess]]:
    base = tmp_path_factory.mktemp("routing")
    litellm_cfg = write_config(base / "litellm.yaml", litellm_yaml(fake))
    specs: dict[str, dict[str, Any]] = {
        # Named deployments with a configured default target.
        "cfg": config_kwargs(base / "filegate.yaml", fake, default_target="azure-v1"),
        # Zero-config OpenAI: the default target is OpenAI, as in LiteLLM.
        "oa": {"env": {**CLEAN_ENV, "OPENAI_API_KEY": "sk-upstream",
                       "OPENAI_BASE_URL": f"{fake.url}/v1"}},
        # Zero-config Azure with an Entra token: no OpenAI, so the default is embedded.
        "az": {"env": {**CLEAN_ENV, "AZURE_AD_TOKEN": AAD_TOKEN, "AZURE_API_BASE": fake.url,
                       "AZURE_API_VERSION": CLASSIC_VERSION}},
        # A LiteLLM config file; its general_settings.master_key is the key, and the
        # default target comes from the environment, by provider name.
        "ll": {"env": {**CONFIG_ENV, "FILEGATE_DEFAULT_TARGET": "azure"},
               "args": ["--config", str(litellm_cfg)], "master_key": None},
    }  # fmt: skip
    started = start_servers(base, specs)
    yield started
    stop_servers(started)


@pytest.fixture(autouse=True)
def _reset(fake: Fake) -> None:
    fake.reset()


def only_create(fake: Fake) -> dict[str, Any]:
    """The single upstream create, which must have got its whole body; an Azure create
    is followed only by the retrieves of its status while it waited to be processed."""
    entry, *polls = fake.requests()
    assert entry["op"] == "create", entry
    assert all(e["op"] == "retrieve" and e["file_id"] == entry["file_id"] for e in polls), polls
    assert len(polls) == (2 if entry["surface"] == "azure" else 0), polls
    assert entry["status"] in (200, 201) and entry["body_complete"] is True
    return entry


def assert_nothing_upstream(fake: Fake, srv: ServerProcess) -> None:
    assert fake.requests() == []
    assert fake.files() == []
    assert spool_files(srv) == []


# --- each way of choosing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "request_kwargs", "api", "org"),
    [
        ("form field", {"custom_llm_provider": "azure"}, "azure-classic", None),
        ("query parameter", {"params": {"custom_llm_provider": "azure"}}, "azure-classic", None),
        ("header", {"headers": {"custom-llm-provider": "openai"}}, "openai", None),
        ("header and same query", {"headers": {"custom-llm-provider": "azure"},
                                   "params": {"custom_llm_provider": "azure"}},
         "azure-classic", None),
        ("path /openai/v1", {"path": "/openai/v1/files"}, "openai", None),
        ("path /openai", {"path": "/openai/files"}, "openai", None),
        ("path /azure/v1", {"path": "/azure/v1/files"}, "azure-classic", None),
        ("path /azure", {"path": "/azure/files"}, "azure-classic", None),
        ("model field", {"model": "azure-v1"}, "azure-v1", None),
        ("model query", {"params": {"model": "openai-b"}}, "openai", ORG_B),
        ("target_model_names", {"target_model_names": "openai-b"}, "openai", ORG_B),
        ("path and model agree", {"path": "/azure/v1/files", "model": "azure-v1"},
         "azure-v1", None),
        ("configured default", {}, "azure-v1", None),
    ],
)  # fmt: skip
def test_each_way_of_choosing_a_target(
    fake: Fake,
    servers: dict[str, ServerProcess],
    how: str,
    request_kwargs: dict[str, Any],
    api: str,
    org: str | None,
) -> None:
    srv = servers["cfg"]
    with client(srv) as c:
        r = post_file(c, b"routed bytes\n", **request_kwargs)
        assert r.status_code == 200, r.text
        obj = r.json()
        assert FILEGATE_ID.fullmatch(obj["id"]), obj
        entry = only_create(fake)
        assert (entry["api"], entry["openai_organization"]) == (api, org), how
        assert entry["multipart"]["file"]["size"] == len(b"routed bytes\n")
        # The routing fields are filegate's: they never reach the provider.
        assert set(entry["multipart"]["fields"]) == {"purpose", "file"}
        assert c.get(f"/v1/files/{obj['id']}/content").content == b"routed bytes\n"


def test_the_openai_sdk_routes_every_way(fake: Fake, servers: dict[str, ServerProcess]) -> None:
    srv = servers["cfg"]
    plain = sdk(srv)
    data = ("a.txt", b"sdk routed\n", "text/plain")
    cases: list[tuple[Any, str, str | None]] = [
        (lambda: sdk(srv, base="/azure/v1").files.create(file=data, purpose="assistants"),
         "azure-classic", None),
        (lambda: sdk(srv, base="/openai/v1").files.create(file=data, purpose="assistants"),
         "openai", None),
        (lambda: plain.files.create(file=data, purpose="assistants",
                                    extra_body={"custom_llm_provider": "openai"}),
         "openai", None),
        (lambda: plain.files.create(file=data, purpose="assistants",
                                    extra_headers={"custom-llm-provider": "azure"}),
         "azure-classic", None),
        (lambda: plain.files.create(file=data, purpose="assistants",
                                    extra_query={"custom_llm_provider": "openai"}),
         "openai", None),
        (lambda: plain.files.create(file=data, purpose="assistants",
                                    extra_body={"target_model_names": "openai-b"}),
         "openai", ORG_B),
        (lambda: plain.files.create(file=data, purpose="assistants"), "azure-v1", None),
    ]  # fmt: skip
    for make, api, org in cases:
        fake.reset()
        created = make()
        assert FILEGATE_ID.fullmatch(created.id)
        entry = only_create(fake)
        assert (entry["api"], entry["openai_organization"]) == (api, org)
        assert plain.files.retrieve(created.id).id == created.id


# --- bad choices ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_kwargs", "param"),
    [
        ({"headers": {"custom-llm-provider": "openai"},
          "params": {"custom_llm_provider": "azure"}}, "custom_llm_provider"),
        ({"path": "/openai/v1/files", "custom_llm_provider": "azure"}, "custom_llm_provider"),
        ({"path": "/azure/v1/files", "params": {"custom_llm_provider": "openai"}},
         "custom_llm_provider"),
        ({"path": "/azure/files", "headers": {"custom-llm-provider": "openai"}},
         "custom_llm_provider"),
        ({"path": "/azure/v1/files", "model": "openai-b"}, "model"),
        ({"custom_llm_provider": "openai", "target_model_names": "azure-v1"},
         "target_model_names"),
    ],
)  # fmt: skip
def test_contradicting_choices_are_a_400_before_upload(
    fake: Fake, servers: dict[str, ServerProcess], request_kwargs: dict[str, Any], param: str
) -> None:
    srv = servers["cfg"]
    with client(srv) as c:
        before = c.get("/v1/files").json()["data"]
        r = post_file(c, b"x" * 100_000, **request_kwargs)
        assert_error(r, 400, param=param, code="provider_mismatch")
        assert c.get("/v1/files").json()["data"] == before
    assert_nothing_upstream(fake, srv)


def test_contradictions_on_other_operations(fake: Fake, servers: dict[str, ServerProcess]) -> None:
    srv = servers["cfg"]
    mismatch = {
        "headers": {"custom-llm-provider": "openai"},
        "params": {"custom_llm_provider": "azure"},
    }
    with client(srv) as c:
        created = c.post(
            "/openai/v1/files",
            data={"purpose": "assistants"},
            files={"file": ("a.txt", b"abc", "text/plain")},
        ).json()
        fake.admin("DELETE", "requests")
        for method, url in (
            ("GET", "/v1/files"),
            ("GET", f"/v1/files/{created['id']}"),
            ("GET", f"/v1/files/{created['id']}/content"),
            ("DELETE", f"/v1/files/{created['id']}"),
        ):
            assert_error(c.request(method, url, **mismatch), 400, code="provider_mismatch")
        assert_error(
            c.get(f"/azure/v1/files/{created['id']}", params={"custom_llm_provider": "openai"}),
            400,
            code="provider_mismatch",
        )
        assert fake.requests() == []
        assert c.get(f"/v1/files/{created['id']}").status_code == 200  # nothing was deleted


@pytest.mark.parametrize(
    ("request_kwargs", "param", "code"),
    [
        ({"custom_llm_provider": "bedrock"}, "custom_llm_provider", "unsupported_provider"),
        ({"params": {"custom_llm_provider": "cohere"}}, "custom_llm_provider",
         "unsupported_provider"),
        ({"headers": {"custom-llm-provider": "nope"}}, "custom_llm_provider",
         "unsupported_provider"),
        ({"custom_llm_provider": "vertex_ai"}, "custom_llm_provider", "unsupported_provider"),
        ({"path": "/vertex_ai/v1/files"}, "custom_llm_provider", "unsupported_provider"),
        ({"path": "/vertex_ai/files"}, "custom_llm_provider", "unsupported_provider"),
        ({"model": "gpt-nope"}, "model", "unknown_deployment"),
        ({"target_model_names": "openai,nope"}, "target_model_names", "unknown_deployment"),
    ],
)  # fmt: skip
def test_unknown_or_unconfigured_targets_are_a_400(
    fake: Fake,
    servers: dict[str, ServerProcess],
    request_kwargs: dict[str, Any],
    param: str,
    code: str,
) -> None:
    srv = servers["cfg"]
    with client(srv) as c:
        r = post_file(c, b"y" * 50_000, **request_kwargs)
        err = assert_error(r, 400, param=param, code=code)
        if "vertex_ai" in str(request_kwargs):
            assert "not configured" in err["message"]
    assert_nothing_upstream(fake, srv)


def test_vertex_ai_listing_and_unknown_provider_listing(
    fake: Fake, servers: dict[str, ServerProcess]
) -> None:
    srv = servers["cfg"]
    with client(srv) as c:
        assert_error(c.get("/vertex_ai/v1/files"), 400, code="unsupported_provider")
        assert_error(
            c.get("/v1/files", params={"custom_llm_provider": "bedrock"}),
            400,
            code="unsupported_provider",
        )
        # Not a provider at all: no such route.
        assert c.get("/bedrock/v1/files").status_code == 404
    assert fake.requests() == []


# --- defaults and start-up ------------------------------------------------------------------


def test_configured_default_target(fake: Fake, servers: dict[str, ServerProcess]) -> None:
    srv = servers["cfg"]
    assert "default target: azure-v1 (azure)" in srv.log()
    created = sdk(srv).files.create(file=("d.txt", b"default", "text/plain"), purpose="assistants")
    assert only_create(fake)["api"] == "azure-v1"
    assert sdk(srv).files.content(created.id).content == b"default"


def test_openai_is_the_default_when_openai_api_key_is_set(
    fake: Fake, servers: dict[str, ServerProcess]
) -> None:
    srv = servers["oa"]
    assert "default target: openai (openai); deployments: openai (openai)" in srv.log()
    client_ = sdk(srv)
    created = client_.files.create(file=("d.txt", b"to openai", "text/plain"), purpose="user_data")
    entry = only_create(fake)
    assert entry["api"] == "openai"
    assert entry["headers"]["authorization"] == "Bearer sk-upstream"
    assert client_.files.content(created.id).content == b"to openai"
    # Azure is not configured here.
    with pytest.raises(openai.BadRequestError) as err:
        client_.files.create(
            file=("d.txt", b"x", "text/plain"),
            purpose="assistants",
            extra_body={"custom_llm_provider": "azure"},
        )
    assert err.value.code == "unsupported_provider"


def test_embedded_store_is_the_default_otherwise(
    fake: Fake, servers: dict[str, ServerProcess]
) -> None:
    srv = servers["az"]
    assert "default target: filegate; deployments: azure (azure)" in srv.log()
    client_ = sdk(srv)
    kept = client_.files.create(file=("d.txt", b"kept here", "text/plain"), purpose="user_data")
    assert fake.requests() == []  # the embedded store: nothing upstream
    assert client_.files.content(kept.id).content == b"kept here"

    # Zero-config Azure from AZURE_AD_TOKEN + AZURE_API_BASE + AZURE_API_VERSION.
    sent = client_.files.create(
        file=("t.jsonl", b'{"prompt": "a"}\n', "application/jsonl"),
        purpose="assistants",
        extra_body={"custom_llm_provider": "azure"},
    )
    entry = only_create(fake)
    assert entry["api"] == "azure-classic" and entry["query_params"] == {
        "api-version": CLASSIC_VERSION
    }
    assert entry["headers"]["authorization"] == f"Bearer {AAD_TOKEN}"
    assert "api-key" not in entry["headers"]
    assert client_.files.content(sent.id).content == b'{"prompt": "a"}\n'


def test_a_litellm_config_file_is_understood(fake: Fake, servers: dict[str, ServerProcess]) -> None:
    srv = servers["ll"]
    log = srv.log()
    assert (
        "default target: azure (azure); deployments: gpt-4o (openai), azure-gpt (azure), "
        "azure (azure), openai (openai)"
    ) in log
    # general_settings.master_key is the gateway's key.
    with httpx.Client(base_url=srv.base_url, timeout=30) as anon:
        assert anon.get("/v1/files").status_code == 401
        assert anon.get("/v1/files", headers={"Authorization": "Bearer nope"}).status_code == 401
    with httpx.Client(
        base_url=srv.base_url,
        headers={"Authorization": f"Bearer {LITELLM_MASTER}"},
        timeout=30,
    ) as c:
        for fields, api in (
            ({}, "azure-v1"),  # FILEGATE_DEFAULT_TARGET=azure: files_settings' azure (v1)
            ({"custom_llm_provider": "azure"}, "azure-v1"),
            ({"custom_llm_provider": "openai"}, "openai"),  # files_settings' openai
            ({"model": "azure-gpt"}, "azure-classic"),  # a model_list entry
            ({"model": "gpt-4o"}, "openai"),
        ):
            fake.reset()
            r = post_file(c, b"litellm\n", **fields)
            assert r.status_code == 200, r.text
            entry = only_create(fake)
            assert entry["api"] == api, fields
            if api != "openai":
                assert entry["headers"]["api-key"] == AZURE_KEY
        # A chat-only model in the same config has no Files API: not a deployment.
        assert_error(post_file(c, b"x", model="claude"), 400, code="unknown_deployment")


def test_a_config_mistake_stops_start_up_naming_the_key(fake: Fake, tmp_path: Path) -> None:
    bad_provider = write_config(
        tmp_path / "bad-provider.yaml",
        f"deployments:\n  - name: vx\n    provider: vertex\n    api_base: {fake.url}\n",
    )
    missing_env = write_config(
        tmp_path / "missing-env.yaml",
        "deployments:\n  - name: oa\n    provider: openai\n"
        "    api_key: os.environ/FILEGATE_TEST_UNSET_VARIABLE\n",
    )
    for name in ("p", "e"):
        (tmp_path / name).mkdir()
    procs = [
        start_server(tmp_path / name, env=dict(CLEAN_ENV), args=["--config", str(cfg)], wait=False)
        for name, cfg in (("p", bad_provider), ("e", missing_env))
    ]
    try:
        for proc in procs:
            assert proc.proc.wait(timeout=60) == 2
    except subprocess.TimeoutExpired:
        for proc in procs:
            proc.stop()
        raise
    assert "deployments[0].provider" in procs[0].log() and "vertex" in procs[0].log()
    assert "FILEGATE_TEST_UNSET_VARIABLE" in procs[1].log()
