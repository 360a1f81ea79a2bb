"""A file create, resolved: what ``FileService.create`` is handed, and how fields become it.

A create's fields arrive in the client's order, streamed around the file's bytes:
those sent before the file part are known when it starts, the others only once the
body has ended. ``CreateFields`` resolves and checks each value the first time it
is known and never again (the purpose against the key's allowed purposes, the
expiry's bounds, the routing choice), so the bytes start from what is known and
the file is finished from all of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from filegate.core.params import parse_expires_after, parse_purpose
from filegate.core.targets import Routing, Target
from filegate.core.tenants import Principal
from filegate.records import ExpiresAfter, Quota, Scope

ANCHOR = "expires_after[anchor]"
SECONDS = "expires_after[seconds]"


@dataclass(frozen=True, slots=True)
class FileChoice:
    """What a create's fields choose, resolved and checked."""

    purpose: str | None  # None: not sent yet (it follows the file part)
    expires_after: ExpiresAfter | None
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class CreateFile:
    """One create, resolved: who, what, where to, and within which limits."""

    scope: Scope
    filename: str
    content_type: str | None
    choice: FileChoice  # as known when the file part starts
    max_size: int  # the key's limit or the gateway's, the tighter
    quota: Quota | None  # the key's and team's stored files and bytes; None: no caps


class CreateFields:
    """A create's fields as they arrive, each resolved and checked once.

    ``so_far`` is called when the file part starts, ``complete`` once the body has
    ended (or when it held no file, so its errors still come first).
    """

    def __init__(self, principal: Principal, routing: Routing, gateway_max: int) -> None:
        self.principal = principal
        self.routing = routing
        self.max_size = principal.max_file_size(gateway_max)
        self.quota = principal.quota()
        self._purpose: str | None = None
        self._expires: ExpiresAfter | None = None
        self._expires_known = False

    def so_far(self, fields: Mapping[str, str]) -> FileChoice:
        """What the fields before the file part choose (the purpose may be missing)."""
        if "purpose" in fields:
            self._take_purpose(fields)
        targets = self.routing.resolve(fields)
        # With the seconds alone the anchor cannot follow (a 400 now); with the
        # anchor alone the seconds still may.
        if SECONDS in fields:
            self._take_expires(fields)
        return FileChoice(self._purpose, self._expires, tuple(targets))

    def complete(self, fields: Mapping[str, str]) -> FileChoice:
        """What all the fields choose; a missing purpose is an error now."""
        self._take_purpose(fields)
        self._take_expires(fields)
        targets = self.routing.resolve(fields)
        return FileChoice(self._purpose, self._expires, tuple(targets))

    def _take_purpose(self, fields: Mapping[str, str]) -> None:
        if self._purpose is None:
            purpose = parse_purpose(fields.get("purpose"))
            self.principal.check_purpose(purpose)
            self._purpose = purpose

    def _take_expires(self, fields: Mapping[str, str]) -> None:
        if not self._expires_known:
            self._expires = parse_expires_after(fields.get(ANCHOR), fields.get(SECONDS))
            self._expires_known = True
