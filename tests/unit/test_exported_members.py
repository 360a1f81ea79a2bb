"""The public surface of ``filegate`` is exactly this list; changing it is a decision."""

from __future__ import annotations

import importlib
import inspect

import filegate

PUBLIC = [
    "AuthError",
    "Batch",
    "BatchPage",
    "ConfigError",
    "Conflict",
    "FileContent",
    "FileDeleted",
    "FileNotFound",
    "FileObject",
    "FilePage",
    "FilegateError",
    "FineTuningJob",
    "FineTuningJobPage",
    "GeneratedKey",
    "InvalidRequest",
    "KeyInfo",
    "KeyPage",
    "PermissionDenied",
    "RateLimited",
    "TeamDetail",
    "TeamInfo",
    "UploadObject",
    "UploadPartObject",
    "UpstreamError",
    "UpstreamTimeout",
    "__version__",
    "aadd_upload_part",
    "acancel_batch",
    "acancel_fine_tuning_job",
    "acancel_upload",
    "acomplete_upload",
    "acreate_batch",
    "acreate_file",
    "acreate_fine_tuning_job",
    "acreate_upload",
    "add_upload_part",
    "adelete_file",
    "adelete_keys",
    "adelete_teams",
    "afile_content",
    "afile_delete",
    "afile_list",
    "afile_retrieve",
    "agenerate_key",
    "akey_info",
    "alist_batches",
    "alist_files",
    "alist_fine_tuning_checkpoints",
    "alist_fine_tuning_events",
    "alist_fine_tuning_jobs",
    "alist_keys",
    "alist_teams",
    "anew_team",
    "aopen_file_content",
    "apause_fine_tuning_job",
    "aresume_fine_tuning_job",
    "aretrieve_batch",
    "aretrieve_file",
    "aretrieve_fine_tuning_job",
    "ateam_info",
    "cancel_batch",
    "cancel_fine_tuning_job",
    "cancel_upload",
    "complete_upload",
    "create_batch",
    "create_file",
    "create_fine_tuning_job",
    "create_upload",
    "delete_file",
    "delete_keys",
    "delete_teams",
    "file_content",
    "file_delete",
    "file_list",
    "file_retrieve",
    "generate_key",
    "key_info",
    "list_batches",
    "list_files",
    "list_fine_tuning_checkpoints",
    "list_fine_tuning_events",
    "list_fine_tuning_jobs",
    "list_keys",
    "list_teams",
    "new_team",
    "pause_fine_tuning_job",
    "resume_fine_tuning_job",
    "retrieve_batch",
    "retrieve_file",
    "retrieve_fine_tuning_job",
    "team_info",
]

SDK_MODULES = [
    "admin",
    "connection",
    "content",
    "downloads",
    "portal",
    "files",
    "sources",
    "targets",
    "types",
    "uploads",
    "batch_types",
    "batches",
    "fine_tuning",
    "fine_tuning_types",
]


def test_all_is_pinned_and_sorted() -> None:
    assert filegate.__all__ == PUBLIC
    assert sorted(PUBLIC) == PUBLIC


def test_every_exported_name_exists() -> None:
    for name in filegate.__all__:
        assert hasattr(filegate, name), name


def test_sdk_modules_export_what_they_define() -> None:
    for short in SDK_MODULES:
        module = importlib.import_module(f"filegate.sdk.{short}")
        for name in module.__all__:
            assert hasattr(module, name), f"filegate.{short}.{name}"


def test_litellm_aliases_are_the_same_functions() -> None:
    assert filegate.afile_list is filegate.alist_files
    assert filegate.file_list is filegate.list_files
    assert filegate.afile_retrieve is filegate.aretrieve_file
    assert filegate.file_retrieve is filegate.retrieve_file
    assert filegate.afile_delete is filegate.adelete_file
    assert filegate.file_delete is filegate.delete_file


def test_async_functions_and_sync_twins_take_the_same_parameters() -> None:
    for name in (
        "create_file",
        "list_files",
        "retrieve_file",
        "delete_file",
        "file_content",
        # The Uploads API and the admin API (beyond LiteLLM's functions).
        "create_upload",
        "add_upload_part",
        "complete_upload",
        "cancel_upload",
        "generate_key",
        "list_keys",
        "key_info",
        "delete_keys",
        "new_team",
        "list_teams",
        "team_info",
        "delete_teams",
        "create_fine_tuning_job",
        "retrieve_fine_tuning_job",
        "cancel_fine_tuning_job",
        "list_fine_tuning_jobs",
        "list_fine_tuning_events",
        "list_fine_tuning_checkpoints",
        "pause_fine_tuning_job",
        "resume_fine_tuning_job",
    ):
        sync, coro = getattr(filegate, name), getattr(filegate, "a" + name)
        assert inspect.iscoroutinefunction(coro), name
        assert not inspect.iscoroutinefunction(sync), name
        assert inspect.signature(sync).parameters == inspect.signature(coro).parameters, name
        assert sync.__doc__, name


def test_positional_order_matches_litellm() -> None:
    def positional(fn: object) -> list[str]:
        params = inspect.signature(fn).parameters.values()  # type: ignore[arg-type]
        return [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]

    assert positional(filegate.acreate_file) == [
        "file",
        "purpose",
        "expires_after",
        "custom_llm_provider",
        "extra_headers",
        "extra_body",
    ]
    assert positional(filegate.afile_list) == [
        "custom_llm_provider",
        "purpose",
        "extra_headers",
        "extra_body",
    ]
    for fn in (filegate.afile_retrieve, filegate.afile_delete):
        assert positional(fn) == ["file_id", "custom_llm_provider", "extra_headers", "extra_body"]
    assert positional(filegate.afile_content) == [
        "file_id",
        "custom_llm_provider",
        "extra_headers",
        "extra_body",
        "chunk_size",
        "stream",
    ]


def test_fine_tuning_positional_order_matches_litellm() -> None:
    def positional(fn: object) -> list[str]:
        params = inspect.signature(fn).parameters.values()  # type: ignore[arg-type]
        return [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]

    assert positional(filegate.acreate_fine_tuning_job) == [
        "model",
        "training_file",
        "hyperparameters",
        "suffix",
        "validation_file",
        "integrations",
        "seed",
        "custom_llm_provider",
        "extra_headers",
        "extra_body",
    ]
    for fn in (
        filegate.aretrieve_fine_tuning_job,
        filegate.acancel_fine_tuning_job,
        filegate.apause_fine_tuning_job,
        filegate.aresume_fine_tuning_job,
    ):
        assert positional(fn) == [
            "fine_tuning_job_id",
            "custom_llm_provider",
            "extra_headers",
            "extra_body",
        ]
    assert positional(filegate.alist_fine_tuning_jobs) == [
        "after",
        "limit",
        "custom_llm_provider",
        "extra_headers",
        "extra_body",
    ]
