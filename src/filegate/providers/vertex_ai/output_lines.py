"""Vertex AI batch-prediction output lines as OpenAI batch output lines, one at a time.

Vertex writes ``{"status", "processed_time", "request", "response"}`` per line,
with the request echoed (so its labels give back the ``custom_id``) and a
non-empty ``status`` for a request that failed. Each becomes OpenAI's
``{"id", "custom_id", "response": {status_code, request_id, body}, "error"}``
with a chat-completion body, or an ``error`` object.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import orjson

from filegate.providers.vertex_ai.batch_lines import custom_id_from_labels

_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
_FRACTION = re.compile(r"(\.\d{6})\d+")


def is_vertex_output(record: object) -> bool:
    """Whether a parsed line looks like a line of Vertex batch-prediction output."""
    return (
        isinstance(record, dict)
        and "request" in record
        and ("response" in record or "status" in record)
        and "custom_id" not in record
    )


def vertex_to_openai(line: bytes, number: int) -> bytes | None:
    """One Vertex output line as an OpenAI batch output line; None for a blank line.

    Never raises: a line that cannot be read becomes an output line with an error.
    """
    converted = convert_line(line, number)
    return None if converted is None else converted[0]


def convert_line(line: bytes, number: int) -> tuple[bytes, bool] | None:
    """``vertex_to_openai`` and whether the request succeeded (OpenAI's output file) or
    not (its error file); None for a blank line."""
    if not line.strip():
        return None
    digest = hashlib.blake2b(line, digest_size=12).hexdigest()
    out: dict[str, Any] = {"id": f"batch_req_{digest}", "custom_id": None}
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        record = None
    if not isinstance(record, dict):
        message = f"line {number} of the Vertex AI output is not a JSON object"
        out.update(response=None, error={"code": "invalid_output_line", "message": message})
        return orjson.dumps(out), False
    request = record.get("request")
    out["custom_id"] = custom_id_from_labels(
        request.get("labels") if isinstance(request, dict) else None
    )
    status, response = record.get("status"), record.get("response")
    if status or not isinstance(response, dict):
        out.update(response=None, error=_error(status))
        return orjson.dumps(out), False
    body = _completion(response, record.get("processed_time"), digest)
    out["response"] = {"status_code": 200, "request_id": body["id"], "body": body}
    out["error"] = None
    return orjson.dumps(out), True


def _error(status: object) -> dict[str, str]:
    """Vertex's status text, e.g. ``Bad Request: {"error": {...}}``, as OpenAI's error."""
    text = status if isinstance(status, str) and status else "Vertex AI returned no response"
    start = text.find("{")
    if start >= 0:
        try:
            doc = orjson.loads(text[start:])
        except orjson.JSONDecodeError:
            doc = None
        err = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            code = err.get("status") or err.get("code") or "vertex_ai_error"
            return {"code": str(code).lower(), "message": err["message"]}
    return {"code": "vertex_ai_error", "message": text}


def _completion(response: dict[str, Any], processed: object, digest: str) -> dict[str, Any]:
    candidates = response.get("candidates") or []
    choices = [_choice(c, i) for i, c in enumerate(candidates) if isinstance(c, dict)]
    if not choices:  # the prompt itself was blocked
        message = {"role": "assistant", "content": None}
        choices = [
            {"index": 0, "message": message, "finish_reason": "content_filter", "logprobs": None}
        ]
    meta = response.get("usageMetadata") or {}
    prompt = int(meta.get("promptTokenCount") or 0)
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + thoughts
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(meta.get("totalTokenCount") or prompt + completion),
    }
    if thoughts:
        usage["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    if meta.get("cachedContentTokenCount"):
        usage["prompt_tokens_details"] = {"cached_tokens": int(meta["cachedContentTokenCount"])}
    return {
        "id": str(response.get("responseId") or f"chatcmpl-{digest}"),
        "object": "chat.completion",
        "created": rfc3339_epoch(response.get("createTime") or processed),
        "model": str(response.get("modelVersion") or ""),
        "choices": choices,
        "usage": usage,
    }


def _choice(candidate: dict[str, Any], i: int) -> dict[str, Any]:
    content = candidate.get("content")
    parts = (
        [p for p in content.get("parts") or [] if isinstance(p, dict)]
        if isinstance(content, dict)
        else []
    )
    # Thought summaries are the model's reasoning, not its answer.
    texts = [p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought")]
    calls = [
        {
            "id": f"call_{i}_{k}",
            "type": "function",
            "function": {
                "name": p["functionCall"].get("name", ""),
                "arguments": orjson.dumps(p["functionCall"].get("args") or {}).decode(),
            },
        }
        for k, p in enumerate(p for p in parts if isinstance(p.get("functionCall"), dict))
    ]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    reason = candidate.get("finishReason")
    finish = "content_filter" if reason in _FILTERED else _FINISH.get(str(reason), "stop")
    if calls and finish == "stop":
        finish = "tool_calls"
    index = candidate.get("index", i)
    return {"index": index, "message": message, "finish_reason": finish, "logprobs": None}


def rfc3339_epoch(value: object) -> int:
    """Seconds since the epoch for an RFC 3339 timestamp; 0 when there is none."""
    if not isinstance(value, str):
        return 0
    try:
        return int(datetime.fromisoformat(_FRACTION.sub(r"\1", value)).timestamp())
    except ValueError:
        return 0
