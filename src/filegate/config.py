"""One settings object, from defaults < YAML file < environment < command-line flags.

The environment is read here only, once, at start-up. Every bad value stops
start-up with a ``ConfigError`` naming where it came from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from filegate.errors import ConfigError

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
    "sweep_interval": "FILEGATE_SWEEP_INTERVAL",
    "log_level": "FILEGATE_LOG_LEVEL",
}
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
    sweep_interval: float = Field(default=60.0, gt=0)
    log_level: str = "info"

    @field_validator("max_file_size", mode="before")
    @classmethod
    def _size(cls, v: object) -> int:
        return parse_size(v)

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
            continue
        if key not in ENV_VARS:
            raise ConfigError(f"{where}: unknown setting (known: {', '.join(ENV_VARS)})")
        out[key] = (_resolve_refs(value, where, environ), where)
    return out


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
    raw = {name: value for name, (value, _) in values.items()}
    raw["host_explicit"] = "host" in values
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        source = values.get(name, (None, name))[1]
        raise ConfigError(f"{source}: {first['msg']}") from None
