"""Blobs in Azure Blob Storage (or Azurite), through obstore.

``az://container/prefix`` (also ``azure://``), with Azure's standard settings:
``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT_NAME`` plus
``AZURE_STORAGE_ACCOUNT_KEY``. With an account name and no key, obstore finds
credentials as Azure's SDKs do (managed identity, workload identity, Azure CLI).

Puts upload blocks and commit the block list at the end, so a failed put
leaves no blob; uncommitted blocks a crashed process leaves behind are
discarded by Azure after a week.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from obstore.exceptions import BaseError
from obstore.store import AzureStore

from filegate.blobstores._common import split_url
from filegate.blobstores._obstore import ObjectStoreBlobStore
from filegate.errors import ConfigError

if TYPE_CHECKING:
    from obstore.store import AzureConfig, ClientConfig


@dataclass(frozen=True, slots=True)
class AzureBlobStoreConfig:
    container: str
    prefix: str = ""
    account_name: str | None = None
    account_key: str | None = field(default=None, repr=False)
    sas_token: str | None = field(default=None, repr=False)
    # The blob service URL, e.g. Azurite's http://127.0.0.1:10000/devstoreaccount1.
    endpoint: str | None = None
    use_emulator: bool = False

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str]) -> AzureBlobStoreConfig:
        container, prefix = split_url(url, ("az", "azure"), "container")
        if env.get("AZURE_STORAGE_CONNECTION_STRING"):
            return cls.from_connection_string(
                container, prefix, env["AZURE_STORAGE_CONNECTION_STRING"]
            )
        return cls(
            container=container,
            prefix=prefix,
            account_name=env.get("AZURE_STORAGE_ACCOUNT_NAME") or None,
            account_key=env.get("AZURE_STORAGE_ACCOUNT_KEY") or None,
        )

    @classmethod
    def from_connection_string(
        cls, container: str, prefix: str, connection_string: str
    ) -> AzureBlobStoreConfig:
        parts = parse_connection_string(connection_string)
        if parts.get("usedevelopmentstorage", "").lower() == "true":
            # Azurite on its default port, with its well-known account.
            return cls(container=container, prefix=prefix, use_emulator=True)
        account = parts.get("accountname")
        endpoint = parts.get("blobendpoint")
        if endpoint is None and account:
            protocol = parts.get("defaultendpointsprotocol", "https")
            suffix = parts.get("endpointsuffix", "core.windows.net")
            endpoint = f"{protocol}://{account}.blob.{suffix}"
        if not account or endpoint is None:
            raise ConfigError(
                "AZURE_STORAGE_CONNECTION_STRING: needs AccountName (and AccountKey or "
                "SharedAccessSignature), or BlobEndpoint"
            )
        return cls(
            container=container,
            prefix=prefix,
            account_name=account,
            account_key=parts.get("accountkey"),
            sas_token=parts.get("sharedaccesssignature"),
            endpoint=endpoint.rstrip("/"),
        )


def parse_connection_string(value: str) -> dict[str, str]:
    """``Key=Value;Key=Value`` -> {lower-case key: value}; values may contain ``=``."""
    parts: dict[str, str] = {}
    for item in value.split(";"):
        name, sep, val = item.strip().partition("=")
        if not item.strip():
            continue
        if not sep or not name:
            # Never echo the string: it holds the account key.
            raise ConfigError("AZURE_STORAGE_CONNECTION_STRING: expected Key=Value pairs")
        parts[name.strip().lower()] = val.strip()
    return parts


class AzureBlobStore(ObjectStoreBlobStore):
    def __init__(self, config: AzureBlobStoreConfig) -> None:
        settings: AzureConfig = {}
        if config.use_emulator:
            settings["use_emulator"] = True
        if config.account_name:
            settings["account_name"] = config.account_name
        if config.account_key:
            settings["account_key"] = config.account_key
        if config.sas_token:
            settings["sas_key"] = config.sas_token
        if config.endpoint:
            settings["endpoint"] = config.endpoint
        plain_http = config.use_emulator or (config.endpoint or "").startswith("http://")
        client: ClientConfig = {"allow_http": plain_http, "connect_timeout": "10s"}
        try:
            store = AzureStore(
                config.container,
                prefix=config.prefix or None,
                config=settings,
                client_options=client,
            )
        except (BaseError, ValueError) as exc:
            raise ConfigError(
                f"storage_url: cannot use Azure container {config.container!r}: "
                f"{type(exc).__name__}"
            ) from None
        location = f"az://{config.container}/{config.prefix}".rstrip("/")
        super().__init__(
            store,
            backend="azure",
            location=location,
            noun="container",
            hint="check AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_NAME / KEY",
        )
