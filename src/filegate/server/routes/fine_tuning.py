"""The fine-tuning jobs routes (OpenAI's API): thin glue between HTTP and the service.

Served under the same prefixes as files (``/v1/fine_tuning/jobs``, ``/fine_tuning/jobs``,
and both under a provider prefix), a provider prefix choosing where a job runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from filegate.core.fine_tuning import (
    CHECKPOINTS_DEFAULT,
    EVENTS_DEFAULT,
    FineTuningRequest,
    parse_cursor,
    parse_job_after,
    parse_limit,
)
from filegate.core.params import check_text
from filegate.errors import InvalidRequest
from filegate.providers.base import ProviderItems
from filegate.records import FineTuningQuery
from filegate.server.models.fine_tuning import CreateFineTuningJobRequest
from filegate.server.request import Call, open_call, read_object, validate_body
from filegate.server.responses import JSONResponse

if TYPE_CHECKING:
    from filegate.core.fine_tuning import FineTuningService

LIST_PARAMS = ("after", "limit")
BODY_HINT = "'model' and 'training_file'"
PASSED_ON = ("hyperparameters", "suffix", "seed", "integrations")
_ROUTING = ("custom_llm_provider", "target_model_names")


def _service(request: Request) -> FineTuningService:
    service: FineTuningService = request.app.state.gateway.fine_tuning
    return service


def _routing(call: Call, body: CreateFineTuningJobRequest) -> dict[str, str]:
    # The body's ``model`` is the base model here, never a deployment name.
    options = {k: v for k, v in call.options.items() if k != "model"}
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


def _request(body: CreateFineTuningJobRequest) -> FineTuningRequest:
    extra: dict[str, Any] = {
        name: getattr(body, name) for name in PASSED_ON if getattr(body, name) is not None
    }
    if body.method is not None:
        extra["method"] = body.method.model_dump(exclude_none=True)
    return FineTuningRequest(
        model=body.model,
        training_file=body.training_file,
        validation_file=body.validation_file,
        metadata=body.metadata,
        extra=extra,
    )


async def create_job(request: Request) -> Response:
    call = await open_call(request)
    body = validate_body(CreateFineTuningJobRequest, await read_object(request, BODY_HINT))
    key_cap, team_cap = call.principal.fine_tuning_caps()
    record = await _service(request).create(
        call.scope,
        _request(body),
        options=_routing(call, body),
        path_provider=call.path_provider,
        key_cap=key_cap,
        team_cap=team_cap,
    )
    await call.tenants.audit(
        call.principal,
        "fine_tuning.create",
        record.id,
        None,
        {"training_file": record.training_file, "deployment": record.deployment},
    )
    return JSONResponse(record.to_openai())


def _metadata_filter(request: Request) -> tuple[tuple[tuple[str, str], ...], bool, list[str]]:
    """``metadata[k]=v`` pairs (all must match) and ``metadata=null`` (only jobs without)."""
    pairs: dict[str, str] = {}
    none = False
    names: list[str] = []
    for key, value in request.query_params.multi_items():
        if key == "metadata":
            if value != "null":
                raise InvalidRequest(
                    "Invalid value for 'metadata': filter with metadata[key]=value, or "
                    "metadata=null for jobs without metadata.",
                    param="metadata",
                    code="invalid_value",
                )
            none = True
            names.append(key)
        elif key.startswith("metadata[") and key.endswith("]"):
            name = check_text("metadata", key[len("metadata[") : -1])
            pairs[name] = check_text("metadata", value)
            names.append(key)
    if none and pairs:
        raise InvalidRequest(
            "Give metadata[key]=value pairs or metadata=null, not both.",
            param="metadata",
            code="invalid_value",
        )
    return tuple(pairs.items()), none, names


async def list_jobs(request: Request) -> Response:
    pairs, none, names = _metadata_filter(request)
    call = await open_call(request, (*LIST_PARAMS, *names))
    query = FineTuningQuery(
        limit=parse_limit(call.options.get("limit")),
        after=parse_job_after(call.options.get("after")),
        provider=call.targets.list_provider(call.options, call.path_provider),
        metadata=pairs,
        no_metadata=none,
    )
    page = await _service(request).page(call.scope, query)
    return JSONResponse(page.to_openai())


async def retrieve_job(request: Request) -> Response:
    call = await open_call(request)
    record = await _service(request).get(call.scope, request.path_params["fine_tuning_job_id"])
    return JSONResponse(record.to_openai())


async def _act(request: Request, action: str) -> Response:
    call = await open_call(request)
    service = _service(request)
    job_id = request.path_params["fine_tuning_job_id"]
    if action == "cancel":
        record = await service.cancel(call.scope, job_id)
    elif action == "pause":
        record = await service.pause(call.scope, job_id)
    else:
        record = await service.resume(call.scope, job_id)
    await call.tenants.audit(call.principal, f"fine_tuning.{action}", record.id)
    return JSONResponse(record.to_openai())


async def cancel_job(request: Request) -> Response:
    return await _act(request, "cancel")


async def pause_job(request: Request) -> Response:
    return await _act(request, "pause")


async def resume_job(request: Request) -> Response:
    return await _act(request, "resume")


def _page(items: ProviderItems, *, with_ids: bool) -> dict[str, object]:
    out: dict[str, object] = {"object": "list", "data": items.data}
    if with_ids:
        out["first_id"] = items.data[0].get("id") if items.data else None
        out["last_id"] = items.data[-1].get("id") if items.data else None
    out["has_more"] = items.has_more
    return out


async def list_events(request: Request) -> Response:
    call = await open_call(request, LIST_PARAMS)
    items = await _service(request).events(
        call.scope,
        request.path_params["fine_tuning_job_id"],
        after=parse_cursor(call.options.get("after")),
        limit=parse_limit(call.options.get("limit"), EVENTS_DEFAULT),
    )
    return JSONResponse(_page(items, with_ids=False))


async def list_checkpoints(request: Request) -> Response:
    call = await open_call(request, LIST_PARAMS)
    items = await _service(request).checkpoints(
        call.scope,
        request.path_params["fine_tuning_job_id"],
        after=parse_cursor(call.options.get("after")),
        limit=parse_limit(call.options.get("limit"), CHECKPOINTS_DEFAULT),
    )
    return JSONResponse(_page(items, with_ids=True))


def routes() -> list[Route]:
    """``/v1/fine_tuning/jobs``, ``/fine_tuning/jobs`` and both under every provider prefix."""
    out: list[Route] = []
    for prefix in ("/v1", "", "/{provider:provider}/v1", "/{provider:provider}"):
        base = f"{prefix}/fine_tuning/jobs"
        one = f"{base}/{{fine_tuning_job_id}}"
        out += [
            Route(base, create_job, methods=["POST"]),
            Route(base, list_jobs, methods=["GET"]),
            Route(one, retrieve_job, methods=["GET"]),
            Route(f"{one}/cancel", cancel_job, methods=["POST"]),
            Route(f"{one}/pause", pause_job, methods=["POST"]),
            Route(f"{one}/resume", resume_job, methods=["POST"]),
            Route(f"{one}/events", list_events, methods=["GET"]),
            Route(f"{one}/checkpoints", list_checkpoints, methods=["GET"]),
        ]
    return out
