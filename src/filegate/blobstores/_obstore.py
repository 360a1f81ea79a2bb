"""Blob stores on obstore (S3 and Azure Blob): the operations both share.

obstore streams a put from an async iterator with automatic multipart and
flat memory, and raises the builtin ``FileNotFoundError`` for missing objects.
One catch shapes ``put``: when the iterator it reads raises, obstore aborts
the multipart upload, but when its own future is cancelled it leaves the
unfinished upload behind (S3 then bills for its parts until a lifecycle rule
removes them). So the bytes reach obstore through a feed that a cancelled put
makes raise, and the put waits for obstore to finish aborting.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any

import obstore
from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError

from filegate.blobstores._common import Hashing, check_key, regroup, safe_message
from filegate.errors import StorageUnavailable
from filegate.records import ByteRange, Stored

if TYPE_CHECKING:
    from obstore import GetOptions, GetResult
    from obstore.store import ObjectStore

# Bytes handed to obstore per call: fewer Python <-> Rust hops than the
# server's small chunks, and little held per put.
FEED_BATCH = 1024 * 1024
# Multipart: parts of this size, this many in flight. A put's memory is about
# PART_SIZE * PART_CONCURRENCY (measured: +27 MB RSS for a 200 MB put at 5 MiB x 4,
# +40 MB at 8 MiB x 4, no faster). 5 MiB is S3's smallest part; 10,000 parts
# still allow 48 GiB.
PART_SIZE = 5 * 1024 * 1024
PART_CONCURRENCY = 4
READ_CHUNK = 1024 * 1024
# A readiness probe answers quickly or says the store is unavailable.
CHECK_TIMEOUT = 10.0
# Listed by check(): a prefix that holds nothing, so the listing is one cheap request.
PROBE_PREFIX = ".filegate-probe"
_STATUS = re.compile(r"non-2xx status code: (\d{3})")


class _End:
    """The feed's end marker."""


_END = _End()


class ObjectStoreBlobStore:
    """A ``BlobStore`` over one obstore store (bucket or container plus prefix)."""

    def __init__(
        self, store: ObjectStore, *, backend: str, location: str, noun: str, hint: str
    ) -> None:
        self._store = store
        self.backend = backend
        # What holds the blobs, for messages: "bucket" or "container".
        self._noun = noun
        # For messages: "s3://bucket/prefix"; never credentials.
        self.location = location
        self._hint = hint

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> Stored:
        path = check_key(key)
        hashing = Hashing()
        feed: asyncio.Queue[bytes | _End | BaseException] = asyncio.Queue(maxsize=1)
        pump = asyncio.ensure_future(_pump(chunks, hashing, feed))
        upload = asyncio.ensure_future(
            obstore.put_async(
                self._store,
                path,
                _drain(feed),
                chunk_size=PART_SIZE,
                max_concurrency=PART_CONCURRENCY,
            )
        )
        try:
            await asyncio.shield(upload)
        except asyncio.CancelledError:
            await _abort(pump, upload, feed)
            raise
        except FileNotFoundError as exc:
            # Not a missing key on a put: the bucket or container is missing.
            raise self._unavailable(exc) from None
        except BaseError as exc:
            raise self._unavailable(exc) from None
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        return hashing.stored()

    async def get(self, key: str, byte_range: ByteRange | None = None) -> AsyncIterator[bytes]:
        path = check_key(key)
        options: GetOptions = {}
        if byte_range is not None:
            # obstore's range end is exclusive.
            options["range"] = (byte_range.start, byte_range.end + 1)
        try:
            # FileNotFoundError passes through here, before any byte.
            result = await obstore.get_async(self._store, path, options=options)
        except BaseError as exc:
            raise self._unavailable(exc) from None
        return self._read(result)

    async def _read(self, result: GetResult) -> AsyncIterator[bytes]:
        stream = result.stream(min_chunk_size=READ_CHUNK)
        while True:
            try:
                chunk = await anext(stream)
            except StopAsyncIteration:
                return
            except BaseError as exc:
                raise self._unavailable(exc) from None
            yield chunk

    async def delete(self, key: str) -> None:
        path = check_key(key)
        try:
            await obstore.delete_async(self._store, path)
        except FileNotFoundError:
            pass  # Azure says so for a missing blob; S3 does not.
        except BaseError as exc:
            raise self._unavailable(exc) from None

    async def check(self) -> None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                async for _ in obstore.list(self._store, prefix=PROBE_PREFIX, chunk_size=1):
                    break
        except TimeoutError:
            raise StorageUnavailable(
                f"{self.location} did not answer within {CHECK_TIMEOUT:.0f} s"
            ) from None
        except (BaseError, FileNotFoundError) as exc:
            raise self._unavailable(exc) from None

    async def sweep_incomplete(self, older_than: float) -> int:
        # obstore cannot list or abort multipart uploads (S3) or uncommitted
        # blocks (Azure). put() aborts its own on failure and cancellation;
        # those a crashed process leaves are removed by the store itself: an
        # S3 lifecycle rule (AbortIncompleteMultipartUpload), and Azure
        # discards uncommitted blocks after a week.
        return 0

    async def aclose(self) -> None:
        return None

    def _unavailable(self, exc: BaseException) -> StorageUnavailable:
        status = _status(exc)
        if isinstance(exc, PermissionDeniedError | UnauthenticatedError) or status in (401, 403):
            return StorageUnavailable(f"{self.location}: access denied; {self._hint}")
        if isinstance(exc, FileNotFoundError) or status == 404:
            return StorageUnavailable(f"{self.location}: not found (does the {self._noun} exist?)")
        return StorageUnavailable(f"{self.location}: {safe_message(exc)}")


def _status(exc: BaseException) -> int | None:
    """The HTTP status inside an obstore error's text (its exceptions carry no field)."""
    match = _STATUS.search(str(exc))
    return int(match.group(1)) if match else None


async def _pump(
    chunks: AsyncIterable[bytes],
    hashing: Hashing,
    feed: asyncio.Queue[bytes | _End | BaseException],
) -> None:
    """Move the caller's bytes into the feed, hashing them on the way."""
    try:
        async for batch in regroup(chunks, FEED_BATCH):
            await hashing.update(batch)
            await feed.put(batch)
    except Exception as exc:
        # obstore sees the failure as its source raising, and aborts.
        await feed.put(exc)
        return
    await feed.put(_END)


async def _drain(feed: asyncio.Queue[bytes | _End | BaseException]) -> AsyncIterator[bytes]:
    """The iterator obstore reads: the feed's batches, or its failure raised."""
    while True:
        item = await feed.get()
        if isinstance(item, _End):
            return
        if isinstance(item, BaseException):
            raise item
        yield item


async def _abort(
    pump: asyncio.Future[None],
    upload: asyncio.Future[Any],
    feed: asyncio.Queue[bytes | _End | BaseException],
) -> None:
    """Stop a cancelled put so that obstore aborts its multipart upload."""
    pump.cancel()
    with contextlib.suppress(BaseException):
        await pump
    # The pump is gone: nothing else writes to the feed. Replace whatever is
    # waiting there with a failure, so obstore's next read raises.
    while not feed.empty():
        feed.get_nowait()
    feed.put_nowait(asyncio.CancelledError("blob put cancelled"))
    # Another cancellation may interrupt this wait; obstore still aborts on its own.
    with contextlib.suppress(BaseException):
        await asyncio.shield(upload)
