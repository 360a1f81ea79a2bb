"""The BlobStore contract on every backend: local disk, S3 (moto), GCS (fake-gcs-server),
Azure Blob (Azurite)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from blobstore_contract import BlobStoreContract, SourceFailed, StoreSpec, failing

from filegate.blobstores import BlobStore
from tests.emulators import BUCKET, Emulator, s3_client


def fresh(emulator: Emulator, scheme: str) -> StoreSpec:
    # A new prefix per test: every test starts with an empty store.
    return StoreSpec(f"{scheme}://{BUCKET}/t-{uuid.uuid4().hex[:12]}", emulator.env)


class TestLocalBlobStore(BlobStoreContract):
    @pytest.fixture
    def spec(self, tmp_path: Path) -> StoreSpec:
        return StoreSpec(f"file://{tmp_path}", {})


class TestS3BlobStore(BlobStoreContract):
    @pytest.fixture
    def spec(self, s3_emulator: Emulator) -> StoreSpec:
        return fresh(s3_emulator, "s3")

    async def test_failed_puts_leave_no_multipart_upload(
        self, store: BlobStore, s3_emulator: Emulator
    ) -> None:
        with pytest.raises(SourceFailed):
            await store.put("file-mpu", failing(12 * 1024 * 1024))
        uploads = s3_client(s3_emulator).list_multipart_uploads(Bucket=BUCKET)
        assert not uploads.get("Uploads"), uploads.get("Uploads")


class TestGCSBlobStore(BlobStoreContract):
    @pytest.fixture
    def spec(self, gcs_emulator: Emulator) -> StoreSpec:
        return fresh(gcs_emulator, "gs")


class TestAzureBlobStore(BlobStoreContract):
    @pytest.fixture
    def spec(self, azure_emulator: Emulator) -> StoreSpec:
        return fresh(azure_emulator, "az")
