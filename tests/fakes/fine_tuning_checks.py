"""Checks of a fine-tuning job: its create body (hyperparameters, method, integrations, ...)
and, while it validates, its training and validation files.

Each body check returns the cleaned value or the provider's 400 for the call's surface, by the
rules ``CreateFineTuningJobRequest`` in shared/specs/openai-openapi.yaml states.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starlette.responses import Response

from tests.fakes.calls import Call, open_blob
from tests.fakes.checks import bad_type, oxford

METHODS = ("supervised", "dpo", "reinforcement")
HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "supervised": ("batch_size", "learning_rate_multiplier", "n_epochs"),
    "dpo": ("beta", "batch_size", "learning_rate_multiplier", "n_epochs"),
    "reinforcement": (
        "batch_size",
        "learning_rate_multiplier",
        "n_epochs",
        "reasoning_effort",
        "compute_multiplier",
        "eval_interval",
        "eval_samples",
    ),
}
# name -> (integer?, lowest, highest, lowest excluded?)
RANGES: dict[str, tuple[bool, float, float | None, bool]] = {
    "batch_size": (True, 1, 256, False),
    "n_epochs": (True, 1, 50, False),
    "learning_rate_multiplier": (False, 0, None, True),
    "beta": (False, 0, 2, True),
    "compute_multiplier": (False, 0.00001, 10, True),
    "eval_interval": (True, 1, None, False),
    "eval_samples": (True, 1, None, False),
}
REASONING_EFFORTS = ("default", "low", "medium", "high")
SEED_MAX = 2_147_483_647
MAX_INTEGRATIONS = 5
FAIL_MARKER = "fake_error"


def check_hyperparameters(
    call: Call, value: Any, method: str, param: str
) -> dict[str, Any] | Response:
    if not isinstance(value, dict):
        return bad_type(call, param, "an object", value)
    allowed = HYPERPARAMETERS[method]
    out: dict[str, Any] = {}
    for name, v in value.items():
        where = f"{param}.{name}"
        if name not in allowed:
            return call.invalid(
                f"Unknown parameter: '{where}'.", param=where, code="unknown_parameter"
            )
        if name == "reasoning_effort":
            if v not in REASONING_EFFORTS:
                return call.invalid(
                    f"Invalid value: '{v}'. Supported values are: {oxford(REASONING_EFFORTS)}.",
                    param=where,
                    code="invalid_value",
                )
        elif v != "auto":
            problem = _check_number(call, where, v, RANGES[name])
            if problem is not None:
                return problem
        out[name] = v
    return out


def _check_number(
    call: Call, where: str, v: Any, rule: tuple[bool, float, float | None, bool]
) -> Response | None:
    integer, lo, hi, exclusive = rule
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(v, int) if integer else isinstance(v, int | float)
    if isinstance(v, bool) or not ok_type:
        return bad_type(call, where, f"'auto' or {kind}", v)
    if v < lo or (exclusive and v == lo):
        bound = f"> {lo}" if exclusive else f">= {lo}"
        return call.invalid(
            f"Invalid '{where}': number below minimum value. Expected a value {bound}, but got "
            f"{v} instead.",
            param=where,
            code="integer_below_min_value" if integer else "decimal_below_min_value",
        )
    if hi is not None and v > hi:
        return call.invalid(
            f"Invalid '{where}': number above maximum value. Expected a value <= {hi}, but got "
            f"{v} instead.",
            param=where,
            code="integer_above_max_value" if integer else "decimal_above_max_value",
        )
    return None


def check_method(call: Call, value: Any) -> dict[str, Any] | Response:
    """``{type, <type>: {hyperparameters?, grader? (reinforcement, required)}}``."""
    if not isinstance(value, dict):
        return bad_type(call, "method", "an object", value)
    kind = value.get("type")
    if kind not in METHODS:
        return call.invalid(
            f"Invalid value: '{kind}'. Supported values are: {oxford(METHODS)}.",
            param="method.type",
            code="invalid_value",
        )
    for name in value:
        if name != "type" and name not in METHODS:
            return call.invalid(
                f"Unknown parameter: 'method.{name}'.",
                param=f"method.{name}",
                code="unknown_parameter",
            )
        if name in METHODS and name != kind:
            return call.invalid(
                f"'method.{name}' does not go with method type '{kind}'.",
                param=f"method.{name}",
            )
    detail = value.get(kind) or {}
    if not isinstance(detail, dict):
        return bad_type(call, f"method.{kind}", "an object", detail)
    allowed = {"hyperparameters"} | ({"grader"} if kind == "reinforcement" else set())
    for name in detail:
        if name not in allowed:
            where = f"method.{kind}.{name}"
            return call.invalid(
                f"Unknown parameter: '{where}'.", param=where, code="unknown_parameter"
            )
    out: dict[str, Any] = {}
    if "hyperparameters" in detail:
        hp = check_hyperparameters(
            call, detail["hyperparameters"], kind, f"method.{kind}.hyperparameters"
        )
        if isinstance(hp, Response):
            return hp
        out["hyperparameters"] = hp
    if kind == "reinforcement":
        grader = detail.get("grader")
        if grader is None:
            return call.invalid(
                "Missing required parameter: 'method.reinforcement.grader'.",
                param="method.reinforcement.grader",
                code="missing_required_parameter",
            )
        if not isinstance(grader, dict) or not isinstance(grader.get("type"), str):
            return bad_type(call, "method.reinforcement.grader", "a grader object", grader)
        out["grader"] = grader
    return {"type": kind, kind: out}


def check_integrations(call: Call, value: Any) -> list[dict[str, Any]] | Response:
    if not isinstance(value, list):
        return bad_type(call, "integrations", "an array", value)
    if len(value) > MAX_INTEGRATIONS:
        return call.invalid(
            f"Invalid 'integrations': array too long. Expected an array with maximum length "
            f"{MAX_INTEGRATIONS}, but got an array with length {len(value)} instead.",
            param="integrations",
            code="array_above_max_length",
        )
    for i, item in enumerate(value):
        where = f"integrations[{i}]"
        if not isinstance(item, dict) or item.get("type") != "wandb":
            return call.invalid(
                f"Invalid value for '{where}.type': only 'wandb' is supported.",
                param=f"{where}.type",
                code="invalid_value",
            )
        wandb = item.get("wandb")
        if not isinstance(wandb, dict) or not isinstance(wandb.get("project"), str):
            return call.invalid(
                f"Missing required parameter: '{where}.wandb.project'.",
                param=f"{where}.wandb.project",
                code="missing_required_parameter",
            )
    return list(value)


def check_suffix(call: Call, value: Any, limit: int) -> str | Response:
    if not isinstance(value, str):
        return bad_type(call, "suffix", "a string", value)
    if not 1 <= len(value) <= limit:
        return call.invalid(
            f"Invalid 'suffix': expected a string of 1 to {limit} characters, but got a string "
            f"with length {len(value)} instead.",
            param="suffix",
            code="string_above_max_length" if value else "string_below_min_length",
        )
    return value


def check_seed(call: Call, value: Any) -> int | Response:
    if isinstance(value, bool) or not isinstance(value, int):
        return bad_type(call, "seed", "an integer", value)
    if not 0 <= value <= SEED_MAX:
        return call.invalid(
            f"Invalid 'seed': expected an integer from 0 to {SEED_MAX}, but got {value} instead.",
            param="seed",
            code="integer_above_max_value" if value > 0 else "integer_below_min_value",
        )
    return value


def check_training_file(
    path: Path, kind: str, param: str, surface: str
) -> tuple[int, int, dict[str, Any] | None] | dict[str, Any]:
    """(examples, tokens, the first ``fake_error`` marker) for a good file, read line by line;
    for a bad one the job's error object (OpenAI: invalid_file_format, Azure:
    jsonlValidationFailed), naming ``param``."""
    code = "invalid_file_format" if surface == "openai" else "jsonlValidationFailed"
    examples = tokens = 0
    marker: dict[str, Any] | None = None
    for number, raw in _lines(path):
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        if not isinstance(line, dict):
            return {
                "code": code,
                "message": f"Invalid file format. Line {number} of {param} is not a JSON object.",
                "param": param,
            }
        missing = [k for k in _required_keys(kind, line) if k not in line]
        if missing:
            return {
                "code": code,
                "message": f"Invalid file format. Example {number} in {param} is missing the "
                f"key '{missing[0]}' (method {kind}).",
                "param": param,
            }
        if marker is None and line.get(FAIL_MARKER):
            spec = line[FAIL_MARKER]
            marker = spec if isinstance(spec, dict) else {}
        examples += 1
        tokens += max(1, len(raw) // 4)
    return examples, tokens, marker


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, stripped line) for each non-blank line, read as it is needed."""
    with open_blob(path) as fh:
        for number, raw in enumerate(fh, 1):
            text = raw.strip()
            if text:
                yield number, text


def _required_keys(kind: str, line: dict[str, Any]) -> tuple[str, ...]:
    if kind == "dpo":
        return ("input", "preferred_output", "non_preferred_output")
    if kind == "supervised" and "messages" not in line and "prompt" in line:
        return ("prompt", "completion")  # the legacy completions format (babbage, davinci)
    return ("messages",)
