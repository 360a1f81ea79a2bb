"""A file's content from a byte offset on: the SDK's way to resume a download.

``aopen_file_content(file_id, offset=N, if_range=etag)`` asks for the bytes from
``N`` on (``Range: bytes=N-``). With ``if_range`` (the ETag seen before) a server
whose file changed sends the whole file instead; ``FileContent.headers`` tell
which came: ``content-range`` is there only for a partial answer. The content is
always a stream: read it in an ``async with`` block so the response is closed.
"""

from __future__ import annotations

import contextlib

from filegate.errors import InvalidRequest
from filegate.sdk.connection import Connection
from filegate.sdk.content import FileContent

__all__ = ["aopen_file_content"]


async def aopen_file_content(
    file_id: str,
    *,
    offset: int = 0,
    if_range: str | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the per-request HTTP timeout
    max_retries: int | None = None,
) -> FileContent:
    """An open download of ``file_id`` from byte ``offset`` (see the module docstring)."""
    if not isinstance(file_id, str) or not file_id:
        raise InvalidRequest("file_id must be a non-empty string.", param="file_id")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidRequest("offset must be an integer >= 0.", param="offset")
    conn = Connection.resolve(api_key, api_base, timeout, max_retries)
    headers = {"Accept": "application/json, */*", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if if_range:
            headers["If-Range"] = if_range
    stack = contextlib.AsyncExitStack()
    try:
        wire = await stack.enter_async_context(conn.wire())
        response = await wire.request(
            "GET", f"/files/{file_id}/content", headers=headers, stream=True
        )
    except BaseException:
        await stack.aclose()
        raise

    async def close() -> None:
        try:
            await response.aclose()
        finally:
            await stack.aclose()

    return FileContent(
        headers={k.lower(): v for k, v in response.headers.items()},
        stream=response.aiter_raw(),
        close=close,
    )
