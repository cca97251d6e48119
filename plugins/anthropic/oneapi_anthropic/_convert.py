"""OpenAI chat requests → Anthropic Messages requests, and Anthropic messages → OpenAI answers.

Request rules (Anthropic's Messages API):

- ``system``/``developer`` messages, wherever they are, become the top-level ``system``
  (text blocks, in order); a conversation of only system text becomes one user turn.
- roles alternate: consecutive turns of one role are merged into one turn; ``tool``
  messages become ``tool_result`` blocks of a user turn (first in that turn).
- empty text is dropped (Anthropic refuses empty text blocks); a final assistant turn (a
  prefill) loses its trailing whitespace, which Anthropic refuses too.
- images: ``data:`` URLs become ``base64`` sources, http(s) URLs ``url`` sources; PDF
  ``file`` parts become ``document`` blocks.
- ``tools``/``tool_choice``/``parallel_tool_calls``, ``stop`` → ``stop_sequences``,
  ``temperature`` (clamped to Anthropic's 0..1), ``top_p``, ``top_k``, ``user`` (else
  OpenAI ``metadata.user_id``) → ``metadata.user_id`` (Anthropic's metadata takes nothing
  else: OpenAI's free-form ``metadata`` is not sent); ``thinking`` passes through.
- ``response_format``: see ``_structured`` (``output_config.format`` or a forced JSON tool,
  whose input ``to_openai`` returns as the message content).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from oneapi.plugin import RelayError, Usage

from ._structured import apply_response_format

__all__ = ["FINISH_REASONS", "openai_usage", "to_anthropic", "to_openai", "usage_of"]

FINISH_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter",
}


def _bad(message: str, param: str = "messages") -> RelayError:
    return RelayError(400, message, "invalid_request_error", "invalid_request", param)


def _text_of(content: Any) -> str:
    """The text of an OpenAI message content (string or parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content
                         if isinstance(p, dict) and p.get("type") == "text")
    raise _bad("message content must be a string or an array of content parts")


def _data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a ``data:`` URL, or None for any other URL."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(",")
    if not sep or ";base64" not in head:
        raise _bad("data URLs must be base64-encoded (data:<type>;base64,<data>)")
    return head.split(";")[0] or "application/octet-stream", data


def _image_block(part: dict[str, Any]) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise _bad("image_url.url is required")
    inline = _data_url(url)
    if inline is not None:
        return {"type": "image", "source": {"type": "base64", "media_type": inline[0], "data": inline[1]}}
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise _bad("image_url.url must be a data: URL or an http(s) URL")


def _file_block(part: dict[str, Any]) -> dict[str, Any]:
    file = part.get("file")
    file = file if isinstance(file, dict) else {}
    inline = _data_url(str(file.get("file_data") or ""))
    if inline is None:
        raise _bad("file parts need file_data as a base64 data: URL (file_id is not supported)")
    return {"type": "document", "source": {"type": "base64", "media_type": inline[0], "data": inline[1]}}


def _blocks(content: Any) -> list[dict[str, Any]]:
    """Anthropic content blocks for an OpenAI user/assistant/tool content."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise _bad("message content must be a string or an array of content parts")
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if not part.get("text"):
                continue
            block = {"type": "text", "text": str(part["text"])}
        elif kind == "image_url":
            block = _image_block(part)
        elif kind == "file":
            block = _file_block(part)
        else:
            raise _bad(f"content part type {kind!r} is not supported by Anthropic channels")
        if isinstance(part.get("cache_control"), dict):
            block["cache_control"] = part["cache_control"]
        blocks.append(block)
    return blocks


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    raw = fn.get("arguments") or "{}"
    try:
        arguments = orjson.loads(raw) if isinstance(raw, str) else raw
    except orjson.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        raise _bad(f"tool call {call.get('id')!r}: arguments must be a JSON object")
    return {"type": "tool_use", "id": str(call.get("id") or ""), "name": str(fn.get("name") or ""),
            "input": arguments}


def _tool_result(message: dict[str, Any]) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not call_id:
        raise _bad("tool messages need tool_call_id")
    content = message.get("content")
    result: Any = content if isinstance(content, str) else _blocks(content)
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": str(call_id)}
    if result:
        block["content"] = result
    return block


def _turns(messages: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, alternating user/assistant turns) of OpenAI messages."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            raise _bad("every message must be an object")
        role = message.get("role")
        if role in ("system", "developer"):
            text = _text_of(message.get("content"))
            if text:
                system.append({"type": "text", "text": text})
            continue
        if role == "user":
            blocks = _blocks(message.get("content"))
        elif role == "assistant":
            blocks = _blocks(message.get("content"))
            blocks += [_tool_use(call) for call in message.get("tool_calls") or ()]
        elif role == "tool":
            role, blocks = "user", [_tool_result(message)]
        else:
            raise _bad(f"message role {role!r} is not supported by Anthropic channels")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:  # tool results must lead their user turn
        turn["content"].sort(key=lambda b: b["type"] != "tool_result")
    if turns and turns[-1]["role"] == "assistant":
        last = turns[-1]["content"][-1]
        if last["type"] == "text":
            last["text"] = last["text"].rstrip()
            if not last["text"]:
                turns[-1]["content"].pop()
                if not turns[-1]["content"]:
                    turns.pop()
    if not turns and system:
        turns, system = [{"role": "user", "content": system}], []
    return system, turns


def _tool_choice(payload: dict[str, Any]) -> dict[str, Any] | None:
    choice = payload.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        out: dict[str, Any] = {"type": "tool", "name": name} if name else {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    elif choice == "none":
        return {"type": "none"}
    elif choice in (None, "auto"):
        out = {"type": "auto"}
    else:
        raise _bad(f"unsupported tool_choice {choice!r}", "tool_choice")
    if payload.get("parallel_tool_calls") is False:
        out["disable_parallel_tool_use"] = True
    elif choice is None:
        return None
    return out


def to_anthropic(payload: dict[str, Any], model: str, max_tokens: int) -> dict[str, Any]:
    """The Anthropic Messages request for an OpenAI chat payload."""
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages must be a non-empty array")
    system, turns = _turns(messages)
    if not turns:
        raise _bad("messages hold no content to send")
    out: dict[str, Any] = {"model": model, "messages": turns}
    limit = payload.get("max_completion_tokens") or payload.get("max_tokens")
    out["max_tokens"] = limit if isinstance(limit, int) and limit > 0 else max_tokens
    if system:
        plain = all(set(block) == {"type", "text"} for block in system)
        out["system"] = "\n\n".join(b["text"] for b in system) if plain else system
    stop = payload.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    temperature = payload.get("temperature")
    if isinstance(temperature, int | float):
        out["temperature"] = min(max(float(temperature), 0.0), 1.0)
    for key in ("top_p", "top_k", "thinking"):
        if payload.get(key) is not None:
            out[key] = payload[key]
    metadata = payload.get("metadata")
    user = payload.get("user") or (metadata.get("user_id") if isinstance(metadata, dict) else None)
    if isinstance(user, str | int) and not isinstance(user, bool) and str(user):
        out["metadata"] = {"user_id": str(user)}
    tools = payload.get("tools")
    if tools:
        out["tools"] = [_tool(tool) for tool in tools]
        choice = _tool_choice(payload)
        if choice is not None:
            out["tool_choice"] = choice
    apply_response_format(payload, model, out)
    if payload.get("stream"):
        out["stream"] = True
    return out


def _tool(tool: Any) -> dict[str, Any]:
    fn = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(fn, dict) or not fn.get("name"):
        raise _bad("tools must be function tools with a name", "tools")
    out: dict[str, Any] = {"name": fn["name"],
                           "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}
    if fn.get("description"):
        out["description"] = fn["description"]
    if isinstance(tool.get("cache_control"), dict):
        out["cache_control"] = tool["cache_control"]
    return out


# --- answers -------------------------------------------------------------------------


def usage_of(usage: dict[str, Any]) -> Usage:
    """Anthropic usage as a Usage: prompt counts cache reads and writes, cached the reads."""
    read = int(usage.get("cache_read_input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + read + written
    return Usage(prompt, int(usage.get("output_tokens") or 0), read)


def openai_usage(usage: Usage) -> dict[str, Any]:
    """A Usage in OpenAI's JSON shape."""
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cached_tokens}}


def to_openai(data: dict[str, Any], model: str, json_tool: str | None = None) -> tuple[dict[str, Any], Usage]:
    """An OpenAI ``chat.completion`` (and its usage) for an Anthropic message.

    ``json_tool``: the name of the forced tool that carried a ``response_format``; its input
    is the answer's content (JSON text) and the answer finishes with ``stop``.
    """
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    answered: list[str] = []
    for block in data.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking") or ""))
        elif kind == "tool_use" and json_tool is not None and block.get("name") == json_tool:
            answered.append(orjson.dumps(block.get("input") or {}).decode())
        elif kind == "tool_use":
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"),
                                       "arguments": orjson.dumps(block.get("input") or {}).decode()}})
    if answered:  # the JSON answer replaces any words around it
        texts = answered[:1]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    usage = usage_of(data.get("usage") or {})
    reason = data.get("stop_reason")
    if answered and not calls and reason == "tool_use":
        reason = "end_turn"
    answer = {
        "id": f"chatcmpl-{data.get('id') or ''}", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": FINISH_REASONS.get(str(reason), "stop") if reason else None}],
        "usage": openai_usage(usage),
    }
    return answer, usage
