"""upstream/http1: the batch lines' HTTP/1.1 client, against real sockets on 127.0.0.1.

Each test runs a small asyncio server that answers as the case needs (chunked, read to
close, 100 Continue, a hang, garbage, a keep-alive timeout, a proxy, TLS from a test CA)
and checks what the client got and what the server saw; on asyncio's loop and on uvloop
(``conftest.py`` here).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import trustme

from filegate.upstream.http1 import ConnectionFailed, Http1Pool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Seen"], Awaitable[None]]


@dataclass
class Seen:
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: list[tuple[bytes, dict[bytes, bytes], bytes]] = field(default_factory=list)


async def read_request(
    reader: asyncio.StreamReader,
) -> tuple[bytes, dict[bytes, bytes], bytes] | None:
    """One request: its request line, headers (lower-case names) and body."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    line, *rest = head[:-4].split(b"\r\n")
    headers = {}
    for raw in rest:
        name, _, value = raw.partition(b":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return line, headers, body


def answer(status: int, body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n" % (status, len(body))
    return head + b"".join(h + b"\r\n" for h in extra) + b"\r\n" + body


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen) -> None:
    """Keep-alive: answers each request with its own body."""
    while (req := await read_request(reader)) is not None:
        seen.requests.append(req)
        writer.write(answer(200, req[2], b"X-Request-Id: r%d" % len(seen.requests)))
        await writer.drain()


@asynccontextmanager
async def serving(
    handler: Handler, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()
    handlers: set[asyncio.Task[None]] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        seen.open_now += 1
        seen.most_open = max(seen.most_open, seen.open_now)
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handler(reader, writer, seen)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            # Cancelled: the test is over (asyncio would log a cancelled handler).
            pass
        finally:
            seen.open_now -= 1
            writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}", seen
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


async def test_posts_reuse_kept_connections_and_carry_headers() -> None:
    async with serving(echo) as (url, seen):
        pool = Http1Pool(url + "/base/", headers={"Authorization": "Bearer k"}, limit=3)
        answers = await asyncio.gather(*(pool.post("/v1/x", b"%d" % i) for i in range(30)))
        await pool.aclose()
    assert [a.body for a in answers] == [b"%d" % i for i in range(30)]
    assert all(a.status == 200 and a.headers["x-request-id"].startswith("r") for a in answers)
    # Never more than the limit at once, each kept for the next request.
    assert seen.connections <= 3 and seen.most_open <= 3
    line, headers, _ = seen.requests[0]
    assert line == b"POST /base/v1/x HTTP/1.1"
    assert headers[b"authorization"] == b"Bearer k"
    assert headers[b"host"] == url.removeprefix("http://").encode()


async def test_a_chunked_answer() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen) -> None:
        while await read_request(reader) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in (b'{"a":', b" 1}"):
                writer.write(b"%x\r\n%b\r\n" % (len(part), part))
                await writer.drain()
            writer.write(b"0\r\n\r\n")

    async with serving(chunked) as (url, seen):
        pool = Http1Pool(url)
        first = await pool.post("/v1/x", b"{}")
        second = await pool.post("/v1/x", b"{}")
        await pool.aclose()
    assert first.body == second.body == b'{"a": 1}'
    assert seen.connections == 1


async def test_an_answer_that_ends_when_the_server_closes() -> None:
    async def to_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()

    async with serving(to_close) as (url, seen):
        pool = Http1Pool(url)
        got = [await pool.post("/v1/x", b"{}") for _ in range(2)]
        await pool.aclose()
    assert [a.body for a in got] == [b"all of it"] * 2
    # Not kept: a new connection for the second request.
    assert seen.connections == 2


async def test_interim_100_continue_is_skipped() -> None:
    async def hundred(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen) -> None:
        while await read_request(reader) is not None:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(201, b"made"))

    async with serving(hundred) as (url, _):
        pool = Http1Pool(url)
        got = await pool.post("/v1/x", b"{}")
        again = await pool.post("/v1/x", b"{}")
        await pool.aclose()
    assert (got.status, got.body) == (201, b"made") == (again.status, again.body)


async def test_a_kept_connection_the_server_closed_is_replaced_and_the_line_sent_once() -> None:
    async def one_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen) -> None:
        # Answers one request and closes, as a keep-alive timeout does, without saying so.
        req = await read_request(reader)
        if req is not None:
            s.requests.append(req)
            writer.write(answer(200, b"ok"))
            await writer.drain()

    async with serving(one_each) as (url, seen):
        pool = Http1Pool(url)
        assert (await pool.post("/v1/x", b"1")).body == b"ok"
        await asyncio.sleep(0.05)
        assert (await pool.post("/v1/x", b"2")).body == b"ok"
        await pool.aclose()
    assert [r[2] for r in seen.requests] == [b"1", b"2"]
    assert seen.connections == 2


async def test_a_connection_that_breaks_mid_answer_fails_without_a_resend() -> None:
    async def half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen) -> None:
        while (req := await read_request(reader)) is not None:
            s.requests.append(req)
            if len(s.requests) == 1:
                writer.write(answer(200, b"ok"))
                await writer.drain()
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
                await writer.drain()
                return

    async with serving(half) as (url, seen):
        pool = Http1Pool(url)
        await pool.post("/v1/x", b"1")
        with pytest.raises(ConnectionFailed) as failed:
            await pool.post("/v1/x", b"2")
        await pool.aclose()
    assert failed.value.heard
    assert len(seen.requests) == 2


async def test_nothing_listening_is_connection_failed() -> None:
    async with serving(echo) as (url, _):
        pass
    pool = Http1Pool(url)
    with pytest.raises(ConnectionFailed, match="could not connect"):
        await pool.post("/v1/x", b"{}")
    await pool.aclose()


async def test_a_server_that_does_not_answer_times_out_and_the_connection_goes() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with serving(silent) as (url, _):
        pool = Http1Pool(url, read_timeout=0.2)
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            await pool.post("/v1/x", b"{}")
        waited = asyncio.get_running_loop().time() - started
        await asyncio.sleep(0.01)
        assert pool.connections == 0
        await pool.aclose()
    assert 0.15 < waited < 2


async def test_the_read_timeout_is_per_read_not_for_the_whole_answer() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        for byte in b"slow!":
            await asyncio.sleep(0.1)
            writer.write(bytes([byte]))
            await writer.drain()

    async with serving(slow) as (url, _):
        pool = Http1Pool(url, read_timeout=0.3)
        got = await pool.post("/v1/x", b"{}")
        await pool.aclose()
    assert got.body == b"slow!"


@pytest.mark.parametrize(
    "garbage",
    [b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"],
)
async def test_a_malformed_answer_is_connection_failed(garbage: bytes) -> None:
    async def bad(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen) -> None:
        await read_request(reader)
        writer.write(garbage)
        await writer.drain()
        await asyncio.sleep(1)

    async with serving(bad) as (url, _):
        pool = Http1Pool(url)
        with pytest.raises(ConnectionFailed, match="malformed") as failed:
            await pool.post("/v1/x", b"{}")
        await pool.aclose()
    assert failed.value.heard


async def test_an_answer_over_the_cap_is_cut_and_its_connection_dropped() -> None:
    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen) -> None:
        while await read_request(reader) is not None:
            writer.write(answer(200, b"x" * 100_000))
            await writer.drain()

    async with serving(big) as (url, seen):
        pool = Http1Pool(url, max_body=1000)
        got = await pool.post("/v1/x", b"{}")
        again = await pool.post("/v1/x", b"{}")
        await pool.aclose()
    assert got.body == b"x" * 1001 == again.body
    assert seen.connections == 2


async def test_a_gzip_answer_is_decoded() -> None:
    packed = gzip.compress(b'{"ok": true}')

    async def zipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen) -> None:
        while (req := await read_request(reader)) is not None:
            s.requests.append(req)
            writer.write(answer(200, packed, b"Content-Encoding: gzip"))

    async with serving(zipped) as (url, seen):
        pool = Http1Pool(url)
        got = await pool.post("/v1/x", b"{}")
        await pool.aclose()
    assert got.body == b'{"ok": true}'
    # None was asked for.
    assert b"accept-encoding" not in seen.requests[0][1]


async def test_a_path_cannot_break_the_request_line() -> None:
    async with serving(echo) as (url, seen):
        pool = Http1Pool(url)
        await pool.post("/v1/x y\r\nX-Evil: 1", b"{}")
        await pool.aclose()
    line, headers, _ = seen.requests[0]
    assert line == b"POST /v1/x%20y%0D%0AX-Evil:%201 HTTP/1.1"
    assert b"x-evil" not in headers


def test_headers_and_urls_are_checked() -> None:
    with pytest.raises(ValueError):
        Http1Pool("http://h", headers={"Authorization": "Bearer k\r\nX-Evil: 1"})
    with pytest.raises(ValueError):
        Http1Pool("ftp://h/v1")
    with pytest.raises(ValueError):
        Http1Pool("http://h", proxy="socks5://p:1080")


async def test_a_cancelled_request_leaves_the_pool_usable() -> None:
    async def slow_once(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen
    ) -> None:
        while (req := await read_request(reader)) is not None:
            s.requests.append(req)
            if len(s.requests) == 1:
                await asyncio.sleep(0.2)
            writer.write(answer(200, req[2]))
            await writer.drain()

    async with serving(slow_once) as (url, _):
        pool = Http1Pool(url, limit=1)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pool.post("/v1/x", b"first"), 0.05)
        assert (await pool.post("/v1/x", b"second")).body == b"second"
        await pool.aclose()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_contexts(ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


async def test_https_with_a_trusted_certificate(ca: trustme.CA) -> None:
    server_ctx, client_ctx = tls_contexts(ca)
    async with serving(echo, tls=server_ctx) as (url, seen):
        pool = Http1Pool(url, ssl_context=client_ctx)
        got = [await pool.post("/v1/x", b"%d" % i) for i in range(3)]
        await pool.aclose()
    assert [a.body for a in got] == [b"0", b"1", b"2"]
    assert seen.connections == 1


async def test_https_with_an_untrusted_certificate_is_refused(ca: trustme.CA) -> None:
    server_ctx, _ = tls_contexts(ca)
    async with serving(echo, tls=server_ctx) as (url, seen):
        pool = Http1Pool(url)  # the system's trust store does not know the test CA
        with pytest.raises(ConnectionFailed, match="could not connect"):
            await pool.post("/v1/x", b"{}")
        await pool.aclose()
    assert seen.requests == []


async def test_http_through_a_proxy_sends_the_absolute_url_and_credentials() -> None:
    async with serving(echo) as (proxy, seen):
        pool = Http1Pool("http://model.example:8000", proxy=proxy.replace("//", "//u:p%40@"))
        got = await pool.post("/v1/chat/completions", b"hello")
        await pool.aclose()
    assert got.body == b"hello"
    line, headers, _ = seen.requests[0]
    assert line == b"POST http://model.example:8000/v1/chat/completions HTTP/1.1"
    assert headers[b"host"] == b"model.example:8000"
    assert headers[b"proxy-authorization"] == b"Basic " + base64.b64encode(b"u:p@")


async def test_https_through_a_proxy_tunnels_with_connect(ca: trustme.CA) -> None:
    server_ctx, client_ctx = tls_contexts(ca)
    asked: list[bytes] = []

    async with serving(echo, tls=server_ctx) as (target, seen):
        port = int(target.rsplit(":", 1)[1])

        async def tunnel(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen
        ) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            asked.append(head.split(b"\r\n", 1)[0])
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

            async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
                dst.close()

            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        async with serving(tunnel) as (proxy, _):
            pool = Http1Pool(target, proxy=proxy, ssl_context=client_ctx)
            got = [await pool.post("/v1/x", b"%d" % i) for i in range(2)]
            await pool.aclose()
    assert [a.body for a in got] == [b"0", b"1"]
    assert asked == [f"CONNECT 127.0.0.1:{port} HTTP/1.1".encode()]
    assert seen.connections == 1


async def test_a_proxy_that_refuses_the_tunnel(ca: trustme.CA) -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, s: Seen) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async with serving(refuse) as (proxy, _):
        pool = Http1Pool("https://model.example/v1", proxy=proxy)
        with pytest.raises(ConnectionFailed, match="407"):
            await pool.post("/v1/x", b"{}")
        await pool.aclose()
