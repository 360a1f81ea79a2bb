"""OpenAI's published schemas (``../shared/specs/openai-openapi.yaml``) as jsonschema validators.

The document is OpenAPI 3.1 but keeps some 3.0 spellings, which are turned into their 2020-12
meaning: ``nullable: true`` (the value may also be null) and boolean ``exclusiveMinimum`` /
``exclusiveMaximum`` next to ``minimum`` / ``maximum``. Two places where the schema is stricter
than the API its own examples show are widened, each from the spec's text rather than by hand:

* ``Batch``: the fields the spec's batch examples show as ``null`` (``errors``, the file ids,
  the timestamps) may be null; the schema types them as plain strings and integers.
* ``FineTuningJob.status``: the statuses the fine-tuning examples answer with (``paused``, from
  the pause example) join the enum.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "openai-openapi.yaml"


@functools.cache
def _document() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"OpenAI's spec is not at {SPEC} (link /work/shared to ../shared)")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC.open(encoding="utf-8") as fh:
        doc: dict[str, Any] = yaml.load(fh, Loader=loader)
    return doc


def _modernise(node: Any) -> Any:
    if isinstance(node, list):
        return [_modernise(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _modernise(v) for k, v in node.items()}
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if out.get(exclusive) is True and bound in out:
            out[exclusive] = out.pop(bound)
        elif out.get(exclusive) is False:
            del out[exclusive]
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _examples(path_prefix: str) -> str:
    """The text of every response example under the paths that start with ``path_prefix``."""
    texts: list[str] = []
    for path, item in _document()["paths"].items():
        if not path.startswith(path_prefix):
            continue
        for op in item.values():
            examples = (op.get("x-oaiMeta") or {}).get("examples") if isinstance(op, dict) else None
            for ex in examples if isinstance(examples, list) else [examples]:
                if isinstance(ex, dict) and isinstance(ex.get("response"), str):
                    texts.append(ex["response"])
    return "\n".join(texts)


@functools.cache
def components() -> dict[str, Any]:
    schemas: dict[str, Any] = _modernise(copy.deepcopy(_document()["components"]["schemas"]))
    batch = schemas["Batch"]
    shown_null = set(re.findall(r'"(\w+)": null', _examples("/batches")))
    for name in shown_null & set(batch["properties"]) - set(batch["required"]):
        batch["properties"][name] = {"anyOf": [batch["properties"][name], {"type": "null"}]}
    status = schemas["FineTuningJob"]["properties"]["status"]
    shown = re.findall(r'"status": "(\w+)"', _examples("/fine_tuning/jobs"))
    status["enum"] = list(dict.fromkeys([*status["enum"], *shown]))
    return schemas


def validator(name: str, overrides: dict[str, Any] | None = None) -> jsonschema.Validator:
    """A validator for ``#/components/schemas/<name>``; ``overrides`` replace other schemas."""
    if overrides is None:
        return _plain_validator(name)
    return _build(name, overrides)


@functools.cache
def _plain_validator(name: str) -> jsonschema.Validator:
    return _build(name, {})


def _build(name: str, overrides: dict[str, Any]) -> jsonschema.Validator:
    schemas = {**components(), **overrides}
    root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
    return jsonschema.Draft202012Validator(root)


def assert_valid(name: str, obj: Any, overrides: dict[str, Any] | None = None) -> None:
    errors = sorted(validator(name, overrides).iter_errors(obj), key=lambda e: list(e.path))
    assert not errors, f"{name}: " + "; ".join(
        f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:5]
    )


def without_required(name: str, *fields: str) -> dict[str, Any]:
    """A copy of schema ``name`` in which ``fields`` are optional (for Azure's variants)."""
    schema = copy.deepcopy(components()[name])
    schema["required"] = [f for f in schema["required"] if f not in fields]
    return {name: schema}
