"""Inbound Claude format: Anthropic Messages requests → OpenAI chat, answers and errors back.

``POST /v1/messages`` is served with ``relay_request("chat", inbound=AnthropicInbound(...))``:
Anthropic channels receive the client's payload as it is (``native_inbound``); every other
channel gets the OpenAI chat request built here, and its answer is converted back by
``_inbound_stream``. The request rules are the outbound converter's (``_convert``) inverted:

- ``system`` (string or text blocks) becomes a leading ``system`` message.
- a user turn's ``tool_result`` blocks become ``tool`` messages (first, in order); the rest
  of the turn stays one user message; images inside a tool result follow in a user message.
- an assistant turn's ``tool_use`` blocks become ``tool_calls`` (input → JSON arguments);
  ``thinking`` blocks are dropped (OpenAI-format upstreams cannot take them back).
- images: ``base64`` sources become ``data:`` URLs, ``url`` sources stay URLs; PDF documents
  (``base64``) become ``file`` parts, ``text``/``content`` documents text parts.
- ``max_tokens``, ``stop_sequences`` → ``stop``, ``temperature``, ``top_p``,
  ``metadata.user_id`` → ``user``, ``tools`` (client tools) → functions, ``tool_choice`` and
  ``disable_parallel_tool_use`` → ``parallel_tool_calls``, ``output_config.format`` (JSON
  schema structured output) → ``response_format``, ``stream``.

Valid Anthropic requests are never refused here, since Anthropic channels relay them as
they are: what an OpenAI-format upstream cannot express (``top_k``, ``thinking``,
``output_config.effort``, server tools, ``file`` sources, ``cache_control``, citations) is left
out of the converted request.
Malformed requests (missing ``model``/``max_tokens``/``messages``, wrong shapes) are 400s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from oneapi.plugin import Inbound, RelayContext, RelayError, RelayResult

from ._inbound_stream import convert_result, convert_stream, error_type

__all__ = ["AnthropicInbound", "to_openai_request"]


def _bad(message: str) -> RelayError:
    return RelayError(400, message, "invalid_request_error", "invalid_request")


def _blocks_of(where: str, content: Any) -> list[dict[str, Any]]:
    """Content blocks of a string or block-array content (text for a string)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _bad(f"{where}: Input should be a valid string or a list of content blocks")
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _bad(f"{where}.{j}: content blocks must be objects with a type")
    return content


def _text(where: str, block: dict[str, Any]) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise _bad(f"{where}.text: Input should be a valid string")
    return text


def _system(system: Any) -> str:
    """The text of ``system``: a string or text blocks (joined by blank lines)."""
    texts = [_text(f"system.{j}", b) for j, b in enumerate(_blocks_of("system", system)) if b["type"] == "text"]
    return "\n\n".join(text for text in texts if text)


def _image(where: str, block: dict[str, Any]) -> dict[str, Any] | None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise _bad(f"{where}.source: Field required")
    kind = source.get("type")
    if kind == "base64":
        media, data = source.get("media_type"), source.get("data")
        if not isinstance(media, str) or not isinstance(data, str):
            raise _bad(f"{where}.source: base64 sources need media_type and data")
        return {"type": "image_url", "image_url": {"url": f"data:{media};base64,{data}"}}
    if kind == "url":
        if not isinstance(source.get("url"), str):
            raise _bad(f"{where}.source.url: Input should be a valid string")
        return {"type": "image_url", "image_url": {"url": source["url"]}}
    return None  # file sources (Files API): only Anthropic channels can resolve them


def _document(where: str, block: dict[str, Any]) -> list[dict[str, Any]]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise _bad(f"{where}.source: Field required")
    kind = source.get("type")
    if kind == "base64" and isinstance(source.get("data"), str):
        media = str(source.get("media_type") or "application/pdf")
        name = str(block.get("title") or "document.pdf")
        return [{"type": "file", "file": {"filename": name, "file_data": f"data:{media};base64,{source['data']}"}}]
    if kind == "text" and isinstance(source.get("data"), str):
        return [{"type": "text", "text": source["data"]}] if source["data"] else []
    if kind == "content":
        return [p for j, b in enumerate(_blocks_of(f"{where}.source.content", source.get("content")))
                for p in _part(f"{where}.source.content.{j}", b)]
    return []  # url and file documents: only Anthropic channels fetch them


def _part(where: str, block: dict[str, Any]) -> list[dict[str, Any]]:
    """OpenAI content parts for one user-side block (not tool_result)."""
    kind = block["type"]
    if kind == "text":
        text = _text(where, block)
        return [{"type": "text", "text": text}] if text else []
    if kind == "image":
        image = _image(where, block)
        return [image] if image else []
    if kind == "document":
        return _document(where, block)
    return []  # search results, server tool blocks, container uploads...


def _content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text-only parts as one string (what every OpenAI-format upstream takes), else the parts."""
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _tool_result(where: str, block: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``tool`` message for a tool_result block, and the images it held (for a user message)."""
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise _bad(f"{where}.tool_use_id: Field required")
    content = block.get("content")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    if content is not None:
        for j, inner in enumerate(_blocks_of(f"{where}.content", content)):
            for part in _part(f"{where}.content.{j}", inner):
                if part["type"] == "text":
                    texts.append(part["text"])
                else:
                    images.append(part)
    return {"role": "tool", "tool_call_id": call_id, "content": "\n".join(texts)}, images


def _tool_call(where: str, block: dict[str, Any]) -> dict[str, Any]:
    call_id, name, arguments = block.get("id"), block.get("name"), block.get("input")
    if not isinstance(call_id, str) or not isinstance(name, str) or not isinstance(arguments, dict):
        raise _bad(f"{where}: tool_use blocks need an id, a name and an input object")
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": orjson.dumps(arguments).decode()}}


def _message(i: int, message: Any) -> list[dict[str, Any]]:
    """The OpenAI messages for one Anthropic message."""
    where = f"messages.{i}"
    if not isinstance(message, dict):
        raise _bad(f"{where}: Input should be a valid object")
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise _bad(f"{where}.role: Input should be 'user' or 'assistant'")
    if "content" not in message:
        raise _bad(f"{where}.content: Field required")
    if isinstance(message["content"], str):
        return [{"role": role, "content": message["content"]}]
    blocks = _blocks_of(f"{where}.content", message["content"])
    if role == "assistant":
        texts, calls = [], []
        for j, block in enumerate(blocks):
            if block["type"] == "text":
                texts.append(_text(f"{where}.content.{j}", block))
            elif block["type"] == "tool_use":
                calls.append(_tool_call(f"{where}.content.{j}", block))
        if not texts and not calls:
            return []  # only thinking (or server tool) blocks
        out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
        if calls:
            out["tool_calls"] = calls
        return [out]
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        if block["type"] == "tool_result":
            tool, images = _tool_result(f"{where}.content.{j}", block)
            tools.append(tool)
            parts.extend(images)
        else:
            parts.extend(_part(f"{where}.content.{j}", block))
    if parts or not tools:
        tools.append({"role": "user", "content": _content(parts)})
    return tools


def _tools(payload: dict[str, Any], out: dict[str, Any]) -> None:
    tools = payload.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _bad("tools: Input should be a valid list")
    functions = []
    for k, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise _bad(f"tools.{k}: tools need a name")
        if tool.get("type") not in (None, "custom"):
            continue  # Anthropic's server and client-executed built-in tools (web search, bash...)
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise _bad(f"tools.{k}.input_schema: Field required")
        fn: dict[str, Any] = {"name": tool["name"], "parameters": schema}
        if tool.get("description"):
            fn["description"] = str(tool["description"])
        functions.append({"type": "function", "function": fn})
    if not functions:
        return
    out["tools"] = functions
    choice = payload.get("tool_choice")
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise _bad("tool_choice: Input tag should be one of 'auto', 'any', 'tool', 'none'")
    if choice.get("disable_parallel_tool_use") is True:
        out["parallel_tool_calls"] = False


def to_openai_request(payload: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI chat payload for an Anthropic Messages payload; RelayError 400 when malformed."""
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model: Field required")
    max_tokens = payload.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _bad("max_tokens: Field required (a positive integer)")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages: Field required (a non-empty list)")
    out_messages: list[dict[str, Any]] = []
    if payload.get("system") is not None and (system := _system(payload["system"])):
        out_messages.append({"role": "system", "content": system})
    for i, message in enumerate(messages):
        out_messages.extend(_message(i, message))
    out: dict[str, Any] = {"model": model, "messages": out_messages, "max_tokens": max_tokens}
    stop = payload.get("stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise _bad("stop_sequences: Input should be a list of strings")
        if stop:
            out["stop"] = stop
    for key in ("temperature", "top_p"):
        value = payload.get(key)
        if value is not None:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise _bad(f"{key}: Input should be a valid number")
            out[key] = value
    metadata = payload.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str) and metadata["user_id"]:
        out["user"] = metadata["user_id"]
    _tools(payload, out)
    output = payload.get("output_config") if isinstance(payload.get("output_config"), dict) else {}
    output_format = output.get("format") or payload.get("output_format")  # GA, and the older beta
    if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
        if not isinstance(output_format.get("schema"), dict):
            raise _bad("output_config.format.schema: Field required")
        out["response_format"] = {"type": "json_schema",
                                  "json_schema": {"name": "output", "schema": output_format["schema"]}}
    if payload.get("stream") is True:
        out["stream"] = True
    return out


class AnthropicInbound(Inbound):
    """Anthropic's Messages format at the gateway's edge (one instance per request).

    ``version`` and ``beta`` are the client's ``anthropic-version`` / ``anthropic-beta``
    headers, forwarded to Anthropic channels on the native path.
    """

    name = "anthropic"

    def __init__(self, version: str | None = None, beta: str | None = None) -> None:
        self.version = version or None
        self.beta = beta or None

    def to_openai(self, payload: dict[str, Any]) -> dict[str, Any]:
        return to_openai_request(payload)

    def result(self, ctx: RelayContext, result: RelayResult) -> RelayResult:
        return convert_result(ctx, result)

    def stream(self, ctx: RelayContext, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return convert_stream(ctx, chunks)

    def error_body(self, err: RelayError, request_id: str) -> bytes:
        message = f"{err.message} (request id: {request_id})" if request_id else err.message
        return orjson.dumps({"type": "error", "error": {"type": error_type(err), "message": message},
                             "request_id": request_id})
