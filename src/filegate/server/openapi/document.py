"""The OpenAPI 3.1 document of the gateway, served at ``/openapi.json``.

Built from the pydantic models of ``server/models/`` (their JSON schemas), one
module per resource here adding the operations and what models cannot say
(streamed multipart bodies, binary answers, ``Range``, the configured routing
choices). What a request may name as its target depends on the deployments
configured, so the document is built from the gateway's target table on first
request and cached as bytes. ``tests/integration/test_openapi_docs.py`` checks
that it lists the server's real routes, ``test_response_models.py`` that the
routes answer what the models say, and ``test_schemathesis.py`` that the
server keeps to the document.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from filegate import __version__
from filegate.server.models.errors import ErrorResponse
from filegate.server.openapi import admin, batches, files, fine_tuning, health, swagger_ui, uploads
from filegate.server.openapi.base import (
    EMBEDDED_ONLY,
    JSON,
    Resource,
    Routing,
    error,
    model_schemas,
    param,
    ref,
    routing_fields,
)

if TYPE_CHECKING:
    from filegate.core.gateway import Gateway

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"

# One module per resource (see base.py for what each holds), in the document's order.
RESOURCES: tuple[Resource, ...] = (files, uploads, batches, fine_tuning, health, admin)

# A prefixed resource's operations are served under each of these:
# (prefix, operationId suffix, tag suffix, summary suffix).
PREFIXES = (
    ("/v1", "", "", ""),
    ("", "Alias", " (aliases)", " (alias without /v1)"),
    ("/{provider}/v1", "ForProvider", " (provider prefix)", " at one provider"),
    ("/{provider}", "ForProviderAlias", " (provider prefix)", " at one provider (no /v1)"),
)

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


def _common(routing: Routing) -> JSON:
    """The components every resource uses: the error envelope and answers, the request id
    and a few headers, the routing parameters, the security scheme."""
    params: JSON = {
        "Provider": param(
            "path",
            "provider",
            "The provider, as `custom_llm_provider` names it.",
            {"type": "string", "enum": list(routing.providers)},
        ),
        "CustomLlmProviderHeader": param(
            "header",
            "custom-llm-provider",
            "The same choice as the `custom_llm_provider` query parameter; when both are sent "
            "they must agree (else 400 `provider_mismatch`). An empty value counts as not sent.",
            {"type": "string", "enum": [*routing.providers, ""]},
        ),
        **{
            "Routing_" + name: param("query", name, field["description"], field)
            for name, field in routing_fields(routing).items()
        },
    }
    headers: JSON = {
        name: {"description": text, "required": required, "schema": rule}
        for name, text, required, rule in (
            (
                "RequestId",
                "The request's id: the client's own `x-request-id` when it sent a sane one, "
                "else a new one.",
                True,
                {"type": "string", "minLength": 1},
            ),
            ("Allow", "The methods the path does accept.", True, {"type": "string"}),
            (
                "RetryAfter",
                "Seconds to wait before trying again (sent with the gateway's own rate limits).",
                False,
                {"type": "string", "pattern": "^[0-9]+$"},
            ),
        )
    }
    texts = {
        "BadRequest": (
            "Invalid request: a missing, invalid, duplicated or unknown field or query "
            "parameter (`param` names it), a body that is not multipart/form-data, a JSONL "
            "line that fails the purpose's checks (the message names the line), or a "
            "routing choice that is not configured."
        ),
        "Unauthorized": "No API key, or a wrong one (`type` is `authentication_error`).",
        "Forbidden": (
            "Not allowed with this key (e.g. `passthrough=true` without the master key), "
            "a storage quota of the key or team reached (`quota_exceeded`: files or "
            "bytes), or refused by the provider."
        ),
        "NotFound": "No such file (deleted, expired or never there), or an unknown path.",
        "MethodNotAllowed": ("The path exists but does not accept this method."),
        "Conflict": "The provider reported a conflict.",
        "PayloadTooLarge": (
            "The file is larger than the gateway's limit (512 MB by default) or the key's "
            "`max_file_size`, judged from Content-Length before reading, and while streaming."
        ),
        "RangeNotSatisfiable": ("The requested range starts past the end of the file."),
        "RateLimited": (
            "A rate limit of the key or team (requests or uploads per minute, concurrent "
            "uploads; `Retry-After` says when to try again), or the provider's."
        ),
        "ServerError": "The gateway had an error processing the request.",
        "BadGateway": "The provider failed or answered with nonsense.",
        "StorageUnavailable": (
            "The catalog database or blob store cannot be used right now; try again."
        ),
        "GatewayTimeout": "The provider did not answer in time.",
    }
    responses = {name: error(text) for name, text in texts.items()}
    for name, header, component in (
        ("MethodNotAllowed", "Allow", "Allow"),
        ("RangeNotSatisfiable", "Content-Range", "UnsatisfiedRange"),
        ("RateLimited", "Retry-After", "RetryAfter"),
    ):
        responses[name]["headers"][header] = ref("headers", component)
    schemes = {
        "BearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "The gateway's master key (`FILEGATE_MASTER_KEY`) or a virtual "
            "key; not needed when the gateway has no master key.",
        }
    }
    return {
        "schemas": model_schemas(ErrorResponse),
        "parameters": params,
        "headers": headers,
        "responses": responses,
        "securitySchemes": schemes,
    }


def _paths(routing: Routing) -> JSON:
    paths: JSON = {}

    def add(resource: Resource, path: str, method: str, item: JSON) -> None:
        item.setdefault("security", resource.SECURITY)
        paths.setdefault(path, {})[method] = item

    prefixed = [r for r in RESOURCES if r.PREFIXED]
    for prefix, id_suffix, tag_suffix, summary_suffix in PREFIXES:
        for resource in prefixed:
            for operation_id, suffix, method, operation in resource.operations(routing):
                item: JSON = {
                    "operationId": operation_id + id_suffix,
                    "tags": [resource.TAGS[0][0] + tag_suffix],
                    **operation,
                    "summary": operation["summary"] + summary_suffix,
                }
                if prefix.startswith("/{provider}"):
                    item["parameters"] = [ref("parameters", "Provider"), *operation["parameters"]]
                    # A prefix that names no provider at all is an unknown path.
                    responses = {"404": ref("responses", "NotFound"), **operation["responses"]}
                    item["responses"] = dict(sorted(responses.items()))
                if prefix != "/v1":
                    item["x-alias-of"] = f"/v1{suffix}"
                add(resource, prefix + suffix, method, item)
    for resource in RESOURCES:
        if not resource.PREFIXED:
            for operation_id, path, method, operation in resource.operations(routing):
                tags = [resource.TAGS[0][0]]
                add(
                    resource, path, method, {"operationId": operation_id, "tags": tags, **operation}
                )
    return paths


def build_document(routing: Routing = EMBEDDED_ONLY) -> JSON:
    """The whole OpenAPI 3.1 document, as plain JSON-able data."""
    components = _common(routing)
    for resource in RESOURCES:
        for kind, entries in resource.components(routing).items():
            components[kind].update(entries)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "filegate",
            "version": __version__,
            "summary": "An OpenAI-compatible Files API gateway.",
            "description": _DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [{"name": name, "description": text} for r in RESOURCES for name, text in r.TAGS],
        "paths": _paths(routing),
        "components": components,
    }


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
