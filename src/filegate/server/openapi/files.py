"""The Files part of the document: OpenAI's Files API.

The objects come from ``server/models/files.py``; written here are what the
models cannot say: the streamed multipart create, the download's binary
answers and headers, ``Range`` and the conditional requests, and what depends
on the configured deployments (a provider's own files and ids).
"""

from __future__ import annotations

from filegate.core.ids import FILE_ID_PATTERN
from filegate.core.params import LIST_LIMIT_MAX
from filegate.records import FILE_PURPOSES
from filegate.server.models.files import CreateFileForm, FileDeleted, FileList, FileObject
from filegate.server.openapi.base import (
    JSON,
    UPSTREAM_ERRORS,
    Operation,
    Routing,
    errors,
    model_schemas,
    ok,
    query,
    ref,
    routing_fields,
    routing_params,
    schema,
)

TAGS = (
    ("Files", "OpenAI's Files API."),
    ("Files (aliases)", "The same operations without the `/v1` prefix."),
    (
        "Files (provider prefix)",
        "The same operations under a provider prefix (`/openai/v1/files`, ...): LiteLLM's "
        "way of choosing the provider, like `custom_llm_provider`.",
    ),
)
PREFIXED = True
SECURITY: list[JSON] = [{"BearerAuth": []}]
_BOOL = "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"


def _file(routing: Routing) -> JSON:
    """A file as retrieve and list show it: with a provider, maybe the provider's own."""
    if routing.upstreams:
        return {"anyOf": [schema("OpenAIFile"), schema("ProviderFile")]}
    return schema("OpenAIFile")


def _schemas(routing: Routing) -> JSON:
    schemas = model_schemas(FileObject, FileList, FileDeleted, CreateFileForm)
    schemas["ListFilesResponse"]["properties"]["data"]["items"] = _file(routing)
    schemas["CreateFileRequest"]["properties"].update(routing_fields(routing))
    if routing.upstreams:
        schemas["ProviderFile"] = {
            "type": "object",
            "description": "A provider's own file object, as the provider sent it: what the "
            "master key sees for a provider's id (a file made outside filegate).",
            "properties": {"id": {"type": "string"}},
            "required": ["id"],
        }
    return schemas


def _parameters(routing: Routing) -> JSON:
    def header(name: str, description: str) -> JSON:
        return {
            "name": name,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": description,
        }

    provider_id = " With the master key, also a provider's own id (with a provider chosen)."
    return {
        "FileId": {
            "name": "file_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "The id of the file." + (provider_id if routing.upstreams else ""),
        },
        "ListPurpose": query(
            "purpose",
            {"type": "string", "enum": list(FILE_PURPOSES)},
            "Only return files with this purpose (any other is a 400).",
        ),
        "ListLimit": query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": LIST_LIMIT_MAX, "default": LIST_LIMIT_MAX},
            f"How many files to return, 1 to {LIST_LIMIT_MAX}.",
        ),
        "ListOrder": query(
            "order",
            {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
            "Sort order by creation time (ties broken by id).",
        ),
        "ListAfter": query(
            "after",
            # A provider's own id with passthrough=true, where a provider can be.
            {"type": "string"}
            if routing.upstreams
            else {"type": "string", "pattern": FILE_ID_PATTERN},
            "A file id: return the files that come after it in this order (the previous "
            "page's `last_id`; one that is not a file id is a 400, one that names no file "
            "still pages).",
        ),
        "ListPassthrough": query(
            "passthrough",
            # true, false, 1 or 0, in any letter case; true only where a provider can be.
            {
                "type": "string",
                "pattern": _BOOL if routing.upstreams else "^([Ff][Aa][Ll][Ss][Ee]|0)$",
                "default": "false",
            },
            "`true` lists the provider's own files instead of filegate's (files made outside "
            "filegate): master key only (else 403), and a provider deployment must be chosen "
            "(`custom_llm_provider` or a provider prefix; else 400)."
            + ("" if routing.upstreams else " No deployments are configured, so only `false`."),
        ),
        "Range": {
            **header(
                "Range",
                "One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`): answered with 206 and "
                "exactly those bytes, or 416 when it starts past the end. Several ranges or a "
                "malformed header are ignored (the whole file is sent).",
            ),
            "schema": {"type": "string", "examples": ["bytes=0-1023", "bytes=-500"]},
        },
        "IfRange": header(
            "If-Range", "An ETag: `Range` is honoured only while the file still has it."
        ),
        "IfNoneMatch": header(
            "If-None-Match", "ETags (or `*`): answered with 304 and no body when one matches."
        ),
    }


def _headers(routing: Routing) -> JSON:
    # A provider's own file is streamed with the headers the provider sent.
    ours = not routing.upstreams
    etag = '^"([0-9a-f]{64}|file-[0-9A-HJKMNP-TV-Z]{26})"$'
    return {
        "ContentLength": {
            "description": "The number of bytes in the body.",
            "required": ours,
            "schema": {"type": "integer", "minimum": 0},
        },
        "ContentDisposition": {
            "description": "`attachment` with an ASCII `filename` and the exact UTF-8 name "
            "in `filename*` (RFC 6266).",
            "required": ours,
            "schema": {
                "type": "string",
                **({"pattern": '^attachment; filename="[^"]*"; '} if ours else {}),
            },
        },
        "ETag": {
            "description": "Quoted: the sha256 of the content filegate stores itself, or, "
            "for a file kept at a provider, the file id (its bytes never change).",
            "required": ours,
            "schema": {"type": "string", **({"pattern": etag} if ours else {})},
        },
        "NoSniff": {
            "description": "Always `nosniff`.",
            "required": True,
            "schema": {"type": "string", "const": "nosniff"},
        },
        "AcceptRanges": {
            "description": "Always `bytes`.",
            "required": ours,
            "schema": {"type": "string", "const": "bytes"},
        },
        "ContentRange": {
            "description": "The range sent and the file's full size.",
            "required": True,
            "schema": {"type": "string", "pattern": "^bytes [0-9]+-[0-9]+/([0-9]+|\\*)$"},
        },
        "UnsatisfiedRange": {
            "description": "The file's full size.",
            "required": True,
            "schema": {"type": "string", "pattern": "^bytes \\*/[0-9]+$"},
        },
    }


def components(routing: Routing) -> JSON:
    return {
        "schemas": _schemas(routing),
        "parameters": _parameters(routing),
        "headers": _headers(routing),
    }


def _errors(*statuses: int) -> JSON:
    return errors({*statuses, 400, 401, 500, 503, *UPSTREAM_ERRORS})


def operations(routing: Routing) -> list[Operation]:
    """The five operations, below the prefixes they are served under."""
    params = routing_params()
    file_id = ref("parameters", "FileId")
    names = (
        "x-request-id",
        "ETag",
        "Content-Disposition",
        "X-Content-Type-Options",
        "Accept-Ranges",
    )
    content_headers: JSON = {
        "x-request-id": ref("headers", "RequestId"),
        "Content-Length": ref("headers", "ContentLength"),
        "Content-Disposition": ref("headers", "ContentDisposition"),
        "ETag": ref("headers", "ETag"),
        "X-Content-Type-Options": ref("headers", "NoSniff"),
        "Accept-Ranges": ref("headers", "AcceptRanges"),
    }
    body: JSON = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
    create: JSON = {
        "summary": "Upload a file",
        "description": "Stores a file sent as multipart/form-data, in filegate's own storage "
        "or at the chosen provider deployment(s). The body is streamed as it arrives; the "
        "file is listed only once its bytes are durably stored. Unknown fields get 400 "
        "naming them.",
        "parameters": params,
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": schema("CreateFileRequest"),
                    "encoding": {
                        "file": {"contentType": "application/octet-stream"},
                        "expires_after": {"contentType": "application/json"},
                    },
                }
            },
        },
        "responses": {"200": ok("The stored file.", schema("OpenAIFile")), **_errors(413)},
    }
    list_: JSON = {
        "summary": "List files",
        "description": "Returns the caller's files, newest first by default. Paging with "
        "`after` visits every file exactly once. Unknown query parameters get 400.",
        "parameters": [
            *(
                ref("parameters", "List" + name)
                for name in ("Purpose", "Limit", "Order", "After", "Passthrough")
            ),
            *params,
        ],
        "responses": {"200": ok("A page of files.", schema("ListFilesResponse")), **_errors()},
    }
    retrieve: JSON = {
        "summary": "Retrieve a file",
        "parameters": [file_id, *params],
        "responses": {"200": ok("The file.", _file(routing)), **_errors(404)},
    }
    delete: JSON = {
        "summary": "Delete a file",
        "description": "Deletes the file (and its copies at providers); afterwards "
        "retrieve, content and delete give 404.",
        "parameters": [file_id, *params],
        "responses": {
            "200": ok("The file was deleted.", schema("DeleteFileResponse")),
            **_errors(404),
        },
    }
    download: JSON = {
        "summary": "Download a file's content",
        "description": "Streams the file's bytes with the Content-Type it was uploaded with "
        "(application/octet-stream when none was given). Supports one byte range (`Range`, "
        "`If-Range`) and conditional requests (`If-None-Match`).",
        "parameters": [
            file_id,
            *(ref("parameters", name) for name in ("Range", "IfRange", "IfNoneMatch")),
            *params,
        ],
        "responses": {
            "200": {"description": "The whole file.", "headers": content_headers, "content": body},
            "206": {
                "description": "The requested byte range.",
                "headers": {**content_headers, "Content-Range": ref("headers", "ContentRange")},
                "content": body,
            },
            "304": {
                "description": "The file still has the ETag sent in `If-None-Match`; no body.",
                "headers": {name: content_headers[name] for name in names},
            },
            **_errors(404, 416),
        },
    }
    return [
        ("createFile", "/files", "post", create),
        ("listFiles", "/files", "get", list_),
        ("retrieveFile", "/files/{file_id}", "get", retrieve),
        ("deleteFile", "/files/{file_id}", "delete", delete),
        ("downloadFile", "/files/{file_id}/content", "get", download),
    ]
