"""What the parts of the document share: references, answers, operations, the routing
choices, and the JSON schemas of ``server/models/``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from filegate.core.targets import ROUTING_FIELDS
from filegate.records import EMBEDDED
from filegate.server.models.base import Answer, Form

if TYPE_CHECKING:
    from filegate.core.targets import TargetTable

JSON = dict[str, Any]
# An operation: (operationId, path below the prefix, method, the operation's fields).
Operation = tuple[str, str, str, JSON]
REF = "#/components/schemas/{model}"


class Resource(Protocol):
    """A resource's part of the document: a module (files, uploads, ...) that
    ``document.RESOURCES`` lists. Adding a resource is its models, one such module and
    one line there."""

    @property
    def TAGS(self) -> tuple[tuple[str, str], ...]:  # (name, description); the first is its own
        ...

    @property
    def PREFIXED(self) -> bool:  # also served without /v1 and under a provider prefix
        ...

    @property
    def SECURITY(self) -> list[JSON]:  # its operations' unless one says otherwise
        ...

    def components(self, routing: Routing) -> JSON:  # {"schemas": ..., "responses": ...}
        ...

    def operations(self, routing: Routing) -> list[Operation]: ...


@dataclass(frozen=True, slots=True)
class Routing:
    """The targets a request may name: the gateway's configuration, as the document shows it."""

    providers: tuple[str, ...] = (EMBEDDED,)
    deployments: tuple[str, ...] = ()

    @classmethod
    def of(cls, targets: TargetTable) -> Routing:
        return cls(tuple(sorted(targets.by_provider)), tuple(sorted(targets.deployments)))

    @property
    def upstreams(self) -> bool:
        """Whether files can live at a provider (whose own objects and ids may show)."""
        return bool(self.deployments)


EMBEDDED_ONLY = Routing()


def ref(kind: str, name: str) -> JSON:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema(name: str) -> JSON:
    return ref("schemas", name)


def ok(description: str, body: JSON, headers: JSON | None = None) -> JSON:
    """A JSON answer, with the request id every answer carries."""
    heads = {"x-request-id": ref("headers", "RequestId"), **(headers or {})}
    media = {"application/json": {"schema": body}}
    return {"description": description, "headers": heads, "content": media}


def error(description: str, headers: JSON | None = None) -> JSON:
    return ok(description, schema("ErrorResponse"), headers)


def body(content_type: str, name: str, *, required: bool = True, **encoding: str) -> JSON:
    media: JSON = {"schema": schema(name)}
    if encoding:
        media["encoding"] = {field: {"contentType": kind} for field, kind in encoding.items()}
    return {"required": required, "content": {content_type: media}}


def param(
    where: str, name: str, description: str, schema: JSON | None = None, required: bool = False
) -> JSON:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema or {"type": "string"},
        "description": description,
    }


def op(
    summary: str, answer: JSON, errors: JSON, description: str | None = None, **fields: Any
) -> JSON:
    """An operation: its 200 answer and errors, ``fields`` as OpenAPI names them."""
    head = {"summary": summary, **({"description": description} if description else {})}
    return {**head, "parameters": [], **fields, "responses": {"200": answer, **errors}}


# The error answers the resources share (document.py describes them); each resource
# may name its own beside them.
SHARED_ERRORS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
    413: "PayloadTooLarge", 416: "RangeNotSatisfiable", 429: "RateLimited", 500: "ServerError",
    502: "BadGateway", 503: "StorageUnavailable", 504: "GatewayTimeout",
}  # fmt: skip
# Errors an operation can pass on from a provider deployment.
UPSTREAM_ERRORS = (403, 409, 429, 502, 504)


def errors(statuses: Iterable[int], own: Mapping[int, str] | None = None) -> JSON:
    names = {status: SHARED_ERRORS[status] for status in statuses} | dict(own or {})
    return {str(status): ref("responses", names[status]) for status in sorted(names)}


def _omitted_never_null(schema: JSON) -> None:
    """An answer's or a form's optional properties are left out, never null."""
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if name in required:
            continue
        prop.pop("default", None)
        if isinstance(prop.get("type"), list):
            (prop["type"],) = (t for t in prop["type"] if t != "null")
            if "enum" in prop:
                prop["enum"] = [v for v in prop["enum"] if v is not None]
        if "anyOf" in prop:
            (only,) = (s for s in prop.pop("anyOf") if s != {"type": "null"})
            prop.update(only)


class _Generator(GenerateJsonSchema):
    """pydantic's JSON schema as the document writes it: each model under its title, no
    title per property, ``type: [T, "null"]`` for a nullable simple type, no null for what
    answers and forms leave out, descriptions on one line."""

    titles: ClassVar[dict[str, str]] = {}

    def normalize_name(self, name: str) -> str:
        return self.titles.get(name) or super().normalize_name(name)

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        out = super().model_schema(schema)
        for node in (out, *out.get("properties", {}).values()):
            if "description" in node:  # a docstring's line breaks are the source's
                node["description"] = " ".join(node["description"].split())
        if issubclass(schema["cls"], Answer | Form):
            _omitted_never_null(out)
        return out

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        if not isinstance(inner.get("type"), str) or "const" in inner:
            return self.get_union_of_schemas([inner, {"type": "null"}])
        out = {**inner, "type": [inner["type"], "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out


def _held(node: object, found: set[type[BaseModel]]) -> None:
    if isinstance(node, dict):
        if node.get("type") == "model":
            found.add(node["cls"])
        for value in node.values():
            _held(value, found)
    elif isinstance(node, list):
        for value in node:
            _held(value, found)


def model_schemas(*models: type[BaseModel]) -> JSON:
    """The components for ``models`` and for the models they hold, each under its title."""
    held: set[type[BaseModel]] = set()
    for model in models:
        _held(model.__pydantic_core_schema__, held)
    titles = {m.__name__: m.model_config.get("title") or m.__name__ for m in held}
    generator = type("Generator", (_Generator,), {"titles": titles})
    pairs: list[tuple[type[BaseModel], Literal["validation"]]] = [(m, "validation") for m in models]
    _, top = models_json_schema(pairs, ref_template=REF, schema_generator=generator)
    defs: JSON = top["$defs"]
    return defs


def routing_fields(routing: Routing) -> dict[str, JSON]:
    """LiteLLM's routing choices, as the gateway's configuration allows them."""
    if routing.deployments:
        names = ", ".join(f"`{name}`" for name in routing.deployments)
        text = (
            f"Deployment names, comma-separated: {names}. Any other name gets 400 "
            "`unknown_deployment`; one at another provider than `custom_llm_provider` names "
            "gets 400 `provider_mismatch`."
        )
        deployment: JSON = {"type": "string", "examples": [routing.deployments[0]]}
    else:
        text = (
            "Deployment names, comma-separated. No deployments are configured, so any "
            "non-empty value gets 400 `unknown_deployment`."
        )
        deployment = {"type": "string", "maxLength": 0}
    providers = ", ".join(f"`{name}`" for name in routing.providers)
    return {
        "custom_llm_provider": {
            "type": "string",
            "enum": [*routing.providers, ""],
            "description": f"The provider to use; configured: {providers} (`{EMBEDDED}` is "
            "the gateway's own storage). Any other gets 400 `unsupported_provider`. An "
            "empty value counts as not sent.",
        },
        "model": {**deployment, "description": "LiteLLM's deployment choice. " + text},
        "target_model_names": {
            **deployment,
            "description": "LiteLLM's deployment choice, for several at once. " + text,
        },
        "target_storage": {
            "type": "string",
            "enum": ["default", EMBEDDED, ""],
            "description": "Where to keep the bytes: only the gateway's own storage is "
            "configured; any other value gets 400 `unknown_storage`. An empty value counts "
            "as not sent.",
        },
    }


def routing_params() -> list[JSON]:
    """The routing choices every Files and Uploads operation takes (query and header)."""
    names = [*("Routing_" + name for name in ROUTING_FIELDS), "CustomLlmProviderHeader"]
    return [ref("parameters", name) for name in names]
