"""Who is calling: the master key, a virtual key, or (with no master key) anyone."""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from filegate.core.tenants import ADMIN, Principal, TenantService
from filegate.errors import AuthError

# Where a key may come (Azure-style clients send it in a header of its own), in the
# order they are looked at; names as ASGI gives them, lower-case.
_KEY_HEADERS = (b"authorization", b"api-key", b"x-api-key")


def presented_key(request: Request) -> str | None:
    # The raw header list, scanned once: every request comes this way, and
    # Starlette's Headers looks each name up with a scan of its own.
    found: dict[bytes, bytes] = {}
    for name, value in request.scope["headers"]:
        if name in _KEY_HEADERS and name not in found:
            found[name] = value
    auth = found.get(b"authorization")
    if auth:
        scheme, _, token = auth.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    key = found.get(b"api-key") or found.get(b"x-api-key")
    return key.decode("latin-1") if key else None


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
        state = request.scope.setdefault("state", {})
        state["caller"] = "master" if key is None else (key.key_alias or key.id)
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
        # One digest serves both: the master key's check and the virtual key's lookup.
        key_digest = hashlib.sha256(key.encode()).digest()
        if self._master is not None and hmac.compare_digest(key_digest, self._master):
            return ADMIN
        try:
            return await self.tenants.principal(key, token_hash=key_digest.hex())
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
