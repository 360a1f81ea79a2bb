"""The OpenAPI 3.1 document of the gateway, served at ``/openapi.json``.

The document is written by hand, as plain data, to describe exactly what the
routes in ``server/files.py`` and ``server/health.py`` accept and answer (the
Uploads routes are in ``openapi_uploads.py``, the admin ones in
``openapi_admin.py``) —
field facts follow OpenAI's own spec, the extras (Range, aliases, provider
prefixes, routing fields, error statuses) are ours. What a request may name as
its target depends on the deployments configured, so the document is built
from the gateway's target table on first request and cached as bytes.
``tests/integration/test_openapi_docs.py`` checks that it lists the server's
real routes, and ``test_schemathesis.py`` that the server keeps to it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from filegate import __version__
from filegate.core.ids import FILE_ID_PATTERN
from filegate.core.params import EXPIRES_MAX, EXPIRES_MIN, LIST_LIMIT_MAX
from filegate.records import EMBEDDED, FILE_PURPOSES, PURPOSES
from filegate.server.openapi import admin as openapi_admin
from filegate.server.openapi import swagger_ui
from filegate.server.openapi import uploads as openapi_uploads

if TYPE_CHECKING:
    from filegate.core.gateway import Gateway
    from filegate.core.targets import TargetTable

JSON = dict[str, Any]

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"

# Every purpose a stored file can carry: the ones a client may upload with,
# plus the ones OpenAI gives to files it makes itself.
FILE_OBJECT_PURPOSES = FILE_PURPOSES

# Each Files and Uploads operation is served under these prefixes:
# (prefix, operationId suffix, tag suffix, summary suffix).
PREFIXES = (
    ("/v1", "", "", ""),
    ("", "Alias", " (aliases)", " (alias without /v1)"),
    ("/{provider}/v1", "ForProvider", " (provider prefix)", " at one provider"),
    ("/{provider}", "ForProviderAlias", " (provider prefix)", " at one provider (no /v1)"),
)
TAGS = (
    ("Files", "OpenAI's Files API."),
    ("Files (aliases)", "The same operations without the `/v1` prefix."),
    (
        "Files (provider prefix)",
        "The same operations under a provider prefix (`/openai/v1/files`, ...): LiteLLM's "
        "way of choosing the provider, like `custom_llm_provider`.",
    ),
    *openapi_uploads.TAGS,
    ("Health", "Probes for orchestrators; no API key."),
)

# Errors any Files operation can pass on from a provider deployment.
UPSTREAM_ERRORS = (403, 409, 429, 502, 504)

_DESCRIPTION = """\
filegate speaks OpenAI's Files and Uploads APIs: point the official `openai` SDK at
`http://HOST:4000/v1` and `files.create`, `list`, `retrieve`, `delete` and `content`,
and `uploads.create`, `parts.create`, `complete`, `cancel` and `upload_file_chunked`
work as they do against OpenAI.

**Authentication.** When the gateway has a master key (`FILEGATE_MASTER_KEY`), send it
or a virtual key (made with `POST /key/generate`) as `Authorization: Bearer <key>` (an
`api-key` or `x-api-key` header also works). Without a master key configured, the
gateway accepts every request and listens on localhost only. A missing, wrong, expired
or deleted key gives 401.

**Tenants.** A virtual key sees the files it made, and its team's when it has
`team_access`; the master key sees every file. Anyone else's file id gives 404, exactly
as an id that never existed. A key's, its team's and the gateway's limits apply
(403 `quota_exceeded`, 413, 429 with `Retry-After`); every file create, download and
delete and every key change lands in the audit trail (`GET /audit`).

**Errors.** Every error has OpenAI's envelope
`{"error": {"message", "type", "param", "code"}}` and every response carries an
`x-request-id` header. Any method a path does not list gets 405 with an `Allow` header;
an unknown path gets 404.

**Paths.** Each `/v1/files…` and `/v1/uploads…` operation is also served without the
`/v1` prefix (`/files…`), and both under a provider prefix (`/openai/v1/files…`,
`/openai/files…`).

**Routing.** A file goes to filegate's own storage or to a configured provider
deployment. Clients choose as LiteLLM's do: `custom_llm_provider` (form field, query
parameter, `custom-llm-provider` header or path prefix), `model` / `target_model_names`
(deployment names), `target_storage`; `litellm_metadata[...]` is accepted and ignored.
A choice that is not configured is refused with 400, never ignored.
"""


@dataclass(frozen=True, slots=True)
class Routing:
    """The targets a request may name: the gateway's configuration, as the document shows it."""

    providers: tuple[str, ...] = (EMBEDDED,)
    deployments: tuple[str, ...] = ()

    @classmethod
    def of(cls, targets: TargetTable) -> Routing:
        return cls(
            providers=tuple(sorted(targets.by_provider)),
            deployments=tuple(sorted(targets.deployments)),
        )

    @property
    def upstreams(self) -> bool:
        """Whether files can live at a provider (whose own objects and ids may show)."""
        return bool(self.deployments)


EMBEDDED_ONLY = Routing()


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


def _file_schema(routing: Routing) -> JSON:
    """A file as retrieve and list show it."""
    if routing.upstreams:
        return {"anyOf": [_schema("OpenAIFile"), _schema("ProviderFile")]}
    return _schema("OpenAIFile")


def _routing_fields(routing: Routing) -> dict[str, JSON]:
    if routing.deployments:
        names = ", ".join(f"`{name}`" for name in routing.deployments)
        deployment: JSON = {
            "type": "string",
            "examples": [routing.deployments[0]],
            "description": f"Deployment names, comma-separated: {names}. Any other name "
            "gets 400 `unknown_deployment`; one at another provider than "
            "`custom_llm_provider` names gets 400 `provider_mismatch`.",
        }
    else:
        deployment = {
            "type": "string",
            "maxLength": 0,
            "description": "Deployment names, comma-separated. No deployments are "
            "configured, so any non-empty value gets 400 `unknown_deployment`.",
        }
    providers = ", ".join(f"`{name}`" for name in routing.providers)
    return {
        "custom_llm_provider": {
            "type": "string",
            "enum": [*routing.providers, ""],
            "description": f"The provider to use; configured: {providers} (`{EMBEDDED}` is "
            "the gateway's own storage). Any other gets 400 `unsupported_provider`. An "
            "empty value counts as not sent.",
        },
        "model": {
            **deployment,
            "description": "LiteLLM's deployment choice. " + deployment["description"],
        },
        "target_model_names": {
            **deployment,
            "description": "LiteLLM's deployment choice, for several at once. "
            + deployment["description"],
        },
        "target_storage": {
            "type": "string",
            "enum": ["default", EMBEDDED, ""],
            "description": "Where to keep the bytes: only the gateway's own storage is "
            "configured; any other value gets 400 `unknown_storage`. An empty value counts "
            "as not sent.",
        },
    }


def _schemas(routing: Routing) -> JSON:
    nullable_id: JSON = {"type": ["string", "null"]}
    schemas: JSON = {
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
            "examples": [
                {
                    "id": "file-01JD8W3Q4ZK5N7X2M9P6R3T1V0",
                    "object": "file",
                    "bytes": 120000,
                    "created_at": 1677610602,
                    "filename": "mydata.jsonl",
                    "purpose": "fine-tune",
                    "status": "processed",
                }
            ],
        },
        "ListFilesResponse": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "object": {"type": "string", "const": "list"},
                "data": {"type": "array", "items": _file_schema(routing)},
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
                "expires_after": {
                    **_schema("FileExpirationAfter"),
                    "description": "The same expiry as one JSON-encoded part, "
                    '`{"anchor": "created_at", "seconds": 3600}` (as clients generated from '
                    "OpenAI's spec send it; the openai SDK sends the bracketed fields). "
                    "Not together with `expires_after[anchor]` or `expires_after[seconds]`.",
                },
                **_routing_fields(routing),
            },
            "required": ["file", "purpose"],
            "dependentRequired": {
                "expires_after[anchor]": ["expires_after[seconds]"],
                "expires_after[seconds]": ["expires_after[anchor]"],
            },
            # The JSON part rules the bracketed fields out.
            "dependentSchemas": {
                "expires_after": {
                    "properties": {"expires_after[anchor]": False, "expires_after[seconds]": False}
                }
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
    if routing.upstreams:
        schemas["ProviderFile"] = {
            "type": "object",
            "description": "A provider's own file object, as the provider sent it: what the "
            "master key sees for a provider's id (a file made outside filegate).",
            "properties": {"id": {"type": "string"}},
            "required": ["id"],
        }
    return schemas


def _routing_param_name(field: str) -> str:
    return "Routing_" + field


def _parameters(routing: Routing) -> JSON:
    params: JSON = {
        "FileId": {
            "name": "file_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "The id of the file."
            + (
                " With the master key, also a provider's own id (with a provider chosen)."
                if routing.upstreams
                else ""
            ),
        },
        "Provider": {
            "name": "provider",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": list(routing.providers)},
            "description": "The provider, as `custom_llm_provider` names it.",
        },
        "ListPurpose": {
            "name": "purpose",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(FILE_OBJECT_PURPOSES)},
            "description": "Only return files with this purpose (any other is a 400).",
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
            # A provider's own id with passthrough=true, where a provider can be.
            "schema": {"type": "string"}
            if routing.upstreams
            else {"type": "string", "pattern": FILE_ID_PATTERN},
            "description": "A file id: return the files that come after it in this order "
            "(the previous page's `last_id`; one that is not a file id is a 400, one that "
            "names no file still pages).",
        },
        "ListPassthrough": {
            "name": "passthrough",
            "in": "query",
            "required": False,
            # true, false, 1 or 0, in any letter case; true only where a provider can be.
            "schema": {
                "type": "string",
                "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"
                if routing.upstreams
                else "^([Ff][Aa][Ll][Ss][Ee]|0)$",
                "default": "false",
            },
            "description": "`true` lists the provider's own files instead of filegate's "
            "(files made outside filegate): master key only (else 403), and a provider "
            "deployment must be chosen (`custom_llm_provider` or a provider prefix; else "
            "400)."
            + ("" if routing.upstreams else " No deployments are configured, so only `false`."),
        },
        "CustomLlmProviderHeader": {
            "name": "custom-llm-provider",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "enum": [*routing.providers, ""]},
            "description": "The same choice as the `custom_llm_provider` query parameter; "
            "when both are sent they must agree (else 400 `provider_mismatch`). An empty "
            "value counts as not sent.",
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
    for field, schema in _routing_fields(routing).items():
        params[_routing_param_name(field)] = {
            "name": field,
            "in": "query",
            "required": False,
            "schema": schema,
            "description": schema["description"],
        }
    return params


def _headers(routing: Routing) -> JSON:
    # A provider's own file is streamed with the headers the provider sent.
    ours = not routing.upstreams
    return {
        "RequestId": {
            "description": "The request's id: the client's own `x-request-id` when it sent "
            "a sane one, else a new one.",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        },
        "ContentLength": {
            "description": "The number of bytes in the body.",
            "required": ours,
            "schema": {"type": "integer", "minimum": 0},
        },
        "ContentDisposition": {
            "description": "`attachment` with an ASCII `filename` and the exact UTF-8 name "
            "in `filename*` (RFC 6266).",
            "required": ours,
            "schema": {"type": "string", "pattern": '^attachment; filename="[^"]*"; '}
            if ours
            else {"type": "string"},
        },
        "ETag": {
            "description": "Quoted: the sha256 of the content filegate stores itself, or, "
            "for a file kept at a provider, the file id (its bytes never change).",
            "required": ours,
            "schema": {
                "type": "string",
                "pattern": '^"([0-9a-f]{64}|file-[0-9A-HJKMNP-TV-Z]{26})"$',
            }
            if ours
            else {"type": "string"},
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
        "Allow": {
            "description": "The methods the path does accept.",
            "required": True,
            "schema": {"type": "string"},
        },
        "RetryAfter": {
            "description": "Seconds to wait before trying again (sent with the gateway's "
            "own rate limits).",
            "required": False,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
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
        "Forbidden": _error_response(
            "Not allowed with this key (e.g. `passthrough=true` without the master key), "
            "a storage quota of the key or team reached (`quota_exceeded`: files or "
            "bytes), or refused by the provider."
        ),
        "NotFound": _error_response(
            "No such file (deleted, expired or never there), or an unknown path."
        ),
        "MethodNotAllowed": _error_response(
            "The path exists but does not accept this method.",
            {"Allow": _header("Allow")},
        ),
        "Conflict": _error_response("The provider reported a conflict."),
        "PayloadTooLarge": _error_response(
            "The file is larger than the gateway's limit (512 MB by default) or the key's "
            "`max_file_size`, judged from Content-Length before reading, and while streaming."
        ),
        "RangeNotSatisfiable": _error_response(
            "The requested range starts past the end of the file.",
            {"Content-Range": _header("UnsatisfiedRange")},
        ),
        "RateLimited": _error_response(
            "A rate limit of the key or team (requests or uploads per minute, concurrent "
            "uploads; `Retry-After` says when to try again), or the provider's.",
            {"Retry-After": _header("RetryAfter")},
        ),
        "ServerError": _error_response("The gateway had an error processing the request."),
        "BadGateway": _error_response("The provider failed or answered with nonsense."),
        "StorageUnavailable": _error_response(
            "The catalog database or blob store cannot be used right now; try again."
        ),
        "GatewayTimeout": _error_response("The provider did not answer in time."),
    }


# --- paths -----------------------------------------------------------------------

_ERROR_RESPONSES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    413: "PayloadTooLarge",
    416: "RangeNotSatisfiable",
    429: "RateLimited",
    500: "ServerError",
    502: "BadGateway",
    503: "StorageUnavailable",
    504: "GatewayTimeout",
}


def _errors(*statuses: int) -> JSON:
    codes = sorted({*statuses, 400, 401, 500, 503, *UPSTREAM_ERRORS})
    return {str(status): _response(_ERROR_RESPONSES[status]) for status in codes}


def _routing_params() -> list[JSON]:
    return [
        *(
            _param(_routing_param_name(field))
            for field in ("custom_llm_provider", "model", "target_model_names", "target_storage")
        ),
        _param("CustomLlmProviderHeader"),
    ]


def _file_operations(routing: Routing) -> list[tuple[str, str, str, JSON]]:
    """The five operations: (operationId, path below the prefix, method, operation)."""
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
        "description": "Stores a file sent as multipart/form-data, in filegate's own storage "
        "or at the chosen provider deployment(s). The body is streamed as it arrives; the "
        "file is listed only once its bytes are durably stored. Unknown fields get 400 "
        "naming them.",
        "parameters": _routing_params(),
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": _schema("CreateFileRequest"),
                    "encoding": {
                        "file": {"contentType": "application/octet-stream"},
                        "expires_after": {"contentType": "application/json"},
                    },
                }
            },
        },
        "responses": {
            "200": _json_response("The stored file.", _schema("OpenAIFile")),
            **_errors(413),
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
            _param("ListPassthrough"),
            *_routing_params(),
        ],
        "responses": {
            "200": _json_response("A page of files.", _schema("ListFilesResponse")),
            **_errors(),
        },
    }
    retrieve: JSON = {
        "summary": "Retrieve a file",
        "parameters": [_param("FileId"), *_routing_params()],
        "responses": {
            "200": _json_response("The file.", _file_schema(routing)),
            **_errors(404),
        },
    }
    delete: JSON = {
        "summary": "Delete a file",
        "description": "Deletes the file (and its copies at providers); afterwards "
        "retrieve, content and delete give 404.",
        "parameters": [_param("FileId"), *_routing_params()],
        "responses": {
            "200": _json_response("The file was deleted.", _schema("DeleteFileResponse")),
            **_errors(404),
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


def _paths(routing: Routing) -> JSON:
    paths: JSON = {}
    groups = (
        ("Files", _file_operations(routing)),
        ("Uploads", openapi_uploads.operations(_routing_params())),
    )
    for prefix, id_suffix, tag_suffix, summary_suffix in PREFIXES:
        for tag, operations in groups:
            for operation_id, suffix, method, operation in operations:
                item: JSON = {
                    "operationId": operation_id + id_suffix,
                    "tags": [tag + tag_suffix],
                    **operation,
                    "summary": operation["summary"] + summary_suffix,
                    "security": [{"BearerAuth": []}],
                }
                if prefix.startswith("/{provider}"):
                    item["parameters"] = [_param("Provider"), *operation["parameters"]]
                    # A prefix that names no provider at all is an unknown path.
                    responses = {"404": _response("NotFound"), **operation["responses"]}
                    item["responses"] = dict(sorted(responses.items()))
                if prefix != "/v1":
                    item["x-alias-of"] = f"/v1{suffix}"
                paths.setdefault(prefix + suffix, {})[method] = item

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
            "summary": "Liveness probe (alias)",
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


def build_document(routing: Routing = EMBEDDED_ONLY) -> JSON:
    """The whole OpenAPI 3.1 document, as plain JSON-able data."""
    document: JSON = {
        "openapi": "3.1.0",
        "info": {
            "title": "filegate",
            "version": __version__,
            "summary": "An OpenAI-compatible Files API gateway.",
            "description": _DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": _paths(routing),
        "components": {
            "schemas": {
                **_schemas(routing),
                **openapi_uploads.schemas(_routing_fields(routing)),
            },
            "parameters": _parameters(routing),
            "headers": _headers(routing),
            "responses": {**_responses(), **openapi_uploads.responses()},
            "securitySchemes": {
                "BearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The gateway's master key (`FILEGATE_MASTER_KEY`) or a "
                    "virtual key; not needed when the gateway has no master key.",
                }
            },
        },
    }
    return openapi_admin.add_to(document)


@functools.cache
def document_bytes(routing: Routing = EMBEDDED_ONLY) -> bytes:
    """The document serialized once per configuration (so once per process)."""
    return orjson.dumps(build_document(routing))


async def openapi_json(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    return Response(document_bytes(Routing.of(gateway.targets)), media_type="application/json")


routes: list[BaseRoute] = [
    Route(OPENAPI_PATH, openapi_json, methods=["GET"], include_in_schema=False),
    *swagger_ui.routes(DOCS_PATH, OPENAPI_PATH),
]
