"""Supervised-tuning datasets: each line checked as a Gemini tuning example, and their stats.

A line is ``{"systemInstruction"?: Content, "contents": [Content, ...]}`` (snake_case names
too), where each Content has ``role`` ``user`` or ``model`` and a non-empty ``parts`` list of
parts that carry data, and at least one turn is the model's (the text the model learns). The
first bad line fails the job with an error naming the dataset, the line and the problem.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.vertex_predictions import PART_DATA, PART_FIELDS
from tests.fakes.vertex_wire import camel, int64, prune

EXAMPLE_FIELDS = {"systemInstruction", "contents", "tools", "toolConfig"}


def check_example(raw: bytes) -> tuple[str | None, dict[str, Any] | None]:
    """(problem, example): the problem with one dataset line, or the parsed example."""
    try:
        record = json.loads(raw)
    except ValueError:
        return "it is not valid JSON", None
    if not isinstance(record, dict):
        return "it is not a JSON object", None
    example = {camel(k): v for k, v in record.items()}
    unknown = sorted(set(example) - EXAMPLE_FIELDS)
    if unknown:
        return f"unknown field {unknown[0]!r}", None
    contents = example.get("contents")
    if not isinstance(contents, list) or not contents:
        return "contents must be a non-empty list", None
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            return f"contents[{i}] is not an object", None
        role = content.get("role")
        if role not in ("user", "model"):
            return f'contents[{i}].role must be "user" or "model", not {json.dumps(role)}', None
        problem = _parts_problem(content.get("parts"), f"contents[{i}]")
        if problem:
            return problem, None
    if not any(c.get("role") == "model" for c in contents):
        return 'contents has no turn with role "model" to learn from', None
    system = example.get("systemInstruction")
    if system is not None:
        if not isinstance(system, dict):
            return "systemInstruction is not an object", None
        problem = _parts_problem(system.get("parts"), "systemInstruction")
        if problem:
            return problem, None
    return None, example


def _parts_problem(parts: Any, where: str) -> str | None:
    if not isinstance(parts, list) or not parts:
        return f"{where}.parts must be a non-empty list"
    for j, part in enumerate(parts):
        keys = {camel(k) for k in part} if isinstance(part, dict) else set()
        if not isinstance(part, dict) or not keys & PART_DATA or keys - PART_FIELDS:
            return f"{where}.parts[{j}] is not a valid part"
        if part.get("text") == "":
            return f"{where}.parts[{j}].text is empty"
    return None


def _text(content: dict[str, Any]) -> str:
    return " ".join(p["text"] for p in content.get("parts") or [] if isinstance(p.get("text"), str))


def _distribution(values: list[int]) -> dict[str, Any]:
    if not values:
        return {}
    ordered = sorted(values)

    def pct(q: float) -> float:
        return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])

    out: dict[str, Any] = prune(
        {
            "sum": int64(sum(values)),
            "billableSum": int64(sum(values)),
            "min": float(ordered[0]),
            "max": float(ordered[-1]),
            "mean": float(statistics.fmean(values)),
            "median": float(statistics.median(values)),
            "p5": pct(0.05),
            "p95": pct(0.95),
        }
    )
    return out


@dataclass
class DatasetStats:
    """What ``tuningDataStats.supervisedTuningDataStats`` reports, gathered line by line."""

    examples: int = 0
    characters: int = 0
    input_tokens: list[int] = field(default_factory=list)
    output_tokens: list[int] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, example: dict[str, Any]) -> None:
        contents = example["contents"]
        self.examples += 1
        user = " ".join(_text(c) for c in contents if c["role"] == "user")
        model = " ".join(_text(c) for c in contents if c["role"] == "model")
        self.characters += len(user) + len(model)
        self.input_tokens.append(len(user.split()))
        self.output_tokens.append(len(model.split()))
        self.messages.append(len(contents))
        if len(self.samples) < 3:
            self.samples.append(contents[0])

    def wire(self, epochs: int) -> dict[str, Any]:
        tokens = sum(self.input_tokens) + sum(self.output_tokens)
        stats = {
            "tuningDatasetExampleCount": int64(self.examples),
            "totalTuningCharacterCount": int64(self.characters),
            "totalBillableTokenCount": int64(tokens * epochs),
            "tuningStepCount": int64(max(1, self.examples * epochs // 8)),
            "userInputTokenDistribution": _distribution(self.input_tokens),
            "userOutputTokenDistribution": _distribution(self.output_tokens),
            "userMessagePerExampleDistribution": _distribution(self.messages),
        }
        out = prune(stats)
        out["userDatasetExamples"] = self.samples
        return {"supervisedTuningDataStats": out}
