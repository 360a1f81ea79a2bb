"""The Uploads part of the OpenAPI document: OpenAI's Uploads API.

Written by hand like the rest of the document, to describe what the routes in
``server/uploads.py`` accept and answer, from the constants ``core/uploads.py``
checks with (the byte limits, the MIME types each purpose takes). Field facts
follow OpenAI's spec (CreateUploadRequest, AddUploadPartRequest,
CompleteUploadRequest, Upload, UploadPart); the extras are ours (the purposes
``user_data`` and ``evals``, the routing fields, the error statuses).
``server/openapi.py`` serves these operations under the same prefixes as the
Files ones (``/v1``, none, ``/{provider}/v1``, ``/{provider}``) and merges the
components in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from filegate.core.files.uploads import (
    _TYPES_FOR,
    MAX_MIME_TYPE,
    MAX_PART_BYTES,
    MAX_UPLOAD_BYTES,
    UPLOAD_TTL,
)
from filegate.core.params import EXPIRES_MAX, EXPIRES_MIN
from filegate.records import PURPOSES

JSON = dict[str, Any]

TAGS = (
    (
        "Uploads",
        "OpenAI's Uploads API: a file of up to 8 GiB sent in parts of up to 64 MiB, any "
        "gateway process taking any part, then completed into an ordinary file (listed and "
        "downloaded through the Files routes).",
    ),
    ("Uploads (aliases)", "The same operations without the `/v1` prefix."),
    ("Uploads (provider prefix)", "The same operations under a provider prefix."),
)

# The routing fields a create body may carry (LiteLLM's, as on /v1/files; the
# storage choice is a query parameter here).
BODY_ROUTING_FIELDS = ("custom_llm_provider", "model", "target_model_names")

# What the server checks a mime_type against: an RFC 6838 type/subtype (in any
# letter case, with parameters after `;` ignored), and for some purposes one of a
# few types. Written out so that a JSON Schema regex states the same rule.
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"


def _any_case(text: str) -> str:
    out = ""
    for char in text:
        if char.isalpha():
            out += f"[{char.upper()}{char.lower()}]"
        elif char.isdigit() or char in "/-":
            out += char
        else:  # pragma: no cover - the known types have no other characters
            raise ValueError(f"cannot write {text!r} as a pattern")
    return out


def mime_type_pattern(types: Iterable[str] | None) -> str:
    """The values of `mime_type` the server takes: any type, or one of `types`."""
    body = (
        f"{_TOKEN}/{_TOKEN}"
        if types is None
        else "(" + "|".join(_any_case(t) for t in sorted(types)) + ")"
    )
    return rf"^\s*{body}\s*(;[\s\S]*)?$"


def _mime_type_rules() -> list[JSON]:
    """One branch per set of MIME types: the purposes that take it, and its pattern."""
    groups: dict[frozenset[str] | None, list[str]] = {}
    for purpose in PURPOSES:
        groups.setdefault(_TYPES_FOR.get(purpose), []).append(purpose)
    rules: list[JSON] = []
    for types, purposes in groups.items():
        names = "any type" if types is None else ", ".join(f"`{t}`" for t in sorted(types))
        rules.append(
            {
                "title": "purpose " + " / ".join(purposes),
                "description": f"`{'`, `'.join(purposes)}` files: {names}.",
                "properties": {
                    "purpose": {"enum": purposes},
                    "mime_type": {"pattern": mime_type_pattern(types)},
                },
            }
        )
    return rules


def _schema(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(name: str) -> JSON:
    return {"$ref": f"#/components/responses/{name}"}


def _json_response(description: str, schema: JSON) -> JSON:
    return {
        "description": description,
        "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
        "content": {"application/json": {"schema": schema}},
    }


def _nullable(schema: JSON) -> JSON:
    """A routing field as a JSON body takes it: null counts as not sent."""
    out = {**schema, "type": [schema["type"], "null"]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    out["description"] = schema["description"] + " null counts as not sent."
    return out


def schemas(routing_fields: dict[str, JSON]) -> JSON:
    """The request and object schemas; `routing_fields` as /v1/files takes them."""
    purpose: JSON = {"type": "string", "enum": list(PURPOSES)}
    return {
        "FileExpirationAfter": {
            "type": "object",
            "title": "File expiration policy",
            "description": "When the file expires. By default `batch` files expire after "
            "30 days and all others persist until deleted.",
            "additionalProperties": False,
            "properties": {
                "anchor": {
                    "type": "string",
                    "const": "created_at",
                    "description": "What the expiry counts from: the file's creation.",
                },
                "seconds": {
                    "type": "integer",
                    "minimum": EXPIRES_MIN,
                    "maximum": EXPIRES_MAX,
                    "description": f"Seconds after the anchor ({EXPIRES_MIN} = 1 hour .. "
                    f"{EXPIRES_MAX} = 30 days).",
                },
            },
            "required": ["anchor", "seconds"],
        },
        "CreateUploadRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "filename": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1024,
                    "description": "The name of the file: 1 to 1024 bytes of UTF-8 (a "
                    "longer one gets 400).",
                },
                "purpose": {
                    **purpose,
                    "description": "The intended purpose of the file. `batch`, "
                    "`fine-tune` and `evals` files must be JSONL, checked line by line on "
                    "complete.",
                },
                "bytes": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_UPLOAD_BYTES,
                    "description": "The exact size of the file; the parts named on "
                    f"complete must add up to it. More than {MAX_UPLOAD_BYTES} (8 GiB), "
                    "the gateway's `FILEGATE_MAX_UPLOAD_SIZE` or the key's "
                    "`max_file_size` gets 413 at once.",
                },
                "mime_type": {
                    "type": "string",
                    "maxLength": MAX_MIME_TYPE,
                    "examples": ["text/plain", "application/jsonl", "image/png"],
                    "description": "The MIME type of the file (`type/subtype`, any letter "
                    "case, parameters after `;` ignored), which must suit the purpose: "
                    "JSONL types for `batch`, `fine-tune` and `evals`, images for "
                    "`vision` (else 400 `unsupported_mime_type`); the file is served "
                    "with it.",
                },
                "expires_after": {
                    "anyOf": [_schema("FileExpirationAfter"), {"type": "null"}],
                    "description": "When the completed file expires (the upload itself "
                    f"always expires {UPLOAD_TTL} s after it is made). null counts as "
                    "not sent.",
                },
                **{name: _nullable(routing_fields[name]) for name in BODY_ROUTING_FIELDS},
            },
            "required": ["filename", "purpose", "bytes", "mime_type"],
            # Which MIME types a purpose takes, stated so a validator can check it.
            "anyOf": _mime_type_rules(),
        },
        "AddUploadPartRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "data": {
                    "type": "string",
                    "format": "binary",
                    "description": f"The part's bytes: at most {MAX_PART_BYTES} (64 MiB); "
                    "a larger part gets 413, judged from Content-Length before reading, "
                    "and while streaming. Exactly one `data` part per request.",
                }
            },
            "required": ["data"],
        },
        "CompleteUploadRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "part_ids": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The parts that make the file, in order, each once; "
                    "their sizes must add up to the upload's `bytes`. Parts not named are "
                    "dropped. Empty only for an upload of 0 bytes.",
                },
                "md5": {
                    "type": ["string", "null"],
                    "description": "The hex md5 of the whole file; when sent, the parts' "
                    "content must hash to it (else 400 `md5_mismatch`, and the upload "
                    "stays pending). null counts as not sent.",
                },
            },
            "required": ["part_ids"],
        },
        "Upload": {
            "type": "object",
            "title": "Upload",
            "description": "The Upload object: a file arriving in parts.",
            "additionalProperties": False,
            "properties": {
                "id": {
                    "type": "string",
                    "pattern": "^upload_",
                    "description": "The upload's id: `upload_` and a time-sortable part.",
                    "examples": ["upload_01JD8W3Q4ZK5N7X2M9P6R3T1V0"],
                },
                "object": {"type": "string", "const": "upload"},
                "bytes": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_UPLOAD_BYTES,
                    "description": "The size the file will have.",
                },
                "created_at": {
                    "type": "integer",
                    "description": "Unix time (seconds) when the upload was made.",
                },
                "expires_at": {
                    "type": "integer",
                    "description": f"Unix time (seconds) when the upload expires: "
                    f"`created_at` + {UPLOAD_TTL}. A pending upload then takes no more "
                    "parts and cannot be completed.",
                },
                "filename": {"type": "string"},
                "purpose": {**purpose, "description": "The purpose the file will have."},
                "status": {
                    "type": "string",
                    "enum": ["pending", "completed", "cancelled", "expired"],
                    "description": "`pending` while it takes parts (and while a complete "
                    "runs); then `completed`, `cancelled` or `expired`.",
                },
                "file": {
                    "anyOf": [_schema("OpenAIFile"), {"type": "null"}],
                    "description": "The file made by complete; null before (and in the "
                    "answers of create and cancel).",
                },
            },
            "required": [
                "id",
                "object",
                "bytes",
                "created_at",
                "expires_at",
                "filename",
                "purpose",
                "status",
                "file",
            ],
        },
        "UploadPart": {
            "type": "object",
            "title": "UploadPart",
            "description": "A part of an upload: a chunk of its bytes.",
            "additionalProperties": False,
            "properties": {
                "id": {
                    "type": "string",
                    "pattern": "^part_",
                    "description": "The part's id, to name on complete.",
                },
                "object": {"type": "string", "const": "upload.part"},
                "created_at": {
                    "type": "integer",
                    "description": "Unix time (seconds) when the part was added.",
                },
                "upload_id": {"type": "string", "description": "The upload it belongs to."},
            },
            "required": ["id", "object", "created_at", "upload_id"],
        },
    }


def _error(description: str) -> JSON:
    return _json_response(description, _schema("ErrorResponse"))


_CLOSED = (
    "an upload that takes no more changes (`upload_completed`, `upload_cancelled`, "
    "`upload_expired`, or `upload_pending` while a complete runs)"
)


def responses() -> JSON:
    return {
        "UploadCreateBadRequest": _error(
            "Invalid request: a body that is not a JSON object; a missing, unknown or "
            "invalid field or query parameter (`param` names it); a `mime_type` that does "
            "not suit the purpose (`unsupported_mime_type`); a `filename` over 1024 bytes; "
            "or a routing choice that is not configured."
        ),
        "UploadPartBadRequest": _error(
            "Invalid request: a body that is not multipart/form-data with exactly one "
            f"`data` part, an unknown field or query parameter, {_CLOSED}, or more parts "
            "than the upload can use (`upload_parts_exceeded`: they may hold twice its "
            "`bytes` and one part more)."
        ),
        "UploadCompleteBadRequest": _error(
            f"Invalid request: a body that is not a JSON object, an invalid field, {_CLOSED}, "
            "part ids that are not this upload's or named twice (`unknown_part`, "
            "`invalid_value`), parts that add up to other than the upload's `bytes` "
            "(`bytes_mismatch`), content that fails `md5` (`md5_mismatch`) or the "
            "purpose's JSONL checks (the message names the line). The upload stays pending "
            "after any of these but the closed ones."
        ),
        "UploadCancelBadRequest": _error(
            f"Invalid request: an unknown query parameter, or {_CLOSED}."
        ),
        "UploadNotFound": _error(
            "No such upload: never made, or not visible to this key (a virtual key sees "
            "the uploads it made, and its team's with `team_access`), or an unknown path."
        ),
        "UploadTooLarge": _error(
            f"`bytes` is more than {MAX_UPLOAD_BYTES} (8 GiB), the gateway's "
            "`FILEGATE_MAX_UPLOAD_SIZE` or the key's `max_file_size` (code `file_too_large`)."
        ),
        "UploadPartTooLarge": _error(
            f"The part is larger than {MAX_PART_BYTES} bytes (64 MiB), judged from "
            "Content-Length before reading, and while streaming."
        ),
    }


# A provider's errors, when the upload goes to a provider deployment.
_UPSTREAM = (403, 409, 429, 502, 504)
_SHARED_RESPONSES = {
    401: "Unauthorized",
    403: "Forbidden",
    409: "Conflict",
    429: "RateLimited",
    500: "ServerError",
    502: "BadGateway",
    503: "StorageUnavailable",
    504: "GatewayTimeout",
}


def _errors(own: dict[int, str], *, upstream: bool = True) -> JSON:
    names = {
        status: _SHARED_RESPONSES[status]
        for status in (401, 429, 500, 503, *(_UPSTREAM if upstream else ()))
    }
    names.update(own)
    return {str(status): _response(names[status]) for status in sorted(names)}


def operations(routing_params: list[JSON]) -> list[tuple[str, str, str, JSON]]:
    """The four operations: (operationId, path below the prefix, method, operation)."""
    upload_id: JSON = {
        "name": "upload_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "The id of the upload.",
    }
    create: JSON = {
        "summary": "Create an upload",
        "description": "Makes an upload that parts can be added to, for a file of up to "
        f"{MAX_UPLOAD_BYTES} bytes (8 GiB); it expires {UPLOAD_TTL} s after it is made. "
        "`purpose`, `mime_type` and the routing choice are checked now, the content on "
        "complete. Counts against the key's `upload_rpm`.",
        "parameters": routing_params,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _schema("CreateUploadRequest")}},
        },
        "responses": {
            "200": _json_response("The new upload, `pending`.", _schema("Upload")),
            **_errors({400: "UploadCreateBadRequest", 413: "UploadTooLarge"}),
        },
    }
    add_part: JSON = {
        "summary": "Add a part to an upload",
        "description": f"Adds a chunk of at most {MAX_PART_BYTES} bytes (64 MiB), streamed "
        "into the shared blob store, so any gateway process may take any part. Parts may "
        "be sent in parallel and in any order: complete says which to use, in which order.",
        "parameters": [upload_id, *routing_params],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": _schema("AddUploadPartRequest"),
                    "encoding": {"data": {"contentType": "application/octet-stream"}},
                }
            },
        },
        "responses": {
            "200": _json_response("The part.", _schema("UploadPart")),
            **_errors(
                {400: "UploadPartBadRequest", 404: "UploadNotFound", 413: "UploadPartTooLarge"}
            ),
        },
    }
    complete: JSON = {
        "summary": "Complete an upload",
        "description": "Joins the named parts, in order, into an ordinary file (checked "
        "like one sent to `POST /v1/files`: the purpose's JSONL rules, the key's and team's "
        "quotas, copies at the chosen provider) that belongs to whoever made the upload. "
        "Returns the upload, `completed`, with the file in `file`; the parts are dropped.",
        "parameters": [upload_id, *routing_params],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _schema("CompleteUploadRequest")}},
        },
        "responses": {
            "200": _json_response("The upload, `completed`, with its file.", _schema("Upload")),
            **_errors({400: "UploadCompleteBadRequest", 404: "UploadNotFound"}),
        },
    }
    cancel: JSON = {
        "summary": "Cancel an upload",
        "description": "Cancels a pending upload and drops its parts; it takes no more "
        "parts and cannot be completed.",
        "parameters": [upload_id, *routing_params],
        "responses": {
            "200": _json_response("The upload, `cancelled`.", _schema("Upload")),
            **_errors({400: "UploadCancelBadRequest", 404: "UploadNotFound"}, upstream=False),
        },
    }
    return [
        ("createUpload", "/uploads", "post", create),
        ("addUploadPart", "/uploads/{upload_id}/parts", "post", add_part),
        ("completeUpload", "/uploads/{upload_id}/complete", "post", complete),
        ("cancelUpload", "/uploads/{upload_id}/cancel", "post", cancel),
    ]
