"""The admin part of the OpenAPI document: keys, teams and the audit trail.

Written by hand like the rest of the document (``server/openapi.py`` merges it
in), from the same constants ``server/admin.py`` validates with, so the
document states exactly what the routes accept: strict JSON types, the size
and duration patterns, the bounds.
"""

from __future__ import annotations

from typing import Any

from filegate.core.tenants import DURATION_PATTERN, KEY_CACHE_SECONDS
from filegate.records import PURPOSES
from filegate.server.routes.admin import LIMIT_MAX, NAME_MAX, SIZE_PATTERN, TEAM_ID_MAX

JSON = dict[str, Any]

TAG = (
    "Admin",
    "Virtual keys, teams and the audit trail (LiteLLM's routes where they overlap). "
    "Every route needs the master key, except `GET /key/info`, where a virtual key may "
    "look at itself.",
)

SECURITY_SCHEMES: JSON = {
    "MasterKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "The gateway's master key (`FILEGATE_MASTER_KEY`). A virtual key "
        "gets 403 `admin_only` here.",
    }
}


def _schema(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(name: str) -> JSON:
    return {"$ref": f"#/components/responses/{name}"}


def _ok(description: str, schema: JSON) -> JSON:
    return {
        "description": description,
        "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
        "content": {"application/json": {"schema": schema}},
    }


# --- request fields ---------------------------------------------------------------

_SIZE: JSON = {
    "anyOf": [
        {"type": "integer", "minimum": 0, "maximum": LIMIT_MAX},
        {"type": "string", "pattern": SIZE_PATTERN},
        {"type": "null"},
    ],
}
_COUNT: JSON = {"type": ["integer", "null"], "minimum": 0, "maximum": LIMIT_MAX}

LIMIT_DESCRIPTIONS = {
    "max_file_size": "The largest file this key (team) may upload, in bytes or as a size "
    "(`10MB`, `512MiB`; k/M/G/T are powers of 1000, Ki/Mi/Gi/Ti of 1024). Judged from "
    "`Content-Length` before the body is read, and while it streams: a larger file gets 413.",
    "max_stored_bytes": "The most bytes the key's (team's) files may hold together; an "
    "upload that would pass it gets 403 `quota_exceeded` and leaves nothing behind.",
    "max_files": "The most files the key (team) may hold at once; uploads in progress "
    "count. One more gets 403 `quota_exceeded`.",
    "allowed_purposes": "The purposes the key may upload with; another gets 400 "
    "`purpose_not_allowed`. Omitted or null: all.",
    "rpm": "Requests per minute to the Files routes; past it, 429 with `Retry-After`.",
    "upload_rpm": "File uploads per minute; past it, 429 with `Retry-After`.",
    "max_concurrent_uploads": "Uploads of this key that may stream at once; one more gets "
    "429 `too_many_concurrent_uploads`.",
}


def _limit_request_fields() -> JSON:
    fields: JSON = {
        "max_file_size": _SIZE,
        "max_stored_bytes": _SIZE,
        "max_files": _COUNT,
        "allowed_purposes": {
            "type": ["array", "null"],
            "items": {"type": "string", "enum": list(PURPOSES)},
        },
        "rpm": _COUNT,
        "upload_rpm": _COUNT,
        "max_concurrent_uploads": _COUNT,
    }
    return {
        name: {**schema, "description": LIMIT_DESCRIPTIONS[name] + " null clears it."}
        for name, schema in fields.items()
    }


def _limit_response_fields() -> JSON:
    count: JSON = {"type": "integer", "minimum": 0, "maximum": LIMIT_MAX}
    fields: JSON = {
        "max_file_size": count,
        "max_stored_bytes": count,
        "max_files": count,
        "allowed_purposes": {"type": "array", "items": {"type": "string", "enum": list(PURPOSES)}},
        "rpm": count,
        "upload_rpm": count,
        "max_concurrent_uploads": count,
    }
    return {
        name: {**schema, "description": LIMIT_DESCRIPTIONS[name] + " Present only when set."}
        for name, schema in fields.items()
    }


_ALIAS: JSON = {"type": ["string", "null"], "maxLength": NAME_MAX}
_TEAM_REF: JSON = {
    "type": ["string", "null"],
    "maxLength": TEAM_ID_MAX,
    "description": "The team (made with `/team/new` first; an unknown one gets 400 "
    "`unknown_team`).",
}
_METADATA: JSON = {"type": ["object", "null"], "description": "Free-form data kept with it."}
_DURATION: JSON = {
    "type": ["string", "null"],
    "pattern": DURATION_PATTERN,
    "examples": ["30s", "15m", "12h", "30d", "2w"],
    "description": "How long the key lives from now (`s`, `m`, `h`, `d`, `w`); it is "
    "refused with 401 `expired_api_key` from then on. Omitted or null: forever.",
}


def _key_fields() -> JSON:
    return {
        "key_alias": {**_ALIAS, "description": "A unique name for the key (409 if taken)."},
        "user_id": {**_ALIAS, "description": "Who the key is for; free text."},
        "team_id": _TEAM_REF,
        "duration": _DURATION,
        "metadata": _METADATA,
    }


def _schemas() -> JSON:
    team_access = (
        "Whether the key also sees (and may read and delete) its team's files; without it "
        "a key sees only the files it made."
    )
    key_info_props: JSON = {
        "token": {"type": "string", "description": "The key's id (`key-...`), not its secret."},
        "key_name": {
            "type": "string",
            "description": "`sk-...` and the secret's last four characters.",
        },
        "key_alias": {"type": ["string", "null"]},
        "user_id": {"type": ["string", "null"]},
        "team_id": {"type": ["string", "null"]},
        "team_access": {"type": "boolean", "description": team_access},
        "created_at": {"type": "string", "format": "date-time"},
        "expires": {"type": ["string", "null"], "format": "date-time"},
        "metadata": {"type": "object"},
        **_limit_response_fields(),
    }
    key_info_required = [
        "token",
        "key_name",
        "key_alias",
        "user_id",
        "team_id",
        "team_access",
        "created_at",
        "expires",
        "metadata",
    ]
    team_info_props: JSON = {
        "team_id": {"type": "string"},
        "team_alias": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "metadata": {"type": "object"},
        **_limit_response_fields(),
    }
    ids: JSON = {"type": "array", "items": {"type": "string"}}
    nullable_ids: JSON = {"type": ["array", "null"], "items": {"type": "string"}}
    return {
        "KeyGenerateRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                **_key_fields(),
                "team_access": {"type": "boolean", "default": False, "description": team_access},
                **_limit_request_fields(),
            },
        },
        "KeyUpdateRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "key": {
                    "type": "string",
                    "description": "The key to change: its id, alias or secret.",
                },
                **_key_fields(),
                "team_access": {
                    "type": ["boolean", "null"],
                    "description": team_access + " null leaves it.",
                },
                **_limit_request_fields(),
            },
            "required": ["key"],
        },
        "KeyDeleteRequest": {
            "type": "object",
            "additionalProperties": False,
            "description": "The keys to delete, by id or secret (`keys`) or alias "
            "(`key_aliases`); at least one. Refused with 401 at once in this process, "
            f"within {KEY_CACHE_SECONDS:g} s in others.",
            "properties": {"keys": nullable_ids, "key_aliases": nullable_ids},
            "anyOf": [
                {"required": ["keys"], "properties": {"keys": {"type": "array", "minItems": 1}}},
                {
                    "required": ["key_aliases"],
                    "properties": {"key_aliases": {"type": "array", "minItems": 1}},
                },
            ],
        },
        "TeamNewRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "team_id": {
                    "type": ["string", "null"],
                    "maxLength": TEAM_ID_MAX,
                    "description": "The team's id (409 if taken); empty or omitted: a new "
                    "`team-...` id.",
                },
                "team_alias": _ALIAS,
                "metadata": _METADATA,
                **_limit_request_fields(),
            },
        },
        "TeamUpdateRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "team_id": {"type": "string"},
                "team_alias": {**_ALIAS, "description": "null leaves it."},
                "metadata": {**_METADATA, "description": "null leaves it."},
                **_limit_request_fields(),
            },
            "required": ["team_id"],
        },
        "TeamDeleteRequest": {
            "type": "object",
            "additionalProperties": False,
            "description": "Teams must have no keys left (else 400 `team_not_empty`).",
            "properties": {"team_ids": ids},
            "required": ["team_ids"],
        },
        "KeyInfo": {
            "type": "object",
            "additionalProperties": False,
            "properties": key_info_props,
            "required": key_info_required,
        },
        "GeneratedKey": {
            "type": "object",
            "additionalProperties": False,
            "description": "The new key. `key` is its secret, shown this once: only a "
            "SHA-256 digest is stored.",
            "properties": {
                "key": {"type": "string", "pattern": "^sk-"},
                **key_info_props,
            },
            "required": ["key", *key_info_required],
        },
        "KeyInfoResponse": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"key": {"type": "string"}, "info": _schema("KeyInfo")},
            "required": ["key", "info"],
        },
        "KeyListResponse": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}, _schema("KeyInfo")]},
                    "description": "Key ids, or whole key objects with `return_full_object=true`.",
                },
                "total_count": {"type": "integer", "minimum": 0},
                "current_page": {"type": "integer", "minimum": 1},
                "total_pages": {"type": "integer", "minimum": 1},
            },
            "required": ["keys", "total_count", "current_page", "total_pages"],
        },
        "DeletedKeys": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"deleted_keys": ids},
            "required": ["deleted_keys"],
        },
        "TeamInfo": {
            "type": "object",
            "additionalProperties": False,
            "properties": team_info_props,
            "required": ["team_id", "team_alias", "created_at", "metadata"],
        },
        "TeamInfoResponse": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "team_id": {"type": "string"},
                "team_info": _schema("TeamInfo"),
                "keys": {**ids, "description": "The ids of the team's keys."},
            },
            "required": ["team_id", "team_info", "keys"],
        },
        "DeletedTeams": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"deleted_teams": ids},
            "required": ["deleted_teams"],
        },
        "AuditEvent": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "description": "`evt-` and a time-sortable part."},
                "object": {"type": "string", "const": "audit.event"},
                "created_at": {"type": "integer", "description": "Unix time (seconds)."},
                "actor": {
                    "type": "string",
                    "description": "Who: a key's id, or `master` for the master key.",
                },
                "action": {
                    "type": "string",
                    "description": "What: `file.create`, `file.download`, `file.delete`, "
                    "`key.generate`, `key.update`, `key.delete`, `team.new`, "
                    "`team.update`, `team.delete`.",
                },
                "subject": {
                    "type": ["string", "null"],
                    "description": "The file, key or team acted on.",
                },
                "bytes": {
                    "type": ["integer", "null"],
                    "description": "Bytes stored, sent or deleted (file events).",
                },
                "detail": {"type": "object"},
            },
            "required": [
                "id",
                "object",
                "created_at",
                "actor",
                "action",
                "subject",
                "bytes",
                "detail",
            ],
        },
        "AuditList": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "object": {"type": "string", "const": "list"},
                "data": {"type": "array", "items": _schema("AuditEvent")},
                "first_id": {"type": ["string", "null"]},
                "last_id": {
                    "type": ["string", "null"],
                    "description": "Pass it as `after` for the next (older) page.",
                },
                "has_more": {"type": "boolean"},
            },
            "required": ["object", "data", "first_id", "last_id", "has_more"],
        },
    }


def _error(description: str) -> JSON:
    return _ok(description, _schema("ErrorResponse"))


def _responses() -> JSON:
    return {
        "AdminBadRequest": _error(
            "Invalid request: a body that is not JSON, an unknown field or query parameter, "
            "a value of the wrong type or out of range (`param` names it), an unknown "
            "team (`unknown_team`), or a team that still has keys (`team_not_empty`)."
        ),
        "AdminForbidden": _error("Not the master key (`admin_only`)."),
        "AdminNotFound": _error("No such key or team."),
        "AdminConflict": _error("The key alias or team id is taken."),
    }


def _errors(*statuses: int) -> JSON:
    names = {
        400: "AdminBadRequest",
        401: "Unauthorized",
        403: "AdminForbidden",
        404: "AdminNotFound",
        409: "AdminConflict",
        500: "ServerError",
        503: "StorageUnavailable",
    }
    return {str(s): _response(names[s]) for s in sorted({400, 401, 403, 500, 503, *statuses})}


def _query(name: str, schema: JSON, description: str, *, required: bool = False) -> JSON:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def _body(name: str, *, required: bool) -> JSON:
    return {
        "required": required,
        "content": {"application/json": {"schema": _schema(name)}},
    }


def _paths() -> JSON:
    master: list[JSON] = [{"MasterKey": []}]
    ops: list[tuple[str, str, JSON]] = [
        (
            "/key/generate",
            "post",
            {
                "operationId": "generateKey",
                "summary": "Make a virtual key",
                "description": "Returns a new `sk-...` key, its secret in `key` this once. "
                "Limits given here tighten the team's and the gateway's defaults "
                "(`default_limits`), never loosen them.",
                "requestBody": _body("KeyGenerateRequest", required=False),
                "responses": {
                    "200": _ok("The new key.", _schema("GeneratedKey")),
                    **_errors(409),
                },
            },
        ),
        (
            "/key/info",
            "get",
            {
                "operationId": "keyInfo",
                "summary": "Look at a key",
                "description": "The master key names the key in `key`; a virtual key sees "
                "itself (naming another key gets 403).",
                "security": [{"MasterKey": []}, {"BearerAuth": []}],
                "parameters": [
                    _query(
                        "key",
                        {"type": "string"},
                        "The key's id, alias or secret; required with the master key.",
                    )
                ],
                "responses": {
                    "200": _ok("The key (never its secret).", _schema("KeyInfoResponse")),
                    **_errors(404),
                },
            },
        ),
        (
            "/key/list",
            "get",
            {
                "operationId": "listKeys",
                "summary": "List keys",
                "parameters": [
                    _query("page", {"type": "integer", "minimum": 1, "default": 1}, "Page."),
                    _query(
                        "size",
                        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                        "Keys per page.",
                    ),
                    _query("team_id", {"type": "string"}, "Only this team's keys."),
                    _query("user_id", {"type": "string"}, "Only this user's keys."),
                    _query("key_alias", {"type": "string"}, "Only the key with this alias."),
                    _query(
                        "return_full_object",
                        {
                            "type": "string",
                            "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$",
                            "default": "false",
                        },
                        "`true`: whole key objects instead of ids.",
                    ),
                ],
                "responses": {
                    "200": _ok("A page of keys.", _schema("KeyListResponse")),
                    **_errors(),
                },
            },
        ),
        (
            "/key/update",
            "post",
            {
                "operationId": "updateKey",
                "summary": "Change a key",
                "description": "Only the fields sent change; a limit sent as null is "
                f"cleared. Other gateway processes see the change within "
                f"{KEY_CACHE_SECONDS:g} s.",
                "requestBody": _body("KeyUpdateRequest", required=True),
                "responses": {"200": _ok("The key.", _schema("KeyInfo")), **_errors(404, 409)},
            },
        ),
        (
            "/key/delete",
            "post",
            {
                "operationId": "deleteKeys",
                "summary": "Delete keys",
                "description": "The keys are refused with 401 at once in this process and "
                f"within {KEY_CACHE_SECONDS:g} s in others. Their files stay (the master "
                "key and team members with team access still see them).",
                "requestBody": _body("KeyDeleteRequest", required=True),
                "responses": {
                    "200": _ok("The ids of the deleted keys.", _schema("DeletedKeys")),
                    **_errors(404),
                },
            },
        ),
        (
            "/team/new",
            "post",
            {
                "operationId": "newTeam",
                "summary": "Make a team",
                "description": "A team's limits apply to its keys together (files, bytes, "
                "rates) and tighten each key's own.",
                "requestBody": _body("TeamNewRequest", required=False),
                "responses": {"200": _ok("The new team.", _schema("TeamInfo")), **_errors(409)},
            },
        ),
        (
            "/team/info",
            "get",
            {
                "operationId": "teamInfo",
                "summary": "Look at a team",
                "parameters": [
                    _query(
                        "team_id", {"type": "string", "minLength": 1}, "The team.", required=True
                    )
                ],
                "responses": {
                    "200": _ok("The team and its keys.", _schema("TeamInfoResponse")),
                    **_errors(404),
                },
            },
        ),
        (
            "/team/list",
            "get",
            {
                "operationId": "listTeams",
                "summary": "List teams",
                "responses": {
                    "200": _ok("Every team.", {"type": "array", "items": _schema("TeamInfo")}),
                    **_errors(),
                },
            },
        ),
        (
            "/team/update",
            "post",
            {
                "operationId": "updateTeam",
                "summary": "Change a team",
                "requestBody": _body("TeamUpdateRequest", required=True),
                "responses": {"200": _ok("The team.", _schema("TeamInfo")), **_errors(404)},
            },
        ),
        (
            "/team/delete",
            "post",
            {
                "operationId": "deleteTeams",
                "summary": "Delete teams",
                "requestBody": _body("TeamDeleteRequest", required=True),
                "responses": {
                    "200": _ok("The ids of the deleted teams.", _schema("DeletedTeams")),
                    **_errors(404),
                },
            },
        ),
        (
            "/audit",
            "get",
            {
                "operationId": "listAuditEvents",
                "summary": "Page through the audit trail",
                "description": "Every file create, download and delete and every key and "
                "team change: who, what, when, how many bytes. Newest first.",
                "parameters": [
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                        "Events per page.",
                    ),
                    _query(
                        "after",
                        {"type": "string"},
                        "An event id (the previous page's `last_id`): older events follow.",
                    ),
                    _query("actor", {"type": "string"}, "Only this actor (a key id, `master`)."),
                    _query("action", {"type": "string"}, "Only this action (`file.create`, ...)."),
                    _query("subject", {"type": "string"}, "Only events about this file/key/team."),
                ],
                "responses": {"200": _ok("A page of events.", _schema("AuditList")), **_errors()},
            },
        ),
    ]
    paths: JSON = {}
    for path, method, op in ops:
        paths.setdefault(path, {})[method] = {
            "tags": [TAG[0]],
            "security": master,
            "parameters": [],
            **op,
        }
    return paths


def add_to(doc: JSON) -> JSON:
    """Merge the admin paths and components into a built document; return it."""
    doc["tags"].append({"name": TAG[0], "description": TAG[1]})
    doc["paths"].update(_paths())
    components = doc["components"]
    components["schemas"].update(_schemas())
    components["responses"].update(_responses())
    components["securitySchemes"].update(SECURITY_SCHEMES)
    return doc
