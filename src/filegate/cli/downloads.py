"""Fetching a file's content to disk (or stdout), resumable and checked.

The bytes go to ``PATH.part`` beside the output and are renamed to ``PATH`` only
once complete and checked, so a ``PATH`` that exists is always whole. With
``--resume`` a ``PATH.part`` left by an interrupted download is continued with
``Range: bytes=N-`` and ``If-Range`` (the ETag the first attempt saw, kept in the
download's state file): a server whose file changed sends it whole instead, and
the part is started over. A strong ETag that is a SHA-256 hex digest (as a
filegate gateway gives for the files it stores) is checked against the bytes on
disk, the resumed part included; otherwise the size is.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from anyio import to_thread

from filegate import FileObject, UpstreamError, aopen_file_content, aretrieve_file
from filegate.cli.options import Client, UsageProblem
from filegate.cli.progress import Transfer
from filegate.cli.state import StateFile

__all__ = ["ChecksumMismatch", "download_file", "safe_filename"]

READ_CHUNK = 1024 * 1024
_SHA256_ETAG = re.compile(r'^"([0-9a-f]{64})"$')
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


class ChecksumMismatch(UpstreamError):
    default_code = "checksum_mismatch"


@dataclass(frozen=True, slots=True)
class Downloaded:
    path: str
    bytes: int
    sha256: str
    verified: str  # "sha256", "size"
    resumed_from: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "verified": self.verified,
            "resumed_from": self.resumed_from,
        }


def safe_filename(filename: str, fallback: str) -> str:
    """The last component of a server's file name, or ``fallback`` when none is safe:
    a name is never a path here."""
    name = _UNSAFE.sub("", filename.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return fallback if name in ("", ".", "..") else name


def _sha256_of(etag: str | None) -> str | None:
    m = _SHA256_ETAG.match(etag or "")
    return m.group(1) if m else None


def _hash_prefix(path: Path, size: int) -> Any:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        left = size
        while left > 0:
            chunk = fh.read(min(READ_CHUNK, left))
            if not chunk:
                raise UsageProblem(f"{path} shrank while it was read")
            digest.update(chunk)
            left -= len(chunk)
    return digest


def _size_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


async def download_file(
    client: Client, file_id: str, output: str | None, *, resume: bool, force: bool
) -> Downloaded:
    info = await aretrieve_file(file_id, **client.files_sdk)
    if output == "-":
        return await _to_stdout(client, info)
    dest = Path(output) if output else Path(safe_filename(info.filename, info.id))
    if await to_thread.run_sync(dest.is_dir):
        dest = dest / safe_filename(info.filename, info.id)
    if await to_thread.run_sync(dest.exists) and not force:
        raise UsageProblem(f"{dest} exists; pass --force to replace it")
    part = dest.with_name(dest.name + ".part")
    state = StateFile("downloads", client.base_url, await to_thread.run_sync(part.resolve))
    offset, etag = 0, None
    have = await to_thread.run_sync(_size_or_none, part)
    saved = state.load()
    if have is not None and resume:
        if saved is not None and saved.get("file_id") == info.id and have <= info.bytes:
            offset, etag = have, saved.get("etag")
        else:
            client.out.note(f"note: {part} is not a part of {info.id}; starting over")
    elif have is not None:
        client.out.note(f"note: replacing {part} (--resume continues it)")
    digest = await to_thread.run_sync(_hash_prefix, part, offset) if offset else hashlib.sha256()
    with Transfer(f"download {dest.name}", info.bytes) as bar:
        bar.advance(offset)
        if offset and offset == info.bytes:
            pass  # all there already (killed before the rename): only the check is left
        else:
            content = await aopen_file_content(info.id, offset=offset, if_range=etag, **client.sdk)
            async with content:
                headers = content.headers
                if offset and not headers.get("content-range", "").startswith(f"bytes {offset}-"):
                    # The whole file came (it changed, or the server ignores Range).
                    bar.advance(-offset)
                    offset, digest = 0, hashlib.sha256()
                etag = headers.get("etag")
                state.save({"file_id": info.id, "etag": etag, "path": str(dest)})
                async with await anyio.open_file(part, "r+b" if offset else "wb") as fh:
                    await fh.seek(offset)
                    await fh.truncate()
                    async for chunk in content.aiter_bytes():
                        await fh.write(chunk)
                        digest.update(chunk)
                        bar.advance(len(chunk))
                    await fh.flush()
                    await to_thread.run_sync(os.fsync, fh.wrapped.fileno())
    size = await to_thread.run_sync(_size_or_none, part) or 0
    result = _check(info, etag, size, digest.hexdigest())
    if result is not None:
        with contextlib.suppress(FileNotFoundError):
            await to_thread.run_sync(part.unlink)
        state.remove()
        raise result
    await to_thread.run_sync(os.replace, part, dest)
    state.remove()
    return Downloaded(
        path=str(dest),
        bytes=size,
        sha256=digest.hexdigest(),
        verified="sha256" if _sha256_of(etag) else "size",
        resumed_from=offset,
    )


def _check(info: FileObject, etag: str | None, size: int, sha256: str) -> Exception | None:
    expected = _sha256_of(etag)
    if expected is not None and expected != sha256:
        return ChecksumMismatch(
            f"the bytes received have sha256 {sha256}, the server's ETag says {expected}; "
            "the partial file was removed"
        )
    if size != info.bytes:
        return ChecksumMismatch(
            f"received {size} bytes, the file has {info.bytes}; the partial file was removed"
        )
    return None


async def _to_stdout(client: Client, info: FileObject) -> Downloaded:
    digest = hashlib.sha256()
    size = 0
    out = sys.stdout.buffer
    with Transfer(f"download {info.id}", info.bytes) as bar:
        content = await aopen_file_content(info.id, **client.sdk)
        async with content:
            etag = content.headers.get("etag")
            async for chunk in content.aiter_bytes():
                await to_thread.run_sync(out.write, chunk)
                digest.update(chunk)
                size += len(chunk)
                bar.advance(len(chunk))
        await to_thread.run_sync(out.flush)
    failed = _check(info, etag, size, digest.hexdigest())
    if failed is not None:
        raise failed
    return Downloaded(
        path="-",
        bytes=size,
        sha256=digest.hexdigest(),
        verified="sha256" if _sha256_of(etag) else "size",
        resumed_from=0,
    )
