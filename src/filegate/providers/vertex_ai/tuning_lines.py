"""OpenAI chat fine-tuning lines to Vertex AI supervised-tuning examples, one line at a time.

An OpenAI line is ``{"messages": [...], "tools"?: [...]}`` (the chat format); a Vertex
example is ``{"systemInstruction"?: {"parts"}, "contents": [{"role", "parts"}], "tools"?}``
(Gemini's ``contents`` format). Messages convert as batch requests' do
(``batch_lines``); an assistant message's ``weight`` of 1 is the default and is dropped,
a ``weight`` of 0 (a turn not to learn from) has no Vertex equivalent and is refused, as
are DPO and reinforcement lines. A line that cannot be converted is a 400 naming it.
"""

from __future__ import annotations

from typing import Any

import orjson

from filegate.errors import InvalidRequest
from filegate.providers.vertex_ai.batch_lines import _contents, _fail, _functions, _Unsupported

_LINE_KEYS = {"messages", "tools", "parallel_tool_calls"}


def openai_to_tuning(line: bytes, number: int) -> bytes | None:
    """One OpenAI chat fine-tuning line as a Vertex tuning example (no newline); None for
    a blank line."""
    if not line.strip():
        return None
    try:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            _fail("it is not valid JSON")
        if not isinstance(record, dict):
            _fail("it is not a JSON object")
        example = _example(record)
    except _Unsupported as exc:
        problem = str(exc).replace("body.", "")
        raise InvalidRequest(
            f"Line {number} cannot be used to tune a model on Vertex AI: {problem}.",
            param="file",
            code="invalid_file",
        ) from None
    return orjson.dumps(example)


def _example(record: dict[str, Any]) -> dict[str, Any]:
    if "input" in record and "preferred_output" in record:
        _fail("it is a DPO example; Vertex AI tunes with supervised examples only")
    extra = sorted(k for k, v in record.items() if k not in _LINE_KEYS and v is not None)
    if extra:
        _fail(f"{extra[0]} has no Vertex AI equivalent")
    messages = record.get("messages")
    if isinstance(messages, list):
        messages = [_unweighted(m, i) for i, m in enumerate(messages)]
    system, contents = _contents(messages)
    if not any(c["role"] == "model" for c in contents):
        _fail("messages has no assistant message to learn from")
    example: dict[str, Any] = {}
    if system:
        example["systemInstruction"] = {"parts": system}
    example["contents"] = contents
    tools = record.get("tools")
    if tools is not None:
        example["tools"] = [{"functionDeclarations": _functions(tools)}]
    return example


def _unweighted(message: object, i: int) -> object:
    if not isinstance(message, dict) or "weight" not in message:
        return message
    weight = message["weight"]
    if message.get("role") != "assistant" or weight not in (0, 1) or isinstance(weight, bool):
        _fail(f"messages[{i}].weight must be 0 or 1, on an assistant message")
    if weight == 0:
        _fail(f"messages[{i}].weight 0 (a turn not to learn from) has no Vertex AI equivalent")
    return {k: v for k, v in message.items() if k != "weight"}
