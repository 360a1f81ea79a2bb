"""A gateway's services, typed by the protocols they run on, and the sweep over them.

``filegate/gateway.py`` builds one from settings (the only place that picks concrete
backends); the server and the sweeper take it as it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from filegate.blobstores.base import BlobStore
from filegate.catalog.base import Catalog
from filegate.config import Settings
from filegate.core.batches import BatchService
from filegate.core.files.service import FileService
from filegate.core.files.uploads import UploadService
from filegate.core.fine_tuning import FineTuningService
from filegate.core.targets import TargetTable
from filegate.core.tenants import TenantService
from filegate.records import FileTotals
from filegate.upstream.meter import Meter

log = logging.getLogger("filegate")


@dataclass
class Gateway:
    """Everything a request handler may need, built once per process."""

    settings: Settings
    catalog: Catalog
    blobs: BlobStore
    service: FileService
    targets: TargetTable
    tenants: TenantService
    uploads: UploadService
    batches: BatchService
    fine_tuning: FineTuningService
    # What the backends report (upstream requests, bytes moved); the server sets its sink.
    meter: Meter = field(default_factory=Meter)

    async def aclose(self) -> None:
        await self.catalog.aclose()
        await self.blobs.aclose()


@dataclass(frozen=True, slots=True)
class Totals:
    """What the whole fleet holds, for the gauges: counted, never tracked per request."""

    files: FileTotals
    uploads_in_progress: int
    batches_in_progress: int


async def totals(gateway: Gateway) -> Totals:
    catalog = gateway.catalog
    return Totals(
        await catalog.totals(),
        await catalog.uploads.in_progress(),
        await catalog.batches.in_progress(),
    )


async def sweep_forever(
    gateway: Gateway,
    interval: float,
    observe: Callable[[int, int], None] | None = None,
    gauges: Callable[[Totals], None] | None = None,
) -> None:
    """Clear expired and abandoned files and uploads, one gateway of a fleet at a time;
    ``observe(files, uploads)`` is told what each sweep of this process removed.

    ``gauges`` is given the fleet's totals after every round, on every process (not
    only the one that swept), so each one's scrape says the same and none is stale.
    """
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
                    if observe is not None:
                        observe(removed, ended)
        except Exception:
            log.exception("sweep failed; retrying in %.0f s", interval)
        if gauges is not None:
            try:
                gauges(await totals(gateway))
            except Exception:
                log.exception("counting the catalog's totals failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)
