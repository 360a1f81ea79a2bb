"""Starlette's router, trying only the routes a path's first segment can reach.

Starlette tries every route in order until one matches; with each API under four
prefixes that is over a hundred regular expressions before ``/health/liveness``
answers. Here the routes are grouped once by the first segment of their path, and
a request tries only its own segment's group, in the original order (so the first
match still wins, and a route matching the path but not the method still makes
the 405). A route whose first segment is not a literal sits in every group:
unless it is a parameter whose convertor's pattern is a plain list of words
(``/{provider:provider}/...``), which then sits in each of those words' groups.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import Receive, Scope, Send

__all__ = ["IndexedRouter"]

_PARAM = re.compile(r"^\{(\w+)(?::\w+)?\}$")
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


class IndexedRouter(Router):
    def __init__(self, routes: Sequence[BaseRoute] | None = None, **kwargs: Any) -> None:
        super().__init__(routes, **kwargs)
        self._index: dict[str, list[BaseRoute]] = {}
        self._anywhere: list[BaseRoute] = []
        self._indexed = -1  # how many routes the index holds (routes may be added later)

    def _build(self) -> dict[str, list[BaseRoute]]:
        places = [first_segments(route) for route in self.routes]
        words = {word for place in places if place is not None for word in place}
        index: dict[str, list[BaseRoute]] = {word: [] for word in words}
        anywhere: list[BaseRoute] = []
        for route, place in zip(self.routes, places, strict=True):
            for word, group in index.items():
                if place is None or word in place:
                    group.append(route)
            if place is None:
                anywhere.append(route)
        self._anywhere = anywhere
        self._index = index
        self._indexed = len(self.routes)
        return index

    def candidates(self, route_path: str) -> list[BaseRoute]:
        """The routes that may match ``route_path`` (which starts with "/"), in order."""
        index = self._index if self._indexed == len(self.routes) else self._build()
        return index.get(route_path[1:].split("/", 1)[0], self._anywhere)

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
