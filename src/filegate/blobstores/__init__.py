"""Blob stores, chosen by URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from filegate.blobstores.base import BlobStore
from filegate.errors import ConfigError

__all__ = ["BlobStore", "open_blobstore"]


def open_blobstore(url: str) -> BlobStore:
    """Build the blob store named by ``url`` (``file:///path`` or a plain path)."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        from filegate.blobstores.local import LocalBlobStore

        path = parsed.path if parsed.scheme == "file" else url
        if parsed.scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"storage_url: file URLs take no host, got {url!r}")
        if not path:
            raise ConfigError("storage_url: empty path")
        try:
            return LocalBlobStore(Path(path).expanduser())
        except OSError as exc:
            raise ConfigError(f"storage_url: cannot use {path!r}: {exc.strerror}") from exc
    raise ConfigError(
        f"storage_url: unsupported scheme {parsed.scheme!r} in {url!r} (supported: file://)"
    )
