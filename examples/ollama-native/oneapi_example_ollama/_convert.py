"""OpenAI chat completions <-> Ollama's native chat API (``POST /api/chat``).

Pure conversions, no I/O, so that they are easy to test:

- ``to_ollama``: an OpenAI chat request -> Ollama's request body;
- ``to_openai``: Ollama's whole answer -> an OpenAI ``chat.completion`` and its usage;
- ``convert_stream``: Ollama's NDJSON stream -> OpenAI ``chat.completion.chunk`` SSE events;
- ``error_message``: the text of Ollama's error body ``{"error": "..."}``.

Ollama's usage is ``prompt_eval_count`` (prompt tokens) and ``eval_count`` (completion
tokens), sent with the last object of an answer (``"done": true``).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from oneapi.plugin import RelayContext, RelayError, Usage

__all__ = ["convert_stream", "error_message", "openai_usage", "to_ollama", "to_openai", "usage_of"]

#: OpenAI request fields that go into Ollama's ``options`` under the same name.
SAMPLING_FIELDS = ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty")
#: Ollama's ``done_reason`` -> OpenAI's ``finish_reason`` (anything else is "stop").
FINISH_REASONS = {"stop": "stop", "length": "length"}
ROLES = {"system", "user", "assistant", "tool"}
DONE = b"data: [DONE]\n\n"


def _refused(message: str, param: str, code: str = "unsupported_parameter") -> RelayError:
    """A 400 for a request this channel cannot relay (not retried on another channel)."""
    return RelayError(400, message, "invalid_request_error", code, param)


# --- request ---


def _image(part: dict[str, Any]) -> str:
    """The bare base64 of an ``image_url`` part: Ollama takes images as base64, not URLs."""
    url = part.get("image_url")
    url = str((url.get("url") if isinstance(url, dict) else url) or "")
    head, comma, data = url.partition(",")
    if not (head.startswith("data:") and head.endswith(";base64") and comma):
        raise _refused("this channel takes images as data: URLs only (data:image/png;base64,...)",
                       "messages", "invalid_image_url")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _refused("an image's base64 data is not valid", "messages", "invalid_image_url") from None
    return data


def to_message(message: dict[str, Any]) -> dict[str, Any]:
    """One OpenAI message as an Ollama message: text parts joined, images in ``images``."""
    role = "system" if message.get("role") == "developer" else message.get("role")
    if role not in ROLES:
        raise _refused(f"unknown message role {role!r}", "messages", "invalid_role")
    content = message.get("content")
    if not isinstance(content, list):
        return {"role": role, "content": "" if content is None else str(content)}
    texts: list[str] = []
    images: list[str] = []
    for part in content:
        if part.get("type") == "text":
            texts.append(str(part.get("text") or ""))
        elif part.get("type") == "image_url":
            images.append(_image(part))
        else:
            raise _refused(f"content parts of type {part.get('type')!r} are not supported", "messages")
    converted: dict[str, Any] = {"role": role, "content": "\n".join(texts)}
    if images:
        converted["images"] = images
    return converted


def response_format(value: Any) -> str | dict[str, Any] | None:
    """OpenAI's ``response_format`` as Ollama's ``format``: "json", a JSON schema, or None."""
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else "json"
    return None


def to_ollama(payload: dict[str, Any], model: str, stream: bool, keep_alive: str | int | None = None,
              num_ctx: int | None = None) -> dict[str, Any]:
    """Ollama's ``/api/chat`` body for an OpenAI chat request.

    ``max_completion_tokens``/``max_tokens`` become ``options.num_predict``; ``stop`` (a string
    or a list) ``options.stop``; the sampling fields keep their names. ``stream`` is always sent:
    Ollama streams unless told not to. Tools and ``n`` > 1 are refused with a 400.
    """
    for field in ("tools", "functions"):
        if payload.get(field):
            raise _refused(f"this channel does not relay {field} (the example converts text and images)",
                           field)
    if int(payload.get("n") or 1) != 1:
        raise _refused("this channel answers with one choice only (n must be 1)", "n")
    body: dict[str, Any] = {"model": model, "messages": [to_message(m) for m in payload.get("messages") or ()],
                            "stream": stream}
    options = {name: payload[name] for name in SAMPLING_FIELDS if payload.get(name) is not None}
    max_tokens = payload.get("max_completion_tokens") or payload.get("max_tokens")
    if max_tokens:
        options["num_predict"] = int(max_tokens)
    stop = payload.get("stop")
    if stop:
        options["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if num_ctx:
        options["num_ctx"] = num_ctx
    if options:
        body["options"] = options
    if (fmt := response_format(payload.get("response_format"))) is not None:
        body["format"] = fmt
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    return body


# --- response ---


def usage_of(data: dict[str, Any], prompt_estimate: int) -> Usage | None:
    """The usage in Ollama's final object; None when it has no counts (the core then counts).

    Ollama leaves ``prompt_eval_count`` out when the whole prompt came from its cache: the
    gateway's own estimate of the prompt (``ctx.prompt_tokens``) stands in for it.
    """
    if "prompt_eval_count" not in data and "eval_count" not in data:
        return None
    return Usage(int(data.get("prompt_eval_count") or prompt_estimate), int(data.get("eval_count") or 0))


def openai_usage(usage: Usage) -> dict[str, int]:
    """A Usage as OpenAI's ``usage`` object."""
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens}


def _finish_reason(data: dict[str, Any]) -> str:
    return FINISH_REASONS.get(str(data.get("done_reason")), "stop")


def to_openai(data: dict[str, Any], model: str, prompt_estimate: int) -> tuple[dict[str, Any], Usage | None]:
    """An OpenAI ``chat.completion`` (answering as ``model``) for a non-stream Ollama answer."""
    content = str((data.get("message") or {}).get("content") or "")
    usage = usage_of(data, prompt_estimate)
    answer: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": None,
                     "finish_reason": _finish_reason(data)}],
    }
    if usage is not None:
        answer["usage"] = openai_usage(usage)
    return answer, usage


def error_message(body: bytes) -> str | None:
    """The message of Ollama's error body ``{"error": "..."}``; None for any other body."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):  # an OpenAI-style body from a proxy in front of Ollama
        error = error.get("message")
    return str(error) if error else None


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


async def convert_stream(ctx: RelayContext, lines: AsyncIterator[str]) -> AsyncIterator[bytes]:
    """OpenAI SSE events for the NDJSON lines of a streamed ``/api/chat`` answer.

    Each line with text becomes a chunk (the first also says ``role: assistant``); the final
    line (``"done": true``) a chunk with ``finish_reason``, then, when the client asked for it
    (``stream_options.include_usage``), a usage chunk with no choices, then ``[DONE]``. The
    text goes to ``ctx.completion_text`` and the usage to ``ctx.usage``, so that the core bills
    what was delivered also when the stream breaks off. An ``{"error": ...}`` line (Ollama's
    mid-stream error) becomes an OpenAI error event, and the stream ends there without [DONE].
    """
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse({"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": ctx.model,
                     "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

    started = False
    async for line in lines:
        try:
            data = json.loads(line) if line.strip() else None
        except ValueError:
            continue  # not a JSON line: nothing to relay
        if not isinstance(data, dict):
            continue
        if data.get("error"):
            yield _sse({"error": {"message": str(data["error"]), "type": "upstream_error", "param": None,
                                  "code": None}})
            return
        text = str((data.get("message") or {}).get("content") or "")
        if text or not started:
            ctx.completion_text.append(text)
            yield chunk({"role": "assistant", "content": text} if not started else {"content": text})
            started = True
        if data.get("done"):
            yield chunk({}, _finish_reason(data))
            ctx.usage = usage_of(data, ctx.prompt_tokens)
            if ctx.usage is not None and ctx.client_wants_usage:
                yield _sse({"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                            "model": ctx.model, "choices": [], "usage": openai_usage(ctx.usage)})
            yield DONE
            return
