"""The composition root: the one module that picks concrete backends and wires them.

Everything else sees protocols: the server takes a :class:`Gateway` (services typed by
``catalog.base``, ``blobstores.base`` and ``providers.base``), the CLI calls the functions
here, and the core never learns which database, store or provider it runs on. A new
backend is registered in its own folder's registry; a new resource adds its service to
:class:`Gateway` and builds it in :func:`open_gateway`.
"""

from __future__ import annotations

from collections.abc import Callable

from filegate.blobstores import open_blobstore
from filegate.blobstores.local import LocalBlobStore
from filegate.blobstores.metered import MeteredBlobStore
from filegate.blobstores.registry import store_kind
from filegate.catalog.sql import SQLCatalog, async_url
from filegate.config import Settings
from filegate.core.batches import BatchService
from filegate.core.files.service import FileService
from filegate.core.files.uploads import UploadService
from filegate.core.fine_tuning import FineTuningService
from filegate.core.gateway import Gateway
from filegate.core.targets import TargetTable
from filegate.core.tenants import TenantService
from filegate.errors import ConfigError
from filegate.providers.registry import build_provider
from filegate.upstream.meter import Meter

__all__ = ["Gateway", "check_backends", "open_gateway", "upgrade_catalog"]


async def open_gateway(settings: Settings) -> Gateway:
    """The services of one gateway process on the backends ``settings`` name."""
    # Reports go nowhere until the server that serves this gateway plugs its metrics in.
    meter = Meter()
    url = settings.resolved_storage_url
    blobs = MeteredBlobStore(open_blobstore(url), meter.bound(f"store:{store_kind(url)}"))
    catalog = await SQLCatalog.open(settings.resolved_database_url)
    providers = {d.name: build_provider(d, meter=meter.bound(d.name)) for d in settings.deployments}
    spool = LocalBlobStore(settings.data_dir / "spool", durable=False, hashing=False)
    service = FileService(
        catalog, blobs, max_file_size=settings.max_file_size, spool=spool, providers=providers
    )
    targets = TargetTable(settings.deployments, settings.default_target)
    return Gateway(
        settings,
        catalog,
        blobs,
        service,
        targets,
        TenantService(catalog.tenants, defaults=settings.default_limits),
        UploadService(catalog.uploads, service),
        BatchService(
            catalog.batches,
            service,
            targets,
            cache_seconds=settings.batch_cache_seconds,
            runs=catalog.batch_runs,
            lease_seconds=settings.batch_lease_seconds,
        ),
        FineTuningService(
            catalog.fine_tuning,
            service,
            targets,
            cache_seconds=settings.fine_tuning_cache_seconds,
        ),
        meter,
    )


async def upgrade_catalog(settings: Settings) -> None:
    """Apply the catalog's migrations (the server also does this at start-up)."""
    catalog = await SQLCatalog.open(settings.resolved_database_url, migrate=True)
    await catalog.aclose()


def check_backends(settings: Settings) -> None:
    """Refuse a database or storage URL that cannot work, before the server starts.

    Nothing is contacted: this parses URLs and builds clients, so a typo fails at once,
    as one ConfigError naming the setting.
    """
    checks: list[tuple[str, str, Callable[[], object]]] = [
        (
            "FILEGATE_DATABASE_URL",
            "database_url",
            lambda: async_url(settings.resolved_database_url),
        ),
        (
            "FILEGATE_STORAGE_URL",
            "storage_url",
            lambda: open_blobstore(settings.resolved_storage_url),
        ),
    ]
    for env, field, check in checks:
        try:
            check()
        except ConfigError as exc:
            detail = str(exc).removeprefix(field + ": ")
            raise ConfigError(f"{env} ({field}): {detail}") from None
    for deployment in settings.deployments:
        build_provider(deployment)
