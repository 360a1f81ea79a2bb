"""Who is calling: the master key, or nobody when none is configured."""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from filegate.errors import AuthError
from filegate.records import Scope

ADMIN = Scope()


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    # Azure-style clients send the key in its own header.
    return request.headers.get("api-key") or request.headers.get("x-api-key")


class Authenticator:
    def __init__(self, master_key: str | None) -> None:
        # Only a digest is kept; comparing digests of equal length in constant
        # time reveals nothing about the key, not even its length.
        self._master = hashlib.sha256(master_key.encode()).digest() if master_key else None

    @property
    def open(self) -> bool:
        return self._master is None

    def __call__(self, request: Request) -> Scope:
        if self._master is None:
            return ADMIN
        key = presented_key(request)
        if key is None:
            raise AuthError(
                "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.",
                code="missing_api_key",
            )
        if hmac.compare_digest(hashlib.sha256(key.encode()).digest(), self._master):
            return ADMIN
        raise AuthError("Incorrect API key provided.")
