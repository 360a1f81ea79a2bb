"""Google access tokens for the GCS blob store, from google-auth.

google-auth is synchronous, so loading and refreshing run in a worker thread;
it is imported only when a gs:// store needs credentials (never for an emulator).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

from anyio import to_thread

from filegate.blobstores._common import safe_message
from filegate.errors import StorageUnavailable

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"


class GoogleTokens:
    """Bearer tokens from Google credentials, reused until google-auth says they expire."""

    def __init__(self, credentials_file: str | None) -> None:
        self._file = credentials_file
        self._credentials: Credentials | None = None
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        credentials = self._credentials
        if credentials is None or not credentials.valid:
            async with self._lock:
                credentials = self._credentials
                if credentials is None or not credentials.valid:
                    credentials = await to_thread.run_sync(self._refresh)
                    self._credentials = credentials
        return str(credentials.token)

    def _refresh(self) -> Credentials:
        try:
            import google.auth
            import google.auth.exceptions
            from google.auth.transport.requests import Request
        except ImportError:
            raise StorageUnavailable(
                "gs:// storage needs google-auth for credentials: "
                "pip install 'google-auth[requests]'"
            ) from None
        try:
            credentials = self._credentials
            if credentials is None:
                if self._file:
                    credentials = load_file(self._file)
                else:
                    # gcloud's login file, else the metadata server.
                    credentials, _ = google.auth.default(scopes=[SCOPE])
            credentials.refresh(Request())  # type: ignore[no-untyped-call]
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise StorageUnavailable(
                f"gs:// storage: no usable Google credentials ({safe_message(exc)}); set "
                "GOOGLE_APPLICATION_CREDENTIALS, or STORAGE_EMULATOR_HOST for an emulator"
            ) from None
        except google.auth.exceptions.GoogleAuthError as exc:
            raise StorageUnavailable(
                f"gs:// storage: could not get a Google access token ({type(exc).__name__})"
            ) from None
        return credentials


def load_file(path: str) -> Credentials:
    """A service-account key or an authorized-user file, loaded by its declared type.

    google-auth's generic loader accepts any credential type a file names
    (and warns about it); these two are the ones a file should hold here.
    """
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    where = "gs:// storage: GOOGLE_APPLICATION_CREDENTIALS"
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise StorageUnavailable(f"{where}: cannot read {path!r} ({exc.strerror})") from None
    except ValueError:
        raise StorageUnavailable(f"{where}: {path!r} is not JSON") from None
    kind = info.get("type") if isinstance(info, dict) else None
    # google-auth leaves these constructors unannotated.
    loaded: Credentials
    if kind == "service_account":
        loaded = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=[SCOPE]
        )
    elif kind == "authorized_user":
        loaded = user_credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
            info, scopes=[SCOPE]
        )
    else:
        raise StorageUnavailable(
            f"{where}: credentials of type {kind!r} are not supported "
            "(use a service-account key or an authorized_user file)"
        )
    return loaded
