"""The web console at ``/ui``: the package's own static files behind a strict CSP.

The console is plain ES modules and CSS in ``static/console/`` beside this module,
shipped as they are (no build step). They are few and small, so they are read
once when the app is built, with a gzip copy and an ETag each. Every response
carries the same security headers: scripts and styles only from this origin
(no inline code), Trusted Types enforced so no string can become markup, no
framing by other pages. A service worker from the same folder streams downloads.
The key the console uses travels only in an ``Authorization`` header from its own
scripts, never in a URL or a cookie, so CSRF has nothing to ride on.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

STATIC = Path(__file__).parent.parent / "static" / "console"
PATH = "/ui"
TRUSTED_TYPES_POLICY = "filegate-console"

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        # Downloads stream through a hidden frame that the service worker answers.
        "frame-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
        "require-trusted-types-for 'script'",
        # One policy, made once by the console, that admits only its service worker's
        # URL; there is none for markup, so no string can become HTML.
        f"trusted-types {TRUSTED_TYPES_POLICY}",
    )
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    # Revalidated on every load (a 304 by ETag), so an upgrade shows at once.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


def load_assets(folder: Path = STATIC) -> dict[str, Asset]:
    """Every servable file in ``folder`` by name; nothing else can be asked for."""
    assets: dict[str, Asset] = {}
    for path in sorted(folder.iterdir()):
        media_type = MEDIA_TYPES.get(path.suffix)
        if media_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        assets[path.name] = Asset(body, gzip.compress(body, 9, mtime=0), etag, media_type)
    return assets


def _accepts_gzip(request: Request) -> bool:
    for item in request.headers.get("accept-encoding", "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() == "gzip" and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


def _serve(request: Request, asset: Asset) -> Response:
    headers = {**HEADERS, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if _accepts_gzip(request):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, media_type=asset.media_type)


def routes() -> list[BaseRoute]:
    assets = load_assets()

    async def to_index(request: Request) -> Response:
        # Relative asset URLs in the page need the trailing slash.
        root = request.scope.get("root_path", "").rstrip("/")
        return RedirectResponse(f"{root}{PATH}/", status_code=308, headers=HEADERS)

    async def index(request: Request) -> Response:
        return _serve(request, assets["index.html"])

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            raise HTTPException(404)
        return _serve(request, found)

    return [
        Route(PATH, to_index, methods=["GET"], include_in_schema=False),
        Route(f"{PATH}/", index, methods=["GET"], include_in_schema=False),
        Route(f"{PATH}/{{name}}", asset, methods=["GET"], include_in_schema=False),
    ]
