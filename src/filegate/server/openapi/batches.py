"""The Batches operations of the OpenAPI document; their schemas come from the pydantic
models of ``server/models/batches.py`` (the ones the routes validate with)."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from filegate.core.batches import CACHE_SECONDS, LIST_DEFAULT, LIST_MAX
from filegate.server.models.batches import (
    BATCH_ID_PATTERN,
    Batch,
    CreateBatchRequest,
    ListBatchesResponse,
)

JSON = dict[str, Any]

TAGS = (
    (
        "Batches",
        "OpenAI's Batch API over filegate file ids: a batch runs at the deployment that "
        "holds its input file (a file only in filegate's store is copied there first), "
        "and its output and error files become filegate files.",
    ),
    ("Batches (aliases)", "The same operations without the `/v1` prefix."),
    ("Batches (provider prefix)", "The same operations under a provider prefix."),
)


def schemas() -> JSON:
    _, doc = models_json_schema(
        [
            (CreateBatchRequest, "validation"),
            (Batch, "serialization"),
            (ListBatchesResponse, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
    )
    defs: JSON = doc.get("$defs", {})
    return defs


def _schema(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description: str, schema: JSON) -> JSON:
    return {
        "description": description,
        "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
        "content": {"application/json": {"schema": schema}},
    }


def operations(routing_params: list[JSON], errors: Any) -> list[tuple[str, str, str, JSON]]:
    """The four operations: (operationId, path below the prefix, method, operation).

    ``errors(*statuses)`` gives the shared error responses (the document's own).
    """
    batch_id: JSON = {
        "name": "batch_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "A filegate batch id (`batch_` + a ULID).",
    }
    create: JSON = {
        "summary": "Create a batch",
        "description": "Starts a batch over a `batch` file of the caller's (or its team's) "
        "at the deployment holding the file's copy; a choice (path prefix, "
        "`custom_llm_provider`, `model`) must agree with it. A file only in filegate's "
        "store is copied to the chosen deployment first (once; later batches reuse the "
        "copy). Counts against the key's and team's `max_batches_in_progress`.",
        "parameters": routing_params,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _schema("CreateBatchRequest")}},
        },
        "responses": {
            "200": _json_response("The new batch.", _schema("Batch")),
            **errors(404, 429),
        },
    }
    listing: JSON = {
        "summary": "List batches",
        "description": "The caller's batches (and its team's), newest first, from the "
        "catalog; the unfinished ones of the page are asked of their provider first.",
        "parameters": [
            {
                "name": "after",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "pattern": BATCH_ID_PATTERN},
                "description": "The previous page's `last_id`.",
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": LIST_MAX,
                    "default": LIST_DEFAULT,
                },
            },
            *routing_params,
        ],
        "responses": {
            "200": _json_response("One page of batches.", _schema("ListBatchesResponse")),
            **errors(),
        },
    }
    retrieve: JSON = {
        "summary": "Retrieve a batch",
        "description": "The batch as its provider says it is now (answered from the "
        f"catalog within {CACHE_SECONDS} s of the last time it was asked). Its output and "
        "error files get filegate ids the first time they exist.",
        "parameters": [batch_id, *routing_params],
        "responses": {
            "200": _json_response("The batch.", _schema("Batch")),
            **errors(404),
        },
    }
    cancel: JSON = {
        "summary": "Cancel a batch",
        "description": "Asks the provider to cancel; answers the batch as it is then "
        "(`cancelling`). A finished batch: the provider's refusal.",
        "parameters": [batch_id, *routing_params],
        "responses": {
            "200": _json_response("The batch, cancelling.", _schema("Batch")),
            **errors(404),
        },
    }
    return [
        ("createBatch", "/batches", "post", create),
        ("listBatches", "/batches", "get", listing),
        ("retrieveBatch", "/batches/{batch_id}", "get", retrieve),
        ("cancelBatch", "/batches/{batch_id}/cancel", "post", cancel),
    ]
