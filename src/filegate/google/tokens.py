"""The one Google token source: OAuth2 access tokens from google-auth, off the event loop.

google-auth knows every kind of Application Default Credentials: service-account
keys (a JWT assertion signed RS256 with the key, exchanged at the key's
``token_uri``), gcloud user credentials, workload identity federation,
impersonation, the metadata server. It is synchronous, so loading and refreshing
run in a worker thread: once for all the requests waiting on it, and only when
the cached token is within REFRESH_MARGIN of expiring (about once an hour).

The GCS blob store and the Vertex AI provider both use it, each with its own
scopes and its own errors: a ``TokenErrors`` says what a failure means to the
caller (StorageUnavailable for one, UpstreamError for the other). google-auth is
imported only when credentials are needed (never for an emulator).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import AsyncGenerator, Callable, Collection, Generator, Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any, Protocol

import anyio.to_thread
import httpx2

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.auth.transport.requests import Request

TOKEN_URI = "https://oauth2.googleapis.com/token"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
STORAGE_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
# A token is replaced this long before it expires, so none runs out in flight.
REFRESH_MARGIN = 300.0
# google-auth's two file types that need no further trust decisions.
PLAIN_TYPES = frozenset({"service_account", "authorized_user"})


class CredentialsError(ValueError):
    """A credentials document google-auth cannot use; callers say where it came from."""


class TokenErrors(Protocol):
    """What a failure to get a token is, in the caller's terms."""

    def no_library(self) -> Exception: ...

    def no_credentials(self, detail: str) -> Exception: ...

    def refresh_failed(self, exc: Exception) -> Exception: ...


def from_info(
    info: Mapping[str, Any],
    *,
    scopes: Collection[str],
    token_uri: str | None = None,
    kinds: Collection[str] | None = None,
) -> Credentials:
    """Credentials from a parsed JSON document, loaded by its declared ``type``.

    ``kinds`` limits the types accepted (None: any google-auth knows, through
    its generic loader, which warns about untrusted input; then it is the
    operator's own configuration). Raises CredentialsError.
    """
    import google.auth
    import google.auth.exceptions
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    info = dict(info)
    if token_uri is not None:
        info["token_uri"] = token_uri
    kind = info.get("type")
    if kinds is not None and kind not in kinds:
        raise CredentialsError(f"credentials of type {kind!r} are not supported")
    try:
        # google-auth leaves these constructors unannotated.
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
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                loaded = google.auth.load_credentials_from_dict(  # type: ignore[no-untyped-call]
                    info, scopes=list(scopes)
                )[0]
    except (google.auth.exceptions.GoogleAuthError, ValueError, KeyError) as exc:
        detail = " ".join(str(a) for a in exc.args[:2]) if exc.args else type(exc).__name__
        raise CredentialsError(detail) from None
    return loaded


def _timed_request(timeout: float) -> Request:
    """google-auth's requests transport with our timeout on every call."""
    from google.auth.transport.requests import Request

    class TimedRequest(Request):
        def __call__(
            self,
            url: Any,
            method: Any = "GET",
            body: Any = None,
            headers: Any = None,
            timeout: Any = None,
            **kwargs: Any,
        ) -> Any:
            return super().__call__(  # type: ignore[no-untyped-call]
                url, method, body, headers, default if timeout is None else timeout, **kwargs
            )

    default = timeout
    return TimedRequest()


class GoogleTokens:
    """A cached bearer token.

    ``credentials``: loaded credentials, a loader run in the worker thread on the
    first refresh (its errors pass through as they are), or None for Application
    Default Credentials (resolved on first use: that may probe the metadata server).
    """

    def __init__(
        self,
        credentials: Credentials | Callable[[], Credentials] | None,
        *,
        errors: TokenErrors,
        scopes: Collection[str] = (CLOUD_PLATFORM_SCOPE,),
        timeout: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = credentials
        self._credentials: Credentials | None = None
        self._errors = errors
        self._scopes = list(scopes)
        self._timeout = timeout
        self._request: Request | None = None
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
            import google.auth
            import google.auth.exceptions
        except ImportError:
            raise self._errors.no_library() from None
        if self._request is None:
            self._request = _timed_request(self._timeout)
        try:
            if self._credentials is None:
                source = self._source
                if source is None:
                    self._credentials, _ = google.auth.default(scopes=self._scopes)
                else:
                    self._credentials = source() if callable(source) else source
            self._credentials.refresh(self._request)  # type: ignore[no-untyped-call]
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise self._errors.no_credentials(str(exc)) from None
        except google.auth.exceptions.GoogleAuthError as exc:
            raise self._errors.refresh_failed(exc) from None
        expiry = self._credentials.expiry
        if expiry is None:
            return str(self._credentials.token), self._clock() + 3600
        # google-auth keeps expiry as a naive UTC datetime.
        return str(self._credentials.token), expiry.replace(tzinfo=UTC).timestamp()

    async def aclose(self) -> None:
        if self._request is not None:
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
