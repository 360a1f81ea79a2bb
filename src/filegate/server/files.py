"""The /v1/files routes: thin glue between HTTP and the FileService."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from python_multipart.multipart import parse_options_header
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from filegate.core.params import (
    parse_expires_after,
    parse_limit,
    parse_order,
    parse_purpose,
)
from filegate.core.service import FileService, PendingUpload
from filegate.core.targets import is_routing_field, resolve_target
from filegate.errors import InvalidRequest, PayloadTooLarge
from filegate.records import FileRecord, ListQuery, Scope
from filegate.server.multipart import MultipartReader
from filegate.server.ranges import parse_range
from filegate.server.responses import JSONResponse, content_disposition

if TYPE_CHECKING:
    from filegate.server.app import Gateway

# Room for the form's other fields and boundaries around the file itself.
FORM_OVERHEAD = 1024 * 1024
CREATE_FIELDS = ("purpose", "expires_after[anchor]", "expires_after[seconds]")
LIST_PARAMS = ("purpose", "limit", "order", "after")


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _authorize(request: Request) -> tuple[FileService, Scope]:
    gateway = _gateway(request)
    return gateway.service, gateway.authenticate(request)


def _routing(request: Request, allowed: tuple[str, ...] = ()) -> dict[str, str]:
    """Check the query string: the operation's own parameters plus routing ones."""
    options: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed and not is_routing_field(name):
            raise InvalidRequest(
                f"Unrecognized request argument supplied: {name[:64]}",
                param=name[:64],
                code="unknown_parameter",
            )
        options[name] = value
    header = request.headers.get("custom-llm-provider")
    if header and "custom_llm_provider" not in options:
        options["custom_llm_provider"] = header
    resolve_target(options)
    return options


async def create_file(request: Request) -> Response:
    service, scope = _authorize(request)
    options = _routing(request)
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise InvalidRequest(
            "Expected a multipart/form-data body with 'file' and 'purpose'.",
            code="invalid_content_type",
        )
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > service.max_file_size + FORM_OVERHEAD:
        raise PayloadTooLarge(
            f"File is larger than the {service.max_file_size}-byte limit.", param="file"
        )
    reader = MultipartReader(request.stream(), boundary.decode("latin-1"))
    fields: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        upload: PendingUpload | None = None
        while (part := await reader.next_part()) is not None:
            if part.name == "file":
                if upload is not None:
                    raise InvalidRequest("Only one 'file' may be sent per request.", param="file")
                if part.filename is None:
                    raise InvalidRequest(
                        "'file' must be a file upload, not a text field.", param="file"
                    )
                # Check what has arrived so far before reading any bytes.
                purpose = parse_purpose(fields["purpose"]) if "purpose" in fields else None
                resolve_target({**options, **fields})
                upload = await stack.enter_async_context(
                    service.upload(
                        scope,
                        filename=part.filename,
                        content_type=part.content_type,
                        purpose=purpose,
                    )
                )
                await upload.write(reader.iter_data())
                continue
            if part.name not in CREATE_FIELDS and not is_routing_field(part.name):
                raise InvalidRequest(
                    f"Unrecognized request argument supplied: {part.name[:64]}",
                    param=part.name[:64],
                    code="unknown_parameter",
                )
            if part.name in fields:
                raise InvalidRequest(
                    f"The field {part.name[:64]!r} was sent twice.", param=part.name[:64]
                )
            fields[part.name] = await reader.read_field(part.name)
        purpose = parse_purpose(fields.get("purpose"))
        expires = parse_expires_after(
            fields.get("expires_after[anchor]"), fields.get("expires_after[seconds]")
        )
        resolve_target({**options, **fields})
        if upload is None:
            raise InvalidRequest(
                "Missing required parameter: 'file'.",
                param="file",
                code="missing_required_parameter",
            )
        record = await upload.finish(purpose, expires)
    return JSONResponse(record.to_openai())


async def list_files(request: Request) -> Response:
    service, scope = _authorize(request)
    options = _routing(request, LIST_PARAMS)
    after = options.get("after") or None
    query = ListQuery(
        scope=scope,
        limit=parse_limit(options.get("limit")),
        order=parse_order(options.get("order")),
        after=after,
        purpose=options.get("purpose") or None,
    )
    page = await service.page(query)
    return JSONResponse(page.to_openai())


async def retrieve_file(request: Request) -> Response:
    service, scope = _authorize(request)
    _routing(request)
    record = await service.get(scope, request.path_params["file_id"])
    return JSONResponse(record.to_openai())


async def delete_file(request: Request) -> Response:
    service, scope = _authorize(request)
    _routing(request)
    record = await service.delete(scope, request.path_params["file_id"])
    return JSONResponse({"id": record.id, "object": "file", "deleted": True})


def _etag(record: FileRecord) -> str:
    return f'"{record.sha256}"'


async def file_content(request: Request) -> Response:
    service, scope = _authorize(request)
    _routing(request)
    record = await service.get(scope, request.path_params["file_id"])
    etag = _etag(record)
    headers = {
        "Content-Disposition": content_disposition(record.filename),
        "X-Content-Type-Options": "nosniff",
        "ETag": etag,
        "Accept-Ranges": "bytes",
    }
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and (if_none_match.strip() == "*" or etag in if_none_match):
        return Response(status_code=304, headers=headers)
    if_range = request.headers.get("if-range")
    byte_range = None
    if if_range is None or if_range.strip() == etag:
        byte_range = parse_range(request.headers.get("range"), record.bytes)
    stream = await service.open(record, byte_range)
    status = 200
    length = record.bytes
    if byte_range is not None:
        status = 206
        length = byte_range.length
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{record.bytes}"
    headers["Content-Length"] = str(length)
    return StreamingResponse(
        stream, status_code=status, headers=headers, media_type=record.content_type
    )


def routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/files", create_file, methods=["POST"]),
        Route(f"{prefix}/files", list_files, methods=["GET"]),
        Route(f"{prefix}/files/{{file_id}}", retrieve_file, methods=["GET"]),
        Route(f"{prefix}/files/{{file_id}}", delete_file, methods=["DELETE"]),
        Route(f"{prefix}/files/{{file_id}}/content", file_content, methods=["GET"]),
    ]
