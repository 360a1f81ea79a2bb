"""Who is calling: the master key, a virtual key, or (with no master key) anyone."""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from filegate.core.tenants import ADMIN, Principal, TenantService
from filegate.errors import AuthError


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
    def __init__(self, master_key: str | None, tenants: TenantService) -> None:
        # Only a digest is kept; comparing digests of equal length in constant
        # time reveals nothing about the key, not even its length.
        self._master = hashlib.sha256(master_key.encode()).digest() if master_key else None
        self.tenants = tenants

    @property
    def open(self) -> bool:
        return self._master is None

    async def __call__(self, request: Request) -> Principal:
        principal = await self._principal(request)
        # Who called, for the request's log line: the key's alias or id, never the key.
        key = principal.key
        request.state.caller = "master" if key is None else (key.key_alias or key.id)
        return principal

    async def _principal(self, request: Request) -> Principal:
        key = presented_key(request)
        if key is None:
            if self._master is None:
                return ADMIN
            raise AuthError(
                "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.",
                code="missing_api_key",
            )
        if self._master is not None and hmac.compare_digest(
            hashlib.sha256(key.encode()).digest(), self._master
        ):
            return ADMIN
        try:
            return await self.tenants.principal(key)
        except AuthError:
            # Open mode (no master key, localhost only) takes any key, as the
            # openai SDK always sends one; virtual keys still act as themselves.
            if self._master is None:
                return ADMIN
            raise


async def authenticate(request: Request) -> Principal:
    """The caller of ``request``, by the app's authenticator (set at start-up)."""
    authenticator: Authenticator = request.app.state.authenticate
    return await authenticator(request)
