"""What the fake upstream's "model" answers to one batch request, in the provider's shape.

Chat completions, completions, embeddings and Responses come from ``model_responses`` (the
fake model server's answers: ``echo: `` + the last user text, word counts as tokens), so a
batch run by a provider and one filegate runs itself against the model server answer alike;
moderations, images and videos are answered here. Ids are derived from the request's
``custom_id`` and body. Azure's chat answers carry its content filter verdicts. A body the
model cannot answer raises ``model_responses.BadRequest``: the line fails with a 400.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

from tests.fakes import model_responses
from tests.fakes.state import Surface

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


def reply(
    kind: str, custom_id: str, body: dict[str, Any], surface: Surface
) -> tuple[dict[str, Any], int, int]:
    """The response body for one request, with its (input, output) token counts."""
    canonical = json.dumps([custom_id, body], sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    if kind == "chat/completions":
        answer = model_responses.chat(body, digest)
        for choice in answer["choices"]:
            choice["message"].setdefault("annotations", [])
        if surface == "azure":
            for choice in answer["choices"]:
                choice["content_filter_results"] = AZURE_FILTER_OK
            answer["prompt_filter_results"] = [
                {"prompt_index": 0, "content_filter_results": AZURE_FILTER_OK}
            ]
        usage = answer["usage"]
        return answer, usage["prompt_tokens"], usage["completion_tokens"]
    if kind == "completions":
        answer = model_responses.completion(body, digest)
        usage = answer["usage"]
        return answer, usage["prompt_tokens"], usage["completion_tokens"]
    if kind == "embeddings":
        answer = model_responses.embeddings(body, EMBEDDING_DIMS)
        return answer, answer["usage"]["prompt_tokens"], 0
    if kind == "responses":
        answer = model_responses.response(body, digest)
        usage = answer["usage"]
        return answer, usage["input_tokens"], usage["output_tokens"]
    tokens = len(json.dumps(body).split())
    if kind == "moderations":
        return _moderation(body, digest), tokens, 0
    if kind in ("images/generations", "images/edits"):
        return _images(tokens), tokens, 1
    return _video(body, digest), tokens, 0


def _moderation(body: dict[str, Any], digest: str) -> dict[str, Any]:
    raw = body.get("input", "")
    inputs = raw if isinstance(raw, list) else [raw]
    return {
        "id": f"modr-{digest[:24]}",
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


def _images(tokens: int) -> dict[str, Any]:
    return {
        "created": int(time.time()),
        "data": [{"b64_json": PNG_1X1}],
        "usage": {
            "input_tokens": tokens,
            "output_tokens": 1,
            "total_tokens": tokens + 1,
            "input_tokens_details": {"text_tokens": tokens, "image_tokens": 0},
        },
    }


def _video(body: dict[str, Any], digest: str) -> dict[str, Any]:
    now = int(time.time())
    prompt = body.get("prompt")
    return {
        "id": f"video_{digest[:24]}{uuid.uuid4().hex[:8]}",
        "object": "video",
        "model": str(body.get("model", "sora-2")),
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
    }
