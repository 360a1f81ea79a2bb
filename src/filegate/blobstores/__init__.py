"""Where file bytes live: the protocol (``base``), the backends, and the registry by URL."""

from filegate.blobstores.base import BlobStore
from filegate.blobstores.registry import open_blobstore

__all__ = ["BlobStore", "open_blobstore"]
