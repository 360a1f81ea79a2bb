"""Run the gateway: claim the port, open the catalog, then serve.

Each step that can fail does so before anything says the server started, with
one line naming the setting at fault (``StartupError``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import resource
import socket

import uvicorn
from uvicorn.loops.auto import auto_loop_factory

from filegate import __version__
from filegate.config import Settings
from filegate.errors import StartupError, StorageUnavailable
from filegate.server.app import Opener, create_app
from filegate.server.protocol import HttpLimits, protocol_class
from filegate.server.redaction import RedactSecrets, redact_url

log = logging.getLogger("filegate")

# File descriptors kept free beside the client connections (catalog, blob files,
# upstream sockets, logs): this many, or a quarter of a smaller limit.
_SPARE_FDS = 256


def serve(settings: Settings, open_gateway: Opener) -> bool:
    """Serve until stopped; False when the server never started serving."""
    max_connections, spare = _fit_open_files(settings.max_connections)
    limits = HttpLimits(
        max_connections=max_connections,
        max_header_size=settings.max_header_size,
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
        keep_alive_timeout=settings.keep_alive_timeout,
        max_lingering=spare // 2,
    )
    sock = listen(settings.bind_host, settings.port)
    try:
        with asyncio.Runner(loop_factory=auto_loop_factory(use_subprocess=False)) as runner:
            return runner.run(_serve(settings, sock, limits, open_gateway))
    finally:
        sock.close()


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a StartupError saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # Listening at once claims the port; connections wait in the backlog
        # while the catalog opens.
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise StartupError(
            f"cannot listen on {where} (FILEGATE_HOST / FILEGATE_PORT): {exc.strerror or exc}"
        ) from None
    return sock


async def _serve(
    settings: Settings, sock: socket.socket, limits: HttpLimits, open_gateway: Opener
) -> bool:
    try:
        gateway = await open_gateway(settings)
    except StorageUnavailable as exc:
        url = settings.resolved_database_url
        raise StartupError(
            f"FILEGATE_DATABASE_URL ({redact_url(url)}): {_one_line(str(exc), url)}"
        ) from None
    config = uvicorn.Config(
        create_app(settings, gateway),
        http=protocol_class(limits),
        ws="none",
        log_level=settings.log_level,
        # JSON mode: uvicorn's records go through the root's JSON handler, and the
        # per-request object comes from server/front.py instead of its access log.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        # Its access lines are info records: above info none would be printed, but
        # uvicorn would still format each request's path and client for them.
        access_log=settings.log_format != "json" and settings.log_level in ("info", "debug"),
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    # uvicorn's access log prints each query string; /key/info?key=sk-... must not
    # write a secret there (uvicorn.Config has just set its loggers up).
    logging.getLogger("uvicorn.access").addFilter(RedactSecrets())
    host, port = sock.getsockname()[:2]
    log.info(
        "filegate %s on http://%s:%d (catalog: %s, storage: %s)",
        __version__,
        f"[{host}]" if ":" in host else host,
        port,
        redact_url(settings.resolved_database_url),
        settings.resolved_storage_url,
    )
    server = uvicorn.Server(config)
    # What is made so far (modules, the gateway, the app) lives as long as the process:
    # frozen, the collector's passes no longer walk it, and its youngest generation is
    # collected every 7,000 allocations rather than 700 (requests leave little cyclic
    # garbage). Retrieve on PostgreSQL with 32 clients, one run: 3,600-3,700 req/s at
    # p99 86-112 ms as before, 5,100-5,900 at p99 17-27 ms like this, 5,200-5,700 with
    # the collector off altogether.
    gc.collect()
    gc.freeze()
    gc.set_threshold(7000, 10, 10)
    await server.serve(sockets=[sock])
    return server.started


def _fit_open_files(wanted: int) -> tuple[int, int]:
    """Raise the open-file limit as far as allowed; keep connections below it.

    Returns the connections to allow and the descriptors kept spare beside them.

    Past the limit accept() fails and so does every file the gateway opens, which
    is worse than the 503s max_connections gives.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted, _SPARE_FDS
    spare = min(_SPARE_FDS, soft // 4)
    if wanted + spare <= soft:
        return wanted, spare
    fitted = max(1, soft - spare)
    log.warning(
        "max_connections %d lowered to %d: the open-file limit is %d (raise it with ulimit -n)",
        wanted,
        fitted,
        soft,
    )
    return fitted, spare


def _one_line(message: str, url: str) -> str:
    from sqlalchemy.engine import make_url

    # SQLAlchemy appends a "(Background on this error at: ...)" line.
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    line = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", line)
    try:
        password = make_url(url).password
    except Exception:
        password = None
    return line.replace(str(password), "***") if password else line
