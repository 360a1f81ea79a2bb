"""The checks Vertex makes on a create body once it has parsed (see ``vertex_schema``).

Each returns the violations as (field path, description) pairs, all of them at once, which
``vertex_wire.invalid_fields`` turns into Vertex's ``List of found errors`` 400.
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.vertex_wire import snake

Violations = list[tuple[str, str]]
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
PUBLISHER = re.compile(r"(?:projects/[^/]+/locations/[^/]+/)?publishers/google/models/([^/@]+)")
TUNED = re.compile(r"projects/[^/]+/locations/[^/]+/models/(\d+)(?:@[\w-]+)?")


def batch_violations(spec: dict[str, Any]) -> Violations:
    bad: Violations = []
    path = "batch_prediction_job"
    required = "Required field is not set."
    if not spec.get("displayName"):
        bad.append((f"{path}.display_name", required))
    if spec.get("unmanagedContainerModel") is not None:
        bad.append((f"{path}.unmanaged_container_model", "This fake serves Gemini models only."))
    model = spec.get("model")
    if not model:
        bad.append((f"{path}.model", required))
    elif not (PUBLISHER.fullmatch(model) or TUNED.fullmatch(model)):
        bad.append((f"{path}.model", f"Model name {model} is malformed."))
    inp = spec.get("inputConfig")
    if inp is None:
        bad.append((f"{path}.input_config", required))
    else:
        bad += _check_io(inp, f"{path}.input_config", "instancesFormat", "gcsSource", "uris")
    out = spec.get("outputConfig")
    if out is None:
        bad.append((f"{path}.output_config", required))
    else:
        bad += _check_io(
            out,
            f"{path}.output_config",
            "predictionsFormat",
            "gcsDestination",
            "outputUriPrefix",
        )
    bad += _check_labels(spec.get("labels"), f"{path}.labels")
    return bad


def tuning_violations(spec: dict[str, Any]) -> Violations:
    bad: Violations = []
    path = "tuning_job"
    if spec.get("preTunedModel") is not None:
        bad.append((f"{path}.pre_tuned_model", "This fake tunes base models only."))
    base = spec.get("baseModel")
    if not base:
        bad.append((f"{path}.base_model", "Required field is not set."))
    sft = spec.get("supervisedTuningSpec")
    if sft is None:
        bad.append((f"{path}.supervised_tuning_spec", "Required field is not set."))
    else:
        where = f"{path}.supervised_tuning_spec"
        for key, field in (
            ("trainingDatasetUri", "training_dataset_uri"),
            ("validationDatasetUri", "validation_dataset_uri"),
        ):
            uri = sft.get(key)
            if uri is None and key == "validationDatasetUri":
                continue
            if (
                not isinstance(uri, str)
                or not uri.startswith("gs://")
                or not uri.endswith(".jsonl")
            ):
                bad.append((f"{where}.{field}", f"{field} should be a GCS object of type JSONL."))
        params = sft.get("hyperParameters") or {}
        if "epochCount" in params and int(params["epochCount"]) <= 0:
            bad.append((f"{where}.hyper_parameters.epoch_count", "epoch_count must be positive."))
        if "learningRateMultiplier" in params and params["learningRateMultiplier"] <= 0:
            bad.append(
                (
                    f"{where}.hyper_parameters.learning_rate_multiplier",
                    "learning_rate_multiplier must be positive.",
                )
            )
    if len(spec.get("tunedModelDisplayName", "")) > 128:
        bad.append((f"{path}.tuned_model_display_name", "It can be up to 128 characters long."))
    bad += _check_labels(spec.get("labels"), f"{path}.labels")
    return bad


def _check_io(section: dict[str, Any], where: str, fmt: str, loc: str, uri_key: str) -> Violations:
    bad: Violations = []
    value = section.get(fmt)
    if not value:
        bad.append((f"{where}.{snake(fmt)}", "Required field is not set."))
    elif value != "jsonl":
        bad.append((f"{where}.{snake(fmt)}", f"This fake supports only jsonl, not {value!r}."))
    target = section.get(loc)
    uris = (target or {}).get(uri_key)
    uris = [uris] if isinstance(uris, str) else uris or []
    if not uris:
        bad.append((f"{where}.{snake(loc)}.{snake(uri_key)}", "Required field is not set."))
    for uri in uris:
        if not uri.startswith("gs://") or len(uri) < 6 or "*" in uri:
            bad.append(
                (
                    f"{where}.{snake(loc)}.{snake(uri_key)}",
                    f"{uri} is not a valid Cloud Storage URI.",
                )
            )
    return bad


def _check_labels(labels: dict[str, str] | None, where: str) -> Violations:
    bad = []
    for key, value in (labels or {}).items():
        if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
            bad.append((where, f"Label {key!r}: {value!r} is invalid."))
    return bad
