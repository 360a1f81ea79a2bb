"""Deterministic OpenAI-shaped answers of the fake model server, one function per endpoint.

Each answer is computed from the request body alone (``created`` aside): the text is
``echo: `` + the last user text (``[i]`` appended for choice ``i`` > 0), so a test can tell
which request an answer belongs to. ``max_tokens`` / ``max_completion_tokens`` /
``max_output_tokens`` cut it to that many words (``finish_reason: "length"``), ``stop`` cuts at
the first match, a JSON ``response_format`` makes it ``{"echo": ...}``, and ``tool_choice``
``required`` or a named function answers with a tool call whose arguments are
``{"echo": ...}``. Ids are the prefix + the first 24 hex digits of the SHA-256 of the
canonical body. Embeddings are unit vectors derived from the SHA-256 of each input, with
``dimensions`` (or the configured default) components, as floats or base64 float32.
Token counts are word counts. A bad body raises :class:`BadRequest`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import time
from typing import Any

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and p.get("type") in ("text", "input_text", "output_text")
        )
    return ""


def _words(text: str) -> int:
    return len(text.split())


def _limit(body: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadRequest(f"{key} must be a positive integer", key)
            return value
    return None


def _answer(prompt: str, i: int, body: dict[str, Any], limit: int | None) -> tuple[str, str]:
    text, reason = f"echo: {prompt}" + (f" [{i}]" if i else ""), "stop"
    stops = body.get("stop")
    for stop in [stops] if isinstance(stops, str) else stops or []:
        if isinstance(stop, str) and stop and stop in text:
            text = text[: text.index(stop)]
    if limit is not None and _words(text) > limit:
        text, reason = " ".join(text.split()[:limit]), "length"
    return text, reason


def _n(body: dict[str, Any]) -> int:
    n = body.get("n", 1)
    if n is None:
        return 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 128:
        raise BadRequest("n must be an integer between 1 and 128", "n")
    return n


def _json_format(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format") or (body.get("text") or {}).get("format")
    return isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")


def chat(body: dict[str, Any], digest: str) -> dict[str, Any]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list", "messages")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in ROLES:
            raise BadRequest(f"messages[{i}] has no valid role", f"messages[{i}].role")
    users = [m for m in messages if m["role"] == "user"]
    prompt = _text(users[-1].get("content")) if users else ""
    limit = _limit(body, "max_completion_tokens", "max_tokens")
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    choice = body.get("tool_choice")
    forced = None
    if isinstance(choice, dict):
        forced = (choice.get("function") or {}).get("name")
    elif choice == "required" and tools:
        forced = (tools[0].get("function") or {}).get("name")
    choices, produced = [], 0
    for i in range(_n(body)):
        text, reason = _answer(prompt, i, body, limit)
        produced += _words(text)
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if forced:
            call = {
                "id": f"call_{digest[:20]}{i}",
                "type": "function",
                "function": {"name": forced, "arguments": json.dumps({"echo": text})},
            }
            message.update(content=None, tool_calls=[call])
            reason = "tool_calls"
        elif _json_format(body):
            message["content"] = json.dumps({"echo": text})
        choices.append({"index": i, "message": message, "logprobs": None, "finish_reason": reason})
    prompt_tokens = sum(_words(_text(m.get("content"))) for m in messages)
    return {
        "id": f"chatcmpl-{digest[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": choices,
        "usage": _usage(prompt_tokens, produced),
    }


def _prompts(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return list(value)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [" ".join(str(v) for v in value)]
        if all(isinstance(v, list) and v and all(isinstance(t, int) for t in v) for v in value):
            return [" ".join(str(t) for t in v) for v in value]
    raise BadRequest(f"{name} must be a string, a list of strings or of token ids", name)


def completion(body: dict[str, Any], digest: str) -> dict[str, Any]:
    prompts = _prompts(body.get("prompt"), "prompt")
    limit = _limit(body, "max_tokens")
    n = _n(body)
    choices, produced = [], 0
    for p, prompt in enumerate(prompts):
        for i in range(n):
            text, reason = _answer(prompt, i, body, limit)
            produced += _words(text)
            if body.get("echo"):
                text = prompt + text
            index = p * n + i
            choices.append(
                {"index": index, "text": text, "logprobs": None, "finish_reason": reason}
            )
    return {
        "id": f"cmpl-{digest[:24]}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": choices,
        "usage": _usage(sum(_words(p) for p in prompts), produced),
    }


def _vector(text: str, dims: int) -> list[float]:
    seed = hashlib.sha256(text.encode()).digest()
    raw = [((seed[i % 32] + i * 37) % 256) / 127.5 - 1.0 for i in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 6) for x in raw]


def embeddings(body: dict[str, Any], default_dims: int) -> dict[str, Any]:
    inputs = _prompts(body.get("input"), "input")
    dims = body.get("dimensions") or default_dims
    if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= 8192:
        raise BadRequest("dimensions must be an integer between 1 and 8192", "dimensions")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise BadRequest("encoding_format must be float or base64", "encoding_format")
    data = []
    for i, text in enumerate(inputs):
        vec = _vector(text, dims)
        value: Any = vec
        if fmt == "base64":
            value = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": value})
    tokens = sum(_words(t) for t in inputs)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model", ""),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _response_prompt(value: Any) -> tuple[str, int]:
    """(last user text, words of all input) of a Responses API ``input``."""
    if isinstance(value, str):
        return value, _words(value)
    if not isinstance(value, list) or not value:
        raise BadRequest("input must be a string or a non-empty list of items", "input")
    last, total = "", 0
    for item in value:
        if not isinstance(item, dict):
            raise BadRequest("each input item must be an object", "input")
        text = _text(item.get("content"))
        total += _words(text)
        if item.get("role", "user") == "user":
            last = text
    return last, total


def response(body: dict[str, Any], digest: str) -> dict[str, Any]:
    prompt, input_tokens = _response_prompt(body.get("input"))
    input_tokens += _words(body.get("instructions") or "")
    text, reason = _answer(prompt, 0, body, _limit(body, "max_output_tokens"))
    if _json_format(body):
        text = json.dumps({"echo": text})
    now = int(time.time())
    out_tokens = _words(text)
    return {
        "id": f"resp_{digest[:24]}",
        "object": "response",
        "created_at": now,
        "status": "completed" if reason == "stop" else "incomplete",
        "incomplete_details": None if reason == "stop" else {"reason": "max_output_tokens"},
        "error": None,
        "model": body.get("model", ""),
        "instructions": body.get("instructions"),
        "output": [
            {
                "type": "message",
                "id": f"msg_{digest[:24]}",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
                ],
            }
        ],
        "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "temperature": body.get("temperature"),
        "top_p": body.get("top_p"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": out_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + out_tokens,
        },
    }


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
