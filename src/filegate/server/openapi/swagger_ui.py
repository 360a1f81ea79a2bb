"""Interactive API docs: Swagger UI, served from the gateway's own process.

Swagger UI's files come from the ``swagger-ui-py`` package (its ``static``
folder, Swagger UI 5, which renders OpenAPI 3.1), so the docs page needs no
internet. (``swagger-ui-bundle`` ships Swagger UI 4, which refuses 3.1
documents.) Should that folder be missing, the page falls back to the same
files on a public CDN, as FastAPI does, rather than failing the whole server.
"""

from __future__ import annotations

import html
import importlib.util
import json
import logging
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

log = logging.getLogger("filegate")

ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")
CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: {spec_url},
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  displayRequestDuration: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout"
}});
</script>
</body>
</html>
"""


def assets_dir() -> Path | None:
    """Swagger UI's static files as shipped by the ``swagger-ui-py`` package, if installed."""
    # Located without importing the package, whose __init__ pulls in its web-framework glue.
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        static = Path(location) / "static"
        if all((static / name).is_file() for name in ASSETS):
            return static
    return None


def routes(docs_path: str, spec_path: str, title: str = "filegate API") -> list[BaseRoute]:
    static = assets_dir()
    if static is None:
        log.warning("Swagger UI's files (package swagger-ui-py) are missing; /docs uses a CDN.")
    static_path = f"{docs_path}/static"

    async def docs(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        assets = f"{root}{static_path}" if static is not None else CDN
        page = _PAGE.format(
            title=html.escape(title),
            assets=html.escape(assets, quote=True),
            # json.dumps makes a JS string; escaping '<' keeps it from closing the script.
            spec_url=json.dumps(f"{root}{spec_path}").replace("<", "\\u003c"),
        )
        return HTMLResponse(page)

    out: list[BaseRoute] = [Route(docs_path, docs, methods=["GET"], include_in_schema=False)]
    if static is not None:
        out.append(Mount(static_path, app=StaticFiles(directory=static), name="swagger-ui"))
    return out
