"""OpenAI batch lines to Vertex AI batch-prediction lines, one line at a time.

Each OpenAI line (``custom_id``, ``method``, ``url``, a chat-completion
``body``) becomes ``{"request": <generateContent body>}``. Vertex echoes each
request in its output, so the ``custom_id`` travels inside the request as
``labels`` (GenerateContentRequest's own user metadata) and is read back from
there. Label values allow only ``[a-z0-9_-]``, at most 63 characters: an id that
fits is kept as it is, any other is base32-encoded across numbered labels.

Every option in a body is carried over or refused with the line's number; an
option Gemini has no equivalent for is never dropped quietly. The way back,
Vertex output to OpenAI's output lines, is in ``vertex_output``.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, NoReturn

import orjson

from filegate.errors import InvalidRequest

CUSTOM_ID_LABEL = "filegate_custom_id"
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{1,63}")
_MAX_ID_LABELS = 32
CHAT_URLS = ("/v1/chat/completions", "/chat/completions")
MAX_LINE_BYTES = 64 * 1024 * 1024

# OpenAI body field -> (generationConfig field, JSON type it must have).
_GENERATION: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "temperature": ("temperature", (int, float)),
    "top_p": ("topP", (int, float)),
    "n": ("candidateCount", int),
    "presence_penalty": ("presencePenalty", (int, float)),
    "frequency_penalty": ("frequencyPenalty", (int, float)),
    "seed": ("seed", int),
    "max_tokens": ("maxOutputTokens", int),
    "max_completion_tokens": ("maxOutputTokens", int),
    "logprobs": ("responseLogprobs", bool),
    "top_logprobs": ("logprobs", int),
}
_HANDLED = {"model", "messages", "stop", "response_format", "tools", "tool_choice"}
_HANDLED |= {"parallel_tool_calls", "stream", *_GENERATION}
_MESSAGE_KEYS = {
    "system": {"role", "content"},
    "developer": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls"},
    "tool": {"role", "content", "tool_call_id"},
}
_AUDIO = {"wav": "audio/wav", "mp3": "audio/mp3"}


class _Unsupported(Exception):
    """One line's problem; becomes an InvalidRequest naming the line."""


def _fail(problem: str) -> NoReturn:
    raise _Unsupported(problem)


# -- custom_id <-> labels --------------------------------------------------------------------


def custom_id_labels(custom_id: str) -> dict[str, str]:
    if _LABEL_VALUE.fullmatch(custom_id):
        return {CUSTOM_ID_LABEL: custom_id}
    encoded = base64.b32encode(custom_id.encode()).decode().rstrip("=").lower()
    chunks = [encoded[i : i + 63] for i in range(0, len(encoded), 63)]
    if len(chunks) > _MAX_ID_LABELS:
        _fail("custom_id is too long to travel through Vertex AI (at most about 1,200 bytes)")
    return {f"{CUSTOM_ID_LABEL}_{i}": chunk for i, chunk in enumerate(chunks)}


def custom_id_from_labels(labels: object) -> str | None:
    if not isinstance(labels, dict):
        return None
    plain = labels.get(CUSTOM_ID_LABEL)
    if isinstance(plain, str):
        return plain
    chunks: list[str] = []
    while isinstance(chunk := labels.get(f"{CUSTOM_ID_LABEL}_{len(chunks)}"), str):
        chunks.append(chunk)
    if not chunks:
        return None
    encoded = "".join(chunks).upper()
    try:
        return base64.b32decode(encoded + "=" * (-len(encoded) % 8)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


# -- OpenAI line -> Vertex line --------------------------------------------------------------


def openai_to_vertex(line: bytes, number: int) -> bytes | None:
    """One OpenAI batch line as a Vertex line (no newline); None for a blank line."""
    if not line.strip():
        return None
    try:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            _fail("it is not valid JSON")
        if not isinstance(record, dict):
            _fail("it is not a JSON object")
        request = _request(record)
    except _Unsupported as exc:
        raise InvalidRequest(
            f"Line {number} cannot be sent to Vertex AI: {exc}.", param="file", code="invalid_file"
        ) from None
    return orjson.dumps({"request": request})


def _request(record: dict[str, Any]) -> dict[str, Any]:
    custom_id = record.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        _fail("custom_id must be a non-empty string")
    if record.get("url") not in CHAT_URLS:
        _fail(
            f"url {record.get('url')!r} is not supported; Vertex AI batches take chat completions"
        )
    body = record.get("body")
    if not isinstance(body, dict):
        _fail("body must be a JSON object")
    body = {k: v for k, v in body.items() if v is not None}
    unknown = sorted(set(body) - _HANDLED)
    if unknown:
        _fail(f"body.{unknown[0]} has no Vertex AI equivalent")
    if body.get("stream") is True:
        _fail("body.stream cannot be true in a batch")
    if body.get("parallel_tool_calls") is False:
        _fail("body.parallel_tool_calls=false has no Vertex AI equivalent")
    system, contents = _contents(body.get("messages"))
    request: dict[str, Any] = {"contents": contents}
    if system:
        request["systemInstruction"] = {"parts": system}
    config = _generation_config(body)
    if config:
        request["generationConfig"] = config
    if "tools" in body:
        request["tools"] = [{"functionDeclarations": _functions(body["tools"])}]
    mode = _tool_mode(body)
    if mode is not None:
        request["toolConfig"] = {"functionCallingConfig": mode}
    request["labels"] = custom_id_labels(custom_id)
    return request


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, (target, kind) in _GENERATION.items():
        if key in body:
            value = body[key]
            if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
                _fail(f"body.{key} has the wrong type")
            config[target] = value
    stop = body.get("stop")
    if isinstance(stop, str):
        config["stopSequences"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        config["stopSequences"] = stop
    elif stop is not None:
        _fail("body.stop must be a string or a list of strings")
    fmt = body.get("response_format")
    if fmt is not None:
        fmt_type = fmt.get("type") if isinstance(fmt, dict) else None
        if fmt_type == "json_object":
            config["responseMimeType"] = "application/json"
        elif fmt_type == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
                _fail("body.response_format.json_schema.schema must be a JSON object")
            config["responseMimeType"] = "application/json"
            config["responseJsonSchema"] = spec["schema"]
        elif fmt_type != "text":
            _fail(f"body.response_format type {fmt_type!r} is not supported")
    return config


def _functions(tools: object) -> list[dict[str, Any]]:
    if not isinstance(tools, list) or not tools:
        _fail("body.tools must be a non-empty list")
    declarations = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            _fail(f"body.tools[{i}] is not a function tool; Vertex AI batches take only those")
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            _fail(f"body.tools[{i}].function needs a name")
        declaration: dict[str, Any] = {"name": fn["name"]}
        if isinstance(fn.get("description"), str):
            declaration["description"] = fn["description"]
        if fn.get("parameters") is not None:
            declaration["parametersJsonSchema"] = fn["parameters"]
        declarations.append(declaration)
    return declarations


def _tool_mode(body: dict[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    if choice is not None and "tools" not in body:
        _fail("body.tool_choice needs body.tools")
    # strict function schemas: Gemini's VALIDATED mode keeps calls to the schema.
    strict = any(
        isinstance(t, dict) and isinstance(t.get("function"), dict) and t["function"].get("strict")
        for t in body.get("tools") or []
    )
    if choice is None or choice == "auto":
        return {"mode": "VALIDATED"} if strict else None
    if choice == "none":
        return {"mode": "NONE"}
    if choice == "required":
        return {"mode": "ANY"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        fn = choice.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            name = fn["name"]
            return {"mode": "ANY", "allowedFunctionNames": [name]}
    _fail("body.tool_choice is not one of none, auto, required or a named function")


def _contents(messages: object) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system instruction parts, contents) from OpenAI messages."""
    if not isinstance(messages, list) or not messages:
        _fail("body.messages must be a non-empty list")
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for i, msg in enumerate(messages):
        where = f"body.messages[{i}]"
        if not isinstance(msg, dict):
            _fail(f"{where} is not an object")
        role = msg.get("role")
        allowed = _MESSAGE_KEYS.get(role) if isinstance(role, str) else None
        if allowed is None:
            _fail(f"{where}.role {role!r} is not supported")
        extra = sorted(k for k, v in msg.items() if k not in allowed and v is not None)
        if extra:
            _fail(f"{where}.{extra[0]} has no Vertex AI equivalent")
        if role in ("system", "developer"):
            system += _parts(msg.get("content"), where, text_only=True)
            continue
        if role == "user":
            parts, author = _parts(msg.get("content"), where), "user"
        elif role == "assistant":
            parts, author = _assistant(msg, where, call_names), "model"
        else:
            parts, author = [_tool_result(msg, where, call_names)], "user"
        if not parts:
            _fail(f"{where} has no content")
        # Gemini wants turns to alternate; consecutive tool results form one turn.
        if contents and contents[-1]["role"] == author:
            contents[-1]["parts"] += parts
        else:
            contents.append({"role": author, "parts": parts})
    if not contents:
        _fail("body.messages has no user message")
    return system, contents


def _parts(content: object, where: str, *, text_only: bool = False) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        _fail(f"{where}.content must be a string or a list of parts")
    parts = []
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append({"text": part["text"]})
        elif text_only:
            _fail(f"{at} must be a text part")
        elif kind == "image_url":
            image = part.get("image_url")
            if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                _fail(f"{at}.image_url needs a url")
            if image.get("detail", "auto") != "auto":
                _fail(f"{at}.image_url.detail has no Vertex AI equivalent")
            parts.append(_media(image["url"], at))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            mime = _AUDIO.get(str(audio.get("format")))
            if mime is None or not isinstance(audio.get("data"), str):
                _fail(f"{at}.input_audio needs data and a format of wav or mp3")
            parts.append({"inlineData": {"mimeType": mime, "data": audio["data"]}})
        elif kind == "file":
            data = (part.get("file") or {}).get("file_data")
            if not isinstance(data, str):
                _fail(f"{at}: only inline file_data can be sent to Vertex AI, not a file_id")
            parts.append(_media(data, at))
        else:
            _fail(f"{at} has type {kind!r}, which is not supported")
    return parts


def _media(url: str, where: str) -> dict[str, Any]:
    if url.startswith("data:"):
        head, sep, data = url[5:].partition(",")
        mime, _, encoding = head.partition(";")
        if not sep or encoding != "base64" or not mime:
            _fail(f"{where}: a data URL must be data:<type>;base64,<data>")
        return {"inlineData": {"mimeType": mime, "data": data}}
    if not url.startswith(("gs://", "https://", "http://")):
        _fail(f"{where}: URL scheme not supported (use gs://, https:// or a data URL)")
    guessed = mimetypes.guess_type(url.split("?", 1)[0])[0]
    if guessed is None:
        _fail(f"{where}: cannot tell the media type of {url[:100]!r} from its name")
    return {"fileData": {"fileUri": url, "mimeType": guessed}}


def _assistant(msg: dict[str, Any], where: str, names: dict[str, str]) -> list[dict[str, Any]]:
    parts = _parts(msg.get("content"), where, text_only=True)
    for k, call in enumerate(msg.get("tool_calls") or []):
        at = f"{where}.tool_calls[{k}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            _fail(f"{at} needs a function name")
        try:
            args = orjson.loads(fn.get("arguments") or "{}")
        except (orjson.JSONDecodeError, TypeError):
            _fail(f"{at}.function.arguments is not JSON")
        if not isinstance(args, dict):
            _fail(f"{at}.function.arguments is not a JSON object")
        if isinstance(call.get("id"), str):
            names[call["id"]] = fn["name"]
        parts.append({"functionCall": {"name": fn["name"], "args": args}})
    return parts


def _tool_result(msg: dict[str, Any], where: str, names: dict[str, str]) -> dict[str, Any]:
    name = names.get(msg.get("tool_call_id") or "")
    if name is None:
        _fail(f"{where}.tool_call_id names no earlier tool call")
    text = "".join(p["text"] for p in _parts(msg.get("content"), where, text_only=True))
    # Gemini reads a function's result from the "output" key of the response.
    return {"functionResponse": {"name": name, "response": {"output": text}}}


# -- streams ---------------------------------------------------------------------------------


async def transform_lines(
    chunks: AsyncIterable[bytes],
    transform: Callable[[bytes, int], bytes | None],
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    flush_bytes: int = 1024 * 1024,
) -> AsyncIterator[bytes]:
    """Apply ``transform`` to each line of a byte stream, holding one line at a time.

    Output lines end with ``\\n`` and are sent on in pieces of about ``flush_bytes``.
    """
    partial = bytearray()
    out = bytearray()
    number = 0
    async for chunk in chunks:
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if lines and partial:
            partial += lines[0]
            lines[0] = bytes(partial)
            partial.clear()
        for line in lines:
            number += 1
            result = transform(line, number)
            if result is not None:
                out += result
                out += b"\n"
        partial += tail
        if len(partial) > max_line_bytes:
            raise InvalidRequest(
                f"Line {number + 1} is longer than {max_line_bytes} bytes.",
                param="file",
                code="invalid_file",
            )
        if len(out) >= flush_bytes:
            yield bytes(out)
            out.clear()
    if partial:
        result = transform(bytes(partial), number + 1)
        if result is not None:
            out += result + b"\n"
    if out:
        yield bytes(out)
