"""The probes' answers."""

from __future__ import annotations

from typing import Literal

from filegate.server.models.base import Answer


class Liveliness(Answer):
    status: Literal["alive"]


class Readiness(Answer):
    status: Literal["ready", "unavailable"]
    version: str
    """The filegate version."""
    catalog: str
    """`ok`, or why the catalog database cannot be used."""
    storage: str
    """`ok`, or why the blob store cannot be used."""
