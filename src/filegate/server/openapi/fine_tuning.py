"""The fine-tuning part of the document: OpenAI's fine-tuning jobs API over filegate ids.

The bodies and objects come from ``server/models/fine_tuning.py`` (the models the route
validates with); written here: the routing fields a create body may carry, as the
gateway's configuration allows them, the metadata filter of the list, and each
operation's errors.
"""

from __future__ import annotations

from filegate.core.fine_tuning import (
    CACHE_SECONDS,
    CHECKPOINTS_DEFAULT,
    CURSOR_PATTERN,
    EVENTS_DEFAULT,
    LIST_DEFAULT,
    LIST_MAX,
)
from filegate.server.models.fine_tuning import (
    JOB_ID_PATTERN,
    CreateFineTuningJobRequest,
    FineTuningJob,
    ListFineTuningJobCheckpointsResponse,
    ListFineTuningJobEventsResponse,
    ListFineTuningJobsResponse,
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
        "Fine-tuning",
        "OpenAI's fine-tuning jobs API over filegate file ids: a job runs at the deployment "
        "that holds its training file (a file only in filegate's store is copied there "
        "first, and the validation file is brought there), and its result files become "
        "filegate files.",
    ),
    ("Fine-tuning (aliases)", "The same operations without the `/v1` prefix."),
    ("Fine-tuning (provider prefix)", "The same operations under a provider prefix."),
)
PREFIXED = True
SECURITY: list[JSON] = [{"BearerAuth": []}]
# The body's ``model`` is the base model to tune, never a deployment choice.
BODY_ROUTING_FIELDS = ("custom_llm_provider", "target_model_names")


def _nullable(field: JSON) -> JSON:
    """A routing field as a JSON body takes it: null counts as not sent."""
    out = {**field, "type": [field["type"], "null"]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    out["description"] = field["description"] + " null counts as not sent."
    return out


def components(routing: Routing) -> JSON:
    schemas = model_schemas(
        CreateFineTuningJobRequest,
        FineTuningJob,
        ListFineTuningJobsResponse,
        ListFineTuningJobEventsResponse,
        ListFineTuningJobCheckpointsResponse,
    )
    fields = routing_fields(routing)
    create = schemas["CreateFineTuningJobRequest"]
    create["properties"].update({name: _nullable(fields[name]) for name in BODY_ROUTING_FIELDS})
    texts = {
        "FineTuningCreateBadRequest": (
            "Invalid request: a body that is not a JSON object; a missing, unknown or "
            "mistyped field (`param` names it); a `method.type` outside OpenAI's list, "
            "metadata over 16 pairs or 64/512 characters; a training or validation file whose "
            "purpose is not `fine-tune`, or the two kept at different deployments; a routing "
            "choice that is not configured or contradicts another; no deployment that can run "
            "the job (`no_fine_tuning_deployment`, saying what to configure); the provider's "
            "refusal of the job."
        ),
        "FineTuningNotFound": (
            "No such fine-tuning job (or training or validation file): never made, or not "
            "visible to this key (a virtual key sees its own jobs, and its team's with "
            "`team_access`), or an unknown path."
        ),
        "FineTuningRateLimited": (
            "A rate limit of the key or team (`rpm`), `max_fine_tuning_jobs_in_progress` "
            "(`too_many_fine_tuning_jobs_in_progress`), or the provider's."
        ),
        "FineTuningBadRequest": (
            "Invalid request: a bad `after` or `limit`, a routing choice that is not "
            "configured, or an action the job's provider does not have (pause and resume "
            "on Azure's dated API) or refuses in the job's state."
        ),
    }
    responses = {name: error(text) for name, text in texts.items()}
    return {"schemas": schemas, "responses": responses}


def _errors(own: dict[int, str]) -> JSON:
    return errors((400, 401, 500, 503, *UPSTREAM_ERRORS), own)


def _page_params(default: int, cursor: JSON, what: str) -> list[JSON]:
    return [
        param("query", "after", f"The previous page's last {what}.", cursor),
        param(
            "query",
            "limit",
            f"How many, 1..{LIST_MAX} (default {default}).",
            {"type": "integer", "minimum": 1, "maximum": LIST_MAX},
        ),
    ]


def operations(routing: Routing) -> list[Operation]:
    """The eight operations, below the prefixes they are served under."""
    params = routing_params()
    by_id = [
        param(
            "path",
            "fine_tuning_job_id",
            "A filegate fine-tuning job id (`ftjob-` + a ULID).",
        ),
        *params,
    ]
    bad = {400: "FineTuningBadRequest", 404: "FineTuningNotFound"}
    item_cursor: JSON = {"type": "string", "pattern": CURSOR_PATTERN}
    create = op(
        "Create a fine-tuning job",
        ok("The new job.", schema("FineTuningJob")),
        _errors(
            {
                400: "FineTuningCreateBadRequest",
                404: "FineTuningNotFound",
                429: "FineTuningRateLimited",
            }
        ),
        "Starts a job over a `fine-tune` file of the caller's (or its team's) at the "
        "deployment holding the file's copy; a choice (path prefix, `custom_llm_provider`, "
        "`target_model_names`) must agree with it. A file only in filegate's store is "
        "copied to the chosen deployment first (once; later jobs reuse the copy). "
        "`hyperparameters`, `method`, `suffix`, `seed` and `integrations` go to the "
        "provider as they are. Counts against the key's and team's "
        "`max_fine_tuning_jobs_in_progress` (a job is in progress until it succeeds, fails "
        "or is cancelled; a paused one counts).",
        parameters=params,
        requestBody=body("application/json", "CreateFineTuningJobRequest"),
    )
    listing = op(
        "List fine-tuning jobs",
        ok("One page of jobs.", schema("ListFineTuningJobsResponse")),
        _errors({}),
        "The caller's jobs (and its team's), newest first, from the catalog; the "
        "unfinished ones of the page are asked of their provider first. "
        "`metadata[key]=value` keeps the jobs with every such pair; `metadata=null` the "
        "jobs without metadata.",
        parameters=[
            *_page_params(
                LIST_DEFAULT, {"type": "string", "pattern": JOB_ID_PATTERN}, "job's `id`"
            ),
            *params,
        ],
    )
    retrieve = op(
        "Retrieve a fine-tuning job",
        ok("The job.", schema("FineTuningJob")),
        _errors({404: "FineTuningNotFound"}),
        "The job as its provider says it is now (answered from the catalog within "
        f"{CACHE_SECONDS} s of the last time it was asked). Its result files get filegate "
        "ids the first time they exist.",
        parameters=by_id,
    )

    def action(summary: str, text: str) -> JSON:
        return op(
            summary, ok("The job.", schema("FineTuningJob")), _errors(bad), text, parameters=by_id
        )

    cancel = action(
        "Cancel a fine-tuning job",
        "Asks the provider to cancel; answers the job as it is then. A finished job: the "
        "provider's refusal.",
    )
    pause = action(
        "Pause a fine-tuning job",
        "Asks the provider to pause a running job (OpenAI and Azure's v1 API; elsewhere 400).",
    )
    resume = action(
        "Resume a fine-tuning job",
        "Asks the provider to resume a paused job (OpenAI and Azure's v1 API; elsewhere 400).",
    )
    events = op(
        "List a fine-tuning job's events",
        ok("One page of events, newest first.", schema("ListFineTuningJobEventsResponse")),
        _errors(bad),
        "The provider's events of the job, with filegate's ids in their messages.",
        parameters=[*by_id, *_page_params(EVENTS_DEFAULT, item_cursor, "event's `id`")],
    )
    checkpoints = op(
        "List a fine-tuning job's checkpoints",
        ok("One page of checkpoints.", schema("ListFineTuningJobCheckpointsResponse")),
        _errors(bad),
        "The provider's checkpoints of the job (each names filegate's job id).",
        parameters=[
            *by_id,
            *_page_params(CHECKPOINTS_DEFAULT, item_cursor, "checkpoint's `id`"),
        ],
    )
    one = "/fine_tuning/jobs/{fine_tuning_job_id}"
    return [
        ("createFineTuningJob", "/fine_tuning/jobs", "post", create),
        ("listFineTuningJobs", "/fine_tuning/jobs", "get", listing),
        ("retrieveFineTuningJob", one, "get", retrieve),
        ("cancelFineTuningJob", f"{one}/cancel", "post", cancel),
        ("pauseFineTuningJob", f"{one}/pause", "post", pause),
        ("resumeFineTuningJob", f"{one}/resume", "post", resume),
        ("listFineTuningEvents", f"{one}/events", "get", events),
        ("listFineTuningJobCheckpoints", f"{one}/checkpoints", "get", checkpoints),
    ]
