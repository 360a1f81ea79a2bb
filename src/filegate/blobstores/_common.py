"""What the object-store backends share: key rules, hashing, regrouping, safe messages."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator
from urllib.parse import urlparse

from anyio import to_thread

from filegate.errors import ConfigError
from filegate.records import Stored

# The same keys the local store accepts: filegate ids and names made from them.
_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_QUERY = re.compile(r"(https?://[^\s?]*)\?\S*")
_MAX_MESSAGE = 300


def check_key(key: str) -> str:
    if not _SAFE_KEY.match(key) or ".." in key:
        raise ValueError(f"unsafe blob key {key!r}")
    return key


def split_url(url: str, schemes: tuple[str, ...], what: str) -> tuple[str, str]:
    """``scheme://bucket/some/prefix`` -> (bucket, "some/prefix")."""
    parsed = urlparse(url)
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ConfigError(
            f"storage_url: expected {schemes[0]}://{what}/optional-prefix, got {url!r}"
        )
    if parsed.query or parsed.fragment:
        raise ConfigError(f"storage_url: {url!r} takes no query or fragment")
    return parsed.netloc, parsed.path.strip("/")


def safe_message(exc: BaseException) -> str:
    """The first line of a native error, without query strings (SAS tokens live there)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = _QUERY.sub(r"\1", text)
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


class Hashing:
    """Counts and hashes the bytes of one put as they pass.

    hashlib releases the GIL on large buffers, so each batch is hashed in a
    worker thread while the event loop keeps moving other requests' bytes.
    """

    def __init__(self) -> None:
        self._hasher = hashlib.sha256()
        self.size = 0

    async def update(self, data: bytes | bytearray) -> None:
        self.size += len(data)
        await to_thread.run_sync(self._hasher.update, data)

    def stored(self) -> Stored:
        return Stored(self.size, self._hasher.hexdigest())


async def regroup(
    chunks: AsyncIterable[bytes], size: int, *, exact: bool = False
) -> AsyncIterator[bytes]:
    """Regroup ``chunks`` into batches of at least ``size`` bytes (exactly, if ``exact``).

    The last batch may be shorter and is never empty; an empty stream yields
    nothing.
    """
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if not exact and len(buf) >= size:
            yield bytes(buf)
            buf = bytearray()
        # A large chunk may fill several exact batches at once.
        while exact and len(buf) >= size:
            with memoryview(buf) as view:
                batch = bytes(view[:size])
            # Deleting from the front of a bytearray moves no bytes.
            del buf[:size]
            yield batch
    if buf:
        yield bytes(buf)
