"""The Files functions, with LiteLLM's names and parameters, async first.

Each call resolves where to go (``custom_llm_provider`` plus explicit
credentials, else the provider's environment variables), builds a provider
adapter, makes its request(s) and closes the adapter again, so no client
outlives the event loop it was made on. The sync twins run the same
coroutines (see ``_portal``).

Errors
    Missing credentials raise ``ConfigError`` naming the parameter and the
    environment variable. An unsupported provider, or an option that the
    chosen provider cannot honour, raises ``InvalidRequest`` before anything is
    sent. Upstream failures raise the ``filegate.errors`` class of their status
    (``InvalidRequest`` 400, ``AuthError`` 401, ``PermissionDenied`` 403,
    ``FileNotFound`` 404, ``Conflict`` 409, ``RateLimited`` 429, ``UpstreamError``
    502 for other failures, ``UpstreamTimeout`` 504). A keyword argument the
    SDK does not know raises ``TypeError``, except those starting with
    ``litellm_`` (LiteLLM's own bookkeeping), which are accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ParamSpec, TypeVar

from filegate.errors import InvalidRequest
from filegate.records import ExpiresAfter
from filegate.sdk.content import FileContent
from filegate.sdk.portal import Portal, get_portal, run_sync, sync_twin
from filegate.sdk.sources import FileInput, open_upload
from filegate.sdk.targets import (
    expires_after_argument,
    form_fields,
    naming_urls,
    required_text,
    resolve,
)
from filegate.sdk.types import FileDeleted, FileObject, FilePage

__all__ = [
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

P = ParamSpec("P")
T = TypeVar("T")


async def acreate_file(
    file: FileInput,
    purpose: str,
    expires_after: Mapping[str, Any] | ExpiresAfter | None = None,
    custom_llm_provider: str = "openai",
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    organization: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - LiteLLM's per-request HTTP timeout
    max_retries: int | None = None,
    **kwargs: Any,
) -> FileObject:
    """Upload a file; the bytes are streamed, never held in memory whole.

    ``file`` is a path (``str`` / ``os.PathLike``, read in chunks), ``bytes``, a
    binary file object (read from its current position; an unseekable one is
    first spooled to a temporary file), or a tuple ``(filename, content[,
    content_type])``; a missing path raises ``FileNotFoundError`` before anything
    is sent. ``expires_after`` is ``{"anchor": "created_at", "seconds":
    N}``; a provider that cannot honour it raises ``InvalidRequest``.
    ``extra_body`` fields are sent as extra form fields to OpenAI-compatible
    upstreams (OpenAI refuses unknown ones; a filegate gateway takes routing
    fields such as ``target_model_names``); Azure cannot take them, so they
    raise there. ``extra_headers`` are sent with the request; ``timeout``
    (seconds) and ``max_retries`` override the defaults (600, 2).
    Providers, credentials and errors: see ``help(filegate)``.
    """
    expiry = expires_after_argument(expires_after)
    target, body = resolve(
        "create",
        custom_llm_provider,
        extra_body,
        kwargs,
        api_key=api_key,
        api_base=api_base,
        api_version=api_version,
        organization=organization,
        extra_headers=extra_headers,
        timeout=timeout,
        max_retries=max_retries,
    )
    if not isinstance(purpose, str) or not purpose:
        raise InvalidRequest("purpose must be a non-empty string.", param="purpose")
    fields = form_fields(target.provider, body) if body else []
    async with open_upload(file) as upload, target.connect() as provider:
        created = await provider.create_file(
            upload.source,
            filename=upload.filename,
            purpose=purpose,
            content_type=upload.content_type,
            expires_after=expiry,
            extra_fields=fields,
        )
    return FileObject.from_provider(created)


async def alist_files(
    custom_llm_provider: str = "openai",
    purpose: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    *,
    limit: int | None = None,
    after: str | None = None,
    order: str | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    organization: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - LiteLLM's per-request HTTP timeout
    max_retries: int | None = None,
    **kwargs: Any,
) -> FilePage:
    """One page of files (filtered by ``purpose``), ``limit`` long, after the id ``after``,
    in ``order`` ("asc" / "desc") of creation.

    The page fetches the pages after it: ``next_page()`` / ``anext_page()``, or
    iterate it (``for`` / ``async for``) to walk every file. Values the
    upstream refuses (a ``limit`` out of range, say) raise ``InvalidRequest``.
    """
    target, _ = resolve(
        "list",
        custom_llm_provider,
        extra_body,
        kwargs,
        api_key=api_key,
        api_base=api_base,
        api_version=api_version,
        organization=organization,
        extra_headers=extra_headers,
        timeout=timeout,
        max_retries=max_retries,
    )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidRequest("limit must be an integer.", param="limit")

    async def fetch(cursor: str | None) -> FilePage:
        async with target.connect() as provider:
            page = await provider.list_files(
                purpose=purpose, limit=limit, order=order, after=cursor
            )
        return FilePage.from_provider(page, fetch)

    return await fetch(after)


async def aretrieve_file(
    file_id: str,
    custom_llm_provider: str = "openai",
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    organization: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - LiteLLM's per-request HTTP timeout
    max_retries: int | None = None,
    **kwargs: Any,
) -> FileObject:
    """A file's description (status included); ``FileNotFound`` if there is no such file."""
    target, _ = resolve(
        "retrieve",
        custom_llm_provider,
        extra_body,
        kwargs,
        api_key=api_key,
        api_base=api_base,
        api_version=api_version,
        organization=organization,
        extra_headers=extra_headers,
        timeout=timeout,
        max_retries=max_retries,
    )
    async with target.connect() as provider:
        return FileObject.from_provider(
            await provider.retrieve_file(required_text(file_id, "file_id"))
        )


async def adelete_file(
    file_id: str,
    custom_llm_provider: str = "openai",
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    organization: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - LiteLLM's per-request HTTP timeout
    max_retries: int | None = None,
    **kwargs: Any,
) -> FileDeleted:
    """Delete a file; ``FileNotFound`` if there is no such file."""
    target, _ = resolve(
        "delete",
        custom_llm_provider,
        extra_body,
        kwargs,
        api_key=api_key,
        api_base=api_base,
        api_version=api_version,
        organization=organization,
        extra_headers=extra_headers,
        timeout=timeout,
        max_retries=max_retries,
    )
    async with target.connect() as provider:
        await provider.delete_file(required_text(file_id, "file_id"))
    # The upstream answered 2xx (anything else raised), so the file is gone.
    return FileDeleted(id=file_id, deleted=True)


async def afile_content(
    file_id: str,
    custom_llm_provider: str = "openai",
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    chunk_size: int | None = None,
    stream: bool = False,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    organization: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - LiteLLM's per-request HTTP timeout
    max_retries: int | None = None,
    **kwargs: Any,
) -> FileContent:
    """A file's bytes as a ``FileContent``.

    With ``stream=False`` the bytes are read before this returns. With
    ``stream=True`` nothing is read yet: use ``async with`` and ``aiter_bytes()``
    / ``awrite_to_file()`` (or ``await aread()``), so the response is closed.
    ``chunk_size`` sets the default size of the chunks iteration yields (by
    default, as they arrive).
    """
    return await _content(
        file_id,
        custom_llm_provider,
        extra_headers,
        extra_body,
        chunk_size,
        stream,
        None,
        kwargs,
        api_key=api_key,
        api_base=api_base,
        api_version=api_version,
        organization=organization,
        timeout=timeout,
        max_retries=max_retries,
    )


async def _content(
    file_id: str,
    custom_llm_provider: str,
    extra_headers: Mapping[str, str] | None,
    extra_body: Mapping[str, Any] | None,
    chunk_size: int | None,
    stream: bool,
    portal: Portal | None,
    kwargs: dict[str, Any],
    **options: Any,
) -> FileContent:
    target, _ = resolve(
        "content", custom_llm_provider, extra_body, kwargs, extra_headers=extra_headers, **options
    )
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
        raise InvalidRequest("chunk_size must be an integer >= 1.", param="chunk_size")
    file_id = required_text(file_id, "file_id")
    provider = target.build()
    try:
        with naming_urls():
            download = await provider.file_content(file_id)
    except BaseException:
        await provider.aclose()
        raise

    async def close() -> None:
        try:
            await download.aclose()
        finally:
            await provider.aclose()

    content = FileContent(
        headers=download.headers,
        stream=download.stream,
        close=close,
        chunk_size=chunk_size,
        portal=portal,
    )
    if not stream:
        async with content:
            data = await content.aread()
        return FileContent(headers=download.headers, content=data, chunk_size=chunk_size)
    return content


create_file = sync_twin(acreate_file, "create_file")
list_files = sync_twin(alist_files, "list_files")
retrieve_file = sync_twin(aretrieve_file, "retrieve_file")
delete_file = sync_twin(adelete_file, "delete_file")


def file_content(
    file_id: str,
    custom_llm_provider: str = "openai",
    extra_headers: Mapping[str, str] | None = None,
    extra_body: Mapping[str, Any] | None = None,
    chunk_size: int | None = None,
    stream: bool = False,
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    api_version: str | None = None,
    organization: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    **kwargs: Any,
) -> FileContent:
    """Sync twin of :func:`afile_content`.

    With ``stream=True`` the open download lives on the SDK's private event
    loop thread and each chunk is fetched from it as ``iter_bytes()`` asks, so
    memory stays flat; use ``with`` so the response is closed.
    """
    options = {
        "api_key": api_key,
        "api_base": api_base,
        "api_version": api_version,
        "organization": organization,
        "timeout": timeout,
        "max_retries": max_retries,
    }

    def call(portal: Portal | None) -> Callable[[], Coroutine[Any, Any, FileContent]]:
        return lambda: _content(
            file_id,
            custom_llm_provider,
            extra_headers,
            extra_body,
            chunk_size,
            stream,
            portal,
            kwargs,
            **options,
        )

    if stream:
        # The response must outlive this call, so it is opened on the portal loop.
        portal = get_portal()
        return portal.call(call(portal))
    return run_sync(call(None))


# LiteLLM's other names for the same functions.
afile_list = alist_files
file_list = list_files
afile_retrieve = aretrieve_file
file_retrieve = retrieve_file
afile_delete = adelete_file
file_delete = delete_file
