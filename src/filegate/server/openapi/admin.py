"""The admin part of the document: keys, teams and the audit trail.

The bodies and answers come from ``server/models/admin.py`` (what the routes validate
with); written here are the query parameters and each operation's errors.
"""

from __future__ import annotations

from typing import Any

from filegate.core.tenants import KEY_CACHE_SECONDS
from filegate.server.models import admin as models
from filegate.server.openapi.base import (
    JSON,
    Operation,
    Routing,
    body,
    error,
    errors,
    model_schemas,
    ok,
    op,
    param,
    schema,
)

TAGS = (
    (
        "Admin",
        "Virtual keys, teams and the audit trail (LiteLLM's routes where they overlap). "
        "Every route needs the master key, except `GET /key/info`, where a virtual key may "
        "look at itself.",
    ),
)
PREFIXED = False
SECURITY: list[JSON] = [{"MasterKey": []}]
_CACHE = f"{KEY_CACHE_SECONDS:g} s"


def components(routing: Routing) -> JSON:
    schemas = model_schemas(
        models.KeyGenerate,
        models.KeyUpdate,
        models.KeyDelete,
        models.TeamNew,
        models.TeamUpdate,
        models.TeamDelete,
        models.GeneratedKey,
        models.KeyInfoResponse,
        models.KeyListResponse,
        models.DeletedKeys,
        models.TeamInfoResponse,
        models.DeletedTeams,
        models.AuditList,
    )
    texts = {
        "AdminBadRequest": (
            "Invalid request: a body that is not JSON, an unknown field or query parameter, "
            "a value of the wrong type or out of range (`param` names it), an unknown "
            "team (`unknown_team`), or a team that still has keys (`team_not_empty`)."
        ),
        "AdminForbidden": "Not the master key (`admin_only`).",
        "AdminNotFound": "No such key or team.",
        "AdminConflict": "The key alias or team id is taken.",
    }
    responses = {name: error(text) for name, text in texts.items()}
    schemes = {
        "MasterKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "The gateway's master key (`FILEGATE_MASTER_KEY`). A virtual key "
            "gets 403 `admin_only` here.",
        }
    }
    return {"schemas": schemas, "responses": responses, "securitySchemes": schemes}


def _errors(*statuses: int) -> JSON:
    own = {
        400: "AdminBadRequest",
        403: "AdminForbidden",
        404: "AdminNotFound",
        409: "AdminConflict",
    }
    return errors((401, 500, 503), {s: own[s] for s in (400, 403, *statuses)})


def _op(summary: str, answer: JSON, *statuses: int, **fields: Any) -> JSON:
    return op(summary, answer, _errors(*statuses), **fields)


def _page(name: str, default: int, high: int | None, description: str) -> JSON:
    bounds = {"minimum": 1, **({"maximum": high} if high else {}), "default": default}
    return param("query", name, description, {"type": "integer", **bounds})


def _text(name: str, description: str) -> JSON:
    return param("query", name, description)


def operations(routing: Routing) -> list[Operation]:
    generate = _op(
        "Make a virtual key",
        ok("The new key.", schema("GeneratedKey")),
        409,
        description="Returns a new `sk-...` key, its secret in `key` this once. Limits given "
        "here tighten the team's and the gateway's defaults (`default_limits`), never loosen "
        "them.",
        requestBody=body("application/json", "KeyGenerateRequest", required=False),
    )
    info = _op(
        "Look at a key",
        ok("The key (never its secret).", schema("KeyInfoResponse")),
        404,
        description="The master key names the key in `key`; a virtual key sees itself "
        "(naming another key gets 403).",
        security=[{"MasterKey": []}, {"BearerAuth": []}],
        parameters=[_text("key", "The key's id, alias or secret; required with the master key.")],
    )
    full = {
        "type": "string",
        "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$",
        "default": "false",
    }
    list_keys = _op(
        "List keys",
        ok("A page of keys.", schema("KeyListResponse")),
        parameters=[
            _page("page", 1, None, "Page."),
            _page("size", 100, 1000, "Keys per page."),
            _text("team_id", "Only this team's keys."),
            _text("user_id", "Only this user's keys."),
            _text("key_alias", "Only the key with this alias."),
            param("query", "return_full_object", "`true`: whole key objects instead of ids.", full),
        ],
    )
    update = _op(
        "Change a key",
        ok("The key.", schema("KeyInfo")),
        404,
        409,
        description="Only the fields sent change; a limit sent as null is cleared. Other "
        f"gateway processes see the change within {_CACHE}.",
        requestBody=body("application/json", "KeyUpdateRequest"),
    )
    delete = _op(
        "Delete keys",
        ok("The ids of the deleted keys.", schema("DeletedKeys")),
        404,
        description=f"The keys are refused with 401 at once in this process and within {_CACHE} "
        "in others. Their files stay (the master key and team members with team access still "
        "see them).",
        requestBody=body("application/json", "KeyDeleteRequest"),
    )
    new_team = _op(
        "Make a team",
        ok("The new team.", schema("TeamInfo")),
        409,
        description="A team's limits apply to its keys together (files, bytes, rates) and "
        "tighten each key's own.",
        requestBody=body("application/json", "TeamNewRequest", required=False),
    )
    team_id = param("query", "team_id", "The team.", {"type": "string", "minLength": 1}, True)
    team_info = _op(
        "Look at a team",
        ok("The team and its keys.", schema("TeamInfoResponse")),
        404,
        parameters=[team_id],
    )
    teams = {"type": "array", "items": schema("TeamInfo")}
    list_teams = _op("List teams", ok("Every team.", teams))
    update_team = _op(
        "Change a team",
        ok("The team.", schema("TeamInfo")),
        404,
        requestBody=body("application/json", "TeamUpdateRequest"),
    )
    delete_teams = _op(
        "Delete teams",
        ok("The ids of the deleted teams.", schema("DeletedTeams")),
        404,
        requestBody=body("application/json", "TeamDeleteRequest"),
    )
    audit = _op(
        "Page through the audit trail",
        ok("A page of events.", schema("AuditList")),
        description="Every file create, download and delete and every key and team change: "
        "who, what, when, how many bytes. Newest first.",
        parameters=[
            _page("limit", 100, 1000, "Events per page."),
            _text("after", "An event id (the previous page's `last_id`): older events follow."),
            _text("actor", "Only this actor (a key id, `master`)."),
            _text("action", "Only this action (`file.create`, ...)."),
            _text("subject", "Only events about this file/key/team."),
        ],
    )
    return [
        ("generateKey", "/key/generate", "post", generate),
        ("keyInfo", "/key/info", "get", info),
        ("listKeys", "/key/list", "get", list_keys),
        ("updateKey", "/key/update", "post", update),
        ("deleteKeys", "/key/delete", "post", delete),
        ("newTeam", "/team/new", "post", new_team),
        ("teamInfo", "/team/info", "get", team_info),
        ("listTeams", "/team/list", "get", list_teams),
        ("updateTeam", "/team/update", "post", update_team),
        ("deleteTeams", "/team/delete", "post", delete_teams),
        ("listAuditEvents", "/audit", "get", audit),
    ]
