"""A fake OpenAI-compatible model server (vLLM / Ollama-like: no Files or Batch API).

For filegate's self-run batches: it answers inference calls with deterministic bodies (see
``model_responses``), injects faults by rule, and counts what it saw, so a test can prove each
batch line was sent once and never more than N at a time.

Run it as a process (from the repository root)::

    python -m tests.fakes.model_server --port 8000 [--api-key KEY] [--latency 0.05]
        [--jitter 0.02] [--models m1,m2] [--embedding-dimensions 8] [--error-style vllm]

or build the ASGI app with :func:`create_app`. ``tests/fakes/harness.py`` starts it for tests
(``running_model_server``). A gateway's ``api_base`` is ``http://127.0.0.1:PORT/v1``.

API (``/v1``)
-------------
``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``, ``/v1/responses``
(ops ``chat``, ``completions``, ``embeddings``, ``responses``) and ``GET /v1/models``
(``models``); ``GET /health`` answers 200. With an API key configured, a ``/v1`` request
without ``Authorization: Bearer <key>`` is 401 ``{"error": "Unauthorized"}`` (vLLM's answer).
A body that is not a JSON object, or that the endpoint cannot use, is 400; a ``model`` not in
``models`` (when set) is 404; ``stream: true`` is 400 (this fake does not stream). Errors are
vLLM's ``{"error": {"message", "type": "BadRequestError", "param", "code": 400}}`` or, with
``error_style: "openai"``, OpenAI's ``{"error": {"message", "type": "invalid_request_error",
"param", "code": null}}``. An unknown path is FastAPI's 404 ``{"detail": "Not Found"}``.
Every answer carries ``x-request-id`` (unique) and ``x-body-sha256`` (the body's key below).

Admin (no auth, JSON)
---------------------
* ``GET /__admin/health`` -> ``{"ok": true}``.
* ``POST /__admin/reset`` -> clears counters, log, faults and config (to the command line's).
* ``GET /__admin/stats`` -> ``{"total", "in_flight", "max_in_flight", "by_op": {op: n},
  "by_status": {"200": n, ...}, "distinct_bodies", "repeated_bodies" (bodies seen more than
  once), "dropped", "hung"}``; ``DELETE /__admin/stats`` zeroes the counters, bodies and log
  (``max_in_flight`` restarts from the requests in flight now). Counts cover every ``/v1``
  request that got past routing, faulted or not; ``in_flight`` counts from the moment the
  request arrives until its answer is sent (or the connection is gone).
* ``GET /__admin/bodies[?min_count=N][&op=]`` -> ``{"data": [{"sha256", "op", "count",
  "statuses", "body"}]}``, first-seen order. A body's key is the SHA-256 of its canonical JSON
  (sorted keys, no spaces), so a re-serialized resend still counts as the same body.
* ``GET /__admin/requests[?op=]`` -> ``{"requests": [{"seq", "time", "op", "path", "sha256",
  "status", "fault", "in_flight", "seconds"}]}`` (the last ``log_limit``); ``DELETE`` clears.
* ``POST /__admin/faults`` (one rule or a list; see ``fault_rules``; ``match`` is a substring
  of the raw body, e.g. a custom id in a prompt) -> ``{"faults": [...]}``; ``GET`` lists,
  ``DELETE`` clears. ``status`` without ``body`` answers this server's error body for it;
  ``retry_after`` sets ``Retry-After``; ``drop`` hangs up with no answer; ``hang`` answers
  nothing until the client gives up (a timeout); ``delay`` alone adds latency.
* ``GET|POST /__admin/config`` -> ``{"config": {...}}``: ``api_key`` (null), ``latency``
  (seconds, 0), ``jitter`` (uniform extra seconds, 0), ``models`` (null = any),
  ``embedding_dimensions`` (8), ``error_style`` ("vllm" | "openai"), ``log_limit`` (10000).

The inference path is a bare ASGI callable (no router, orjson, one dict update per request) so
that a 2,000-line benchmark at zero latency measures the gateway, not the fake.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import itertools
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fakes import model_responses
from tests.fakes.calls import drop_connection
from tests.fakes.fault_rules import AdminError, FaultBook, FaultRule, admin_json, faults_admin

ROUTES = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
    "/v1/responses": "responses",
}
OPS = ("chat", "completions", "embeddings", "responses", "models")
MAX_BODY = 32 * 1024 * 1024
KEEP_BODY = 64 * 1024
VLLM_TYPES = {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError"}
VLLM_TYPES |= {500: "InternalServerError", 503: "ServiceUnavailableError"}
OPENAI_TYPES = {400: "invalid_request_error", 404: "invalid_request_error"}
OPENAI_TYPES |= {429: "requests", 500: "server_error", 503: "server_error"}
FAULT_MESSAGES = {
    429: "Too many requests; please retry later.",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
    504: "Gateway timeout.",
}
_JSON = [(b"content-type", b"application/json")]


def default_config() -> dict[str, Any]:
    return {
        "api_key": None,
        "latency": 0.0,
        "jitter": 0.0,
        "models": None,
        "embedding_dimensions": 8,
        "error_style": "vllm",
        "log_limit": 10_000,
    }


class ApiError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


class ModelServer:
    def __init__(self, config: dict[str, Any]) -> None:
        self.base_config = dict(config)
        self.config = dict(config)
        self.faults = FaultBook(OPS)
        self.in_flight = 0
        self.reset()
        self.admin_app = self._admin_app()
        self.handlers: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "chat": model_responses.chat,
            "completions": model_responses.completion,
            "responses": model_responses.response,
            "embeddings": lambda body, _digest: model_responses.embeddings(
                body, int(self.config["embedding_dimensions"])
            ),
        }

    def reset(self, *, config: bool = True) -> None:
        if config:
            self.config = dict(self.base_config)
            self.faults.clear()
        self.total = 0
        self.max_in_flight = self.in_flight
        self.by_op: collections.Counter[str] = collections.Counter()
        self.by_status: collections.Counter[str] = collections.Counter()
        self.bodies: dict[str, dict[str, Any]] = {}
        self.dropped = self.hung = 0
        self.log: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=int(self.config["log_limit"])
        )
        self._seq = itertools.count(1)

    # -- ASGI ---------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.admin_app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith("/__admin/"):
            await self.admin_app(scope, receive, send)
            return
        op = ROUTES.get(path)
        method = scope["method"]
        if path == "/v1/models" and method == "GET":
            op = "models"
        if op is None:
            if path == "/health" and method == "GET":
                await _send(send, 200, b"", [])
                return
            await _send(send, 404, b'{"detail":"Not Found"}', _JSON)
            return
        if method != ("GET" if op == "models" else "POST"):
            await _send(send, 405, b'{"detail":"Method Not Allowed"}', _JSON)
            return
        await self.api(scope, receive, send, op)

    async def api(self, scope: Scope, receive: Receive, send: Send, op: str) -> None:
        started = time.monotonic()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.total += 1
        self.by_op[op] += 1
        entry: dict[str, Any] = {
            "seq": next(self._seq),
            "time": time.time(),
            "op": op,
            "path": scope["path"],
            "sha256": None,
            "status": None,
            "fault": None,
            "in_flight": self.in_flight,
            "seconds": None,
        }
        self.log.append(entry)
        try:
            status = await self._serve(scope, receive, send, op, entry)
        finally:
            self.in_flight -= 1
            entry["seconds"] = round(time.monotonic() - started, 6)
        entry["status"] = status
        if status is not None:
            self.by_status[str(status)] += 1

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, op: str, entry: dict[str, Any]
    ) -> int | None:
        headers = _req_id_headers()
        key = self.config["api_key"]
        if key is not None and _header(scope, b"authorization") != f"Bearer {key}".encode():
            await _send(send, 401, b'{"error":"Unauthorized"}', _JSON + headers)
            return 401
        raw = await _read_body(receive)
        if raw is None:
            self.dropped += 1
            return None
        body, digest = self._count(raw, op, entry)
        headers.append((b"x-body-sha256", digest.encode()))
        fault = self.faults.take(op, raw) if self.faults.rules else None
        latency = float(self.config["latency"])
        if self.config["jitter"]:
            latency += random.uniform(0, float(self.config["jitter"]))
        if fault is not None:
            entry["fault"] = fault.id
            handled = await self._fault(scope, receive, send, fault, headers)
            if handled != -1:
                return self._status(digest, handled)
        if latency:
            await asyncio.sleep(latency)
        try:
            answer = self._answer(op, body, digest)
            status = 200
            payload = orjson.dumps(answer)
        except ApiError as err:
            status, payload = err.status, self._error_body(err.status, err.message, err.param)
        except model_responses.BadRequest as err:
            status, payload = 400, self._error_body(400, err.message, err.param)
        await _send(send, status, payload, _JSON + headers)
        return self._status(digest, status)

    def _count(self, raw: bytes, op: str, entry: dict[str, Any]) -> tuple[Any, str]:
        try:
            body = orjson.loads(raw) if raw else None
            canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONDecodeError:
            body, canonical = None, raw
        digest = hashlib.sha256(canonical).hexdigest()
        entry["sha256"] = digest
        seen = self.bodies.get(digest)
        if seen is None:
            kept = raw if len(raw) <= KEEP_BODY else raw[:KEEP_BODY]
            self.bodies[digest] = {"op": op, "count": 1, "statuses": [], "raw": kept}
        else:
            seen["count"] += 1
        return body, digest

    def _status(self, digest: str, status: int | None) -> int | None:
        if status is not None:
            self.bodies[digest]["statuses"].append(status)
        return status

    def _answer(self, op: str, body: Any, digest: str) -> dict[str, Any]:
        models = self.config["models"]
        if op == "models":
            names = models or ["fake-model"]
            now = int(time.time())
            data = [
                {"id": m, "object": "model", "created": now, "owned_by": "vllm", "root": m}
                for m in names
            ]
            return {"object": "list", "data": data}
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        model = body.get("model")
        if model is not None and not isinstance(model, str):
            raise ApiError(400, "model must be a string", "model")
        if models is not None and model not in models:
            raise ApiError(404, f"The model `{model}` does not exist.", "model")
        if body.get("stream"):
            raise ApiError(400, "stream=true is not supported by this fake server.", "stream")
        return self.handlers[op](body, digest)

    def _error_body(self, status: int, message: str, param: str | None = None) -> bytes:
        if self.config["error_style"] == "openai":
            kind = OPENAI_TYPES.get(
                status, "server_error" if status >= 500 else "invalid_request_error"
            )
            code: Any = "model_not_found" if status == 404 else None
        else:
            kind, code = VLLM_TYPES.get(status, "HTTPError"), status
        return orjson.dumps(
            {"error": {"message": message, "type": kind, "param": param, "code": code}}
        )

    async def _fault(
        self, scope: Scope, receive: Receive, send: Send, fault: FaultRule, headers: list[Any]
    ) -> int | None:
        """The status sent (None: nothing sent), or -1 to carry on normally."""
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.hang:
            self.hung += 1
            while (await receive())["type"] != "http.disconnect":
                pass
            return None
        if fault.drop:
            self.dropped += 1
            if await drop_connection(Request(scope, receive), fault.drop_mode):
                return None
            await _send(send, 500, b'{"error":"could not drop the connection"}', _JSON)
            return 500
        if fault.status is None:
            return -1
        if fault.body is None:
            message = FAULT_MESSAGES.get(fault.status, f"Injected fault: HTTP {fault.status}")
            payload = self._error_body(fault.status, message)
        else:
            payload = orjson.dumps(fault.body)
        extra = [(k.encode(), v.encode()) for k, v in fault.headers.items()]
        await _send(send, fault.status, payload, _JSON + headers + extra)
        return fault.status

    # -- admin ------------------------------------------------------------------------------
    def _admin_app(self) -> Starlette:
        async def handle(request: Request) -> Response:
            try:
                return await self._admin(request, request.path_params["action"])
            except AdminError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)

        return Starlette(
            routes=[Route("/__admin/{action}", handle, methods=["GET", "POST", "DELETE"])]
        )

    def stats(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "by_op": dict(self.by_op),
            "by_status": dict(self.by_status),
            "distinct_bodies": len(self.bodies),
            "repeated_bodies": sum(1 for b in self.bodies.values() if b["count"] > 1),
            "dropped": self.dropped,
            "hung": self.hung,
        }

    async def _admin(self, request: Request, action: str) -> Response:
        method, q = request.method, request.query_params
        if action == "health":
            return JSONResponse({"ok": True})
        if action == "reset" and method == "POST":
            self.reset()
            return JSONResponse({"ok": True})
        if action == "stats":
            if method == "DELETE":
                self.reset(config=False)
            return JSONResponse(self.stats())
        if action == "bodies":
            least = int(q.get("min_count", "1"))
            data = [
                {
                    "sha256": k,
                    "op": v["op"],
                    "count": v["count"],
                    "statuses": v["statuses"],
                    "body": _loads_or_text(v["raw"]),
                }
                for k, v in self.bodies.items()
                if v["count"] >= least and q.get("op") in (None, v["op"])
            ]
            return JSONResponse({"data": data})
        if action == "requests":
            if method == "DELETE":
                self.log.clear()
                return JSONResponse({"ok": True})
            return JSONResponse(
                {"requests": [e for e in self.log if q.get("op") in (None, e["op"])]}
            )
        if action == "faults":
            return await faults_admin(self.faults, request)
        if action == "config":
            if method == "POST":
                self._set_config(await admin_json(request))
            return JSONResponse({"config": self.config})
        return JSONResponse({"error": f"unknown admin call {method} /__admin/{action}"}, 404)

    def _set_config(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise AdminError("config must be a JSON object")
        checks: dict[str, Callable[[Any], bool]] = {
            "api_key": lambda v: v is None or (isinstance(v, str) and v != ""),
            "latency": _seconds,
            "jitter": _seconds,
            "models": lambda v: (
                v is None or (isinstance(v, list) and all(isinstance(m, str) for m in v))
            ),
            "embedding_dimensions": lambda v: isinstance(v, int) and 1 <= v <= 8192,
            "error_style": lambda v: v in ("vllm", "openai"),
            "log_limit": lambda v: isinstance(v, int) and v >= 1,
        }
        for key, value in body.items():
            check = checks.get(key)
            if check is None:
                raise AdminError(f"unknown config key {key!r}; known: {sorted(checks)}")
            if not check(value):
                raise AdminError(f"bad value for {key}: {value!r}")
        self.config.update(body)
        if "log_limit" in body:
            self.log = collections.deque(self.log, maxlen=int(body["log_limit"]))


def _seconds(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value >= 0


def _loads_or_text(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


_REQUEST_IDS = itertools.count(1)
_RUN = uuid.uuid4().hex[:16]


def _req_id_headers() -> list[tuple[bytes, bytes]]:
    # A counter under a per-process prefix: unique, and a third of uuid4's cost.
    return [(b"x-request-id", f"{_RUN}{next(_REQUEST_IDS):016x}".encode())]


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client went away first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, headers: list[Any]) -> None:
    head = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def create_app(**config: Any) -> ModelServer:
    """The fake as an ASGI callable; keyword arguments override :func:`default_config`."""
    base = default_config()
    unknown = set(config) - set(base)
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    return ModelServer(base | config)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible model server.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-key")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--models", help="comma-separated model names (default: any)")
    parser.add_argument("--embedding-dimensions", type=int, default=8)
    parser.add_argument("--error-style", choices=("vllm", "openai"), default="vllm")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    app = create_app(
        api_key=args.api_key,
        latency=args.latency,
        jitter=args.jitter,
        models=args.models.split(",") if args.models else None,
        embedding_dimensions=args.embedding_dimensions,
        error_style=args.error_style,
    )
    # httptools + uvloop (uvicorn's "auto" picks them when installed) keep per-request cost low.
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
