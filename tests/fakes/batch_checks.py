"""What a batch's input file is checked for while the batch validates (OpenAI's and Azure's
codes: invalid_json_line, invalid_request, url_mismatch, duplicate_custom_id, model_mismatch,
model_not_found, empty_file, too_many_tasks), reading the file line by line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.calls import open_blob
from tests.fakes.replies import endpoint_kind

MAX_REPORTED_ERRORS = 100
FIELDS: tuple[tuple[str, type], ...] = (
    ("custom_id", str),
    ("method", str),
    ("url", str),
    ("body", dict),
)


@dataclass
class InputReport:
    count: int = 0  # requests (non-blank lines)
    model: str | None = None  # the model of the first request that names one
    errors: list[dict[str, Any]] = field(default_factory=list)  # BatchError objects

    def add(self, code: str, message: str, param: str | None, line: int | None) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"code": code, "message": message, "param": param, "line": line})


def raw_lines(path: Path, offset: int) -> Iterator[tuple[int, bytes, int]]:
    """(line number from ``offset``, stripped line, end offset) for each non-blank line."""
    with open_blob(path) as fh:
        fh.seek(offset)
        pos = offset
        number = 0
        while raw := fh.readline():
            pos += len(raw)
            number += 1
            text = raw.strip()
            if text:
                yield number, text, pos


def check_input(
    path: Path,
    *,
    endpoint: str,
    exact_urls: bool,
    window: str,
    deployments: list[str] | None,
    limit: int,
) -> InputReport:
    """Check every line. ``exact_urls``: OpenAI wants each url to be the endpoint itself; Azure
    takes ``/chat/completions`` and ``/v1/chat/completions`` alike. ``deployments``: the model
    names Azure knows (None: any). A window other than 24h fails an Azure batch here."""
    report = InputReport()
    if window != "24h":
        report.add(
            "invalid_request",
            f"The completion_window '{window}' is not supported; only '24h' is.",
            "completion_window",
            None,
        )
    seen: set[str] = set()
    for number, raw, _ in raw_lines(path, 0):
        report.count += 1
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        if not isinstance(line, dict):
            message = "This line is not parseable as valid JSON."
            report.add("invalid_json_line", message, None, number)
            continue
        problem = _line_problem(line, endpoint, exact_urls)
        if problem is not None:
            report.add(*problem, number)
            continue
        if line["custom_id"] in seen:
            report.add(
                "duplicate_custom_id",
                "The custom_id for this request is a duplicate of another request. The "
                "custom_id parameter must be unique for each request in a batch.",
                "custom_id",
                number,
            )
        seen.add(line["custom_id"])
        _check_model(report, line["body"].get("model"), deployments, number)
    if report.count == 0:
        report.add(
            "empty_file",
            "The batch input file is empty. Please ensure that the batch contains at least one "
            "request.",
            None,
            None,
        )
    if report.count > limit:
        report.add(
            "too_many_tasks",
            f"The batch contains {report.count} requests; the maximum is {limit}.",
            None,
            None,
        )
    return report


def _line_problem(
    line: dict[str, Any], endpoint: str, exact_urls: bool
) -> tuple[str, str, str] | None:
    for name, kind in FIELDS:
        if name not in line:
            return ("invalid_request", f"Missing required parameter: '{name}'.", name)
        if not isinstance(line[name], kind):
            expected = "an object" if kind is dict else "a string"
            return ("invalid_request", f"Invalid type for '{name}': expected {expected}.", name)
    if line["method"] != "POST":
        return ("invalid_request", "Only the POST method is supported.", "method")
    url = line["url"]
    if endpoint_kind(url) != endpoint_kind(endpoint) or (exact_urls and url != endpoint):
        return (
            "url_mismatch",
            f"The URL '{url}' of this request does not match the batch's endpoint '{endpoint}'.",
            "url",
        )
    return None


def _check_model(
    report: InputReport, model: Any, deployments: list[str] | None, number: int
) -> None:
    if not isinstance(model, str):
        return
    if report.model is None:
        report.model = model
    elif model != report.model:
        report.add(
            "model_mismatch",
            f"The provided model '{model}' does not match the model '{report.model}' of the "
            "other requests in this batch. All requests must use the same model.",
            "body.model",
            number,
        )
    if deployments is not None and model not in deployments:
        report.add(
            "model_not_found",
            f"The provided model deployment '{model}' does not exist in the Azure OpenAI resource.",
            "body.model",
            number,
        )
