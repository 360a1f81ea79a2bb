"""What the fake's "model" answers to one batch request, per endpoint, in the provider's shape.

Replies are deterministic (an echo of the request's last input) so a test can check that a line's
response belongs to its request; token counts are rough (a token per four characters in, one per
word out) but add up, so ``usage`` on the batch is the sum of its lines.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import time
import uuid
from typing import Any

from tests.fakes.state import Surface, rand_alnum

ECHO_MAX = 200
EMBEDDING_DIMS = 8
# A 1x1 transparent PNG, for image endpoints.
PNG_1X1 = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
    )
).decode()
AZURE_FILTER_OK = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


def endpoint_kind(url: str) -> str:
    """``/v1/chat/completions`` and Azure's ``/chat/completions`` are both ``chat/completions``."""
    path = url.split("?", 1)[0].rstrip("/")
    return path[3:].lstrip("/") if path.startswith("/v1/") else path.lstrip("/")


def input_tokens(body: dict[str, Any]) -> int:
    return max(1, len(json.dumps(body, separators=(",", ":"))) // 4)


def _text(value: Any) -> str:
    """The text of a prompt, a message's content or a Responses input, whatever its shape."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [_text(v) for v in value]
        return " ".join(p for p in parts if p)
    if isinstance(value, dict):
        for key in ("text", "content", "input_text"):
            if key in value:
                return _text(value[key])
    return ""


def echo(body: dict[str, Any]) -> str:
    """The reply: the last user input, echoed back (bounded)."""
    source: Any = ""
    messages = body.get("messages")
    if isinstance(messages, list) and messages:
        source = messages[-1].get("content") if isinstance(messages[-1], dict) else ""
    elif "input" in body:
        source = body["input"]
    elif "prompt" in body:
        source = body["prompt"]
    text = _text(source)[:ECHO_MAX]
    return f"Echo: {text}" if text else "Echo."


def _vector(seed: str, dims: int) -> list[float]:
    out: list[float] = []
    counter = 0
    while len(out) < dims:
        digest = hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        for (word,) in struct.iter_unpack(">I", digest):
            out.append(round(word / 2**32 * 2 - 1, 6))
        counter += 1
    return out[:dims]


def reply(kind: str, body: dict[str, Any], surface: Surface) -> tuple[dict[str, Any], int, int]:
    """The response body for one request, with its (input, output) token counts."""
    now = int(time.time())
    model = str(body.get("model", "fake-model"))
    prompt_tokens = input_tokens(body)
    text = echo(body)
    out_tokens = len(text.split())
    if kind == "chat/completions":
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
        result: dict[str, Any] = {
            "id": "chatcmpl-" + rand_alnum(29),
            "object": "chat.completion",
            "created": now,
            "model": model,
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": out_tokens,
                "total_tokens": prompt_tokens + out_tokens,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "system_fingerprint": "fp_" + uuid.uuid4().hex[:10],
        }
        if surface == "azure":  # Azure adds its content filter verdicts
            choice["content_filter_results"] = AZURE_FILTER_OK
            result["prompt_filter_results"] = [
                {"prompt_index": 0, "content_filter_results": AZURE_FILTER_OK}
            ]
        return result, prompt_tokens, out_tokens
    if kind == "completions":
        return (
            {
                "id": "cmpl-" + rand_alnum(29),
                "object": "text_completion",
                "created": now,
                "model": model,
                "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": out_tokens,
                    "total_tokens": prompt_tokens + out_tokens,
                },
            },
            prompt_tokens,
            out_tokens,
        )
    if kind == "embeddings":
        return _embeddings(body, model, prompt_tokens), prompt_tokens, 0
    if kind == "responses":
        return (
            _response(body, model, text, prompt_tokens, out_tokens, now),
            prompt_tokens,
            out_tokens,
        )
    if kind == "moderations":
        return _moderation(body), prompt_tokens, 0
    if kind in ("images/generations", "images/edits"):
        return (
            {
                "created": now,
                "data": [{"b64_json": PNG_1X1}],
                "usage": {
                    "input_tokens": prompt_tokens,
                    "output_tokens": 1,
                    "total_tokens": prompt_tokens + 1,
                    "input_tokens_details": {"text_tokens": prompt_tokens, "image_tokens": 0},
                },
            },
            prompt_tokens,
            1,
        )
    prompt = body.get("prompt")
    return (  # videos
        {
            "id": "video_" + uuid.uuid4().hex,
            "object": "video",
            "model": model,
            "status": "completed",
            "progress": 100,
            "created_at": now,
            "completed_at": now,
            "expires_at": now + 86_400,
            "prompt": prompt if isinstance(prompt, str) else None,
            "size": str(body.get("size", "720x1280")),
            "seconds": str(body.get("seconds", "4")),
            "remixed_from_video_id": None,
            "error": None,
        },
        prompt_tokens,
        0,
    )


def _embeddings(body: dict[str, Any], model: str, prompt_tokens: int) -> dict[str, Any]:
    raw = body.get("input", "")
    inputs = raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
    dims = body.get("dimensions")
    size = dims if isinstance(dims, int) and 0 < dims <= 4096 else EMBEDDING_DIMS
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _vector(json.dumps(item), size)}
            for i, item in enumerate(inputs)
        ],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def _response(
    body: dict[str, Any], model: str, text: str, tokens_in: int, tokens_out: int, now: int
) -> dict[str, Any]:
    return {
        "id": "resp_" + uuid.uuid4().hex + uuid.uuid4().hex[:16],
        "object": "response",
        "created_at": now,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": [
            {
                "type": "message",
                "id": "msg_" + uuid.uuid4().hex,
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
                ],
            }
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": bool(body.get("store", True)),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": {
            "input_tokens": tokens_in,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": tokens_out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": tokens_in + tokens_out,
        },
        "metadata": body.get("metadata") or {},
    }


def _moderation(body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("input", "")
    inputs = raw if isinstance(raw, list) else [raw]
    return {
        "id": "modr-" + uuid.uuid4().hex,
        "model": str(body.get("model", "omni-moderation-latest")),
        "results": [
            {
                "flagged": False,
                "categories": dict.fromkeys(MODERATION_CATEGORIES, False),
                "category_scores": dict.fromkeys(MODERATION_CATEGORIES, 0.0001),
                "category_applied_input_types": {c: ["text"] for c in MODERATION_CATEGORIES},
            }
            for _ in inputs
        ],
    }
