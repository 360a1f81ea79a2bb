"""A response's head leaves with its first body part, in one write, and is never stuck."""

from __future__ import annotations

import asyncio

from filegate.server.protocol import _OneWrite


class Recorder:
    """The socket side: what was written, in which writes."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _out() -> tuple[_OneWrite, Recorder]:
    sock = Recorder()
    return _OneWrite(sock, asyncio.get_running_loop()), sock  # type: ignore[arg-type]


async def test_head_and_body_go_in_one_write() -> None:
    out, sock = _out()
    out.hold()
    out.write(b"HEAD")
    out.release()
    out.write(b"body")
    out.flush()
    assert sock.writes == [b"HEADbody"]
    out.write(b"more")  # the rest of a stream goes as it comes
    assert sock.writes == [b"HEADbody", b"more"]


async def test_a_head_whose_body_comes_later_goes_out_on_the_next_turn() -> None:
    # A stream whose first part is slow (or a HEAD answer, which has no body).
    out, sock = _out()
    out.hold()
    out.write(b"HEAD")
    out.release()
    assert sock.writes == []
    await asyncio.sleep(0)
    assert sock.writes == [b"HEAD"]


async def test_writes_outside_a_response_start_are_not_held() -> None:
    out, sock = _out()
    out.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert sock.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    out.hold()
    out.release()  # the start failed before writing: nothing is armed any more
    out.write(b"next")
    assert sock.writes[-1] == b"next"


async def test_close_sends_a_held_head_first() -> None:
    out, sock = _out()
    out.hold()
    out.write(b"HEAD")
    out.close()
    assert sock.writes == [b"HEAD"] and sock.closed
    await asyncio.sleep(0)
    assert sock.writes == [b"HEAD"]
