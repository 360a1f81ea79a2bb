"""The Uploads part of the document: OpenAI's Uploads API.

The bodies and objects come from ``server/models/uploads.py``. Written here: the
streamed multipart part, which MIME types each purpose takes (``core/files/uploads.py``
checks it), the configured routing choices, and each operation's errors.
"""

from __future__ import annotations

from collections.abc import Iterable

from filegate.core.files.uploads import _TYPES_FOR, MAX_PART_BYTES, MAX_UPLOAD_BYTES, UPLOAD_TTL
from filegate.records import PURPOSES
from filegate.server.models.uploads import (
    AddPartForm,
    CompleteUpload,
    CreateUpload,
    Upload,
    UploadPart,
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
        "Uploads",
        "OpenAI's Uploads API: a file of up to 8 GiB sent in parts of up to 64 MiB, any "
        "gateway process taking any part, then completed into an ordinary file (listed and "
        "downloaded through the Files routes).",
    ),
    ("Uploads (aliases)", "The same operations without the `/v1` prefix."),
    ("Uploads (provider prefix)", "The same operations under a provider prefix."),
)
PREFIXED = True
SECURITY: list[JSON] = [{"BearerAuth": []}]

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


def _nullable(field: JSON) -> JSON:
    """A routing field as a JSON body takes it: null counts as not sent."""
    out = {**field, "type": [field["type"], "null"]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    out["description"] = field["description"] + " null counts as not sent."
    return out


_CLOSED = (
    "an upload that takes no more changes (`upload_completed`, `upload_cancelled`, "
    "`upload_expired`, or `upload_pending` while a complete runs)"
)


def components(routing: Routing) -> JSON:
    schemas = model_schemas(CreateUpload, CompleteUpload, AddPartForm, Upload, UploadPart)
    create = schemas["CreateUploadRequest"]
    fields = routing_fields(routing)
    create["properties"].update({name: _nullable(fields[name]) for name in BODY_ROUTING_FIELDS})
    # Which MIME types a purpose takes, stated so a validator can check it.
    create["anyOf"] = _mime_type_rules()
    texts = {
        "UploadCreateBadRequest": (
            "Invalid request: a body that is not a JSON object; a missing, unknown or "
            "invalid field or query parameter (`param` names it); a `mime_type` that does "
            "not suit the purpose (`unsupported_mime_type`); a `filename` over 1024 bytes; "
            "or a routing choice that is not configured."
        ),
        "UploadPartBadRequest": (
            "Invalid request: a body that is not multipart/form-data with exactly one "
            f"`data` part, an unknown field or query parameter, {_CLOSED}, or more parts "
            "than the upload can use (`upload_parts_exceeded`: they may hold twice its "
            "`bytes` and one part more)."
        ),
        "UploadCompleteBadRequest": (
            f"Invalid request: a body that is not a JSON object, an invalid field, {_CLOSED}, "
            "part ids that are not this upload's or named twice (`unknown_part`, "
            "`invalid_value`), parts that add up to other than the upload's `bytes` "
            "(`bytes_mismatch`), content that fails `md5` (`md5_mismatch`) or the "
            "purpose's JSONL checks (the message names the line). The upload stays pending "
            "after any of these but the closed ones."
        ),
        "UploadCancelBadRequest": (f"Invalid request: an unknown query parameter, or {_CLOSED}."),
        "UploadNotFound": (
            "No such upload: never made, or not visible to this key (a virtual key sees "
            "the uploads it made, and its team's with `team_access`), or an unknown path."
        ),
        "UploadTooLarge": (
            f"`bytes` is more than {MAX_UPLOAD_BYTES} (8 GiB), the gateway's "
            "`FILEGATE_MAX_UPLOAD_SIZE` or the key's `max_file_size` (code `file_too_large`)."
        ),
        "UploadPartTooLarge": (
            f"The part is larger than {MAX_PART_BYTES} bytes (64 MiB), judged from "
            "Content-Length before reading, and while streaming."
        ),
    }
    responses = {name: error(text) for name, text in texts.items()}
    return {"schemas": schemas, "responses": responses}


def _errors(own: dict[int, str], *, upstream: bool = True) -> JSON:
    return errors((401, 429, 500, 503, *(UPSTREAM_ERRORS if upstream else ())), own)


def operations(routing: Routing) -> list[Operation]:
    """The four operations, below the prefixes they are served under."""
    params = routing_params()
    by_id = [param("path", "upload_id", "The id of the upload."), *params]
    create = op(
        "Create an upload",
        ok("The new upload, `pending`.", schema("Upload")),
        _errors({400: "UploadCreateBadRequest", 413: "UploadTooLarge"}),
        "Makes an upload that parts can be added to, for a file of up to "
        f"{MAX_UPLOAD_BYTES} bytes (8 GiB); it expires {UPLOAD_TTL} s after it is made. "
        "`purpose`, `mime_type` and the routing choice are checked now, the content on "
        "complete. Counts against the key's `upload_rpm`.",
        parameters=params,
        requestBody=body("application/json", "CreateUploadRequest"),
    )
    add_part = op(
        "Add a part to an upload",
        ok("The part.", schema("UploadPart")),
        _errors({400: "UploadPartBadRequest", 404: "UploadNotFound", 413: "UploadPartTooLarge"}),
        f"Adds a chunk of at most {MAX_PART_BYTES} bytes (64 MiB), streamed into the shared "
        "blob store, so any gateway process may take any part. Parts may be sent in parallel "
        "and in any order: complete says which to use, in which order.",
        parameters=by_id,
        requestBody=body(
            "multipart/form-data", "AddUploadPartRequest", data="application/octet-stream"
        ),
    )
    complete = op(
        "Complete an upload",
        ok("The upload, `completed`, with its file.", schema("Upload")),
        _errors({400: "UploadCompleteBadRequest", 404: "UploadNotFound"}),
        "Joins the named parts, in order, into an ordinary file (checked like one sent to "
        "`POST /v1/files`: the purpose's JSONL rules, the key's and team's quotas, copies at "
        "the chosen provider) that belongs to whoever made the upload. Returns the upload, "
        "`completed`, with the file in `file`; the parts are dropped.",
        parameters=by_id,
        requestBody=body("application/json", "CompleteUploadRequest"),
    )
    cancel = op(
        "Cancel an upload",
        ok("The upload, `cancelled`.", schema("Upload")),
        _errors({400: "UploadCancelBadRequest", 404: "UploadNotFound"}, upstream=False),
        "Cancels a pending upload and drops its parts; it takes no more parts and cannot be "
        "completed.",
        parameters=by_id,
    )
    return [
        ("createUpload", "/uploads", "post", create),
        ("addUploadPart", "/uploads/{upload_id}/parts", "post", add_part),
        ("completeUpload", "/uploads/{upload_id}/complete", "post", complete),
        ("cancelUpload", "/uploads/{upload_id}/cancel", "post", cancel),
    ]
