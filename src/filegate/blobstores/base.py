"""The blob-store interface: bytes by key, nothing about what a file is."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

from filegate.records import ByteRange, Stored


class BlobStore(Protocol):
    """Stores opaque byte streams under keys chosen by the caller.

    Keys are filegate-generated ids, never client file names. A missing key
    raises the builtin ``FileNotFoundError`` (as obstore does).
    """

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> Stored:
        """Store all of ``chunks`` under ``key``; return their size and SHA-256.

        The store hashes what it writes (where it writes it, so hashing can run
        beside the network I/O instead of on the event loop).

        The put is atomic and durable: when it returns, the bytes survive a
        crash; when it raises (also when ``chunks`` raises), nothing is left
        under ``key`` and no partial data remains visible.
        """
        ...

    async def get(self, key: str, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        """Open ``key`` and return an iterator over its bytes (or a range).

        Raises ``FileNotFoundError`` here, before any byte is produced, so a
        caller can still answer 404. Closing the iterator early releases it.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        ...

    async def check(self) -> None:
        """Raise if the store cannot currently serve reads and writes."""
        ...

    async def sweep_incomplete(self, older_than: float) -> int:
        """Remove partial writes older than ``older_than`` seconds; return how many."""
        ...

    async def aclose(self) -> None: ...
