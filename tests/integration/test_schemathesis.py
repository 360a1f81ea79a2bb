"""schemathesis against a running filegate server.

Two schemas drive it:

* OpenAI's own spec (../shared/specs/openai-openapi.yaml) restricted to the five
  Files operations, its ``/files`` paths mapped onto our ``/v1/files``. The spec's
  known quirks are patched in the loaded copy, each named in ``OPENAI_SPEC_QUIRKS``;
  everything else it says must hold.
* Our own document (what the server serves at ``/openapi.json``), with no
  exceptions to conformance at all.

Checks: no 5xx, status codes, content types, headers and bodies as documented,
schema-invalid requests rejected with 4xx, requests without a key or with a
wrong one refused. Real files and uploads are swapped in for generated ids, so
those operations answer 200 too. Generation is seeded and bounded, so a run
repeats exactly and takes about a minute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.schemas import BaseSchema

from filegate.server.openapi.document import build_document

SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "openai-openapi.yaml"
FILES_OPERATIONS = ("createFile", "listFiles", "retrieveFile", "deleteFile", "downloadFile")
SEED = 20261125
MAX_EXAMPLES = 40
# The alias and provider-prefixed paths run the same handlers: a few random cases each
# check the routing, without the exhaustive coverage phase the main paths get.
MAX_EXAMPLES_ALIAS = 10

# Checks every run keeps on (schemathesis' names); all other built-in ones stay at
# their default (on) unless switched off below with a reason.
STRICT_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "ignored_auth",
)


def _spec_quirk_first_last_id_nullable(spec: dict[str, Any]) -> None:
    """ListFilesResponse types `first_id` and `last_id` as non-null strings, but an
    empty page has no first or last file: OpenAI (and we) send null there."""
    props = spec["components"]["schemas"]["ListFilesResponse"]["properties"]
    for name in ("first_id", "last_id"):
        props[name] = {**props[name], "type": ["string", "null"]}


def _spec_quirk_evals_purpose(spec: dict[str, Any]) -> None:
    """The file object's `purpose` enum lacks `evals`, although CreateFileRequest
    accepts `purpose=evals`: a file uploaded so comes back with that purpose."""
    purpose = spec["components"]["schemas"]["OpenAIFile"]["properties"]["purpose"]
    purpose["enum"] = [*purpose["enum"], "evals"]


def _spec_quirk_error_responses(spec: dict[str, Any]) -> None:
    """The Files operations document only their 200 response, so every error would be
    an "undocumented status code". Instead of turning that check off, 4XX and
    the envelope are declared for them here, as OpenAI's API actually answers (and
    as the spec's own ErrorResponse schema says): a 4xx passes only with a
    conforming `{"error": {...}}` body."""
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            if isinstance(operation, dict) and operation.get("operationId") in FILES_OPERATIONS:
                operation["responses"]["4XX"] = {
                    "description": "Client error",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ErrorResponse"}
                        }
                    },
                }


def _spec_quirk_download_media_type(spec: dict[str, Any]) -> None:
    """downloadFile documents the raw file as `application/json` with `type: string`;
    the API sends the file's bytes with the file's own media type (the SDK asks for
    `Accept: application/binary` and keeps the bytes as they are)."""
    ok = spec["paths"]["/files/{file_id}/content"]["get"]["responses"]["200"]
    ok["content"] = {"*/*": {"schema": {"type": "string", "format": "binary"}}}


OPENAI_SPEC_QUIRKS: tuple[Callable[[dict[str, Any]], None], ...] = (
    _spec_quirk_first_last_id_nullable,
    _spec_quirk_evals_purpose,
    _spec_quirk_error_responses,
    _spec_quirk_download_media_type,
)

# The statuses negative_data_rejection takes as "refused" (schemathesis' default).
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]

# positive_data_acceptance ("every schema-valid request succeeds") is off for OpenAI's
# spec: the spec is looser than its own prose and the API's rules. `limit` has no
# bounds there (1..10,000 is only in its description), batch/fine-tune uploads must be
# JSONL, and `expires_after` is a pair of bracketed form fields on the wire (as the
# SDK sends it), not a JSON part. So some schema-valid requests rightly get 400.
OPENAI_SPEC_CHECKS_OFF = {"positive_data_acceptance"}
OPENAI_SPEC_OPERATIONS: list[dict[str, Any]] = []

# Our document states every rule a schema can, so positive_data_acceptance stays on,
# except where a valid request depends on more than its own shape:
# * createFile: that a batch/fine-tune file's content must be JSONL of a certain shape
#   is a rule about the bytes of the file, beyond what a schema can say;
# * the admin operations below name teams and keys, and a schema cannot say which teams
#   or keys exist (an unknown one is a 400, e.g. `unknown_team`).
# The Uploads operations keep it: `upload_id`s are swapped for real uploads, and a
# complete's `part_ids` for that upload's real parts (`_use_known_files`).
OUR_CHECKS_OFF: set[str] = set()
OUR_OPERATIONS: list[dict[str, Any]] = [
    {
        "include-operation-id-regex": "^createFile",
        "checks": {"positive_data_acceptance": {"enabled": False}},
    },
    {
        "include-operation-id-regex": "^(generateKey|updateKey|keyInfo|deleteTeams)$",
        "checks": {"positive_data_acceptance": {"enabled": False}},
    },
    {
        # The test sends the master key with every request, so a generated
        # "negative" case whose only fault is a dropped Authorization header still
        # authenticates; on these GETs nothing else can make it fail, and the check
        # would blame the server for what the test did.
        "include-operation-id-regex": "^(listKeys|keyInfo|teamInfo|listTeams|listAuditEvents)$",
        "checks": {"negative_data_rejection": {"enabled": False}},
    },
    {
        # A declared `bytes` over the limit is refused with 413 (as OpenAI does), which
        # the check's default list of rejection statuses lacks.
        "include-operation-id-regex": "^createUpload",
        "checks": {"negative_data_rejection": {"expected-statuses": [*REJECTED, "413"]}},
    },
    {
        # A batch needs a real `batch` file at a deployment that runs batches, and a
        # batch id must name a batch: a schema cannot say which exist (this server has
        # no deployments, so a create is a 404 or a 400 saying what to configure).
        "include-operation-id-regex": "^(createBatch|retrieveBatch|cancelBatch)",
        "checks": {"positive_data_acceptance": {"enabled": False}},
    },
    {
        "include-operation-id-regex": "(Alias|ForProvider)$",
        "generation": {"max-examples": MAX_EXAMPLES_ALIAS},
        "phases": {"coverage": {"enabled": False}},
    },
]


def _openai_spec() -> dict[str, Any]:
    with SPEC.open(encoding="utf-8") as f:
        spec: dict[str, Any] = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for quirk in OPENAI_SPEC_QUIRKS:
        quirk(spec)
    return spec


def _config(
    checks_off: set[str], operations: list[dict[str, Any]], *, allow_x00: bool = True
) -> schemathesis.Config:
    checks: dict[str, Any] = {name: {"enabled": False} for name in checks_off}
    checks.update({name: {"enabled": True} for name in STRICT_CHECKS if name not in checks_off})
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "request-timeout": 30,
            "checks": checks,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "database": "none",
                "allow-x00": allow_x00,
            },
            "phases": {"stateful": {"enabled": False}},
            "operations": operations,
        }
    )


def _upload(server: Any, purpose: str, name: str, data: bytes, **form: str) -> str:
    resp = httpx.post(
        f"{server.api_url}/files",
        headers=server.headers,
        data={"purpose": purpose, **form},
        files={"file": (name, data, "text/plain")},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    file_id: str = resp.json()["id"]
    return file_id


# Real files and uploads, filled in by `known_files` before the first case is generated.
KNOWN: dict[str, list[str]] = {"read": [], "delete": [], "uploads": []}
SERVER: list[Any] = []


def _post_json(path: str, body: dict[str, Any]) -> dict[str, Any]:
    (server,) = SERVER
    resp = httpx.post(f"{server.api_url}{path}", headers=server.headers, json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def _new_upload(nbytes: int) -> str:
    body = {
        "filename": "st.txt",
        "purpose": "user_data",
        "bytes": nbytes,
        "mime_type": "text/plain",
    }
    upload_id: str = _post_json("/uploads", body)["id"]
    return upload_id


def _new_part(upload_id: str, data: bytes) -> str:
    (server,) = SERVER
    resp = httpx.post(
        f"{server.api_url}/uploads/{upload_id}/parts",
        headers=server.headers,
        files={"data": ("part", data, "application/octet-stream")},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    part_id: str = resp.json()["id"]
    return part_id


@pytest.fixture(scope="module", autouse=True)
def known_files(server: Any) -> None:
    """Real files, so retrieve/content/delete also answer 200, not only 404.

    Deletions draw from their own pool, so reads still find files after them.
    The read pool covers the shapes the object can take: with and without
    `expires_at`, the `evals` purpose, a non-ASCII name, a batch file.
    """
    batch = b'{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {}}'
    KNOWN["read"] = [
        _upload(server, "assistants", "notes.txt", b"hello"),
        _upload(server, "evals", "evals.jsonl", b'{"item": 1}\n'),
        _upload(server, "user_data", "d\u00e9j\u00e0 vu.txt", b"caf\xc3\xa9"),
        _upload(
            server,
            "vision",
            "short-lived.txt",
            b"x" * 100,
            **{"expires_after[anchor]": "created_at", "expires_after[seconds]": "3600"},
        ),
        _upload(server, "batch", "batch.jsonl", batch + b"\n"),
    ]
    KNOWN["delete"] = [_upload(server, "user_data", f"del-{i}.txt", b"bye") for i in range(8)]
    # Pending uploads for parts: declared large, so no number of small parts fills them,
    # and never completed or cancelled (cancel and complete get fresh ones per case).
    SERVER[:] = [server]
    KNOWN["uploads"] = [_new_upload(2**30) for _ in range(3)]


def _completable(case: Case, data: bytes, with_md5: bool) -> Case:
    """`case` aimed at a fresh upload holding `data` in one part, naming that part."""
    upload_id = _new_upload(len(data))
    body: dict[str, Any] = {"part_ids": [_new_part(upload_id, data)] if data else []}
    if with_md5:
        body["md5"] = hashlib.md5(data, usedforsecurity=False).hexdigest()
    case.path_parameters = {**case.path_parameters, "upload_id": upload_id}
    case.body = body
    return case


def _use_known_files(schema: BaseSchema) -> BaseSchema:
    """Swap a generated `file_id` or `upload_id` for a real one in about half the cases.

    Parts go to the pending uploads made up front; each cancel gets an upload of its
    own (a second cancel is rightly refused), and so does each complete, with its real
    part ids in the body (the parts must add up to the upload's size).
    """

    @schema.hook
    def flatmap_path_parameters(ctx: Any, path_parameters: dict[str, Any]) -> Any:
        if path_parameters and "upload_id" in path_parameters:
            if ctx.operation.path.endswith("/parts"):
                pool = st.sampled_from(KNOWN["uploads"])
            elif ctx.operation.path.endswith("/cancel"):
                pool = st.builds(_new_upload, st.just(1))
            else:
                return st.just(path_parameters)  # complete: see flatmap_case
            real = pool.map(lambda uid: {**path_parameters, "upload_id": uid})
            return st.one_of(st.just(path_parameters), real)
        if not path_parameters or "file_id" not in path_parameters:
            return st.just(path_parameters)
        pool = KNOWN["delete"] if ctx.operation.method.lower() == "delete" else KNOWN["read"]
        if not pool:
            return st.just(path_parameters)
        real = st.sampled_from(pool).map(lambda fid: {**path_parameters, "file_id": fid})
        return st.one_of(st.just(path_parameters), real)

    @schema.hook
    def flatmap_case(ctx: Any, case: Case) -> Any:
        meta = case.meta
        if not ctx.operation.path.endswith("/complete") or meta is None:
            return st.just(case)
        if meta.generation.mode.is_negative:
            return st.just(case)  # refused whichever upload it names
        real = st.builds(
            _completable, st.just(case), st.sampled_from([b"", b"done"]), st.booleans()
        )
        return st.one_of(st.just(case), real)

    return schema


# The number of cases comes from the schemathesis config above.
HYPOTHESIS = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


if SPEC.is_file():
    openai_schema = _use_known_files(
        schemathesis.openapi.from_dict(
            _openai_spec(),
            config=_config(OPENAI_SPEC_CHECKS_OFF, OPENAI_SPEC_OPERATIONS),
        ).include(operation_id=list(FILES_OPERATIONS))
    )

    @openai_schema.parametrize()
    @HYPOTHESIS
    def test_openai_spec_files_operations(case: Case, server: Any) -> None:
        case.call_and_validate(base_url=server.api_url, headers=server.headers)

else:

    def test_openai_spec_files_operations() -> None:
        pytest.skip(f"OpenAI's spec is not beside the repo (expected at {SPEC})")


# The document the server serves at /openapi.json (test_openapi_docs.py checks that
# it is byte for byte this one), built here so the cases exist at collection time.
# NUL in any string is refused with a 400 (no catalog keeps it: PostgreSQL's text
# cannot; tests/integration/test_catalog_inputs.py checks each place), a rule the
# document would have to repeat as a pattern on every string; the generated strings
# leave NUL out instead of taking that 400 for a refused valid request.
our_schema = _use_known_files(
    schemathesis.openapi.from_dict(
        build_document(), config=_config(OUR_CHECKS_OFF, OUR_OPERATIONS, allow_x00=False)
    )
)


@our_schema.parametrize()
@HYPOTHESIS
def test_our_openapi_document(case: Case, server: Any) -> None:
    case.call_and_validate(base_url=server.base_url, headers=server.headers)
