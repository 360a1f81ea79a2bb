"""Starlette's router, trying only the routes a path's shape can reach.

Starlette tries every route in order until one matches; with each API under four
prefixes that is over a hundred regular expressions before ``/health/liveness``
answers. Here the routes are grouped by the first segment of their path and by
their number of segments, and a request tries only its own group, in the original
order (so the first match still wins, and a route matching the path but not the
method still makes the 405). A route whose first segment is not a literal sits in
every first segment's group: unless it is a parameter whose convertor's pattern is a
plain list of words (``/{provider:provider}/...``), which then sits in each of those
words' groups. A route with a parameter that may hold a "/" (a ``path``, or a file id
that may be a ``gs://`` URL) sits in every count's group. With the count, a retrieve
(``GET /v1/files/{id}``) is the second route tried instead of the fourth.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.convertors import CONVERTOR_TYPES
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import Receive, Scope, Send

__all__ = ["IndexedRouter"]

_PARAM = re.compile(r"^\{(\w+)(?::\w+)?\}$")
# Convertor patterns that never match a "/": Starlette's str, int, float and uuid.
_ONE_SEGMENT = frozenset(CONVERTOR_TYPES[name].regex for name in ("str", "int", "float", "uuid"))
# Words of letters, digits, "_" and "-" only: each stands for itself in a pattern.
_WORDS = re.compile(r"^[\w-]+(?:\|[\w-]+)*$")


def first_segments(route: BaseRoute) -> list[str] | None:
    """The first path segments ``route`` can match, or None: any at all."""
    if not isinstance(route, Route | Mount):
        return None
    path: str = route.path
    if not path.startswith("/"):
        return None
    segment = path[1:].split("/", 1)[0]
    if "{" not in segment:
        return [segment]
    param = _PARAM.match(segment)
    if param is None:
        return None
    pattern = route.param_convertors[param.group(1)].regex
    return pattern.split("|") if _WORDS.match(pattern) else None


def segment_count(route: BaseRoute) -> int | None:
    """How many segments every path ``route`` matches has, or None: it varies."""
    if not isinstance(route, Route):
        return None
    for convertor in route.param_convertors.values():
        if convertor.regex not in _ONE_SEGMENT and not _WORDS.match(convertor.regex):
            return None
    return route.path.count("/")


class IndexedRouter(Router):
    def __init__(self, routes: Sequence[BaseRoute] | None = None, **kwargs: Any) -> None:
        super().__init__(routes, **kwargs)
        self._shapes: list[tuple[BaseRoute, list[str] | None, int | None]] = []
        self._words: frozenset[str] = frozenset()
        self._longest = 0
        # (first segment or None: not a known word, segment count or None: longer than
        # any route's) -> the routes to try, in order; at most (words + 1) x (longest + 2).
        self._index: dict[tuple[str | None, int | None], list[BaseRoute]] = {}
        self._indexed = -1  # how many routes the index holds (routes may be added later)

    def _build(self) -> None:
        self._shapes = [(r, first_segments(r), segment_count(r)) for r in self.routes]
        self._words = frozenset(w for _, firsts, _ in self._shapes if firsts for w in firsts)
        self._longest = max((n for _, _, n in self._shapes if n is not None), default=0)
        self._index = {}
        self._indexed = len(self.routes)

    def candidates(self, route_path: str) -> list[BaseRoute]:
        """The routes that may match ``route_path`` (which starts with "/"), in order."""
        if self._indexed != len(self.routes):
            self._build()
        first = route_path[1:].split("/", 1)[0]
        count = route_path.count("/")
        key = (
            first if first in self._words else None,
            count if count <= self._longest else None,
        )
        found = self._index.get(key)
        if found is None:
            word, n = key
            found = [
                route
                for route, firsts, fixed in self._shapes
                if (firsts is None or (word is not None and word in firsts))
                and (fixed is None or fixed == n)
            ]
            self._index[key] = found
        return found

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        route_path = get_route_path(scope) if scope["type"] == "http" else ""
        if not route_path.startswith("/") or self.redirect_slashes:
            # Lifespan, and Starlette's trailing-slash redirects, as Starlette does them.
            await super().app(scope, receive, send)
            return
        routes = self.candidates(route_path)
        if "router" not in scope:
            scope["router"] = self
        partial = partial_scope = None
        for route in routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = route, child_scope
        if partial is not None and partial_scope is not None:
            scope["route"] = partial
            scope.update(partial_scope)
            await partial.handle(scope, receive, send)
            return
        await self.default(scope, receive, send)
