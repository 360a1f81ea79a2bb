"""A connection to a filegate gateway (or any OpenAI-compatible server) for the SDK's
calls beyond the Files functions: the Uploads API, ranged downloads, the admin API.

``api_base`` / ``FILEGATE_API_BASE`` (default ``http://localhost:4000/v1``) and
``api_key`` / ``FILEGATE_API_KEY`` are read as the ``"filegate"`` provider reads them.
The admin routes (``/key/*``, ``/team/*``) sit at the server's root, so for them a
trailing ``/v1`` of the base is dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from filegate.config import provider_env
from filegate.errors import InvalidRequest
from filegate.sdk.targets import FILEGATE_API_BASE, naming_urls
from filegate.sdk.targets import _transport as transport
from filegate.upstream.client import WireClient

__all__ = ["Connection"]

PROVIDER = "filegate"


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the calls go: base URL, key and the retry and timeout policy."""

    api_base: str
    api_key: str | None
    timeout: float = 600.0
    max_retries: int = 2

    @classmethod
    def resolve(
        cls,
        api_key: str | None = None,
        api_base: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Connection:
        """Explicit values first, then ``FILEGATE_API_BASE`` / ``FILEGATE_API_KEY``."""
        env = provider_env(PROVIDER)
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise InvalidRequest("timeout must be a number of seconds > 0", param="timeout")
        if max_retries is not None and (
            isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
        ):
            raise InvalidRequest("max_retries must be an integer >= 0", param="max_retries")
        return cls(
            api_base=(api_base or env.get("api_base") or FILEGATE_API_BASE).rstrip("/"),
            api_key=api_key or env.get("api_key"),
            timeout=600.0 if timeout is None else float(timeout),
            max_retries=2 if max_retries is None else max_retries,
        )

    @property
    def root(self) -> str:
        """The server's root, where the admin routes are."""
        return self.api_base.removesuffix("/v1")

    @contextlib.asynccontextmanager
    async def wire(self, *, root: bool = False) -> AsyncIterator[WireClient]:
        """A client for one call (or a few), closed on exit; a failure to connect
        names the URL tried."""
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        client = WireClient(
            PROVIDER,
            base_url=self.root if root else self.api_base,
            headers=headers,
            timeout=self.timeout,
            max_retries=self.max_retries,
            transport=transport(),
        )
        try:
            with naming_urls():
                yield client
        finally:
            await client.aclose()
