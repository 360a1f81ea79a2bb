"""The indexed router picks the route Starlette's full scan would, for every path."""

from __future__ import annotations

import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Mount, Route

from filegate.config import Settings
from filegate.server.app import create_app
from filegate.server.router import IndexedRouter, first_segments, segment_count
from filegate.server.routes.files import ProviderConvertor


def _app_router() -> IndexedRouter:
    async def never(settings: Settings) -> object:
        raise AssertionError("the gateway is not opened here")

    app = create_app(Settings(), never)  # type: ignore[arg-type]
    router = app.router  # type: ignore[attr-defined]
    assert isinstance(router, IndexedRouter)
    return router


def _first(routes: list[BaseRoute], path: str, method: str) -> tuple[BaseRoute | None, Match]:
    """What Starlette's scan finds: the first full match, else the first partial."""
    scope = {"type": "http", "path": path, "root_path": "", "method": method}
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route, match
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial, Match.PARTIAL if partial is not None else Match.NONE


PATHS = [
    "/",
    "/v1/files/file-01ABC/content/extra",
    "/v1/batches/batch_1",
    "/v1/fine_tuning/jobs",
    "/metrics",
    "/health/liveliness",
    "/health/readiness",
    "/v1/files",
    "/v1/files/",
    "/v1/files/file-01ABC",
    "/v1/files/file-01ABC/content",
    "/v1/files/gs://bucket/a/b/c",
    "/v1/files/gs://bucket/a/content",
    "/files/file-01ABC",
    "/openai/v1/files/file-01ABC",
    "/azure/files",
    "/azure/v1/batches/batch_1/cancel",
    "/nosuchprovider/v1/files",
    "/v1/uploads/upload_1/parts",
    "/v1/fine_tuning/jobs/ftjob-1/events",
    "/key/info",
    "/docs",
    "/docs/static/swagger-ui.css",
    "/ui/",
    "/ui/app.js",
    "/v1",
    "/v1files",
    "//v1/files",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PUT"])
def test_the_same_route_as_a_full_scan(path: str, method: str) -> None:
    router = _app_router()
    assert _first(router.candidates(path), path, method) == _first(router.routes, path, method)


def test_only_the_first_segments_group_is_tried() -> None:
    router = _app_router()
    health = router.candidates("/health/liveliness")
    assert [getattr(r, "path", None) for r in health] == [
        "/health/liveliness",
        "/health/liveness",
        "/health/readiness",
    ]
    # The provider prefixes sit under each provider's name, not under every segment.
    assert len(router.candidates("/openai/v1/files")) < len(router.routes) / 2


def test_a_path_tries_only_routes_of_its_length() -> None:
    router = _app_router()
    retrieve = [getattr(r, "path", None) for r in router.candidates("/v1/files/file-01ABC")]
    # The content route stays: a file id may be a gs:// URL, with slashes in it.
    assert retrieve[:2] == ["/v1/files/{file_id:file_id}/content", "/v1/files/{file_id:file_id}"]
    assert "/v1/files" not in retrieve and "/v1/uploads/{upload_id}/parts" not in retrieve
    assert len(retrieve) < len(router.candidates("/v1/files")) + 2


def test_segment_counts() -> None:
    assert segment_count(Route("/v1/files", _ok)) == 2
    assert segment_count(Route("/v1/files/{file_id}", _ok)) == 3
    assert segment_count(Route("/v1/jobs/{n:int}/{id:uuid}", _ok)) == 4
    # A parameter that may hold "/" makes the length vary: tried for any count.
    assert segment_count(Route("/static/{rest:path}", _ok)) is None
    assert segment_count(Mount("/docs/static", routes=[])) is None


def test_a_path_longer_than_every_route_tries_only_the_varying_ones() -> None:
    router = IndexedRouter([Route("/a/{x}", _ok), Route("/a/{rest:path}", _ok)])
    assert [getattr(r, "path", None) for r in router.candidates("/a/b/c/d/e")] == ["/a/{rest:path}"]
    assert len(router.candidates("/a/b")) == 2


async def _ok(request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


def test_where_a_route_sits() -> None:
    assert first_segments(Route("/v1/files", _ok)) == ["v1"]
    assert first_segments(Route("/", _ok)) == [""]
    assert first_segments(Mount("/docs/static", routes=[])) == ["docs"]
    words = first_segments(Route("/{provider:provider}/files", _ok))
    assert words is not None and words == ProviderConvertor.regex.split("|")
    # Any other parameter could be any segment: tried for every path.
    assert first_segments(Route("/{name}/files", _ok)) is None
    assert first_segments(Route("/v{n:int}/files", _ok)) is None
    assert first_segments(Mount("", routes=[])) is None


def test_routes_added_later_are_found() -> None:
    router = IndexedRouter([Route("/a", _ok)])
    assert len(router.candidates("/b")) == 0
    router.routes.append(Route("/b", _ok))
    assert [getattr(r, "path", None) for r in router.candidates("/b")] == ["/b"]
