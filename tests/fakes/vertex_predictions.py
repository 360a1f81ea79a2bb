"""One Gemini batch-prediction line: the request checked as Vertex checks it, and its answer.

Input lines are ``{"request": <GenerateContentRequest>, ...}``. Each becomes one output line
``{"status", "processed_time", "request", "response"}``: ``status`` is ``""`` and ``response``
a ``GenerateContentResponse`` when it worked; otherwise ``status`` is Vertex's failure text,
``<HTTP reason>: {"error": {"code", "message", "status"}}``, and there is no ``response``.
The request comes back re-serialized with sorted keys (as Vertex echoes it, labels included),
and any other top-level key of the input line is carried over.

The answer is deterministic: each candidate's text is ``echo: `` + the text of the last
``user`` turn (``[i]`` appended for candidate ``i`` > 0), so a test can match an output to its
input. ``generationConfig.maxOutputTokens`` cuts it to that many words (``MAX_TOKENS``),
``stopSequences`` cut at the first match, ``responseMimeType: application/json`` makes it
``{"echo": ...}``, and a function-calling mode of ``ANY`` answers with a ``functionCall`` of
the first allowed (or declared) function with ``{"echo": ...}`` as its args. Token counts are
word counts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.fakes.vertex_wire import camel, line_status, rfc3339, snake

DOC = "Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
REQUEST_FIELDS = {
    "model",
    "contents",
    "systemInstruction",
    "cachedContent",
    "tools",
    "toolConfig",
    "labels",
    "safetySettings",
    "modelArmorConfig",
    "generationConfig",
}
GENERATION_FIELDS = {
    "temperature",
    "topP",
    "topK",
    "candidateCount",
    "maxOutputTokens",
    "stopSequences",
    "responseLogprobs",
    "logprobs",
    "presencePenalty",
    "frequencyPenalty",
    "seed",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "routingConfig",
    "audioTimestamp",
    "responseModalities",
    "mediaResolution",
    "speechConfig",
    "thinkingConfig",
    "imageConfig",
}
PART_DATA = {
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
}
PART_FIELDS = PART_DATA | {"thought", "thoughtSignature", "videoMetadata", "mediaResolution"}
TOOL_FIELDS = {
    "functionDeclarations",
    "retrieval",
    "googleSearch",
    "googleSearchRetrieval",
    "googleMaps",
    "enterpriseWebSearch",
    "codeExecution",
    "urlContext",
    "computerUse",
}
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")


class LineProblem(Exception):
    """A request Vertex refuses: the line fails with this HTTP status, code name and message."""

    def __init__(self, message: str, http_status: int = 400, status: str = "INVALID_ARGUMENT"):
        super().__init__(message)
        self.message, self.http_status, self.status = message, http_status, status


class UnreadableLine(Exception):
    """A line that is not JSON at all."""


@dataclass
class Outcome:
    line: bytes
    ok: bool


def _normalized(obj: dict[str, Any], allowed: set[str], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = camel(key)
        if name not in allowed:
            raise LineProblem(
                f"Invalid JSON payload received. Unknown name {json.dumps(key)} at '{where}': "
                "Cannot find field."
            )
        out[name] = value
    return out


def _text_of(content: dict[str, Any]) -> str:
    parts = content.get("parts") or []
    return " ".join(
        p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)
    )


def check_request(request: Any) -> dict[str, Any]:
    """The request with camelCase top-level names, or LineProblem saying what Vertex says."""
    if not isinstance(request, dict):
        raise LineProblem("Invalid JSON payload received. 'request' must be a JSON object.")
    req = _normalized(request, REQUEST_FIELDS, "request")
    contents = req.get("contents")
    if not isinstance(contents, list) or not contents:
        raise LineProblem(
            f"Unable to submit request because at least one contents field is required. {DOC}"
        )
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            raise LineProblem(f"Invalid value at 'request.contents[{i}]' (TYPE_MESSAGE).")
        content = _normalized(content, {"role", "parts"}, f"request.contents[{i}]")
        if content.get("role", "user") not in ("user", "model"):
            raise LineProblem("Please use a valid role: user, model.")
        _check_parts(content.get("parts"), f"request.contents[{i}]")
    system = req.get("systemInstruction")
    if system is not None:
        if not isinstance(system, dict):
            raise LineProblem("Invalid value at 'request.system_instruction' (TYPE_MESSAGE).")
        system = _normalized(system, {"role", "parts"}, "request.system_instruction")
        _check_parts(system.get("parts"), "request.system_instruction")
    config = req.get("generationConfig")
    if config is not None:
        if not isinstance(config, dict):
            raise LineProblem("Invalid value at 'request.generation_config' (TYPE_MESSAGE).")
        req["generationConfig"] = _normalized(
            config, GENERATION_FIELDS, "request.generation_config"
        )
    for i, tool in enumerate(req.get("tools") or []):
        if not isinstance(tool, dict):
            raise LineProblem(f"Invalid value at 'request.tools[{i}]' (TYPE_MESSAGE).")
        _normalized(tool, TOOL_FIELDS, f"request.tools[{i}]")
    labels = req.get("labels") or {}
    if not isinstance(labels, dict):
        raise LineProblem("Invalid value at 'request.labels' (TYPE_MAP).")
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key) or not isinstance(value, str):
            raise LineProblem(f"Label key {key!r} is invalid: keys start with a lowercase letter.")
        if not _LABEL_VALUE.fullmatch(value):
            raise LineProblem(f"Label value {value!r} of key {key!r} is invalid.")
    return req


def _check_parts(parts: Any, where: str) -> None:
    if not isinstance(parts, list) or not parts:
        raise LineProblem(
            "Unable to submit request because it must include at least one parts field, which "
            f"describes the prompt input. {DOC}"
        )
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            raise LineProblem(f"Invalid value at '{where}.parts[{j}]' (TYPE_MESSAGE).")
        part = _normalized(part, PART_FIELDS, f"{where}.parts[{j}]")
        if not PART_DATA & part.keys():
            raise LineProblem(f"Unable to submit request because a part of {where} has no data.")
        if part.get("text") == "":
            raise LineProblem(
                "Unable to submit request because it has an empty text parameter. Add a value to "
                f"the parameter and try again. {DOC}"
            )


def _pick(obj: Any, name: str) -> Any:
    """A field by its camelCase or snake_case name (a request may use either)."""
    if not isinstance(obj, dict):
        return None
    return obj.get(name, obj.get(snake(name)))


def _words(text: str) -> int:
    return len(text.split())


def _candidates(req: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    users = [c for c in req["contents"] if c.get("role", "user") == "user"]
    prompt = _text_of(users[-1]) if users else ""
    config = req.get("generationConfig") or {}
    count = int(config.get("candidateCount") or 1)
    limit = config.get("maxOutputTokens")
    calling = _pick(req.get("toolConfig"), "functionCallingConfig")
    mode = _pick(calling, "mode")
    declared = [
        d.get("name")
        for t in req.get("tools") or []
        for d in _pick(t, "functionDeclarations") or []
    ]
    allowed = _pick(calling, "allowedFunctionNames") or declared
    out: list[dict[str, Any]] = []
    produced = 0
    for i in range(count):
        text, reason = f"echo: {prompt}" + (f" [{i}]" if i else ""), "STOP"
        for stop in config.get("stopSequences") or []:
            if stop and stop in text:
                text = text[: text.index(stop)]
        if isinstance(limit, int) and _words(text) > limit:
            text, reason = " ".join(text.split()[:limit]), "MAX_TOKENS"
        produced += _words(text)
        if mode == "ANY" and allowed:
            part: dict[str, Any] = {"functionCall": {"args": {"echo": text}, "name": allowed[0]}}
        elif config.get("responseMimeType") == "application/json":
            part = {"text": json.dumps({"echo": text})}
        else:
            part = {"text": text}
        cand: dict[str, Any] = {
            "avgLogprobs": -round(0.05 + (len(text) % 17) / 20, 6),
            "content": {"parts": [part], "role": "model"},
            "finishReason": reason,
        }
        if i:
            cand["index"] = i  # proto3 JSON leaves the first candidate's index 0 out
        out.append(cand)
    return out, produced


def _response(req: dict[str, Any], model_version: str, digest: bytes, now: float) -> dict[str, Any]:
    candidates, produced = _candidates(req)
    texts = [_text_of(c) for c in req["contents"] if isinstance(c, dict)]
    system = req.get("systemInstruction")
    if isinstance(system, dict):
        texts.append(_text_of(system))
    prompt = sum(_words(t) for t in texts)
    return {
        "candidates": candidates,
        "createTime": rfc3339(now),
        "modelVersion": model_version,
        "responseId": base64.urlsafe_b64encode(digest[:16]).decode().rstrip("="),
        "usageMetadata": {
            "candidatesTokenCount": produced,
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": produced}],
            "promptTokenCount": prompt,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
            "totalTokenCount": prompt + produced,
            "trafficType": "ON_DEMAND",
        },
    }


def processed_time(now: float) -> str:
    # Vertex writes this one with milliseconds and an explicit offset, unlike createTime.
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")


def _dump(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


def predict(
    raw: bytes,
    *,
    model_version: str,
    salt: str,
    now: float,
    fault: tuple[int, str, str] | None = None,
) -> Outcome:
    """The output line for one input line (not blank). UnreadableLine if it is not JSON."""
    try:
        record = json.loads(raw)
    except ValueError as exc:
        raise UnreadableLine(str(exc)) from None
    digest = hashlib.sha256(salt.encode() + raw).digest()
    extra = {k: v for k, v in record.items() if k != "request"} if isinstance(record, dict) else {}
    request = record.get("request") if isinstance(record, dict) else record
    out: dict[str, Any] = {
        "status": "",
        "processed_time": processed_time(now),
        "request": json.loads(json.dumps(request, sort_keys=True)),
    }
    try:
        if not isinstance(record, dict) or "request" not in record:
            raise LineProblem('Invalid batch input line: a "request" object is required.')
        req = check_request(request)
        if fault is not None:
            raise LineProblem(fault[2], fault[0], fault[1])
        out["response"] = _response(req, model_version, digest, now)
    except LineProblem as problem:
        out["status"] = line_status(problem.http_status, problem.status, problem.message)
        return Outcome(_dump({**out, **extra}), ok=False)
    return Outcome(_dump({**out, **extra}), ok=True)


def unreadable(raw: bytes, error: str, now: float) -> Outcome:
    """A line that is not JSON, failed as Vertex fails a request it cannot parse."""
    status = line_status(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {error}")
    text = raw.decode("utf-8", "replace")
    out = {"status": status, "processed_time": processed_time(now), "request": text}
    return Outcome(_dump(out), ok=False)
