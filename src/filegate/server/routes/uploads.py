"""The /v1/uploads routes (OpenAI's Uploads API): thin glue to UploadService."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from filegate.core.files.uploads import MAX_PART_BYTES
from filegate.core.params import parse_expires_after, parse_purpose
from filegate.errors import InvalidRequest, PayloadTooLarge
from filegate.server.models.uploads import CompleteUpload, CreateUpload
from filegate.server.multipart import FORM_OVERHEAD, MultipartReader, form_boundary
from filegate.server.request import Call, open_call, read_json, strict
from filegate.server.responses import JSONResponse

if TYPE_CHECKING:
    from filegate.core.gateway import Gateway


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def create_upload(request: Request) -> Response:
    call = await open_call(request)
    body = await read_json(request, CreateUpload)
    purpose = parse_purpose(body.purpose)
    call.principal.check_purpose(purpose)
    expires = None
    if body.expires_after is not None:
        expires = parse_expires_after(body.expires_after.anchor, body.expires_after.seconds)
    routing = {
        k: v
        for k, v in (
            ("custom_llm_provider", body.custom_llm_provider),
            ("model", body.model),
            ("target_model_names", body.target_model_names),
        )
        if v
    }
    targets = call.resolve(routing)
    await call.tenants.check_rate(call.principal, "upload_rpm")
    gateway = _gateway(request)
    upload = await gateway.uploads.create(
        call.scope,
        filename=body.filename,
        purpose=purpose,
        nbytes=body.bytes,
        mime_type=body.mime_type,
        expires_after=expires,
        targets=targets,
        max_size=call.principal.max_file_size(gateway.settings.max_upload_size),
    )
    return JSONResponse(upload.to_openai())


async def add_part(request: Request) -> Response:
    call = await open_call(request)
    upload_id = request.path_params["upload_id"]
    boundary = form_boundary(request.headers.get("content-type", ""), "the part in 'data'")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_PART_BYTES + FORM_OVERHEAD:
        raise PayloadTooLarge(f"A part can hold at most {MAX_PART_BYTES} bytes.", param="data")
    reader = MultipartReader(request.stream(), boundary)
    uploads = _gateway(request).uploads
    part = None
    while (field := await reader.next_part()) is not None:
        strict(field.name, ("data",))
        if part is not None:
            raise InvalidRequest("Only one 'data' part may be sent per request.", param="data")
        part = await uploads.add_part(call.scope, upload_id, reader.iter_data())
    if part is None:
        raise InvalidRequest(
            "Missing required parameter: 'data'.", param="data", code="missing_required_parameter"
        )
    return JSONResponse(part.to_openai())


async def complete_upload(request: Request) -> Response:
    call = await open_call(request)
    body = await read_json(request, CompleteUpload)
    gateway = _gateway(request)
    upload = await gateway.uploads.get(call.scope, request.path_params["upload_id"])
    targets = [gateway.targets.named(name) for name in upload.targets]
    upload, record = await gateway.uploads.complete(
        call.scope,
        upload.id,
        body.part_ids,
        body.md5,
        targets=targets,
        quota=call.principal.quota(),
    )
    await call.tenants.audit(
        call.principal,
        "file.create",
        record.id,
        record.bytes,
        {"purpose": record.purpose, "upload_id": upload.id},
    )
    return JSONResponse(upload.to_openai(record))


async def cancel_upload(request: Request) -> Response:
    call: Call = await open_call(request)
    upload = await _gateway(request).uploads.cancel(call.scope, request.path_params["upload_id"])
    return JSONResponse(upload.to_openai())


def routes() -> list[Route]:
    out: list[Route] = []
    for prefix in ("/v1", "", "/{provider:provider}/v1", "/{provider:provider}"):
        out += [
            Route(f"{prefix}/uploads", create_upload, methods=["POST"]),
            Route(f"{prefix}/uploads/{{upload_id}}/parts", add_part, methods=["POST"]),
            Route(f"{prefix}/uploads/{{upload_id}}/complete", complete_upload, methods=["POST"]),
            Route(f"{prefix}/uploads/{{upload_id}}/cancel", cancel_upload, methods=["POST"]),
        ]
    return out


__all__ = ["routes"]
