"""The public surface of ``filegate`` is exactly this list; changing it is a decision."""

from __future__ import annotations

import importlib
import inspect

import filegate

PUBLIC = [
    "AuthError",
    "ConfigError",
    "Conflict",
    "FileContent",
    "FileDeleted",
    "FileNotFound",
    "FileObject",
    "FilePage",
    "FilegateError",
    "InvalidRequest",
    "PermissionDenied",
    "RateLimited",
    "UpstreamError",
    "UpstreamTimeout",
    "__version__",
    "acreate_file",
    "adelete_file",
    "afile_content",
    "afile_delete",
    "afile_list",
    "afile_retrieve",
    "alist_files",
    "aretrieve_file",
    "create_file",
    "delete_file",
    "file_content",
    "file_delete",
    "file_list",
    "file_retrieve",
    "list_files",
    "retrieve_file",
]

SDK_MODULES = ["content", "portal", "files", "sources", "targets", "types"]


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
    for name in ("create_file", "list_files", "retrieve_file", "delete_file", "file_content"):
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
