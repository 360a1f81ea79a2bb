"""One request to the fake upstream: auth, api-version, faults, and the providers' error shapes.

:class:`Call` is what every handler gets; :func:`json_endpoint` gates a JSON operation (batches,
fine-tuning) the way the Files handlers gate theirs: logged, authenticated, version-checked,
then the first matching fault applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from tests.fakes.state import Api, Fault, Op, Surface, UpstreamState

# --- OpenAI facts -------------------------------------------------------------------------------
OPENAI_500_MESSAGE = "The server had an error while processing your request. Sorry about that!"

# --- Azure facts --------------------------------------------------------------------------------
AZURE_V1_API_VERSIONS = frozenset({"v1", "preview"})
AZURE_CLASSIC_API_VERSIONS = frozenset(
    {
        "2022-12-01",
        "2023-05-15",
        "2024-02-01",
        "2024-06-01",
        "2024-10-21",
        "2023-03-15-preview",
        "2023-06-01-preview",
        "2023-07-01-preview",
        "2023-08-01-preview",
        "2023-09-01-preview",
        "2023-10-01-preview",
        "2023-12-01-preview",
        "2024-02-15-preview",
        "2024-03-01-preview",
        "2024-04-01-preview",
        "2024-05-01-preview",
        "2024-07-01-preview",
        "2024-08-01-preview",
        "2024-09-01-preview",
        "2024-10-01-preview",
        "2024-12-01-preview",
        "2025-01-01-preview",
        "2025-02-01-preview",
        "2025-03-01-preview",
        "2025-04-01-preview",
    }
)
AZURE_401_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)
# Status -> (code, message) for injected faults without a body; codes from the ErrorCode enum.
AZURE_FAULT_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("invalidPayload", "The request data is invalid for this operation."),
    401: ("401", AZURE_401_MESSAGE),
    403: ("forbidden", "The operation is forbidden for the current user/api key."),
    404: ("404", "Resource not found"),
    409: ("conflict", "The requested operation conflicts with the current resource state."),
    429: ("429", "Requests to the Files API have exceeded the rate limit. Please retry after 1 s."),
    500: ("internalFailure", "Internal error. Please retry."),
    503: ("serviceUnavailable", "The service is currently not available."),
}
AZURE_RESOURCE_NOT_FOUND = {"error": {"code": "404", "message": "Resource not found"}}


def azure_version_at_least(call: Call, dated: str) -> bool:
    """True on the v1 surface, or on a dated api-version from ``dated`` (``YYYY-MM-DD``) on."""
    if call.api == "azure-v1":
        return True
    return (call.api_version or "")[:10] >= dated


# =================================================================================================
# Responses and connection drops
# =================================================================================================


class NoResponse(Response):
    """Returned after a connection drop: sends nothing at all."""

    def __init__(self) -> None:
        super().__init__(status_code=599)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


async def drop_connection(request: Request, mode: str = "reset") -> bool:
    """Close the client's TCP connection without sending an HTTP response.

    uvicorn hands the app ``receive``/``send`` bound methods of its per-request
    ``RequestResponseCycle``, which holds the asyncio transport; Starlette passes ``receive``
    through unwrapped. We abort that transport (``SO_LINGER 0`` first for mode ``reset``, so the
    peer gets an RST) and wait until uvicorn has marked the cycle disconnected; the handler then
    returns :class:`NoResponse`, and uvicorn, seeing a disconnected cycle with no response
    started, sends nothing (see ``run_asgi`` in uvicorn's protocol implementations).
    Returns False when the server does not expose its transport this way.
    """
    cycle = getattr(request.receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    if mode == "reset":
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError, TypeError, ValueError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    for _ in range(400):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0.005)
    return True


def open_blob(path: Path) -> BinaryIO:
    return path.open("rb")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def openai_error_body(
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def mask_key(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


# =================================================================================================
# One API request
# =================================================================================================


class Call:
    """Per-request context: where it came in, its log entry, and response helpers."""

    def __init__(self, state: UpstreamState, request: Request, api: Api, op: Op) -> None:
        self.state = state
        self.request = request
        self.api: Api = api
        self.surface: Surface = "openai" if api == "openai" else "azure"
        self.op: Op = op
        self.file_id: str | None = request.path_params.get("file_id")
        self.entry = state.log_request(request, self.surface, api, op)
        self.api_version = request.query_params.get("api-version")

    # -- auth and versions -----------------------------------------------------------------------
    def check_auth(self) -> Response | None:
        h = self.request.headers
        auth = h.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if self.surface == "openai":
            if not auth:
                return self.openai_error(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                    "or as the password field (with blank username) if you're accessing the API "
                    "from your browser and are prompted for a username. You can obtain an API key "
                    "from https://platform.openai.com/account/api-keys.",
                )
            if bearer != self.state.openai_key:
                return self.openai_error(
                    401,
                    f"Incorrect API key provided: {mask_key(bearer or auth)}. You can find your "
                    "API key at https://platform.openai.com/account/api-keys.",
                    code="invalid_api_key",
                )
            return None
        ok = h.get("api-key") == self.state.azure_key
        ok = ok or (bearer is not None and bearer == self.state.azure_ad_token)
        ok = ok or (self.api == "azure-v1" and bearer == self.state.azure_key)
        if ok:
            return None
        return self.json(401, {"error": {"code": "401", "message": AZURE_401_MESSAGE}})

    def check_api_version(self) -> Response | None:
        if self.surface == "openai":
            return None
        version = self.api_version
        if self.api == "azure-v1":
            if version is None or version in AZURE_V1_API_VERSIONS:
                return None
        else:
            if version is None:
                return self.json(404, AZURE_RESOURCE_NOT_FOUND)
            known = AZURE_CLASSIC_API_VERSIONS | set(self.state.config["azure_extra_api_versions"])
            if version in known:
                return None
        return self.json(
            400, {"error": {"code": "BadRequest", "message": "API version not supported"}}
        )

    # -- body ------------------------------------------------------------------------------------
    async def drain(self) -> None:
        try:
            async for chunk in self.request.stream():
                self.entry["body_bytes"] += len(chunk)
        except ClientDisconnect:
            self.entry["client_disconnected"] = True
            return
        self.entry["body_complete"] = True

    async def read_body(self, limit: int = 1024 * 1024) -> bytes:
        """A small (JSON) body, counted like any other; past ``limit`` it is discarded."""
        buf = bytearray()
        try:
            async for chunk in self.request.stream():
                self.entry["body_bytes"] += len(chunk)
                if len(buf) < limit:
                    buf += chunk
        except ClientDisconnect:
            self.entry["client_disconnected"] = True
            raise
        self.entry["body_complete"] = True
        return bytes(buf)

    # -- responses -------------------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        if self.surface == "openai":
            h = {
                "x-request-id": "req_" + uuid.uuid4().hex,
                "openai-version": "2020-10-01",
                "openai-processing-ms": "1",
            }
            org = self.request.headers.get("openai-organization")
            if org:
                h["openai-organization"] = org
            return h
        return {"apim-request-id": str(uuid.uuid4())}

    def finish(self, response: Response) -> Response:
        self.entry["status"] = response.status_code
        return response

    def json(self, status: int, body: Any, extra: dict[str, str] | None = None) -> Response:
        return self.finish(json_response(status, body, {**self.headers(), **(extra or {})}))

    def openai_error(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> Response:
        return self.json(status, openai_error_body(message, type_=type_, param=param, code=code))

    def azure_error(
        self, status: int, code: str, message: str, *, param: str | None = None
    ) -> Response:
        """Azure error body: classic data plane ``{code, message}`` (as observed on
        ``/openai/files``); v1 adds ``param``, ``type`` and ``inner_error`` (AzureErrorResponse)."""
        err: dict[str, Any] = {"code": code, "message": message}
        if self.api == "azure-v1":
            err.update(
                {"param": param, "type": "invalid_request_error", "inner_error": {"code": code}}
            )
        return self.json(status, {"error": err})

    def invalid(
        self, message: str, *, param: str | None = None, code: str | None = None
    ) -> Response:
        """A 400 validation error in this surface's shape."""
        if self.surface == "openai":
            return self.openai_error(400, message, param=param, code=code)
        return self.azure_error(400, "invalidPayload", message, param=param)

    def not_found(self, file_id: str, *, param: str = "id") -> Response:
        if self.surface == "openai":
            return self.openai_error(404, f"No such File object: {file_id}", param=param)
        return self.azure_error(
            404, "notFound", f"File with id '{file_id}' not found.", param=param
        )

    def resource_not_found(self) -> Response:
        """What a surface answers for a route it does not have (Azure: by api-version)."""
        if self.surface == "openai":
            path = self.request.url.path
            return self.openai_error(404, f"Invalid URL ({self.request.method} {path})")
        return self.json(404, AZURE_RESOURCE_NOT_FOUND)

    def fault_response(self, fault: Fault) -> Response:
        status = cast(int, fault.status)
        body = fault.body
        if body is None:
            if self.surface == "openai":
                if status >= 500:
                    body = openai_error_body(OPENAI_500_MESSAGE, type_="server_error")
                elif status == 429:
                    body = openai_error_body(
                        "Rate limit reached for requests. Please try again in 1s.",
                        type_="requests",
                        code="rate_limit_exceeded",
                    )
                else:
                    body = openai_error_body(f"Injected fault: HTTP {status}")
            else:
                code, message = AZURE_FAULT_DEFAULTS.get(
                    status, (str(status), f"Injected fault: HTTP {status}")
                )
                body = {"error": {"code": code, "message": message}}
        return self.json(status, body, fault.headers)

    async def drop(self, fault: Fault) -> Response:
        self.entry["dropped"] = True
        if await drop_connection(self.request, fault.drop_mode):
            return NoResponse()
        self.entry["dropped"] = False  # not under uvicorn: fall back to an error response
        return self.json(500, {"error": "fake upstream could not drop this connection"})


async def apply_fault(call: Call, fault: Fault | None) -> Response | None:
    """A fault once the body is in: sleep its delay, then drop, or answer its status, or None
    (carry on)."""
    if fault is None:
        return None
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.drop:
        return await call.drop(fault)
    if fault.status is not None:
        return call.fault_response(fault)
    return None


# =================================================================================================
# JSON endpoints (batches, fine-tuning)
# =================================================================================================

JsonHandler = Callable[["JsonCall"], Awaitable[Response]]


class JsonCall(Call):
    """A call whose (small) body, if any, has been read and parsed: ``body`` is the JSON object,
    or None for a request without one; ``bad_body`` says why a body could not be parsed."""

    body: dict[str, Any] | None = None
    bad_body: str | None = None

    def parse_body(self, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            parsed = json.loads(raw)
        except ValueError:
            self.bad_body = "We could not parse the JSON body of your request."
            return
        if not isinstance(parsed, dict):
            self.bad_body = "The JSON body must be an object."
            return
        self.body = parsed
        self.entry["json"] = parsed


def json_endpoint(
    state: UpstreamState,
    api: Api,
    op: Op,
    handler: JsonHandler,
    *,
    available: Callable[[Call], bool] | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint for a JSON operation, gated like every other provider request:
    logged, authenticated, version-checked (``available`` says whether this api-version has the
    route at all), then the first matching fault (delay, drop, or status) is applied."""

    async def endpoint(request: Request) -> Response:
        call = JsonCall(state, request, api, op)
        try:
            problem = call.check_auth() or call.check_api_version()
            if problem is None and available is not None and not available(call):
                problem = call.resource_not_found()
            if problem is not None:
                await call.drain()
                return problem
            fault = state.take_fault(op, call.surface)
            if fault is not None:
                call.entry["fault"] = fault.describe()
                if fault.drop and fault.delay == 0:
                    return await call.drop(fault)  # hang up before reading the body
            call.parse_body(await call.read_body())
            faulted = await apply_fault(call, fault)
            if faulted is not None:
                return faulted
            if call.bad_body is not None:
                return call.invalid(call.bad_body)
            return await handler(call)
        except ClientDisconnect:
            call.entry["client_disconnected"] = True
            return NoResponse()

    return endpoint
