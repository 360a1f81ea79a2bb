"""One settings object, from defaults < YAML file < environment < command-line flags.

The environment is read here only, once, at start-up. Every bad value stops
start-up with a ``ConfigError`` naming where it came from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from filegate.errors import ConfigError
from filegate.providers import registry
from filegate.records import LIMIT_FIELDS, Limits

MB = 1024 * 1024
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}
_ENV_REF = "os.environ/"

# setting name -> environment variable
ENV_VARS = {
    "host": "FILEGATE_HOST",
    "port": "FILEGATE_PORT",
    "master_key": "FILEGATE_MASTER_KEY",
    "data_dir": "FILEGATE_DATA_DIR",
    "database_url": "FILEGATE_DATABASE_URL",
    "storage_url": "FILEGATE_STORAGE_URL",
    "max_file_size": "FILEGATE_MAX_FILE_SIZE",
    "max_upload_size": "FILEGATE_MAX_UPLOAD_SIZE",
    "sweep_interval": "FILEGATE_SWEEP_INTERVAL",
    "batch_cache_seconds": "FILEGATE_BATCH_CACHE_SECONDS",
    "batch_lease_seconds": "FILEGATE_BATCH_LEASE_SECONDS",
    "fine_tuning_cache_seconds": "FILEGATE_FINE_TUNING_CACHE_SECONDS",
    "log_level": "FILEGATE_LOG_LEVEL",
    "log_format": "FILEGATE_LOG_FORMAT",
    "metrics_public": "FILEGATE_METRICS_PUBLIC",
    "metrics": "FILEGATE_METRICS",
    # OpenTelemetry's own variable: set, and with the otel extra installed, spans go there.
    "otel_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
    "default_target": "FILEGATE_DEFAULT_TARGET",
    # What one HTTP client may hold (server/protocol.py enforces them).
    "max_connections": "FILEGATE_MAX_CONNECTIONS",
    "max_header_size": "FILEGATE_MAX_HEADER_SIZE",
    "header_timeout": "FILEGATE_HEADER_TIMEOUT",
    "body_timeout": "FILEGATE_BODY_TIMEOUT",
    "keep_alive_timeout": "FILEGATE_KEEP_ALIVE_TIMEOUT",
}
# Settings only a config file can give (structured values).
_FILE_ONLY = ("deployments", "default_limits")
# LiteLLM config sections we understand (their files-related parts) or ignore.
_LITELLM_SECTIONS = {
    "general_settings",
    "model_list",
    "files_settings",
    "litellm_settings",
    "router_settings",
    "environment_variables",
}


def parse_size(value: object) -> int:
    """``536870912``, ``"512MB"``, ``"512 MiB"`` -> bytes (MB = 10^6, MiB = 2^20)."""
    if isinstance(value, bool):
        raise ValueError("expected a size")
    if isinstance(value, int):
        return int(value)
    m = _SIZE_RE.match(str(value))
    if not m:
        raise ValueError(f"not a size: {value!r} (examples: 536870912, 512MB, 512MiB)")
    number, unit = int(m.group(1)), (m.group(2) or "").lower()
    if "i" in unit:
        return number << (10 * ("kmgt".index(unit[0]) + 1))
    return number * _UNITS[unit[:1]]


class Deployment(BaseModel):
    """One upstream Files API: a provider plus where and how to reach it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    provider: str
    api_base: str | None = None
    api_key: SecretStr | None = None
    azure_ad_token: SecretStr | None = None
    api_version: str | None = None
    organization: str | None = None
    project: str | None = None
    timeout: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    # OpenAI and Azure: a larger file goes through the provider's Uploads API,
    # in parts of upload_part_bytes (OpenAI's limits: 512 MB, 64 MB).
    files_api_max_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    upload_part_bytes: int = Field(default=64 * 1024 * 1024, gt=0, le=64 * 1024 * 1024)
    # Azure: how long a create waits for the new file to be processed (OpenAI's
    # create answers "processed"); past it the file is answered "uploaded".
    processing_wait: float = Field(default=5.0, ge=0, le=600)
    # Vertex AI: files live in a GCS bucket (under an optional prefix).
    vertex_project: str | None = None
    vertex_location: str | None = None
    gcs_bucket_name: str | None = None
    gcs_prefix: str | None = None
    # A service-account JSON file's path or the JSON text; None: Application
    # Default Credentials, or anonymous when storage_endpoint names an emulator.
    vertex_credentials: SecretStr | None = None
    storage_endpoint: str | None = None
    # The Vertex AI API's base URL; None: https://{location}-aiplatform.googleapis.com.
    vertex_api_base: str | None = None
    # openai_compatible: filegate runs the batches itself, sending each line to
    # api_base with this many requests in flight per batch, and at most
    # max_batches_running of this deployment's batches at once per gateway process.
    batch_concurrency: int = Field(default=8, ge=1, le=512)
    max_batches_running: int = Field(default=4, ge=1, le=256)

    @field_validator("provider")
    @classmethod
    def _provider(cls, v: str) -> str:
        if v not in registry.PROVIDERS:
            raise ValueError(f"unknown provider {v!r} (known: {', '.join(registry.PROVIDERS)})")
        return v

    @model_validator(mode="after")
    def _provider_fields(self) -> Deployment:
        # The fields only some providers use: each provider checks its own.
        registry.spec(self.provider).check(self)
        return self


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "0.0.0.0"
    # True when the host was chosen by the user, not defaulted; without a
    # master key a defaulted host falls back to 127.0.0.1.
    host_explicit: bool = False
    port: int = Field(default=4000, ge=0, le=65535)
    master_key: SecretStr | None = None
    data_dir: Path = Path("filegate-data")
    database_url: str = ""
    storage_url: str = ""
    max_file_size: int = Field(default=512 * MB, gt=0)
    # The Uploads API's cap for one file (OpenAI's: 8 GB).
    max_upload_size: int = Field(default=8 * 1024 * MB, gt=0)
    sweep_interval: float = Field(default=60.0, gt=0)
    # A batch retrieve within this long of the last one is answered from the catalog.
    batch_cache_seconds: float = Field(default=1.5, ge=0, le=60)
    # A batch filegate runs itself is held by one gateway process of a fleet for this
    # long, renewed while it runs; a process that dies gives it up when it lapses.
    batch_lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    # A fine-tuning job polled again within this many seconds is answered from the
    # catalog instead of asking its provider.
    fine_tuning_cache_seconds: float = Field(default=1.5, ge=0, le=60)
    log_level: str = "info"
    # "json": one JSON object per log record and per request (server/metrics.py).
    log_format: Literal["text", "json"] = "text"
    # GET /metrics without the master key (for a scraper inside a trusted network).
    metrics_public: bool = False
    # False: no /metrics and no per-request counting (the benchmark's baseline).
    metrics: bool = True
    # OTLP/HTTP base URL (spans go to <it>/v1/traces); needs the otel extra (server/tracing.py).
    otel_endpoint: str | None = None
    deployments: tuple[Deployment, ...] = ()
    # Limits for every virtual key; a key's or team's own limits can only tighten them.
    default_limits: Limits = Limits()
    # A deployment name, a provider name, or "filegate" (the embedded store).
    default_target: str | None = None
    # Defaults safe on the open internet: a client gets this many seconds to send
    # its request line and headers, and may pause its body (or stop reading a
    # response) this long; headers above max_header_size are refused.
    max_connections: int = Field(default=1000, gt=0)
    max_header_size: int = Field(default=32 * 1024, ge=1024)
    header_timeout: float = Field(default=10.0, gt=0)
    body_timeout: float = Field(default=30.0, gt=0)
    keep_alive_timeout: float = Field(default=5.0, gt=0)

    @field_validator("max_file_size", "max_upload_size", "max_header_size", mode="before")
    @classmethod
    def _size(cls, v: object) -> int:
        return parse_size(v)

    @field_validator("default_limits", mode="before")
    @classmethod
    def _limits(cls, v: object) -> Limits:
        if isinstance(v, Limits):
            return v
        if not isinstance(v, dict):
            raise ValueError("expected a mapping of limits")
        unknown = sorted(set(v) - set(LIMIT_FIELDS))
        if unknown:
            raise ValueError(f"unknown limit {unknown[0]!r} (known: {', '.join(LIMIT_FIELDS)})")
        doc = dict(v)
        for size in ("max_file_size", "max_stored_bytes"):
            if doc.get(size) is not None:
                doc[size] = parse_size(doc[size])
        return Limits.from_dict(doc)

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.lower()
        if v not in ("critical", "error", "warning", "info", "debug"):
            raise ValueError("must be one of critical, error, warning, info, debug")
        return v

    @field_validator("master_key")
    @classmethod
    def _key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().strip():
            return None
        return v

    @property
    def bind_host(self) -> str:
        if self.master_key is None and not self.host_explicit:
            return "127.0.0.1"
        return self.host

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'catalog.db').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{(self.data_dir / 'files').resolve()}"


def _resolve_refs(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    if isinstance(value, str) and value.startswith(_ENV_REF):
        name = value[len(_ENV_REF) :]
        if name not in environ:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return environ[name]
    if isinstance(value, dict):
        return {k: _resolve_refs(v, f"{where}.{k}", environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(v, f"{where}[{i}]", environ) for i, v in enumerate(value)]
    return value


def _read_yaml(path: Path, environ: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: not valid YAML: {exc}") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"config file {path}: expected a mapping at the top level")
    out: dict[str, tuple[Any, str]] = {}
    litellm: list[tuple[dict[str, Any], str]] = []
    for key, value in doc.items():
        where = f"{path}: {key}"
        if key in _LITELLM_SECTIONS:
            if key == "general_settings" and isinstance(value, dict):
                for sub in ("master_key", "database_url"):
                    if value.get(sub) is not None:
                        out[sub] = (
                            _resolve_refs(value[sub], f"{where}.{sub}", environ),
                            f"{where}.{sub}",
                        )
            elif key in ("model_list", "files_settings") and value is not None:
                litellm += _litellm_deployments(key, value, where, environ)
            continue
        if key not in ENV_VARS and key not in _FILE_ONLY:
            known = ", ".join((*ENV_VARS, *_FILE_ONLY, *sorted(_LITELLM_SECTIONS)))
            raise ConfigError(f"{where}: unknown setting (known: {known})")
        out[key] = (_resolve_refs(value, where, environ), where)
    if key_list := out.pop("deployments", None):
        entries, where = key_list
        if not isinstance(entries, list):
            raise ConfigError(f"{where}: expected a list of deployments")
        litellm = [(e, f"{where}[{i}]") for i, e in enumerate(entries)] + litellm
    if litellm:
        out["deployments"] = ([e for e, _ in litellm], "")
        out["_deployment_sources"] = ([w for _, w in litellm], "")
    return out


_LITELLM_PARAMS = (
    "api_base",
    "api_key",
    "api_version",
    "organization",
    "timeout",
    "max_retries",
    # Each provider's own fields (azure_ad_token, vertex_project, ...).
    *(name for spec in registry.PROVIDERS.values() for name in spec.litellm_params),
)


def _litellm_deployments(
    section: str, value: Any, where: str, environ: Mapping[str, str]
) -> list[tuple[dict[str, Any], str]]:
    """LiteLLM's ``model_list`` / ``files_settings`` entries as filegate deployments."""
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list")
    out: list[tuple[dict[str, Any], str]] = []
    for i, entry in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{at}: expected a mapping")
        if section == "model_list":
            params = entry.get("litellm_params") or {}
            if not isinstance(params, dict):
                raise ConfigError(f"{at}.litellm_params: expected a mapping")
            model = str(params.get("model") or "")
            provider = params.get("custom_llm_provider") or (
                model.split("/", 1)[0] if "/" in model else registry.DEFAULT_PROVIDER
            )
            name = entry.get("model_name")
            # A provider may take over an entry its prefix names (a model server
            # without Files or Batch APIs whose batches filegate runs).
            provider, params = registry.litellm_claim(provider, entry, params)
        else:
            params = entry
            provider = entry.get("custom_llm_provider")
            name = provider
        if provider not in registry.PROVIDERS:
            # Chat-only providers in a shared LiteLLM config have no Files API.
            continue
        dep = {k: params[k] for k in _LITELLM_PARAMS if params.get(k) is not None}
        dep = {**registry.spec(provider).litellm_env(environ), **dep}
        dep.update(name=name, provider=provider)
        out.append((_resolve_refs(dep, at, environ), at))
    return out


def _env_deployments(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """Zero-config deployments from the providers' own environment variables."""
    found = (spec.env_deployment(env) for spec in registry.PROVIDERS.values())
    return [dep for dep in found if dep is not None]


def load_settings(
    *,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge every source into one validated ``Settings``."""
    env = os.environ if environ is None else environ
    if config_file is None and env.get("FILEGATE_CONFIG"):
        config_file = env["FILEGATE_CONFIG"]
    values: dict[str, tuple[Any, str]] = {}
    if config_file is not None:
        values.update(_read_yaml(Path(config_file), env))
    for name, var in ENV_VARS.items():
        if var in env:
            values[name] = (env[var], var)
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = (value, f"--{name.replace('_', '-')}")
    dep_sources: list[str] = values.pop("_deployment_sources", ([], ""))[0]
    deployments: list[dict[str, Any]] = list(values.pop("deployments", ([], ""))[0])
    named = {d.get("name") for d in deployments if isinstance(d, dict)}
    for dep in _env_deployments(env):
        # Deployments from a config file win over the zero-config environment.
        if dep["name"] not in named:
            deployments.append(dep)
            dep_sources.append(f"environment ({dep['provider']})")
    raw: dict[str, Any] = {name: value for name, (value, _) in values.items()}
    raw["host_explicit"] = "host" in values
    raw["deployments"] = deployments
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        name = str(loc[0]) if loc else ""
        if name == "deployments" and len(loc) > 1 and isinstance(loc[1], int):
            where = dep_sources[loc[1]] if loc[1] < len(dep_sources) else "deployments"
            detail = ".".join(str(p) for p in loc[2:])
            raise ConfigError(f"{where}{'.' + detail if detail else ''}: {first['msg']}") from None
        source = values.get(name, (None, name))[1]
        raise ConfigError(f"{source}: {first['msg']}") from None
    _check_targets(settings)
    return settings


def _check_targets(settings: Settings) -> None:
    names = [d.name for d in settings.deployments]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"deployments: the name {duplicates[0]!r} is used twice")
    target = settings.default_target
    if (
        target
        and target != "filegate"
        and target not in names
        and target not in {d.provider for d in settings.deployments}
    ):
        raise ConfigError(
            f"default_target: {target!r} names no deployment or configured provider "
            f"(deployments: {', '.join(names) or 'none'}; or 'filegate')"
        )


# SDK credentials: provider -> ((parameter, environment variables in order of
# preference), ...), as each provider's spec gives them. The SDK reads these at
# call time, as LiteLLM does.
PROVIDER_ENV_VARS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    name: spec.env_vars for name, spec in registry.SDK_TARGETS.items()
}


def provider_env(provider: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The SDK's defaults for ``provider`` from its environment variables.

    Returns parameter name -> value for each variable that is set and not
    empty (the first one set wins where a parameter has several).
    """
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for param, names in PROVIDER_ENV_VARS.get(provider, ()):
        for name in names:
            if env.get(name):
                out[param] = env[name]
                break
    return out


# Object-store backends: each cloud's standard variables (blobstores/ reads them here).
STORAGE_ENV_VARS = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ALLOW_HTTP",
    "STORAGE_EMULATOR_HOST",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
)


def storage_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The object stores' standard variables that are set and not empty."""
    env = os.environ if environ is None else environ
    return {name: env[name] for name in STORAGE_ENV_VARS if env.get(name)}
