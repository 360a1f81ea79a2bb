"""The Batches routes (OpenAI's Batch API): thin glue between HTTP and the BatchService.

Served under the same prefixes as files (``/v1/batches``, ``/batches``, and both under a
provider prefix, ``/openai/v1/batches``), a provider prefix choosing where a batch runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from filegate.core.batches import (
    BatchRequest,
    parse_batch_after,
    parse_batch_limit,
    parse_output_expires_after,
)
from filegate.errors import InvalidRequest
from filegate.records import BatchQuery
from filegate.server.models.batches import CreateBatchRequest
from filegate.server.request import Call, open_call, read_object, validate_body
from filegate.server.responses import JSONResponse

if TYPE_CHECKING:
    from filegate.core.batches import BatchService

LIST_PARAMS = ("after", "limit")
BODY_HINT = "'input_file_id', 'endpoint' and 'completion_window'"
_ROUTING = ("custom_llm_provider", "model", "target_model_names")


def _service(request: Request) -> BatchService:
    service: BatchService = request.app.state.gateway.batches
    return service


def _routing(call: Call, body: CreateBatchRequest) -> dict[str, str]:
    options = dict(call.options)
    for name in _ROUTING:
        value = getattr(body, name)
        if not value:
            continue
        sent = options.get(name)
        if sent and sent != value:
            raise InvalidRequest(
                f"The body's {name} and the request's {name} (query or header) differ.",
                param=name,
                code="provider_mismatch",
            )
        options[name] = value
    return options


async def create_batch(request: Request) -> Response:
    call = await open_call(request)
    body = validate_body(CreateBatchRequest, await read_object(request, BODY_HINT))
    expiry = None
    if body.output_expires_after is not None:
        spec = body.output_expires_after
        expiry = parse_output_expires_after(spec.anchor, spec.seconds)
    key_cap, team_cap = call.principal.batch_caps()
    record = await _service(request).create(
        call.scope,
        BatchRequest(
            input_file_id=body.input_file_id,
            endpoint=body.endpoint,
            completion_window=body.completion_window,
            metadata=body.metadata,
            output_expires_after=expiry,
        ),
        options=_routing(call, body),
        path_provider=call.path_provider,
        key_cap=key_cap,
        team_cap=team_cap,
    )
    await call.tenants.audit(
        call.principal,
        "batch.create",
        record.id,
        None,
        {"input_file_id": record.input_file_id, "deployment": record.deployment},
    )
    return JSONResponse(record.to_openai())


async def list_batches(request: Request) -> Response:
    call = await open_call(request, LIST_PARAMS)
    query = BatchQuery(
        limit=parse_batch_limit(call.options.get("limit")),
        after=parse_batch_after(call.options.get("after")),
        provider=call.targets.list_provider(call.options, call.path_provider),
    )
    page = await _service(request).page(call.scope, query)
    return JSONResponse(page.to_openai())


async def retrieve_batch(request: Request) -> Response:
    call = await open_call(request)
    record = await _service(request).get(call.scope, request.path_params["batch_id"])
    return JSONResponse(record.to_openai())


async def cancel_batch(request: Request) -> Response:
    call = await open_call(request)
    record = await _service(request).cancel(call.scope, request.path_params["batch_id"])
    await call.tenants.audit(call.principal, "batch.cancel", record.id)
    return JSONResponse(record.to_openai())


def routes() -> list[Route]:
    """``/v1/batches``, ``/batches`` and both under every provider prefix."""
    out: list[Route] = []
    for prefix in ("/v1", "", "/{provider:provider}/v1", "/{provider:provider}"):
        out += [
            Route(f"{prefix}/batches", create_batch, methods=["POST"]),
            Route(f"{prefix}/batches", list_batches, methods=["GET"]),
            Route(f"{prefix}/batches/{{batch_id}}", retrieve_batch, methods=["GET"]),
            Route(f"{prefix}/batches/{{batch_id}}/cancel", cancel_batch, methods=["POST"]),
        ]
    return out
