"""The Files routes: thin glue between HTTP and the FileService.

Each route also answers under a provider prefix (``/openai/v1/files``,
``/azure/files``, ...), LiteLLM's way of choosing where a file goes.
"""

from __future__ import annotations

import orjson
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from filegate.core.files.requests import CreateFields, CreateFile, FileChoice
from filegate.core.files.service import not_found
from filegate.core.params import (
    parse_after,
    parse_limit,
    parse_list_purpose,
    parse_order,
)
from filegate.core.targets import KNOWN_PROVIDERS, Target
from filegate.errors import InvalidRequest, PermissionDenied
from filegate.records import FileRecord, ListQuery
from filegate.server.models.files import INCLUDES
from filegate.server.multipart import FORM_OVERHEAD, MultipartReader, Part, form_boundary
from filegate.server.ranges import parse_range
from filegate.server.request import Call, declared_length, open_call, strict
from filegate.server.responses import JSONResponse, content_disposition

# ``expires_after`` as one JSON part is how clients generated from OpenAI's spec
# send it; the openai SDK sends the two bracketed fields.
CREATE_FIELDS = ("purpose", "expires_after[anchor]", "expires_after[seconds]", "expires_after")
LIST_PARAMS = ("purpose", "limit", "order", "after", "passthrough", "include")
RETRIEVE_PARAMS = ("include",)


class ProviderConvertor(Convertor[str]):
    regex = "|".join(KNOWN_PROVIDERS)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("provider", ProviderConvertor())


class FileIdConvertor(Convertor[str]):
    # One path segment, or a GCS object id (gs://bucket/object, slashes and all:
    # clients send them %2F-encoded, and the server decodes before routing).
    regex = "gs://[^/]+/.+|[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("file_id", FileIdConvertor())


async def create_file(request: Request) -> Response:
    """The form is read as it streams: one resolved request, one service call.

    Fields sent before the file part are resolved and checked when it starts,
    before a byte of it is read; those after it once the body has ended.
    """
    call = await open_call(request)
    boundary = form_boundary(request.headers.get("content-type", ""), "'file' and 'purpose'")
    declared = declared_length(request)
    # Checked from the headers, before a byte of the body is read.
    call.principal.check_declared_size(declared, call.service.max_file_size, FORM_OVERHEAD)
    await call.tenants.check_rate(call.principal, "upload_rpm")
    form = CreateFields(call.principal, call.routing, call.service.max_file_size)
    reader = MultipartReader(request.stream(), boundary)
    fields = _Fields()
    part = await fields.until_file(reader)
    if part is None:
        form.complete(fields.values)  # a missing or bad field is named before the file
        raise InvalidRequest(
            "Missing required parameter: 'file'.",
            param="file",
            code="missing_required_parameter",
        )
    if part.filename is None:
        raise InvalidRequest("'file' must be a file upload, not a text field.", param="file")
    chosen = form.so_far(fields.values)

    async def rest() -> FileChoice:
        nonlocal chosen
        if await fields.until_file(reader) is not None:
            raise InvalidRequest("Only one 'file' may be sent per request.", param="file")
        chosen = form.complete(fields.values)
        return chosen

    record = await call.service.create(
        CreateFile(
            call.scope,
            part.filename,
            part.content_type,
            chosen,
            max_size=form.max_size,
            quota=form.quota,
        ),
        reader.iter_data(),
        size_hint=lambda: reader.size_hint(declared),
        rest=rest,
    )
    await call.tenants.audit(
        call.principal,
        "file.create",
        record.id,
        record.bytes,
        {"purpose": record.purpose, "targets": [t.deployment for t in chosen.targets]},
    )
    return JSONResponse(record.to_openai())


class _Fields:
    """A create form's text fields, read up to the file part or the end."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self._seen: set[str] = set()

    async def until_file(self, reader: MultipartReader) -> Part | None:
        """Read fields up to the next part named ``file`` (None: the body ended)."""
        while (part := await reader.next_part()) is not None:
            if part.name == "file":
                return part
            await self._take(reader, part)
        return None

    async def _take(self, reader: MultipartReader, part: Part) -> None:
        fields = self.values
        strict(part.name, CREATE_FIELDS, routing=True)
        if part.name.startswith("expires_after[") and "expires_after" in self._seen:
            raise InvalidRequest(
                "Send expires_after either as JSON or as "
                "expires_after[anchor] and expires_after[seconds], "
                "not both.",
                param="expires_after",
            )
        self._seen.add(part.name)
        if part.name in fields:
            raise InvalidRequest(
                f"The field {part.name[:64]!r} was sent twice.", param=part.name[:64]
            )
        fields[part.name] = await reader.read_field(part.name)
        if part.name == "expires_after":
            _split_expires_after(fields)


def _split_expires_after(fields: dict[str, str]) -> None:
    """Turn a JSON ``expires_after`` part into the two bracketed fields."""
    if "expires_after[anchor]" in fields or "expires_after[seconds]" in fields:
        raise InvalidRequest(
            "Send expires_after either as JSON or as expires_after[anchor] "
            "and expires_after[seconds], not both.",
            param="expires_after",
        )
    try:
        doc = orjson.loads(fields.pop("expires_after"))
    except orjson.JSONDecodeError:
        doc = None
    # OpenAI's spec requires both: {} or one of them alone is no expiry.
    if not isinstance(doc, dict) or set(doc) != {"anchor", "seconds"}:
        raise InvalidRequest(
            'expires_after must be {"anchor": "created_at", "seconds": N}.',
            param="expires_after",
            code="invalid_value",
        )
    for name in ("anchor", "seconds"):
        fields[f"expires_after[{name}]"] = str(doc[name])


async def list_files(request: Request) -> Response:
    call = await open_call(request, LIST_PARAMS)
    options = call.options
    limit = parse_limit(options.get("limit"))
    order = parse_order(options.get("order"))
    purpose = parse_list_purpose(options.get("purpose"))
    passthrough = options.get("passthrough", "false").lower()
    if passthrough not in ("true", "false", "1", "0"):
        raise InvalidRequest(
            "Invalid value for 'passthrough': expected true or false.",
            param="passthrough",
            code="invalid_value",
        )
    locations = _include_locations(options)
    if passthrough in ("true", "1"):
        if locations:
            raise _raw_include()
        # Only what the client sent is forwarded; the provider keeps its own defaults.
        return await _raw_list(
            call,
            limit=limit if "limit" in options else None,
            order=order if "order" in options else None,
            # The provider's own id: only the provider can judge it.
            after=options.get("after") or None,
            purpose=purpose,
        )
    provider = call.targets.list_provider(options, call.path_provider)
    query = ListQuery(
        scope=call.scope,
        limit=limit,
        order=order,
        after=parse_after(options.get("after")),
        purpose=purpose,
        provider=provider,
    )
    page = await call.service.page(query)
    return JSONResponse(page.to_openai(locations=locations))


def _include_locations(options: dict[str, str]) -> bool:
    """Whether ``include`` asks for ``locations`` (a comma-separated list; nothing else yet)."""
    if "include" not in options:
        return False
    asked = [name.strip() for name in options["include"].split(",")]
    for name in asked:
        if name not in INCLUDES:
            raise InvalidRequest(
                f"Invalid value for 'include': {name[:32]!r}. Expected 'locations'.",
                param="include",
                code="invalid_value",
            )
    return True


def _raw_include() -> InvalidRequest:
    return InvalidRequest(
        "include=locations describes files in filegate's catalog, not a provider's own.",
        param="include",
        code="invalid_value",
    )


async def _raw_list(
    call: Call, *, limit: int | None, order: str | None, after: str | None, purpose: str | None
) -> Response:
    """The provider's own listing (files made outside filegate): the master key only."""
    if not call.scope.is_admin:
        raise PermissionDenied(
            "passthrough=true lists a provider's own files and needs the master key.",
            param="passthrough",
        )
    target = call.raw_target()
    if target is None:
        raise InvalidRequest(
            "passthrough=true needs a provider (custom_llm_provider or a "
            "/{provider}/v1/files path).",
            param="passthrough",
        )
    page = await call.service.raw_list(
        target, purpose=purpose, limit=limit, order=order, after=after
    )
    data = [f.raw or {"id": f.id} for f in page.data]
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": page.has_more,
        }
    )


def _raw_target(call: Call, file_id: str) -> Target:
    """A provider's own id is for the master key alone; others learn nothing."""
    target = call.raw_target() if call.scope.is_admin else None
    if target is None:
        raise not_found(file_id)
    return target


async def retrieve_file(request: Request) -> Response:
    call = await open_call(request, RETRIEVE_PARAMS)
    file_id = request.path_params["file_id"]
    locations = _include_locations(call.options)
    if not call.service.is_own_id(file_id):
        target = _raw_target(call, file_id)
        if locations:
            raise _raw_include()
        remote = await call.service.raw_retrieve(target, file_id)
        return JSONResponse(remote.raw or {"id": remote.id})
    record = await call.service.get(call.scope, file_id)
    return JSONResponse(record.to_openai(locations=locations))


async def delete_file(request: Request) -> Response:
    call = await open_call(request)
    file_id = request.path_params["file_id"]
    if call.service.is_own_id(file_id):
        record = await call.service.delete(call.scope, file_id)
        file_id = record.id
        nbytes: int | None = record.bytes
    else:
        await call.service.raw_delete(_raw_target(call, file_id), file_id)
        nbytes = None
    await call.tenants.audit(call.principal, "file.delete", file_id, nbytes)
    return JSONResponse({"id": file_id, "object": "file", "deleted": True})


def _etag(record: FileRecord) -> str:
    # The bytes under a file id never change, so the id is a strong validator
    # too, for files whose bytes filegate did not hash (kept at a provider).
    return f'"{record.sha256 or record.id}"'


async def file_content(request: Request) -> Response:
    call = await open_call(request)
    file_id = request.path_params["file_id"]
    if not call.service.is_own_id(file_id):
        return await _raw_content(call, request, file_id)
    record = await call.service.get(call.scope, file_id)
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
    opened = await call.service.open(record, byte_range)
    await call.tenants.audit(call.principal, "file.download", record.id, opened.length)
    if opened.content_range is not None:
        headers["Content-Range"] = opened.content_range
    if opened.length is not None:
        headers["Content-Length"] = str(opened.length)
    return StreamingResponse(
        opened.stream,
        status_code=206 if opened.content_range is not None else 200,
        headers=headers,
        media_type=record.content_type,
    )


async def _raw_content(call: Call, request: Request, file_id: str) -> Response:
    target = _raw_target(call, file_id)
    # The size is unknown until the provider answers; a range is passed on as sent.
    header = request.headers.get("range")
    byte_range = parse_range(header, 2**63) if header else None
    content = await call.service.raw_content(target, file_id, byte_range)
    headers = {k: v for k, v in content.headers.items() if k.lower() != "content-type"}
    headers["X-Content-Type-Options"] = "nosniff"
    return StreamingResponse(
        content.chunks(),
        status_code=content.status_code,
        headers=headers,
        media_type=content.headers.get("content-type", "application/octet-stream"),
    )


def routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/files", create_file, methods=["POST"]),
        Route(f"{prefix}/files", list_files, methods=["GET"]),
        # Content first: a gs:// id would otherwise swallow its "/content".
        Route(f"{prefix}/files/{{file_id:file_id}}/content", file_content, methods=["GET"]),
        Route(f"{prefix}/files/{{file_id:file_id}}", retrieve_file, methods=["GET"]),
        Route(f"{prefix}/files/{{file_id:file_id}}", delete_file, methods=["DELETE"]),
    ]


def all_routes() -> list[Route]:
    """``/v1/files``, ``/files`` and both under every provider prefix."""
    out: list[Route] = []
    for prefix in ("/v1", "", "/{provider:provider}/v1", "/{provider:provider}"):
        out += routes(prefix)
    return out
