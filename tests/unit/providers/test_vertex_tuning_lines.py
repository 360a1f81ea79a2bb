"""OpenAI chat fine-tuning lines to Vertex tuning examples, checked by the fake Vertex's own
dataset validator (``tests/fakes/vertex_tuning.check_example``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from filegate.errors import InvalidRequest
from filegate.providers.vertex_ai.batch_lines import transform_lines
from filegate.providers.vertex_ai.tuning_lines import openai_to_tuning
from tests.fakes.vertex_tuning import check_example


def convert(record: Any, number: int = 1) -> dict[str, Any]:
    out = openai_to_tuning(json.dumps(record).encode(), number)
    assert out is not None and b"\n" not in out
    problem, example = check_example(out)
    assert problem is None, problem
    assert example is not None
    return dict(json.loads(out))


def test_chat_with_system_prompt_exact() -> None:
    assert convert(
        {
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": "Colour?"},
                {"role": "assistant", "content": "Blue."},
            ]
        }
    ) == {
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Colour?"}]},
            {"role": "model", "parts": [{"text": "Blue."}]},
        ],
    }


def test_multi_turn_with_weight_one_and_parts() -> None:
    example = convert(
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "a"}]},
                {"role": "assistant", "content": "b", "weight": 1},
                {"role": "user", "content": "c"},
                {"role": "assistant", "content": "d"},
            ]
        }
    )
    assert [c["role"] for c in example["contents"]] == ["user", "model", "user", "model"]
    assert "systemInstruction" not in example


def test_tool_calls_and_tools() -> None:
    example = convert(
        {
            "messages": [
                {"role": "user", "content": "Weather in Oslo?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "rain"},
                {"role": "assistant", "content": "Rain."},
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}],
        }
    )
    assert example["contents"][1]["parts"] == [
        {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}}
    ]
    assert example["tools"] == [
        {"functionDeclarations": [{"name": "weather", "parametersJsonSchema": {}}]}
    ]


def test_blank_line_is_skipped() -> None:
    assert openai_to_tuning(b"  ", 3) is None


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ("not json", "not valid JSON"),
        ([1], "not a JSON object"),
        ({"prompt": "a", "completion": "b"}, "completion has no Vertex AI equivalent"),
        ({"messages": []}, "messages must be a non-empty list"),
        ({"messages": [{"role": "user", "content": "only a question"}]}, "no assistant message"),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a", "weight": 0},
                ]
            },
            "weight 0",
        ),
        (
            {"input": {"messages": []}, "preferred_output": [], "non_preferred_output": []},
            "DPO example",
        ),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "role 'wizard'"),
    ],
)
def test_a_line_that_cannot_convert_is_a_400_naming_it(record: Any, problem: str) -> None:
    raw = record.encode() if isinstance(record, str) else json.dumps(record).encode()
    with pytest.raises(InvalidRequest) as caught:
        openai_to_tuning(raw, 7)
    assert caught.value.message.startswith("Line 7 cannot be used to tune a model on Vertex AI")
    assert problem in caught.value.message
    assert "body." not in caught.value.message
    assert caught.value.code == "invalid_file"


async def test_a_stream_converts_line_by_line() -> None:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"q{i}"},
                    {"role": "assistant", "content": f"a{i}"},
                ]
            }
        ).encode()
        for i in range(50)
    ]
    data = b"\n".join(lines) + b"\n"

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 37):
            yield data[i : i + 37]

    out = b"".join([c async for c in transform_lines(chunks(), openai_to_tuning)])
    examples = [json.loads(x) for x in out.splitlines()]
    assert len(examples) == 50
    assert examples[49]["contents"][1]["parts"] == [{"text": "a49"}]
