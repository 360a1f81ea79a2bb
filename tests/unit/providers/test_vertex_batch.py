"""Both batch transforms against hand-written lines, and the line-stream adapter."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from filegate.errors import InvalidRequest
from filegate.providers.vertex_ai.batch_lines import (
    custom_id_from_labels,
    custom_id_labels,
    openai_to_vertex,
    transform_lines,
)
from filegate.providers.vertex_ai.output_lines import vertex_to_openai


def line(custom_id: str = "req-1", **body: Any) -> bytes:
    record = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions"}
    record["body"] = {"model": "gemini-2.0-flash", **body}
    return json.dumps(record).encode()


def to_vertex(raw: bytes, number: int = 1) -> Any:
    out = openai_to_vertex(raw, number)
    assert out is not None and b"\n" not in out
    return json.loads(out)


# -- OpenAI -> Vertex ------------------------------------------------------------------------


def test_system_prompt_sampling_and_stop_exact_line() -> None:
    raw = line(
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Name a colour."},
        ],
        temperature=0.2,
        top_p=0.9,
        max_tokens=50,
        stop=["\n\n", "END"],
        seed=7,
    )
    expected = (
        b'{"request":{"contents":[{"role":"user","parts":[{"text":"Name a colour."}]}],'
        b'"systemInstruction":{"parts":[{"text":"You are terse."}]},'
        b'"generationConfig":{"temperature":0.2,"topP":0.9,"seed":7,"maxOutputTokens":50,'
        b'"stopSequences":["\\n\\n","END"]},'
        b'"labels":{"filegate_custom_id":"req-1"}}}'
    )
    assert openai_to_vertex(raw, 1) == expected


def test_multi_turn_with_tools_and_tool_results() -> None:
    raw = line(
        "weather-7",
        messages=[
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
            {
                "role": "tool",
                "tool_call_id": "call_b",
                "content": [{"type": "text", "text": "25C"}],
            },
            {"role": "user", "content": "Which is warmer?"},
        ],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "Current weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        tool_choice="required",
        max_completion_tokens=300,
    )
    assert to_vertex(raw) == {
        "request": {
            "contents": [
                {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
                {
                    "role": "model",
                    "parts": [
                        {"text": "Checking."},
                        {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
                        {"functionCall": {"name": "weather", "args": {"city": "Rome"}}},
                    ],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "weather", "response": {"output": "18C"}}},
                        {"functionResponse": {"name": "weather", "response": {"output": "25C"}}},
                        {"text": "Which is warmer?"},
                    ],
                },
            ],
            "systemInstruction": {"parts": [{"text": "Use tools."}]},
            "generationConfig": {"maxOutputTokens": 300},
            "tools": [
                {
                    "functionDeclarations": [
                        {
                            "name": "weather",
                            "description": "Current weather",
                            "parametersJsonSchema": {
                                "type": "object",
                                "properties": {"city": {"type": "string"}},
                            },
                        }
                    ]
                }
            ],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            "labels": {"filegate_custom_id": "weather-7"},
        }
    }


@pytest.mark.parametrize(
    ("choice", "strict", "config"),
    [
        (None, False, None),
        ("auto", True, {"mode": "VALIDATED"}),
        ("none", False, {"mode": "NONE"}),
        (
            {"type": "function", "function": {"name": "f"}},
            False,
            {"mode": "ANY", "allowedFunctionNames": ["f"]},
        ),
    ],
)
def test_tool_choice(choice: Any, strict: bool, config: Any) -> None:
    tool = {"type": "function", "function": {"name": "f", "strict": strict}}
    raw = line(messages=[{"role": "user", "content": "x"}], tools=[tool], tool_choice=choice)
    request = to_vertex(raw)["request"]
    assert request["tools"] == [{"functionDeclarations": [{"name": "f"}]}]
    assert request.get("toolConfig") == (
        None if config is None else {"functionCallingConfig": config}
    )


def test_response_formats() -> None:
    msgs = [{"role": "user", "content": "x"}]
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}}
    assert to_vertex(line(messages=msgs, response_format=fmt))["request"]["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }
    json_object = line(messages=msgs, response_format={"type": "json_object"})
    assert to_vertex(json_object)["request"]["generationConfig"] == {
        "responseMimeType": "application/json"
    }
    text = to_vertex(line(messages=msgs, response_format={"type": "text"}))["request"]
    assert "generationConfig" not in text


def test_media_parts() -> None:
    raw = line(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "gs://b/cat.jpeg", "detail": "auto"},
                    },
                    {"type": "input_audio", "input_audio": {"data": "UklGRg", "format": "wav"}},
                    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER"}},
                ],
            }
        ]
    )
    assert to_vertex(raw)["request"]["contents"][0]["parts"] == [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}},
        {"fileData": {"fileUri": "gs://b/cat.jpeg", "mimeType": "image/jpeg"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}},
    ]


def test_null_options_are_defaults_and_blank_lines_are_skipped() -> None:
    raw = line(messages=[{"role": "user", "content": "x"}], temperature=None, stop=None)
    assert "generationConfig" not in to_vertex(raw)["request"]
    assert openai_to_vertex(b"  \r", 4) is None


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (line(messages=[{"role": "user", "content": "x"}], logit_bias={"1": 2}), "logit_bias"),
        (line(messages=[{"role": "user", "content": "x"}], stream=True), "stream"),
        (line(messages=[{"role": "user", "content": "x"}], n=1.5), "body.n has the wrong type"),
        (line(messages=[{"role": "user", "content": "x"}], max_tokens=True), "max_tokens"),
        (line(messages=[{"role": "user", "content": "x", "name": "bob"}]), "messages[0].name"),
        (line(messages=[{"role": "function", "content": "x"}]), "role 'function'"),
        (line(messages=[{"role": "tool", "tool_call_id": "nope", "content": "x"}]), "tool_call_id"),
        (line(messages=[{"role": "system", "content": "only"}]), "no user message"),
        (line(messages=[{"role": "user", "content": "x"}], tool_choice="auto"), "needs body.tools"),
        (
            line(messages=[{"role": "user", "content": "x"}], tools=[{"type": "web_search"}]),
            "tools[0]",
        ),
        (
            line(
                messages=[{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]
            ),
            "file_id",
        ),
        (
            line(messages=[{"role": "user", "content": "x"}], response_format={"type": "yaml"}),
            "response_format",
        ),
        (
            b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {}}',
            "chat completions",
        ),
    ],
)
def test_lines_that_cannot_be_transformed_name_the_line(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        openai_to_vertex(raw, 12)
    assert exc.value.message.startswith("Line 12 cannot be sent to Vertex AI: ")
    assert problem in exc.value.message
    assert exc.value.param == "file" and exc.value.code == "invalid_file"


@pytest.mark.parametrize("custom_id", ["req-1", "Request 1", "ünïcode/🙂", "x" * 700])
def test_custom_id_survives_labels(custom_id: str) -> None:
    labels = custom_id_labels(custom_id)
    for key, value in labels.items():
        assert len(key) <= 63 and len(value) <= 63
        assert value == value.lower() and all(c.isalnum() or c in "_-" for c in value)
    assert custom_id_from_labels(labels) == custom_id


def test_custom_id_too_long_for_labels() -> None:
    with pytest.raises(InvalidRequest, match="custom_id is too long"):
        openai_to_vertex(line("x" * 5000, messages=[{"role": "user", "content": "x"}]), 1)


# -- Vertex output -> OpenAI -----------------------------------------------------------------

REQUEST = {"contents": [], "labels": {"filegate_custom_id_0": "kjsxcljr"}}  # "Req-1"


def from_vertex(record: dict[str, Any], number: int = 1) -> Any:
    out = vertex_to_openai(json.dumps(record).encode(), number)
    assert out is not None
    return json.loads(out)


def test_output_line_with_text_and_usage() -> None:
    out = from_vertex(
        {
            "status": "",
            "processed_time": "2025-03-01T10:00:05.123456789+00:00",
            "request": REQUEST,
            "response": {
                "candidates": [
                    {
                        "content": {
                            "role": "model",
                            "parts": [
                                {"text": "thinking...", "thought": True},
                                {"text": "Blue"},
                                {"text": "."},
                            ],
                        },
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 12,
                    "candidatesTokenCount": 2,
                    "thoughtsTokenCount": 5,
                    "totalTokenCount": 19,
                },
                "modelVersion": "gemini-2.0-flash-001",
                "createTime": "2025-03-01T10:00:01.000Z",
                "responseId": "resp-abc",
            },
        }
    )
    assert out["id"].startswith("batch_req_")
    del out["id"]
    assert out == {
        "custom_id": "Req-1",
        "response": {
            "status_code": 200,
            "request_id": "resp-abc",
            "body": {
                "id": "resp-abc",
                "object": "chat.completion",
                "created": 1740823201,
                "model": "gemini-2.0-flash-001",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Blue."},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": 12,
                    "completion_tokens": 7,
                    "total_tokens": 19,
                    "completion_tokens_details": {"reasoning_tokens": 5},
                },
            },
        },
        "error": None,
    }


def test_output_line_with_function_calls_and_length() -> None:
    out = from_vertex(
        {
            "status": "",
            "processed_time": "2025-03-01T10:00:05Z",
            "request": {"labels": {"filegate_custom_id": "a"}},
            "response": {
                "candidates": [
                    {
                        "index": 0,
                        "content": {"parts": [{"functionCall": {"name": "f", "args": {"x": 1}}}]},
                        "finishReason": "STOP",
                    },
                    {
                        "index": 1,
                        "content": {"parts": [{"text": "cut"}]},
                        "finishReason": "MAX_TOKENS",
                    },
                ]
            },
        }
    )
    body = out["response"]["body"]
    assert body["created"] == 1740823205 and body["model"] == ""
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_0_0",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x":1}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
            "logprobs": None,
        },
        {
            "index": 1,
            "message": {"role": "assistant", "content": "cut"},
            "finish_reason": "length",
            "logprobs": None,
        },
    ]
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_error_lines_become_error_objects() -> None:
    status = (
        'Bad Request: {"error": {"code": 400, "message": "Please use a valid role: user, model.", '
        '"status": "INVALID_ARGUMENT"}}'
    )
    out = from_vertex({"status": status, "processed_time": "x", "request": REQUEST})
    assert out["custom_id"] == "Req-1"
    assert out["response"] is None
    assert out["error"] == {
        "code": "invalid_argument",
        "message": "Please use a valid role: user, model.",
    }
    plain = from_vertex({"status": "Internal error occurred.", "request": {}, "response": None})
    assert plain["custom_id"] is None
    assert plain["error"] == {"code": "vertex_ai_error", "message": "Internal error occurred."}


def test_blocked_prompt_is_a_content_filter_choice() -> None:
    out = from_vertex(
        {
            "status": "",
            "request": REQUEST,
            "response": {"promptFeedback": {"blockReason": "SAFETY"}},
        }
    )
    assert out["response"]["body"]["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None},
            "finish_reason": "content_filter",
            "logprobs": None,
        }
    ]


def test_unreadable_output_line_is_kept_as_an_error() -> None:
    out = json.loads(vertex_to_openai(b"garbage", 9) or b"")
    assert out["error"] == {
        "code": "invalid_output_line",
        "message": "line 9 of the Vertex AI output is not a JSON object",
    }
    assert vertex_to_openai(b"", 10) is None


# -- the stream adapter ----------------------------------------------------------------------


async def stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def collect(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in it])


async def test_lines_split_across_chunks_are_joined_and_numbered() -> None:
    seen: list[tuple[bytes, int]] = []

    def record(raw: bytes, number: int) -> bytes | None:
        seen.append((raw, number))
        return raw.strip().upper() or None

    out = await collect(
        transform_lines(stream(b"ab", b"c\r\n\nd", b"e\nf", b"g"), record, flush_bytes=1)
    )
    assert out == b"ABC\nDE\nFG\n"
    assert seen == [(b"abc\r", 1), (b"", 2), (b"de", 3), (b"fg", 4)]


async def test_error_in_stream_names_the_physical_line() -> None:
    good = line(messages=[{"role": "user", "content": "x"}])
    bad = line("b", messages=[{"role": "user", "content": "x"}], user="someone")
    with pytest.raises(InvalidRequest, match=r"^Line 3 "):
        await collect(transform_lines(stream(good + b"\n\n" + bad + b"\n"), openai_to_vertex))


async def test_overlong_line_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="Line 2 is longer than 8 bytes"):
        await collect(
            transform_lines(stream(b"{}\n", b"123456789"), lambda b, n: b, max_line_bytes=8)
        )
