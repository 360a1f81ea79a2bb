"""The Batches part of the document: OpenAI's Batch API over filegate ids.

The bodies and objects come from ``server/models/batches.py`` (the models the route
validates with); written here: the routing fields a create body may carry, as the
gateway's configuration allows them, and each operation's errors.
"""

from __future__ import annotations

from filegate.core.batches import CACHE_SECONDS, LIST_DEFAULT, LIST_MAX
from filegate.server.models.batches import (
    BATCH_ID_PATTERN,
    Batch,
    CreateBatchRequest,
    ListBatchesResponse,
)
from filegate.server.openapi.base import (
    JSON,
    UPSTREAM_ERRORS,
    Operation,
    Routing,
    body,
    error,
    errors,
    model_schemas,
    ok,
    op,
    param,
    routing_fields,
    routing_params,
    schema,
)

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
PREFIXED = True
SECURITY: list[JSON] = [{"BearerAuth": []}]
BODY_ROUTING_FIELDS = ("custom_llm_provider", "model", "target_model_names")


def _nullable(field: JSON) -> JSON:
    """A routing field as a JSON body takes it: null counts as not sent."""
    out = {**field, "type": [field["type"], "null"]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    out["description"] = field["description"] + " null counts as not sent."
    return out


def components(routing: Routing) -> JSON:
    schemas = model_schemas(CreateBatchRequest, Batch, ListBatchesResponse)
    fields = routing_fields(routing)
    create = schemas["CreateBatchRequest"]
    create["properties"].update({name: _nullable(fields[name]) for name in BODY_ROUTING_FIELDS})
    texts = {
        "BatchCreateBadRequest": (
            "Invalid request: a body that is not a JSON object; a missing, unknown or "
            "mistyped field (`param` names it); an `endpoint` outside OpenAI's list, a "
            "`completion_window` other than `24h`, metadata over 16 pairs or 64/512 "
            "characters; an input file whose purpose is not `batch`; a routing choice that "
            "is not configured, contradicts another, or names a deployment the file is not "
            "at; no deployment that can run the batch (`no_batch_deployment`, saying what to "
            "configure)."
        ),
        "BatchNotFound": (
            "No such batch (or input file): never made, or not visible to this key (a virtual "
            "key sees its own batches, and its team's with `team_access`), or an unknown path."
        ),
        "BatchRateLimited": (
            "A rate limit of the key or team (`rpm`), `max_batches_in_progress` "
            "(`too_many_batches_in_progress`), or the provider's."
        ),
    }
    responses = {name: error(text) for name, text in texts.items()}
    return {"schemas": schemas, "responses": responses}


def _errors(own: dict[int, str]) -> JSON:
    return errors((400, 401, 500, 503, *UPSTREAM_ERRORS), own)


def operations(routing: Routing) -> list[Operation]:
    """The four operations, below the prefixes they are served under."""
    params = routing_params()
    by_id = [param("path", "batch_id", "A filegate batch id (`batch_` + a ULID)."), *params]
    create = op(
        "Create a batch",
        ok("The new batch.", schema("Batch")),
        _errors({400: "BatchCreateBadRequest", 404: "BatchNotFound", 429: "BatchRateLimited"}),
        "Starts a batch over a `batch` file of the caller's (or its team's) at the "
        "deployment holding the file's copy; a choice (path prefix, `custom_llm_provider`, "
        "`model`) must agree with it. A file only in filegate's store is copied to the "
        "chosen deployment first (once; later batches reuse the copy). Counts against the "
        "key's and team's `max_batches_in_progress`.",
        parameters=params,
        requestBody=body("application/json", "CreateBatchRequest"),
    )
    listing = op(
        "List batches",
        ok("One page of batches.", schema("ListBatchesResponse")),
        _errors({}),
        "The caller's batches (and its team's), newest first, from the catalog; the "
        "unfinished ones of the page are asked of their provider first.",
        parameters=[
            param(
                "query",
                "after",
                "The previous page's `last_id`.",
                {"type": "string", "pattern": BATCH_ID_PATTERN},
            ),
            param(
                "query",
                "limit",
                f"How many, 1..{LIST_MAX} (default {LIST_DEFAULT}).",
                {"type": "integer", "minimum": 1, "maximum": LIST_MAX},
            ),
            *params,
        ],
    )
    retrieve = op(
        "Retrieve a batch",
        ok("The batch.", schema("Batch")),
        _errors({404: "BatchNotFound"}),
        "The batch as its provider says it is now (answered from the catalog within "
        f"{CACHE_SECONDS} s of the last time it was asked). Its output and error files get "
        "filegate ids the first time they exist.",
        parameters=by_id,
    )
    cancel = op(
        "Cancel a batch",
        ok("The batch, cancelling.", schema("Batch")),
        _errors({404: "BatchNotFound"}),
        "Asks the provider to cancel; answers the batch as it is then (`cancelling`). A "
        "finished batch: the provider's refusal.",
        parameters=by_id,
    )
    return [
        ("createBatch", "/batches", "post", create),
        ("listBatches", "/batches", "get", listing),
        ("retrieveBatch", "/batches/{batch_id}", "get", retrieve),
        ("cancelBatch", "/batches/{batch_id}/cancel", "post", cancel),
    ]
