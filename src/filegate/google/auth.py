"""OAuth2 access tokens for Google APIs, from google-auth, without blocking the event loop.

google-auth knows every kind of Application Default Credentials: service-account
keys (a JWT assertion signed RS256 with the key, exchanged at the key's
``token_uri``), gcloud user credentials, workload identity federation,
impersonation, the metadata server. It is synchronous, so a refresh runs in a
worker thread: once for all the requests waiting on it, and only when the cached
token is within REFRESH_MARGIN of expiring (about once an hour).
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from datetime import UTC
from pathlib import Path
from typing import Any

import anyio.to_thread
import google.auth
import google.auth.exceptions
import httpx2
from google.auth.credentials import Credentials
from google.auth.transport.requests import Request
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from filegate.errors import ConfigError, UpstreamError

TOKEN_URI = "https://oauth2.googleapis.com/token"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# A token is replaced this long before it expires, so none runs out in flight.
REFRESH_MARGIN = 300.0


def parse_credentials(value: str | Mapping[str, Any]) -> dict[str, Any]:
    """A credentials document from JSON text, a path to a JSON file, or a mapping."""
    if isinstance(value, Mapping):
        return dict(value)
    text = value.strip()
    if not text.startswith("{"):
        try:
            text = Path(text).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"vertex_credentials: cannot read {value!r} ({exc.strerror}); give a path to a "
                "service-account JSON file or the JSON text itself"
            ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError("vertex_credentials: not valid JSON") from None
    if not isinstance(doc, dict):
        raise ConfigError("vertex_credentials: expected a JSON object")
    return doc


def load_credentials(
    value: str | Mapping[str, Any], *, token_uri: str | None, scopes: tuple[str, ...]
) -> Credentials:
    """Credentials from a JSON document; checked now, so bad ones stop start-up."""
    info = parse_credentials(value)
    if token_uri is not None:
        info["token_uri"] = token_uri
    kind = info.get("type")
    try:
        if kind == "service_account":
            info.setdefault("token_uri", TOKEN_URI)
            loaded: Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=list(scopes)
            )
        elif kind == "authorized_user":
            loaded = user_credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
                info, scopes=list(scopes)
            )
        else:
            # Workload identity federation, impersonation, ...: google-auth's
            # generic loader, which warns about untrusted input; this is the
            # operator's own configuration.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                loaded = google.auth.load_credentials_from_dict(  # type: ignore[no-untyped-call]
                    info, scopes=list(scopes)
                )[0]
    except (google.auth.exceptions.GoogleAuthError, ValueError, KeyError) as exc:
        detail = " ".join(str(a) for a in exc.args[:2]) if exc.args else type(exc).__name__
        raise ConfigError(f"vertex_credentials: {detail}") from None
    return loaded


class _TimedRequest(Request):
    """google-auth's requests transport with our timeout on every call."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def __call__(
        self,
        url: Any,
        method: Any = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        timeout = self.timeout if timeout is None else timeout
        return super().__call__(  # type: ignore[no-untyped-call]
            url, method, body, headers, timeout, **kwargs
        )


class GoogleTokens:
    """A cached bearer token for ``credentials`` (None: Application Default Credentials)."""

    def __init__(
        self,
        credentials: str | Mapping[str, Any] | None,
        *,
        token_uri: str | None = None,
        scopes: tuple[str, ...] = (CLOUD_PLATFORM_SCOPE,),
        timeout: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._scopes = scopes
        # ADC is resolved on first use: it may probe the metadata server.
        self._credentials = (
            None
            if credentials is None
            else load_credentials(credentials, token_uri=token_uri, scopes=scopes)
        )
        self._request = _TimedRequest(timeout)
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._token is not None and self._clock() < self._expires_at - REFRESH_MARGIN

    async def token(self) -> str:
        if not self._fresh():
            async with self._lock:
                # Another task may have refreshed while this one waited.
                if not self._fresh():
                    self._token, self._expires_at = await anyio.to_thread.run_sync(self._refresh)
        assert self._token is not None
        return self._token

    def _refresh(self) -> tuple[str, float]:
        """In a worker thread: a new token and when it expires."""
        try:
            if self._credentials is None:
                self._credentials, _ = google.auth.default(scopes=list(self._scopes))
            self._credentials.refresh(self._request)  # type: ignore[no-untyped-call]
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise UpstreamError(
                f"vertex_ai: no Google credentials ({exc}); set vertex_credentials or "
                "GOOGLE_APPLICATION_CREDENTIALS, or STORAGE_EMULATOR_HOST for an emulator.",
                code="upstream_auth_failed",
            ) from None
        except google.auth.exceptions.GoogleAuthError as exc:
            raise UpstreamError(
                f"vertex_ai: could not get a Google access token: {exc}",
                code="upstream_auth_failed",
            ) from None
        expiry = self._credentials.expiry
        if expiry is None:
            return str(self._credentials.token), self._clock() + 3600
        # google-auth keeps expiry as a naive UTC datetime.
        return str(self._credentials.token), expiry.replace(tzinfo=UTC).timestamp()

    async def aclose(self) -> None:
        self._request.session.close()


class GoogleAuth(httpx2.Auth):
    """Puts a current bearer token on every request a client sends."""

    def __init__(self, tokens: GoogleTokens) -> None:
        self.tokens = tokens

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, Any, None]:
        raise RuntimeError("GoogleAuth works with async clients only")

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        request.headers["Authorization"] = f"Bearer {await self.tokens.token()}"
        yield request
