"""The ASGI application: wiring of settings, catalog, blob store and routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from filegate.blobstores import BlobStore, open_blobstore
from filegate.blobstores.local import LocalBlobStore
from filegate.catalog import SQLCatalog
from filegate.config import Settings
from filegate.core.service import FileService
from filegate.core.targets import TargetTable
from filegate.core.tenants import TenantService
from filegate.core.uploads import UploadService
from filegate.providers.registry import build_provider
from filegate.server import admin, console, files, health, openapi, uploads
from filegate.server.auth import Authenticator
from filegate.server.errors import HANDLERS, UnhandledErrors
from filegate.server.request_id import RequestIdMiddleware

log = logging.getLogger("filegate")


@dataclass
class Gateway:
    """Everything a request handler may need, built once per process."""

    settings: Settings
    catalog: SQLCatalog
    blobs: BlobStore
    service: FileService
    authenticate: Authenticator
    targets: TargetTable
    tenants: TenantService
    uploads: UploadService


async def open_gateway(settings: Settings) -> Gateway:
    blobs = open_blobstore(settings.resolved_storage_url)
    catalog = await SQLCatalog.open(settings.resolved_database_url)
    providers = {d.name: build_provider(d) for d in settings.deployments}
    spool = LocalBlobStore(settings.data_dir / "spool", durable=False, hashing=False)
    service = FileService(
        catalog, blobs, max_file_size=settings.max_file_size, spool=spool, providers=providers
    )
    targets = TargetTable(settings.deployments, settings.default_target)
    master = settings.master_key.get_secret_value() if settings.master_key else None
    tenants = TenantService(catalog.tenants, defaults=settings.default_limits)
    uploads = UploadService(catalog.uploads, service)
    return Gateway(
        settings,
        catalog,
        blobs,
        service,
        Authenticator(master, tenants),
        targets,
        tenants,
        uploads,
    )


async def _sweep_forever(gateway: Gateway, interval: float) -> None:
    while True:
        try:
            # One gateway of a fleet sweeps at a time; the others skip this round.
            async with gateway.catalog.exclusive("filegate.sweep") as mine:
                if mine:
                    removed = await gateway.service.sweep()
                    if removed:
                        log.info("sweep removed %d expired or abandoned files", removed)
                    ended = await gateway.uploads.sweep()
                    if ended:
                        log.info("sweep cleared %d expired or finished uploads", ended)
        except Exception:
            log.exception("sweep failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)


def create_app(settings: Settings, opened: Gateway | None = None) -> ASGIApp:
    """The ASGI app; it opens its gateway at start-up unless given one ``opened``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway = opened or await open_gateway(settings)
        app.state.gateway = gateway
        default = gateway.targets.default
        log.info(
            "default target: %s%s; deployments: %s",
            default.deployment,
            "" if default.embedded else f" ({default.provider})",
            ", ".join(f"{d.name} ({d.provider})" for d in settings.deployments) or "none",
        )
        if gateway.authenticate.open:
            log.warning(
                "No master key is set (FILEGATE_MASTER_KEY): every request is accepted "
                "without a key. Serving on %s only.",
                settings.bind_host,
            )
        # The first sweep runs at once, clearing what a killed process left behind.
        sweeper = asyncio.create_task(_sweep_forever(gateway, settings.sweep_interval))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await gateway.catalog.aclose()
            await gateway.blobs.aclose()

    routes = [
        *files.all_routes(),
        *uploads.routes(),
        *health.routes,
        *admin.routes,
        *openapi.routes,
        *console.routes(),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers=HANDLERS,
        middleware=[Middleware(UnhandledErrors)],
        lifespan=lifespan,
    )
    # A redirect to the slashless path would be built from the request's Host
    # header (an open redirect); "/v1/files/" is a 404 like any unknown URL.
    app.router.redirect_slashes = False
    return RequestIdMiddleware(app)
