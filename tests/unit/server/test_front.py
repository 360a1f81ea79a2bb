"""The front layer: an unhandled exception is answered and the connection lives; ids."""

from __future__ import annotations

import os
import re
from typing import Any

import orjson
import pytest
from starlette.types import Message, Receive, Scope, Send

from filegate.server.errors import HANDLERS
from filegate.server.front import Front, RandomIds

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


def test_request_ids_are_128_random_bits_and_never_repeat_across_refills() -> None:
    ids = RandomIds()
    made = [ids() for _ in range(3 * 256 + 5)]  # past three refills of the pool
    assert all(re.fullmatch(rb"req_[0-9a-f]{32}", i) for i in made)
    assert len(set(made)) == len(made)


def test_a_forked_child_does_not_repeat_its_parents_request_ids() -> None:
    ids = RandomIds()
    ids()  # the pool is read: 255 ids left in it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, b"".join(ids() for _ in range(4)))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        theirs = pipe.read()
    os.waitpid(pid, 0)
    ours = b"".join(ids() for _ in range(4))
    assert len(theirs) == len(ours) == 4 * 36 and theirs != ours
