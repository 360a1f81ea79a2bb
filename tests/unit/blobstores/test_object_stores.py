"""Choosing and configuring the object-store backends from a URL and the standard variables."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from filegate.blobstores import open_blobstore
from filegate.blobstores._common import regroup, safe_message
from filegate.blobstores.azure_blob import AzureBlobStore, AzureBlobStoreConfig
from filegate.blobstores.gcs import GCSBlobStore, GCSBlobStoreConfig
from filegate.blobstores.s3 import S3BlobStore, S3BlobStoreConfig
from filegate.config import storage_env
from filegate.errors import ConfigError

AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)


def test_storage_env_takes_only_the_standard_variables() -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_REGION": "",
        "HOME": "/root",
        "STORAGE_EMULATOR_HOST": "h",
    }
    assert storage_env(env) == {"AWS_ACCESS_KEY_ID": "k", "STORAGE_EMULATOR_HOST": "h"}


async def test_schemes_choose_backends() -> None:
    s3 = open_blobstore("s3://bucket/a/b", {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"})
    gcs = open_blobstore("gs://bucket/p", {"STORAGE_EMULATOR_HOST": "127.0.0.1:4443"})
    az = open_blobstore("az://container/p", {"AZURE_STORAGE_CONNECTION_STRING": AZURITE})
    azure = open_blobstore("azure://container", {"AZURE_STORAGE_CONNECTION_STRING": AZURITE})
    assert isinstance(s3, S3BlobStore) and s3.location == "s3://bucket/a/b"
    assert isinstance(gcs, GCSBlobStore) and gcs.location == "gs://bucket/p"
    assert isinstance(az, AzureBlobStore) and isinstance(azure, AzureBlobStore)
    await gcs.aclose()


@pytest.mark.parametrize(
    "url", ["s3://", "s3:///prefix", "gs://bucket/p?x=1", "az://", "ftp://bucket", "s4://b"]
)
def test_bad_urls_name_the_setting(url: str) -> None:
    with pytest.raises(ConfigError, match="storage_url"):
        open_blobstore(url, {})


def test_s3_config_from_the_standard_variables() -> None:
    config = S3BlobStoreConfig.from_url(
        "s3://b/p/",
        {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "very-secret",
            "AWS_DEFAULT_REGION": "eu-west-1",
        },
    )
    assert (config.bucket, config.prefix, config.region) == ("b", "p", "eu-west-1")
    assert config.allow_http  # a plain-http endpoint is allowed without AWS_ALLOW_HTTP
    assert "very-secret" not in repr(config)
    with pytest.raises(ConfigError, match="set both or neither"):
        S3BlobStoreConfig.from_url("s3://b", {"AWS_ACCESS_KEY_ID": "only-the-id"})


def test_gcs_emulator_host_means_anonymous_http() -> None:
    config = GCSBlobStoreConfig.from_url("gs://b/p", {"STORAGE_EMULATOR_HOST": "localhost:4443"})
    assert (config.endpoint, config.anonymous) == ("http://localhost:4443", True)
    real = GCSBlobStoreConfig.from_url("gs://b", {"GOOGLE_APPLICATION_CREDENTIALS": "/k.json"})
    assert (real.endpoint, real.anonymous, real.credentials_file) == (
        "https://storage.googleapis.com",
        False,
        "/k.json",
    )


def test_azure_connection_strings() -> None:
    azurite = AzureBlobStoreConfig.from_url(
        "az://c/p", {"AZURE_STORAGE_CONNECTION_STRING": AZURITE}
    )
    assert azurite.endpoint == "http://127.0.0.1:10000/devstoreaccount1"
    assert azurite.account_name == "devstoreaccount1"
    assert azurite.account_key is not None and azurite.account_key.endswith("==")
    assert "Eby8" not in repr(azurite)

    cloud = AzureBlobStoreConfig.from_url(
        "az://c",
        {"AZURE_STORAGE_CONNECTION_STRING": "AccountName=acct;AccountKey=a2V5;EndpointSuffix=x.cn"},
    )
    assert cloud.endpoint == "https://acct.blob.x.cn"

    dev = AzureBlobStoreConfig.from_url(
        "az://c", {"AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}
    )
    assert dev.use_emulator

    keys = AzureBlobStoreConfig.from_url(
        "az://c",
        {"AZURE_STORAGE_ACCOUNT_NAME": "acct", "AZURE_STORAGE_ACCOUNT_KEY": "a2V5"},
    )
    assert (keys.account_name, keys.account_key) == ("acct", "a2V5")


def test_a_bad_connection_string_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        AzureBlobStoreConfig.from_url(
            "az://c", {"AZURE_STORAGE_CONNECTION_STRING": "AccountKey=sekrit;garbage"}
        )
    assert "sekrit" not in str(info.value)


def test_a_missing_client_library_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_obstore(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "obstore" or name.startswith("obstore."):
            raise ImportError("No module named 'obstore'", name="obstore")
        return real_import(name, *args, **kwargs)

    for module in ("filegate.blobstores.s3", "filegate.blobstores._obstore"):
        monkeypatch.delitem(__import__("sys").modules, module, raising=False)
    monkeypatch.setattr(builtins, "__import__", no_obstore)
    with pytest.raises(ConfigError, match="pip install obstore"):
        open_blobstore("s3://bucket", {})


def test_native_messages_lose_query_strings() -> None:
    exc = Exception("Error performing GET https://a.blob.core.windows.net/c/k?sig=SECRET&se=1 x")
    assert "SECRET" not in safe_message(exc)
    assert "https://a.blob.core.windows.net/c/k" in safe_message(exc)


async def test_regroup_exact_batches() -> None:
    async def chunks() -> Any:
        for size in (3, 10, 1, 0, 7):
            yield b"x" * size

    assert [len(b) async for b in regroup(chunks(), 4, exact=True)] == [4, 4, 4, 4, 4, 1]
    assert [len(b) async for b in regroup(chunks(), 4)] == [13, 8]
