"""Blob stores by URL scheme: the one place that names each backend.

Each backend's module is imported only when its scheme is used, so a missing
client library fails with an install hint only for those who need it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from filegate.blobstores.base import BlobStore
from filegate.errors import ConfigError

# scheme -> (module, store class, config class, what to install if the import fails)
_BACKENDS: dict[str, tuple[str, str, str, str]] = {
    "s3": ("filegate.blobstores.s3", "S3BlobStore", "S3BlobStoreConfig", "obstore"),
    "gs": ("filegate.blobstores.gcs", "GCSBlobStore", "GCSBlobStoreConfig", "httpx2 google-auth"),
    "az": ("filegate.blobstores.azure_blob", "AzureBlobStore", "AzureBlobStoreConfig", "obstore"),
}
_ALIASES = {"s3a": "s3", "gcs": "gs", "azure": "az"}


def store_kind(url: str) -> str:
    """``local``, ``s3``, ``gs`` or ``az``: the store a URL names (a metrics label)."""
    scheme = urlparse(url).scheme
    return "local" if scheme in ("", "file") else _ALIASES.get(scheme, scheme)


def open_blobstore(url: str, env: Mapping[str, str] | None = None) -> BlobStore:
    """Build the blob store named by ``url``.

    ``file:///path`` (or a plain path), ``s3://bucket/prefix``,
    ``gs://bucket/prefix``, ``az://container/prefix``. Credentials and
    endpoints come from each cloud's standard variables in ``env`` (default:
    the process environment, read by ``config.storage_env``).
    """
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return _open_local(url)
    scheme = _ALIASES.get(parsed.scheme, parsed.scheme)
    if scheme not in _BACKENDS:
        supported = ", ".join(f"{s}://" for s in ("file", *_BACKENDS))
        raise ConfigError(
            f"storage_url: unsupported scheme {parsed.scheme!r} in {url!r} (supported: {supported})"
        )
    if env is None:
        from filegate.config import storage_env

        env = storage_env()
    module_name, store_name, config_name, package = _BACKENDS[scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"storage_url: {scheme}:// storage needs {exc.name or package}; "
            f"install it with: pip install {package}"
        ) from exc
    config: Any = getattr(module, config_name).from_url(url, env)
    store: BlobStore = getattr(module, store_name)(config)
    return store


def _open_local(url: str) -> BlobStore:
    from filegate.blobstores.local import LocalBlobStore

    parsed = urlparse(url)
    path = parsed.path if parsed.scheme == "file" else url
    if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
        raise ConfigError(f"storage_url: file URLs take no host, got {url!r}")
    if not path:
        raise ConfigError("storage_url: empty path")
    try:
        return LocalBlobStore(Path(path).expanduser())
    except OSError as exc:
        raise ConfigError(f"storage_url: cannot use {path!r}: {exc.strerror}") from exc
