"""The OpenAPI 3.1 document of the gateway, served at ``/openapi.json``.

The document is written by hand, as plain data, to describe exactly what the
routes in ``server/files.py`` and ``server/health.py`` accept and answer —
field facts follow OpenAI's own spec, the extras (Range, aliases, routing
fields, error statuses) are ours. It is built once per process and cached as
bytes. ``tests/integration/test_openapi_docs.py`` checks that it lists the
server's real routes, and ``test_schemathesis.py`` that the server keeps to it.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from filegate import __version__
from filegate.core.params import EXPIRES_MAX, EXPIRES_MIN, LIST_LIMIT_MAX
from filegate.records import PURPOSES
from filegate.server import swagger_ui

JSON = dict[str, Any]

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"

# Every purpose a stored file can carry: the ones a client may upload with,
# plus the ones OpenAI gives to files it makes itself.
FILE_OBJECT_PURPOSES = (
    "assistants",
    "assistants_output",
    "batch",
    "batch_output",
    "fine-tune",
    "fine-tune-results",
    "vision",
    "user_data",
    "evals",
)

_DESCRIPTION = """\
filegate speaks OpenAI's Files API: point the official `openai` SDK at
`http://HOST:4000/v1` and `files.create`, `list`, `retrieve`, `delete` and `content`
work as they do against OpenAI.

**Authentication.** When the gateway has a master key (`FILEGATE_MASTER_KEY`), send it
as `Authorization: Bearer <key>` (an `api-key` or `x-api-key` header also works).
Without one configured, the gateway accepts every request and listens on localhost only.
A missing or wrong key gives 401.

**Errors.** Every error has OpenAI's envelope
`{"error": {"message", "type", "param", "code"}}` and every response carries an
`x-request-id` header. Any method a path does not list gets 405 with an `Allow` header;
an unknown path gets 404.

**Aliases.** Each `/v1/files…` operation is also served without the `/v1` prefix
(`/files…`), as OpenAI-style clients with a bare base URL call it. The alias operations
are listed under the *Files (aliases)* tag.

**Routing fields.** LiteLLM clients send `custom_llm_provider`, `model`,
`target_model_names`, `target_storage` and `litellm_metadata[...]` beside OpenAI's
fields. They are accepted, and until provider deployments are configurable the only
target is filegate's own storage: any other choice is refused with 400.
"""


def _schema(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(name: str) -> JSON:
    return {"$ref": f"#/components/responses/{name}"}


def _param(name: str) -> JSON:
    return {"$ref": f"#/components/parameters/{name}"}


def _header(name: str) -> JSON:
    return {"$ref": f"#/components/headers/{name}"}


def _json_response(description: str, schema: JSON) -> JSON:
    return {
        "description": description,
        "headers": {"x-request-id": _header("RequestId")},
        "content": {"application/json": {"schema": schema}},
    }


def _error_response(description: str, extra_headers: JSON | None = None) -> JSON:
    response = _json_response(description, _schema("ErrorResponse"))
    response["headers"].update(extra_headers or {})
    return response


# --- components ------------------------------------------------------------------


def _schemas() -> JSON:
    nullable_id: JSON = {"type": ["string", "null"]}
    return {
        "OpenAIFile": {
            "title": "OpenAIFile",
            "type": "object",
            "description": "The `File` object: a document stored through the gateway.",
            "additionalProperties": False,
            "properties": {
                "id": {
                    "type": "string",
                    "description": "The file id: `file-` and a time-sortable opaque part.",
                    "examples": ["file-01JD8W3Q4ZK5N7X2M9P6R3T1V0"],
                },
                "object": {"type": "string", "const": "file"},
                "bytes": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "The exact size of the content, in bytes.",
                },
                "created_at": {
                    "type": "integer",
                    "description": "Unix time (seconds) when the file was stored.",
                },
                "expires_at": {
                    "type": "integer",
                    "description": "Unix time (seconds) after which the file is gone. "
                    "Present only when the file expires.",
                },
                "filename": {
                    "type": "string",
                    "description": "The uploaded file's name, exactly as sent (UTF-8).",
                },
                "purpose": {
                    "type": "string",
                    "enum": list(FILE_OBJECT_PURPOSES),
                    "description": "The purpose the file was uploaded with.",
                },
                "status": {
                    "type": "string",
                    "enum": ["uploaded", "processed", "error"],
                    "deprecated": True,
                    "description": "Deprecated by OpenAI; `processed` once the bytes are stored.",
                },
                "status_details": {"type": "string", "deprecated": True},
            },
            "required": ["id", "object", "bytes", "created_at", "filename", "purpose", "status"],
        },
        "ListFilesResponse": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "object": {"type": "string", "const": "list"},
                "data": {"type": "array", "items": _schema("OpenAIFile")},
                "first_id": {
                    **nullable_id,
                    "description": "The id of the first file in `data`; null when it is empty.",
                },
                "last_id": {
                    **nullable_id,
                    "description": "The id of the last file in `data`; null when it is empty. "
                    "Pass it as `after` to get the next page.",
                },
                "has_more": {
                    "type": "boolean",
                    "description": "Whether more files follow after `last_id`.",
                },
            },
            "required": ["object", "data", "first_id", "last_id", "has_more"],
        },
        "DeleteFileResponse": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string"},
                "object": {"type": "string", "const": "file"},
                "deleted": {"type": "boolean"},
            },
            "required": ["id", "object", "deleted"],
        },
        "CreateFileRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "file": {
                    "type": "string",
                    "format": "binary",
                    "description": "The file itself (a file part with a filename, not a "
                    "text field). `batch` and `fine-tune` files must be JSONL, checked "
                    "line by line as they stream in.",
                },
                "purpose": {
                    "type": "string",
                    "enum": list(PURPOSES),
                    "description": "The intended purpose of the file.",
                },
                "expires_after[anchor]": {
                    "type": "string",
                    "const": "created_at",
                    "description": "The anchor of the expiry; sent together with "
                    "`expires_after[seconds]`.",
                },
                "expires_after[seconds]": {
                    "type": "integer",
                    "minimum": EXPIRES_MIN,
                    "maximum": EXPIRES_MAX,
                    "description": "Seconds after the anchor when the file expires "
                    f"({EXPIRES_MIN} = 1 hour .. {EXPIRES_MAX} = 30 days). `batch` files "
                    "expire after 30 days unless told otherwise; others persist until "
                    "deleted.",
                },
                **_routing_properties(),
            },
            "required": ["file", "purpose"],
            "dependentRequired": {
                "expires_after[anchor]": ["expires_after[seconds]"],
                "expires_after[seconds]": ["expires_after[anchor]"],
            },
        },
        "Error": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "message": {"type": "string", "description": "What went wrong, for people."},
                "type": {
                    "type": "string",
                    "description": "The error class, e.g. `invalid_request_error`, "
                    "`authentication_error`, `server_error`.",
                },
                "param": {
                    "type": ["string", "null"],
                    "description": "The request field the error is about, if any.",
                },
                "code": {
                    "type": ["string", "null"],
                    "description": "A machine-readable code, e.g. `invalid_value`, "
                    "`missing_required_parameter`, `unknown_parameter`.",
                },
            },
            "required": ["message", "type", "param", "code"],
        },
        "ErrorResponse": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"error": _schema("Error")},
            "required": ["error"],
        },
        "Liveliness": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"status": {"type": "string", "const": "alive"}},
            "required": ["status"],
        },
        "Readiness": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "status": {"type": "string", "enum": ["ready", "unavailable"]},
                "version": {"type": "string", "description": "The filegate version."},
                "catalog": {
                    "type": "string",
                    "description": "`ok`, or why the catalog database cannot be used.",
                },
                "storage": {
                    "type": "string",
                    "description": "`ok`, or why the blob store cannot be used.",
                },
            },
            "required": ["status", "version", "catalog", "storage"],
        },
    }


_ROUTING_FIELDS: dict[str, JSON] = {
    "custom_llm_provider": {
        "type": "string",
        "enum": ["filegate", ""],
        "description": "LiteLLM's provider choice. Only `filegate` (the gateway's own "
        "storage) is configured; any other provider gets 400 `unsupported_provider`. "
        "An empty value counts as not sent.",
    },
    "model": {
        "type": "string",
        "maxLength": 0,
        "description": "LiteLLM's deployment choice. No deployments are configured, so any "
        "non-empty value gets 400 `unknown_deployment`.",
    },
    "target_model_names": {
        "type": "string",
        "maxLength": 0,
        "description": "LiteLLM's comma-separated deployment names. No deployments are "
        "configured, so a non-empty value gets 400 `unknown_deployment`.",
    },
    "target_storage": {
        "type": "string",
        "enum": ["default", "filegate", ""],
        "description": "Where to keep the bytes: only the gateway's own storage is "
        "configured; any other value gets 400 `unknown_storage`. An empty value counts "
        "as not sent.",
    },
}


def _routing_properties() -> JSON:
    return {name: dict(schema) for name, schema in _ROUTING_FIELDS.items()}


def _routing_param_name(field: str) -> str:
    return "Routing_" + field


def _parameters() -> JSON:
    params: JSON = {
        "FileId": {
            "name": "file_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "The id of the file.",
        },
        "ListPurpose": {
            "name": "purpose",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "Only return files with this purpose.",
        },
        "ListLimit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": LIST_LIMIT_MAX,
                "default": LIST_LIMIT_MAX,
            },
            "description": f"How many files to return, 1 to {LIST_LIMIT_MAX}.",
        },
        "ListOrder": {
            "name": "order",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
            "description": "Sort order by creation time (ties broken by id).",
        },
        "ListAfter": {
            "name": "after",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "A file id: return the files that come after it in this order "
            "(the previous page's `last_id`).",
        },
        "CustomLlmProviderHeader": {
            "name": "custom-llm-provider",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "enum": ["filegate", ""]},
            "description": "The same choice as the `custom_llm_provider` query parameter "
            "(which wins when both are sent; both are checked). An empty value counts as "
            "not sent.",
        },
        "Range": {
            "name": "Range",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "examples": ["bytes=0-1023", "bytes=-500"]},
            "description": "One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`): answered "
            "with 206 and exactly those bytes, or 416 when it starts past the end. Several "
            "ranges or a malformed header are ignored (the whole file is sent).",
        },
        "IfRange": {
            "name": "If-Range",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "An ETag: `Range` is honoured only while the file still has it.",
        },
        "IfNoneMatch": {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "ETags (or `*`): answered with 304 and no body when one matches.",
        },
    }
    for field, schema in _ROUTING_FIELDS.items():
        params[_routing_param_name(field)] = {
            "name": field,
            "in": "query",
            "required": False,
            "schema": dict(schema),
            "description": schema["description"],
        }
    return params


def _headers() -> JSON:
    return {
        "RequestId": {
            "description": "The request's id: the client's own `x-request-id` when it sent "
            "a sane one, else a new one.",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        },
        "ContentLength": {
            "description": "The number of bytes in the body.",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        },
        "ContentDisposition": {
            "description": "`attachment` with an ASCII `filename` and the exact UTF-8 name "
            "in `filename*` (RFC 6266).",
            "required": True,
            "schema": {"type": "string", "pattern": '^attachment; filename="[^"]*"; '},
        },
        "ETag": {
            "description": "The quoted sha256 of the file's content.",
            "required": True,
            "schema": {"type": "string", "pattern": '^"[0-9a-f]{64}"$'},
        },
        "NoSniff": {
            "description": "Always `nosniff`.",
            "required": True,
            "schema": {"type": "string", "const": "nosniff"},
        },
        "AcceptRanges": {
            "description": "Always `bytes`.",
            "required": True,
            "schema": {"type": "string", "const": "bytes"},
        },
        "ContentRange": {
            "description": "The range sent and the file's full size.",
            "required": True,
            "schema": {"type": "string", "pattern": "^bytes [0-9]+-[0-9]+/[0-9]+$"},
        },
        "UnsatisfiedRange": {
            "description": "The file's full size.",
            "required": True,
            "schema": {"type": "string", "pattern": "^bytes \\*/[0-9]+$"},
        },
        "Allow": {
            "description": "The methods the path does accept.",
            "required": True,
            "schema": {"type": "string"},
        },
    }


def _responses() -> JSON:
    return {
        "BadRequest": _error_response(
            "Invalid request: a missing, invalid, duplicated or unknown field or query "
            "parameter (`param` names it), a body that is not multipart/form-data, a JSONL "
            "line that fails the purpose's checks (the message names the line), or a "
            "routing choice that is not configured."
        ),
        "Unauthorized": _error_response(
            "No API key, or a wrong one (`type` is `authentication_error`)."
        ),
        "NotFound": _error_response(
            "No such file (deleted, expired or never there), or an unknown path."
        ),
        "MethodNotAllowed": _error_response(
            "The path exists but does not accept this method.",
            {"Allow": _header("Allow")},
        ),
        "PayloadTooLarge": _error_response(
            "The file is larger than the gateway's limit (512 MB by default), judged from "
            "Content-Length before reading or while streaming when there is none."
        ),
        "RangeNotSatisfiable": _error_response(
            "The requested range starts past the end of the file.",
            {"Content-Range": _header("UnsatisfiedRange")},
        ),
        "ServerError": _error_response("The gateway had an error processing the request."),
        "StorageUnavailable": _error_response(
            "The catalog database or blob store cannot be used right now; try again."
        ),
    }


# --- paths -----------------------------------------------------------------------


def _errors(*statuses: int) -> JSON:
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        404: "NotFound",
        413: "PayloadTooLarge",
        416: "RangeNotSatisfiable",
        500: "ServerError",
        503: "StorageUnavailable",
    }
    return {str(status): _response(names[status]) for status in statuses}


def _routing_params() -> list[JSON]:
    return [
        *(_param(_routing_param_name(field)) for field in _ROUTING_FIELDS),
        _param("CustomLlmProviderHeader"),
    ]


def _file_operations() -> list[tuple[str, str, str, JSON]]:
    """The five operations: (operationId, path below /v1, method, operation)."""
    content_headers: JSON = {
        "x-request-id": _header("RequestId"),
        "Content-Length": _header("ContentLength"),
        "Content-Disposition": _header("ContentDisposition"),
        "ETag": _header("ETag"),
        "X-Content-Type-Options": _header("NoSniff"),
        "Accept-Ranges": _header("AcceptRanges"),
    }
    body: JSON = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
    create: JSON = {
        "summary": "Upload a file",
        "description": "Stores a file sent as multipart/form-data. The body is streamed to "
        "storage as it arrives; the file is listed only once its bytes are durably stored. "
        "Unknown fields get 400 naming them.",
        "parameters": _routing_params(),
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": _schema("CreateFileRequest"),
                    "encoding": {"file": {"contentType": "application/octet-stream"}},
                }
            },
        },
        "responses": {
            "200": _json_response("The stored file.", _schema("OpenAIFile")),
            **_errors(400, 401, 413, 500, 503),
        },
    }
    list_: JSON = {
        "summary": "List files",
        "description": "Returns the caller's files, newest first by default. Paging with "
        "`after` visits every file exactly once. Unknown query parameters get 400.",
        "parameters": [
            _param("ListPurpose"),
            _param("ListLimit"),
            _param("ListOrder"),
            _param("ListAfter"),
            *_routing_params(),
        ],
        "responses": {
            "200": _json_response("A page of files.", _schema("ListFilesResponse")),
            **_errors(400, 401, 500, 503),
        },
    }
    retrieve: JSON = {
        "summary": "Retrieve a file",
        "parameters": [_param("FileId"), *_routing_params()],
        "responses": {
            "200": _json_response("The file.", _schema("OpenAIFile")),
            **_errors(400, 401, 404, 500, 503),
        },
    }
    delete: JSON = {
        "summary": "Delete a file",
        "description": "Deletes the file; afterwards retrieve, content and delete give 404.",
        "parameters": [_param("FileId"), *_routing_params()],
        "responses": {
            "200": _json_response("The file was deleted.", _schema("DeleteFileResponse")),
            **_errors(400, 401, 404, 500, 503),
        },
    }
    download: JSON = {
        "summary": "Download a file's content",
        "description": "Streams the file's bytes with the Content-Type it was uploaded with "
        "(application/octet-stream when none was given). Supports one byte range (`Range`, "
        "`If-Range`) and conditional requests (`If-None-Match`).",
        "parameters": [
            _param("FileId"),
            _param("Range"),
            _param("IfRange"),
            _param("IfNoneMatch"),
            *_routing_params(),
        ],
        "responses": {
            "200": {"description": "The whole file.", "headers": content_headers, "content": body},
            "206": {
                "description": "The requested byte range.",
                "headers": {**content_headers, "Content-Range": _header("ContentRange")},
                "content": body,
            },
            "304": {
                "description": "The file still has the ETag sent in `If-None-Match`; no body.",
                "headers": {
                    name: content_headers[name]
                    for name in (
                        "x-request-id",
                        "ETag",
                        "Content-Disposition",
                        "X-Content-Type-Options",
                        "Accept-Ranges",
                    )
                },
            },
            **_errors(400, 401, 404, 416, 500, 503),
        },
    }
    return [
        ("createFile", "/files", "post", create),
        ("listFiles", "/files", "get", list_),
        ("retrieveFile", "/files/{file_id}", "get", retrieve),
        ("deleteFile", "/files/{file_id}", "delete", delete),
        ("downloadFile", "/files/{file_id}/content", "get", download),
    ]


def _paths() -> JSON:
    paths: JSON = {}
    for operation_id, suffix, method, operation in _file_operations():
        main = {
            "operationId": operation_id,
            "tags": ["Files"],
            **operation,
            "security": [{"BearerAuth": []}],
        }
        alias = {
            **main,
            "operationId": f"{operation_id}Alias",
            "tags": ["Files (aliases)"],
            "summary": f"{operation['summary']} (alias of /v1{suffix})",
            "x-alias-of": f"/v1{suffix}",
        }
        paths.setdefault(f"/v1{suffix}", {})[method] = main
        paths.setdefault(suffix, {})[method] = alias

    liveliness: JSON = {
        "operationId": "liveliness",
        "tags": ["Health"],
        "summary": "Liveness probe",
        "description": "200 whenever the process serves requests. Needs no API key.",
        "security": [],
        "responses": {"200": _json_response("The process is alive.", _schema("Liveliness"))},
    }
    paths["/health/liveliness"] = {"get": liveliness}
    paths["/health/liveness"] = {
        "get": {
            **liveliness,
            "operationId": "livelinessAlias",
            "summary": "Liveness probe (alias of /health/liveliness)",
            "x-alias-of": "/health/liveliness",
        }
    }
    paths["/health/readiness"] = {
        "get": {
            "operationId": "readiness",
            "tags": ["Health"],
            "summary": "Readiness probe",
            "description": "Checks that the catalog database and the blob store can be "
            "used. Needs no API key.",
            "security": [],
            "responses": {
                "200": _json_response("Ready to serve.", _schema("Readiness")),
                "503": _json_response(
                    "The catalog or the blob store cannot be used; the failing one says why.",
                    _schema("Readiness"),
                ),
            },
        }
    }
    return paths


def build_document() -> JSON:
    """The whole OpenAPI 3.1 document, as plain JSON-able data."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "filegate",
            "version": __version__,
            "summary": "An OpenAI-compatible Files API gateway.",
            "description": _DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [
            {"name": "Files", "description": "OpenAI's Files API."},
            {
                "name": "Files (aliases)",
                "description": "The same operations without the `/v1` prefix.",
            },
            {"name": "Health", "description": "Probes for orchestrators; no API key."},
        ],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "parameters": _parameters(),
            "headers": _headers(),
            "responses": _responses(),
            "securitySchemes": {
                "BearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The gateway's master key (`FILEGATE_MASTER_KEY`).",
                }
            },
        },
    }


@functools.cache
def document_bytes() -> bytes:
    """The document serialized once per process."""
    return orjson.dumps(build_document())


async def openapi_json(request: Request) -> Response:
    return Response(document_bytes(), media_type="application/json")


routes: list[BaseRoute] = [
    Route(OPENAPI_PATH, openapi_json, methods=["GET"], include_in_schema=False),
    *swagger_ui.routes(DOCS_PATH, OPENAPI_PATH),
]
