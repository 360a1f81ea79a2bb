"""Blobs in S3 or an S3-compatible store (MinIO, R2, moto ...), through obstore.

``s3://bucket/prefix``, with AWS's standard settings: ``AWS_ENDPOINT_URL``
(S3-compatible endpoints; path-style requests), ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_DEFAULT_REGION``.
Without keys, obstore finds credentials as AWS's SDKs do (web identity,
container and instance metadata).

Puts are multipart uploads. A put that fails or is cancelled aborts its own;
one left by a crashed process is not visible as an object, and is removed by
a bucket lifecycle rule (``AbortIncompleteMultipartUpload``), which obstore
gives no way to do from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from obstore.exceptions import BaseError
from obstore.store import S3Store

from filegate.blobstores._common import split_url
from filegate.blobstores._obstore import ObjectStoreBlobStore
from filegate.errors import ConfigError

if TYPE_CHECKING:
    from obstore.store import ClientConfig, S3Config

_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True, slots=True)
class S3BlobStoreConfig:
    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    allow_http: bool = False

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> S3BlobStoreConfig:
        bucket, prefix = split_url(url, ("s3", "s3a"), "bucket")
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
        key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        if bool(key_id) != bool(secret):
            raise ConfigError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both or neither")
        return cls(
            bucket=bucket,
            prefix=prefix,
            endpoint=endpoint,
            region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or None,
            access_key_id=key_id or None,
            secret_access_key=secret or None,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
            # A plain-http endpoint is an emulator or a private network: say so once.
            allow_http=(endpoint or "").startswith("http://")
            or env.get("AWS_ALLOW_HTTP", "").lower() in _TRUE,
        )


class S3BlobStore(ObjectStoreBlobStore):
    def __init__(self, config: S3BlobStoreConfig) -> None:
        settings: S3Config = {}
        if config.endpoint:
            settings["endpoint"] = config.endpoint
        if config.region:
            settings["region"] = config.region
        if config.access_key_id and config.secret_access_key:
            settings["access_key_id"] = config.access_key_id
            settings["secret_access_key"] = config.secret_access_key
        if config.session_token:
            settings["session_token"] = config.session_token
        client: ClientConfig = {"allow_http": config.allow_http, "connect_timeout": "10s"}
        try:
            store = S3Store(
                config.bucket, prefix=config.prefix or None, config=settings, client_options=client
            )
        except (BaseError, ValueError) as exc:
            # The type only: obstore's message may quote the settings, keys included.
            raise ConfigError(
                f"storage_url: cannot use S3 bucket {config.bucket!r}: {type(exc).__name__}"
            ) from None
        location = f"s3://{config.bucket}/{config.prefix}".rstrip("/")
        super().__init__(
            store,
            backend="s3",
            location=location,
            noun="bucket",
            hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy",
        )
