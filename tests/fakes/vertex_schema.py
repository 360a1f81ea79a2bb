"""Proto3 JSON parsing of the create bodies the fake Vertex AI takes.

A request field may be spelled in lowerCamelCase or in its proto snake_case name (Google's
parsers take both); the parsed object always uses lowerCamelCase. An unknown name or a value
of the wrong JSON type is the front end's 400 (``Invalid JSON payload received. Unknown name
...`` / ``Invalid value at '...' (TYPE_STRING), ...``), before any semantic check. Output-only
fields are accepted and dropped, as the service ignores them. Messages the fake does not model
(``Struct`` values, encryption specs, ...) are kept as sent.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.vertex_wire import GoogleError, bad_payload, camel, snake

# A field's type: a scalar name, "map" (string -> string), "any" (kept as sent), "output"
# (output only: dropped), ("enum", values), ("message", fields) or ("repeated", type).
Spec = str | tuple[str, Any]
Fields = dict[str, Spec]

_OUTPUT: Spec = "output"
_GCS_SOURCE: Fields = {"uris": ("repeated", "string")}
_BQ_SOURCE: Fields = {"inputUri": "string"}
_GCS_DEST: Fields = {"outputUriPrefix": "string"}
_BQ_DEST: Fields = {"outputUri": "string"}

BATCH_PREDICTION_JOB: Fields = {
    "name": _OUTPUT,
    "displayName": "string",
    "model": "string",
    "modelVersionId": _OUTPUT,
    "unmanagedContainerModel": "any",
    "inputConfig": (
        "message",
        {
            "gcsSource": ("message", _GCS_SOURCE),
            "bigquerySource": ("message", _BQ_SOURCE),
            "vertexMultimodalDatasetSource": "any",
            "instancesFormat": "string",
        },
    ),
    "instanceConfig": (
        "message",
        {
            "instanceType": "string",
            "keyField": "string",
            "includedFields": ("repeated", "string"),
            "excludedFields": ("repeated", "string"),
        },
    ),
    "modelParameters": "any",
    "outputConfig": (
        "message",
        {
            "gcsDestination": ("message", _GCS_DEST),
            "bigqueryDestination": ("message", _BQ_DEST),
            "vertexMultimodalDatasetDestination": "any",
            "predictionsFormat": "string",
        },
    ),
    "dedicatedResources": "any",
    "serviceAccount": "string",
    "manualBatchTuningParameters": "any",
    "generateExplanation": "bool",
    "explanationSpec": "any",
    "outputInfo": _OUTPUT,
    "state": _OUTPUT,
    "error": _OUTPUT,
    "partialFailures": _OUTPUT,
    "resourcesConsumed": _OUTPUT,
    "completionStats": _OUTPUT,
    "createTime": _OUTPUT,
    "startTime": _OUTPUT,
    "endTime": _OUTPUT,
    "updateTime": _OUTPUT,
    "labels": "map",
    "encryptionSpec": "any",
    "disableContainerLogging": "bool",
    "satisfiesPzs": _OUTPUT,
    "satisfiesPzi": _OUTPUT,
}

ADAPTER_SIZES = (
    "ADAPTER_SIZE_UNSPECIFIED",
    "ADAPTER_SIZE_ONE",
    "ADAPTER_SIZE_TWO",
    "ADAPTER_SIZE_FOUR",
    "ADAPTER_SIZE_EIGHT",
    "ADAPTER_SIZE_SIXTEEN",
    "ADAPTER_SIZE_THIRTY_TWO",
)

TUNING_JOB: Fields = {
    "baseModel": "string",
    "preTunedModel": "any",
    "supervisedTuningSpec": (
        "message",
        {
            "trainingDatasetUri": "string",
            "validationDatasetUri": "string",
            "hyperParameters": (
                "message",
                {
                    "epochCount": "int64",
                    "learningRateMultiplier": "double",
                    "adapterSize": ("enum", ADAPTER_SIZES),
                },
            ),
            "exportLastCheckpointOnly": "bool",
            "evaluationConfig": "any",
        },
    ),
    "name": _OUTPUT,
    "tunedModelDisplayName": "string",
    "description": "string",
    "state": _OUTPUT,
    "createTime": _OUTPUT,
    "startTime": _OUTPUT,
    "endTime": _OUTPUT,
    "updateTime": _OUTPUT,
    "error": _OUTPUT,
    "labels": "map",
    "experiment": _OUTPUT,
    "tunedModel": _OUTPUT,
    "tuningDataStats": _OUTPUT,
    "encryptionSpec": "any",
    "serviceAccount": "string",
    "evaluateDatasetRuns": _OUTPUT,
}

_TYPE_NAMES = {"string": "TYPE_STRING", "bool": "TYPE_BOOL", "int64": "TYPE_INT64"}
_TYPE_NAMES |= {"double": "TYPE_DOUBLE"}


def _bad_value(path: str, kind: str, value: Any) -> GoogleError:
    shown = json.dumps(value)[:100]
    return bad_payload(f"Invalid value at '{path}' ({kind}), {shown}", path)


def parse(body: Any, fields: Fields, path: str) -> dict[str, Any]:
    """The request object with camelCase names, or the 400 the front end gives."""
    if not isinstance(body, dict):
        raise _bad_value(path, "TYPE_MESSAGE", body)
    out: dict[str, Any] = {}
    for key, value in body.items():
        name = camel(key) if "_" in key else key
        spec = fields.get(name)
        if spec is None or (key != name and snake(name) != key):
            raise bad_payload(
                f"Invalid JSON payload received. Unknown name {json.dumps(key)} at '{path}': "
                "Cannot find field.",
                path,
            )
        if value is None or spec == _OUTPUT:
            continue
        out[name] = _value(value, spec, f"{path}.{snake(name)}")
    return out


def _value(value: Any, spec: Spec, path: str) -> Any:
    if isinstance(spec, tuple):
        kind, arg = spec
        if kind == "message":
            return parse(value, arg, path)
        if kind == "repeated":
            if not isinstance(value, list):
                raise _bad_value(path, "TYPE_LIST", value)
            return [_value(v, arg, f"{path}[{i}]") for i, v in enumerate(value)]
        if value not in arg:
            raise _bad_value(path, "TYPE_ENUM", value)
        return value
    if spec == "any":
        return value
    if spec == "map":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _bad_value(path, "TYPE_MAP", value)
        return dict(value)
    if spec == "string" and isinstance(value, str):
        return value
    if spec == "bool" and isinstance(value, bool):
        return value
    # int64 arrives as a number or a decimal string; it goes back out as a string.
    if (
        spec == "int64"
        and not isinstance(value, bool)
        and (isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit()))
    ):
        return str(int(value))
    if spec == "double" and not isinstance(value, bool):
        if isinstance(value, int | float):
            return value
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    raise _bad_value(path, _TYPE_NAMES.get(str(spec), "TYPE_MESSAGE"), value)
