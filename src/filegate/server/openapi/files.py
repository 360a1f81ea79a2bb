"""The Files part of the document: OpenAI's Files API.

The objects come from ``server/models/files.py``. Written here is what models cannot
say: the streamed multipart create, the download's binary answers, headers, ``Range``
and conditional requests, and what depends on the configured deployments.
"""

from __future__ import annotations

from filegate.core.ids import FILE_ID_PATTERN
from filegate.core.params import LIST_LIMIT_MAX
from filegate.records import FILE_PURPOSES
from filegate.server.models.files import (
    INCLUDES,
    CreateFileForm,
    FileDeleted,
    FileList,
    FileObject,
)
from filegate.server.openapi.base import (
    JSON,
    UPSTREAM_ERRORS,
    Operation,
    Routing,
    body,
    errors,
    model_schemas,
    ok,
    op,
    param,
    ref,
    routing_fields,
    routing_params,
    schema,
)

TAGS = (
    ("Files", "OpenAI's Files API."),
    ("Files (aliases)", "The same operations without the `/v1` prefix."),
    (
        "Files (provider prefix)",
        "The same operations under a provider prefix (`/openai/v1/files`, ...): LiteLLM's "
        "way of choosing the provider, like `custom_llm_provider`.",
    ),
)
PREFIXED = True
SECURITY: list[JSON] = [{"BearerAuth": []}]
_BOOL = "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"


def _file(routing: Routing) -> JSON:
    """A file as retrieve and list show it: with a provider, maybe the provider's own."""
    if routing.upstreams:
        return {"anyOf": [schema("OpenAIFile"), schema("ProviderFile")]}
    return schema("OpenAIFile")


def components(routing: Routing) -> JSON:
    schemas = model_schemas(FileObject, FileList, FileDeleted, CreateFileForm)
    schemas["ListFilesResponse"]["properties"]["data"]["items"] = _file(routing)
    schemas["CreateFileRequest"]["properties"].update(routing_fields(routing))
    if routing.upstreams:
        schemas["ProviderFile"] = {
            "type": "object",
            "description": "A provider's own file object, as the provider sent it: what the "
            "master key sees for a provider's id (a file made outside filegate).",
            "properties": {"id": {"type": "string"}},
            "required": ["id"],
        }
    ups = routing.upstreams
    limit = {"type": "integer", "minimum": 1, "maximum": LIST_LIMIT_MAX, "default": LIST_LIMIT_MAX}
    after = {"type": "string", **({} if ups else {"pattern": FILE_ID_PATTERN})}
    # true, false, 1 or 0, in any letter case; true only where a provider can be.
    passthrough = {"type": "string", "pattern": _BOOL if ups else "^([Ff][Aa][Ll][Ss][Ee]|0)$"}
    provider_id = " With the master key, also a provider's own id (with a provider chosen)."
    parameters = {
        "FileId": param("path", "file_id", "The id of the file." + (provider_id if ups else "")),
        "ListPurpose": param(
            "query",
            "purpose",
            "Only return files with this purpose (any other is a 400).",
            {"type": "string", "enum": list(FILE_PURPOSES)},
        ),
        "ListLimit": param(
            "query", "limit", f"How many files to return, 1 to {LIST_LIMIT_MAX}.", limit
        ),
        "ListOrder": param(
            "query",
            "order",
            "Sort order by creation time (ties broken by id).",
            {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
        ),
        "ListAfter": param(
            "query",
            "after",
            "A file id: return the files that come after it in this order (the previous "
            "page's `last_id`; one that is not a file id is a 400, one that names no file "
            "still pages).",
            after,  # a provider's own id with passthrough=true, where a provider can be
        ),
        "ListPassthrough": param(
            "query",
            "passthrough",
            "`true` lists the provider's own files instead of filegate's (files made outside "
            "filegate): master key only (else 403), and a provider deployment must be chosen "
            "(`custom_llm_provider` or a provider prefix; else 400)."
            + ("" if ups else " No deployments are configured, so only `false`."),
            {**passthrough, "default": "false"},
        ),
        "Include": param(
            "query",
            "include",
            "filegate's own extension, not OpenAI's: `locations` adds a `locations` field to "
            "each file object, the deployments (by their configured names; `filegate` for "
            "the gateway's own store) that hold the file's bytes. Not with a provider's own "
            "files (400).",
            {"type": "string", "enum": list(INCLUDES)},
        ),
        "Range": param(
            "header",
            "Range",
            "One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`): answered with 206 and "
            "exactly those bytes, or 416 when it starts past the end. Several ranges or a "
            "malformed header are ignored (the whole file is sent).",
            {"type": "string", "examples": ["bytes=0-1023", "bytes=-500"]},
        ),
        "IfRange": param(
            "header", "If-Range", "An ETag: `Range` is honoured only while the file still has it."
        ),
        "IfNoneMatch": param(
            "header",
            "If-None-Match",
            "ETags (or `*`): answered with 304 and no body when one matches.",
        ),
    }
    # A provider's own file is streamed with the headers the provider sent.
    ours = not ups
    etag = '^"([0-9a-f]{64}|file-[0-9A-HJKMNP-TV-Z]{26})"$'
    disposition = '^attachment; filename="[^"]*"; '
    headers = {
        name: {"description": text, "required": required, "schema": {"type": "string", **rule}}
        for name, text, required, rule in (
            ("ContentLength", "The number of bytes in the body.", ours, {}),
            (
                "ContentDisposition",
                "`attachment` with an ASCII `filename` and the exact UTF-8 name in "
                "`filename*` (RFC 6266).",
                ours,
                {"pattern": disposition} if ours else {},
            ),
            (
                "ETag",
                "Quoted: the sha256 of the content filegate stores itself, or, for a file "
                "kept at a provider, the file id (its bytes never change).",
                ours,
                {"pattern": etag} if ours else {},
            ),
            ("NoSniff", "Always `nosniff`.", True, {"const": "nosniff"}),
            ("AcceptRanges", "Always `bytes`.", ours, {"const": "bytes"}),
            (
                "ContentRange",
                "The range sent and the file's full size.",
                True,
                {"pattern": "^bytes [0-9]+-[0-9]+/([0-9]+|\\*)$"},
            ),
            ("UnsatisfiedRange", "The file's full size.", True, {"pattern": "^bytes \\*/[0-9]+$"}),
        )
    }
    headers["ContentLength"]["schema"] = {"type": "integer", "minimum": 0}
    return {"schemas": schemas, "parameters": parameters, "headers": headers}


def _errors(*statuses: int) -> JSON:
    return errors({*statuses, 400, 401, 500, 503, *UPSTREAM_ERRORS})


def operations(routing: Routing) -> list[Operation]:
    """The five operations, below the prefixes they are served under."""
    params = routing_params()
    by_id = [ref("parameters", "FileId"), *params]
    listing = [
        ref("parameters", "List" + n) for n in ("Purpose", "Limit", "Order", "After", "Passthrough")
    ]
    listing.append(ref("parameters", "Include"))
    download = [ref("parameters", n) for n in ("FileId", "Range", "IfRange", "IfNoneMatch")]
    names = {
        "x-request-id": "RequestId",
        "Content-Length": "ContentLength",
        "Content-Disposition": "ContentDisposition",
        "ETag": "ETag",
        "X-Content-Type-Options": "NoSniff",
        "Accept-Ranges": "AcceptRanges",
    }
    heads = {name: ref("headers", component) for name, component in names.items()}
    content: JSON = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
    unchanged = {k: v for k, v in heads.items() if k != "Content-Length"}
    ranged = {**heads, "Content-Range": ref("headers", "ContentRange")}
    create = op(
        "Upload a file",
        ok("The stored file.", schema("OpenAIFile")),
        _errors(413),
        "Stores a file sent as multipart/form-data, in filegate's own storage or at the chosen "
        "provider deployment(s). The body is streamed as it arrives; the file is listed only "
        "once its bytes are durably stored. Unknown fields get 400 naming them.",
        parameters=params,
        requestBody=body(
            "multipart/form-data",
            "CreateFileRequest",
            file="application/octet-stream",
            expires_after="application/json",
        ),
    )
    list_ = op(
        "List files",
        ok("A page of files.", schema("ListFilesResponse")),
        _errors(),
        "Returns the caller's files, newest first by default. Paging with `after` visits every "
        "file exactly once. Unknown query parameters get 400.",
        parameters=[*listing, *params],
    )
    retrieve = op(
        "Retrieve a file",
        ok("The file.", _file(routing)),
        _errors(404),
        parameters=[ref("parameters", "FileId"), ref("parameters", "Include"), *params],
    )
    delete = op(
        "Delete a file",
        ok("The file was deleted.", schema("DeleteFileResponse")),
        _errors(404),
        "Deletes the file (and its copies at providers); afterwards retrieve, content and "
        "delete give 404.",
        parameters=by_id,
    )
    get_content = op(
        "Download a file's content",
        {"description": "The whole file.", "headers": heads, "content": content},
        {
            "206": {
                "description": "The requested byte range.",
                "headers": ranged,
                "content": content,
            },
            "304": {
                "description": "The file still has the ETag sent in `If-None-Match`; no body.",
                "headers": unchanged,
            },
            **_errors(404, 416),
        },
        "Streams the file's bytes with the Content-Type it was uploaded with "
        "(application/octet-stream when none was given). Supports one byte range (`Range`, "
        "`If-Range`) and conditional requests (`If-None-Match`).",
        parameters=[*download, *params],
    )
    return [
        ("createFile", "/files", "post", create),
        ("listFiles", "/files", "get", list_),
        ("retrieveFile", "/files/{file_id}", "get", retrieve),
        ("deleteFile", "/files/{file_id}", "delete", delete),
        ("downloadFile", "/files/{file_id}/content", "get", get_content),
    ]
