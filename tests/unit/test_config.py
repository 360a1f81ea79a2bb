from pathlib import Path

import pytest

from filegate.config import load_settings, parse_size
from filegate.errors import ConfigError


def test_defaults_without_a_key_bind_localhost(tmp_path: Path) -> None:
    s = load_settings(environ={})
    assert s.port == 4000
    assert s.master_key is None
    assert s.bind_host == "127.0.0.1"
    assert s.max_file_size == 512 * 1024 * 1024
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.resolved_storage_url.startswith("file:///")


def test_master_key_binds_all_interfaces() -> None:
    s = load_settings(environ={"FILEGATE_MASTER_KEY": "sk-1"})
    assert s.bind_host == "0.0.0.0"
    assert s.master_key is not None and s.master_key.get_secret_value() == "sk-1"
    # The key never shows in the settings' repr.
    assert "sk-1" not in repr(s)


def test_explicit_host_wins_even_without_a_key() -> None:
    assert load_settings(environ={}, overrides={"host": "0.0.0.0"}).bind_host == "0.0.0.0"
    assert load_settings(environ={"FILEGATE_HOST": "::1"}).bind_host == "::1"


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("port: 5000\nmax_file_size: 10MB\nlog_level: debug\n")
    s = load_settings(config_file=cfg, environ={"FILEGATE_PORT": "6000"})
    assert (s.port, s.max_file_size, s.log_level) == (6000, 10_000_000, "debug")
    s = load_settings(config_file=cfg, environ={"FILEGATE_PORT": "6000"}, overrides={"port": 7000})
    assert s.port == 7000


def test_config_file_from_env_and_env_references(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("general_settings:\n  master_key: os.environ/MY_KEY\nmodel_list: []\n")
    s = load_settings(environ={"FILEGATE_CONFIG": str(cfg), "MY_KEY": "sk-from-env"})
    assert s.master_key is not None and s.master_key.get_secret_value() == "sk-from-env"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"FILEGATE_PORT": "http"}, "FILEGATE_PORT"),
        ({"FILEGATE_PORT": "70000"}, "FILEGATE_PORT"),
        ({"FILEGATE_MAX_FILE_SIZE": "lots"}, "FILEGATE_MAX_FILE_SIZE"),
        ({"FILEGATE_LOG_LEVEL": "loud"}, "FILEGATE_LOG_LEVEL"),
        ({"FILEGATE_SWEEP_INTERVAL": "-1"}, "FILEGATE_SWEEP_INTERVAL"),
        ({"FILEGATE_MAX_CONNECTIONS": "0"}, "FILEGATE_MAX_CONNECTIONS"),
        ({"FILEGATE_MAX_HEADER_SIZE": "100"}, "FILEGATE_MAX_HEADER_SIZE"),
        ({"FILEGATE_HEADER_TIMEOUT": "0"}, "FILEGATE_HEADER_TIMEOUT"),
        ({"FILEGATE_BODY_TIMEOUT": "-3"}, "FILEGATE_BODY_TIMEOUT"),
        ({"FILEGATE_KEEP_ALIVE_TIMEOUT": "never"}, "FILEGATE_KEEP_ALIVE_TIMEOUT"),
    ],
)
def test_bad_values_name_their_source(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(environ=env)


def test_bad_config_files(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("prot: 5000\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings(config_file=cfg, environ={})
    cfg.write_text("master_key: os.environ/NOPE\n")
    with pytest.raises(ConfigError, match="NOPE"):
        load_settings(config_file=cfg, environ={})
    cfg.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(config_file=cfg, environ={})
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_settings(config_file=tmp_path / "missing.yaml", environ={})


def test_parse_size() -> None:
    assert parse_size(10) == 10
    assert parse_size("10") == 10
    assert parse_size("1KB") == 1000
    assert parse_size("1 KiB") == 1024
    assert parse_size("512MiB") == 512 * 1024 * 1024
    assert parse_size("2gb") == 2 * 1000**3
    for bad in ("", "MB", "1.5MB", "1 XB", True):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_upload_sizes_per_deployment(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    base = "deployments:\n  - name: o\n    provider: openai\n    api_key: k\n"
    cfg.write_text(base)
    (d,) = load_settings(config_file=cfg, environ={}).deployments
    assert (d.files_api_max_bytes, d.upload_part_bytes) == (512 * 1024**2, 64 * 1024**2)
    cfg.write_text(base + "    files_api_max_bytes: 1000\n    upload_part_bytes: 300\n")
    (d,) = load_settings(config_file=cfg, environ={}).deployments
    assert (d.files_api_max_bytes, d.upload_part_bytes) == (1000, 300)
    # OpenAI takes parts of at most 64 MB.
    cfg.write_text(base + f"    upload_part_bytes: {64 * 1024**2 + 1}\n")
    with pytest.raises(ConfigError, match="upload_part_bytes"):
        load_settings(config_file=cfg, environ={})


def test_http_limits_have_safe_defaults() -> None:
    s = load_settings(environ={})
    assert s.max_connections == 1000
    assert s.max_header_size == 32 * 1024
    assert (s.header_timeout, s.body_timeout, s.keep_alive_timeout) == (10.0, 30.0, 5.0)


def test_http_limits_from_file_env_and_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("max_connections: 50\nmax_header_size: 8KiB\nheader_timeout: 3\n")
    s = load_settings(
        config_file=cfg,
        environ={"FILEGATE_BODY_TIMEOUT": "2.5", "FILEGATE_HEADER_TIMEOUT": "4"},
        overrides={"keep_alive_timeout": 1.5},
    )
    assert (s.max_connections, s.max_header_size) == (50, 8192)
    assert (s.header_timeout, s.body_timeout, s.keep_alive_timeout) == (4.0, 2.5, 1.5)


def test_openai_compatible_deployments_and_litellm_batch_runners(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        """
deployments:
  - {name: local-llm, provider: openai_compatible, api_base: "http://h:8000/v1",
     api_key: os.environ/LLM_KEY, batch_concurrency: 3}
model_list:
  - model_name: vllm
    litellm_params: {model: hosted_vllm/llama, api_base: "http://v:8000/v1", batch_runner: true}
  - model_name: olla
    litellm_params: {model: ollama/llama3, api_base: "http://o:11434", batch_runner: true}
  - model_name: plain
    litellm_params: {model: openai/gpt-4o, api_key: sk-x}
  - model_name: chat-only
    litellm_params: {model: hosted_vllm/llama, api_base: "http://v:8000/v1"}
"""
    )
    s = load_settings(config_file=cfg, environ={"LLM_KEY": "k"})
    by = {d.name: d for d in s.deployments}
    assert set(by) == {"local-llm", "vllm", "olla", "plain"}
    local = by["local-llm"]
    assert local.provider == "openai_compatible" and local.api_key is not None
    assert (local.batch_concurrency, local.max_batches_running) == (3, 4)
    assert by["vllm"].provider == "openai_compatible" and by["vllm"].batch_concurrency == 8
    # Ollama's OpenAI API is under /v1.
    assert by["olla"].api_base == "http://o:11434/v1"
    assert by["plain"].provider == "openai"
    assert s.batch_lease_seconds == 30


def test_an_openai_compatible_deployment_needs_an_api_base(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("deployments:\n  - {name: x, provider: openai_compatible}\n")
    with pytest.raises(ConfigError, match="api_base is required for openai_compatible"):
        load_settings(config_file=cfg, environ={})
    cfg.write_text(
        "deployments:\n  - {name: x, provider: openai_compatible, api_base: 'http://h/v1',"
        " batch_concurrency: 0}\n"
    )
    with pytest.raises(ConfigError, match="batch_concurrency"):
        load_settings(config_file=cfg, environ={})
