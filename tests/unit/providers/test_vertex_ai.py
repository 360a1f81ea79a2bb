"""Vertex AI settings, from the environment and config files, and the adapter they build."""

from __future__ import annotations

from pathlib import Path

import pytest

from filegate.config import load_settings, provider_env
from filegate.errors import ConfigError, FileNotFound, InvalidRequest
from filegate.providers.base import Provider
from filegate.providers.registry import build_provider
from filegate.providers.vertex_ai.batches import vertex_model
from filegate.providers.vertex_ai.provider import VertexAIProvider, parse_gs_id
from filegate.records import ExpiresAfter

ENV = {
    "VERTEXAI_PROJECT": "proj",
    "VERTEXAI_LOCATION": "europe-west4",
    "GCS_BUCKET_NAME": "bucket/batch/files",
    "STORAGE_EMULATOR_HOST": "localhost:4443",
}


async def test_zero_config_environment_makes_a_vertex_deployment() -> None:
    (dep,) = load_settings(environ=ENV).deployments
    assert (dep.name, dep.provider, dep.vertex_project, dep.vertex_location) == (
        "vertex_ai",
        "vertex_ai",
        "proj",
        "europe-west4",
    )
    assert (dep.gcs_bucket_name, dep.storage_endpoint) == ("bucket/batch/files", "localhost:4443")
    provider = build_provider(dep)
    assert isinstance(provider, VertexAIProvider)
    typed: Provider = provider  # the adapter fits the interface
    assert (provider.bucket, provider.prefix) == ("bucket", "batch/files/")
    # An emulator and no credentials: anonymous, as Google's clients do.
    assert provider.gcs.tokens is None
    assert str(provider.gcs.wire.client.base_url) == "http://localhost:4443"
    await typed.aclose()


def test_missing_bucket_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^GCS_BUCKET_NAME: must be set"):
        load_settings(environ={"VERTEXAI_PROJECT": "proj"})
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("deployments:\n  - name: v\n    provider: vertex_ai\n    vertex_project: p\n")
    with pytest.raises(ConfigError, match="gcs_bucket_name is required"):
        load_settings(config_file=cfg, environ={})
    # Credentials alone (used by many Google tools) make no Vertex deployment.
    assert load_settings(environ={"GOOGLE_APPLICATION_CREDENTIALS": "/x.json"}).deployments == ()


async def test_litellm_model_list_entries_take_the_rest_from_the_environment(
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "litellm.yaml"
    cfg.write_text(
        "model_list:\n"
        "  - model_name: gemini-flash\n"
        "    litellm_params:\n"
        "      model: vertex_ai/gemini-2.0-flash\n"
        "      vertex_project: from-file\n"
        "      vertex_credentials: os.environ/SA_JSON\n"
    )
    env = {"GCS_BUCKET_NAME": "b", "VERTEXAI_PROJECT": "from-env", "SA_JSON": '{"type": "x"}'}
    deps = {d.name: d for d in load_settings(config_file=cfg, environ=env).deployments}
    dep = deps["gemini-flash"]
    assert (dep.provider, dep.vertex_project, dep.gcs_bucket_name) == (
        "vertex_ai",
        "from-file",
        "b",
    )
    assert dep.vertex_credentials is not None
    assert dep.vertex_credentials.get_secret_value() == '{"type": "x"}'
    assert "vertex_ai" in deps  # the zero-config one beside it
    with pytest.raises(ConfigError, match=r"vertex_credentials: .* valid type"):
        build_provider(dep)  # credentials are checked when the gateway starts


def test_sdk_defaults_from_the_environment() -> None:
    assert provider_env("vertex_ai", {**ENV, "GOOGLE_APPLICATION_CREDENTIALS": "/sa.json"}) == {
        "vertex_project": "proj",
        "vertex_location": "europe-west4",
        "gcs_bucket_name": "bucket/batch/files",
        "vertex_credentials": "/sa.json",
        "storage_endpoint": "localhost:4443",
    }


def test_gs_ids() -> None:
    assert parse_gs_id("gs://b/a/b c.jsonl") == ("b", "a/b c.jsonl")
    for bad in ("file-abc", "gs://b", "gs://b/", "gs:///x", "s3://b/x"):
        with pytest.raises(FileNotFound):
            parse_gs_id(bad)


async def test_purposes_and_expiry() -> None:
    provider = VertexAIProvider(gcs_bucket_name="b", storage_endpoint="http://127.0.0.1:9")
    provider.check_purpose("batch")
    with pytest.raises(InvalidRequest, match="purpose"):
        provider.check_purpose("nope")
    provider.check_expires_after(ExpiresAfter(3600))
    with pytest.raises(InvalidRequest, match="between 3600 and 2592000"):
        provider.check_expires_after(ExpiresAfter(60))
    await provider.aclose()


async def test_vertex_api_base_from_the_environment_or_the_location(tmp_path: Path) -> None:
    (dep,) = load_settings(
        environ={**ENV, "VERTEXAI_API_BASE": "http://127.0.0.1:8902"}
    ).deployments
    assert dep.vertex_api_base == "http://127.0.0.1:8902"
    provider = build_provider(dep)
    assert isinstance(provider, VertexAIProvider)
    assert str(provider.vertex.client.base_url) == "http://127.0.0.1:8902"
    assert provider._collection() == "/v1/projects/proj/locations/europe-west4/batchPredictionJobs"
    await provider.aclose()
    (dep,) = load_settings(environ=ENV).deployments
    regional = build_provider(dep)
    assert isinstance(regional, VertexAIProvider)
    assert str(regional.vertex.client.base_url) == "https://europe-west4-aiplatform.googleapis.com"
    await regional.aclose()
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        "deployments:\n  - name: v\n    provider: vertex_ai\n    vertex_project: p\n"
        "    vertex_location: global\n    gcs_bucket_name: b\n"
    )
    (dep,) = load_settings(config_file=cfg, environ={}).deployments
    worldwide = build_provider(dep)
    assert isinstance(worldwide, VertexAIProvider)
    assert str(worldwide.vertex.client.base_url) == "https://aiplatform.googleapis.com"
    await worldwide.aclose()
    cfg.write_text(
        "deployments:\n  - name: v\n    provider: vertex_ai\n    vertex_project: p\n"
        "    vertex_location: 'us/../x'\n    gcs_bucket_name: b\n"
    )
    with pytest.raises(ConfigError, match="not a Vertex AI location"):
        build_provider(load_settings(config_file=cfg, environ={}).deployments[0])


def test_line_models_as_vertex_model_names() -> None:
    google = "publishers/google/models/gemini-2.5-flash"
    assert vertex_model("gemini-2.5-flash") == google
    assert vertex_model("vertex_ai/gemini-2.5-flash") == google
    assert vertex_model(google) == google
    full = f"projects/p/locations/us-central1/{google}"
    assert vertex_model(full) == full
    tuned = "projects/p/locations/us-central1/models/123@1"
    assert vertex_model(tuned) == tuned
    for bad in (None, 3, "", "a b", "../x", "models/x/../../y", "publishers/google/models/"):
        assert vertex_model(bad) is None
