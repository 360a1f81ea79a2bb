"""The front layer: an unhandled exception is answered and the connection lives; ids."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from starlette.types import Message, Receive, Scope, Send

from filegate.server.errors import HANDLERS
from filegate.server.front import Front

SCOPE: dict[str, Any] = {"type": "http", "method": "GET", "path": "/v1/files", "headers": []}


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _run(app: Any) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await Front(app, HANDLERS, None, json_log=False)(dict(SCOPE), _receive, send)
    return sent


async def test_an_unhandled_error_is_answered_and_not_raised_on() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("a bug")

    # Raising on would have uvicorn close the client's keep-alive connection.
    start, body = await _run(broken)
    assert start["type"] == "http.response.start" and start["status"] == 500
    assert (b"content-type", b"application/json") in start["headers"]
    assert orjson.loads(body["body"]) == {
        "error": {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


async def test_an_error_after_the_response_began_still_raises() -> None:
    """Half a body can only be told by closing the connection."""

    async def midway(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("mid-stream")

    with pytest.raises(RuntimeError, match="mid-stream"):
        await _run(midway)


async def test_answers_pass_through() -> None:
    async def fine(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    assert [m.get("status") for m in await _run(fine)] == [204, None]
