"""OpenAI chat answers → Anthropic messages; OpenAI ``chat.completion.chunk`` SSE → Anthropic events.

The outbound converter (``_convert``, ``_stream``) inverted: ``message`` text becomes a
``text`` block, ``tool_calls`` ``tool_use`` blocks (arguments parsed back into ``input``),
``reasoning_content`` a ``thinking`` block when the client asked for thinking;
``finish_reason`` maps back to ``stop_reason``; usage to ``input_tokens`` (without cached
tokens), ``cache_read_input_tokens`` and ``output_tokens``.

A stream becomes Anthropic's event sequence: ``message_start`` (input tokens as counted by
the gateway), ``ping``, per block ``content_block_start`` / ``content_block_delta``
(``text_delta``, ``input_json_delta``, ``thinking_delta``) / ``content_block_stop``, then
``message_delta`` with the stop reason and the upstream's final usage (the usage chunk the
core asks OpenAI-format upstreams for), and ``message_stop``. An error chunk, a broken
connection or a stream that ends unfinished ends with an ``error`` event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from oneapi.plugin import RelayContext, RelayError, RelayResult, Usage, iter_data

__all__ = ["convert_result", "convert_stream", "error_type", "message_events"]

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "function_call": "tool_use", "content_filter": "refusal"}

# Anthropic's error type for an HTTP status (docs: "HTTP errors")
_STATUS_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}
ERROR_TYPES = frozenset(_STATUS_TYPES.values())


def error_type(err: RelayError) -> str:
    """The Anthropic error type for a gateway or upstream error."""
    if err.status in _STATUS_TYPES:
        return _STATUS_TYPES[err.status]
    if err.type in ERROR_TYPES:  # an Anthropic upstream's own type (e.g. 529, answered as 503)
        return err.type
    return "api_error" if err.status >= 500 else "invalid_request_error"


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _error_event(etype: str, message: str) -> bytes:
    return _sse("error", {"type": "error", "error": {"type": etype, "message": message}})


def _usage_of(usage: Any) -> Usage | None:
    """OpenAI's usage JSON as a Usage."""
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details") or {}
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                 int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0)


def anthropic_usage(ctx: RelayContext, usage: Usage | None) -> dict[str, int]:
    """A Usage in Anthropic's terms: input tokens exclude the cache reads."""
    if usage is None:
        return {"input_tokens": ctx.prompt_tokens, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": 0}
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    return {"input_tokens": usage.prompt_tokens - cached, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached, "output_tokens": usage.completion_tokens}


def _wants_thinking(ctx: RelayContext) -> bool:
    thinking = (ctx.inbound_payload or {}).get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") not in (None, "disabled")


def _message_id(ctx: RelayContext, openai_id: Any) -> str:
    return "msg_" + (str(openai_id).removeprefix("chatcmpl-") if openai_id else ctx.request_id)


def _stop_reason(finish: Any, called: bool) -> str:
    reason = STOP_REASONS.get(str(finish), "end_turn") if finish else "end_turn"
    return "tool_use" if called and reason == "end_turn" else reason


def _input_of(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = orjson.loads(arguments) if arguments else {}
    except (orjson.JSONDecodeError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def to_message(ctx: RelayContext, data: dict[str, Any]) -> dict[str, Any]:
    """The Anthropic message for an OpenAI chat completion (its first choice)."""
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    blocks: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning and _wants_thinking(ctx):
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = _text_of(message.get("content")) or (message.get("refusal") or "")
    if text:
        blocks.append({"type": "text", "text": str(text)})
    calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
    for k, call in enumerate(calls):
        fn = call.get("function") or {}
        blocks.append({"type": "tool_use", "id": str(call.get("id") or f"toolu_{ctx.request_id}_{k}"),
                       "name": str(fn.get("name") or ""), "input": _input_of(fn.get("arguments"))})
    return {"id": _message_id(ctx, data.get("id")), "type": "message", "role": "assistant", "model": ctx.model,
            "content": blocks, "stop_reason": _stop_reason(choice.get("finish_reason"), bool(calls)),
            "stop_sequence": None, "usage": anthropic_usage(ctx, ctx.usage)}


def message_events(message: dict[str, Any]) -> bytes:
    """A whole Anthropic message as its stream of events."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**usage, "output_tokens": 0}}
    out = [_sse("message_start", {"type": "message_start", "message": start}), _sse("ping", {"type": "ping"})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            first, delta = {**block, "input": {}}, {"type": "input_json_delta",
                                                   "partial_json": orjson.dumps(block["input"]).decode()}
        elif block["type"] == "thinking":
            first, delta = {**block, "thinking": ""}, {"type": "thinking_delta", "thinking": block["thinking"]}
        else:
            first, delta = {**block, "text": ""}, {"type": "text_delta", "text": block["text"]}
        out += [_sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": first}),
                _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}),
                _sse("content_block_stop", {"type": "content_block_stop", "index": index})]
    out += [_sse("message_delta", {"type": "message_delta", "delta": {
                "stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}, "usage": usage}),
            _sse("message_stop", {"type": "message_stop"})]
    return b"".join(out)


def convert_result(ctx: RelayContext, result: RelayResult) -> RelayResult:
    """An OpenAI chat completion as an Anthropic message (or its events, for a stream request)."""
    data = result.json
    if not isinstance(data, dict):
        try:
            data = orjson.loads(result.body)
        except orjson.JSONDecodeError:
            data = None
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        err = RelayError(502, f"channel {ctx.channel.id if ctx.channel else 0} answered without a chat "
                         "completion", "upstream_error", "bad_response_body")
        body = {"type": "error", "error": {"type": error_type(err), "message": err.message},
                "request_id": ctx.request_id}
        return RelayResult(502, orjson.dumps(body), "application/json", result.usage, body)
    message = to_message(ctx, data)
    if ctx.is_stream:  # the upstream answered a stream request with JSON
        return RelayResult(result.status, message_events(message), "text/event-stream", result.usage, message)
    return RelayResult(result.status, orjson.dumps(message), "application/json", result.usage, message)


class _Writer:
    """Turns OpenAI chunks into Anthropic events, one content block open at a time."""

    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx
        self.thinking = _wants_thinking(ctx)
        self.started = False
        self.index = -1  # the last block started
        self.open_kind: str | None = None  # "text", "thinking" or "tool" while a block is open
        self.tool_blocks: dict[int, int] = {}  # OpenAI tool call index -> block index
        self.tool_ids: dict[int, str] = {}
        self.last_tool = 0
        self.finish: str | None = None
        self.usage: Usage | None = None

    def start(self, openai_id: Any) -> list[bytes]:
        self.started = True
        message = {"id": _message_id(self.ctx, openai_id), "type": "message", "role": "assistant",
                   "model": self.ctx.model, "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": anthropic_usage(self.ctx, None)}
        return [_sse("message_start", {"type": "message_start", "message": message}),
                _sse("ping", {"type": "ping"})]

    def open(self, kind: str, block: dict[str, Any]) -> list[bytes]:
        out = self.close()
        self.index += 1
        self.open_kind = kind
        out.append(_sse("content_block_start", {"type": "content_block_start", "index": self.index,
                                                "content_block": block}))
        return out

    def close(self) -> list[bytes]:
        if self.open_kind is None:
            return []
        self.open_kind = None
        return [_sse("content_block_stop", {"type": "content_block_stop", "index": self.index})]

    @staticmethod
    def delta(index: int, delta: dict[str, Any]) -> bytes:
        return _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})

    def feed(self, chunk: dict[str, Any]) -> list[bytes]:
        out = [] if self.started else self.start(chunk.get("id"))
        if chunk.get("usage"):
            self.usage = _usage_of(chunk["usage"])
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning and self.thinking:
                if self.open_kind != "thinking":
                    out += self.open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                out.append(self.delta(self.index, {"type": "thinking_delta", "thinking": reasoning}))
            text = delta.get("content")
            if isinstance(text, str) and text:
                if self.open_kind != "text":
                    out += self.open("text", {"type": "text", "text": ""})
                out.append(self.delta(self.index, {"type": "text_delta", "text": text}))
            for call in delta.get("tool_calls") or ():
                if isinstance(call, dict):
                    out += self.tool(call)
            if choice.get("finish_reason"):
                self.finish = str(choice["finish_reason"])
        return out

    def tool(self, call: dict[str, Any]) -> list[bytes]:
        index = call.get("index")
        if not isinstance(index, int):  # upstreams that leave the index out
            index = len(self.tool_blocks) if call.get("id") else self.last_tool
        self.last_tool = index
        fn = call.get("function") or {}
        out: list[bytes] = []
        if index not in self.tool_blocks or (call.get("id") and call["id"] != self.tool_ids[index]):
            call_id = str(call.get("id") or f"toolu_{self.ctx.request_id}_{len(self.tool_blocks)}")
            out += self.open("tool", {"type": "tool_use", "id": call_id, "name": str(fn.get("name") or ""),
                                      "input": {}})
            self.tool_blocks[index], self.tool_ids[index] = self.index, call_id
        arguments = fn.get("arguments")
        if isinstance(arguments, dict):
            arguments = orjson.dumps(arguments).decode()
        if isinstance(arguments, str) and arguments:
            out.append(self.delta(self.tool_blocks[index], {"type": "input_json_delta", "partial_json": arguments}))
        return out

    def end(self) -> list[bytes]:
        out = ([] if self.started else self.start(None)) + self.close()
        usage = anthropic_usage(self.ctx, self.usage or self.ctx.usage)
        reason = _stop_reason(self.finish, bool(self.tool_blocks))
        out += [_sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None},
                                       "usage": usage}),
                _sse("message_stop", {"type": "message_stop"})]
        return out


def _stream_error(error: dict[str, Any]) -> bytes:
    """An OpenAI error chunk as Anthropic's error event."""
    etype = str(error.get("type") or "")
    code = str(error.get("code") or "")
    if etype not in ERROR_TYPES:
        etype = "rate_limit_error" if "rate_limit" in etype + code else "overloaded_error" \
            if "overloaded" in etype + code else "api_error"
    return _error_event(etype, str(error.get("message") or "upstream stream error"))


async def convert_stream(ctx: RelayContext, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Anthropic SSE events for an OpenAI chunk stream (usage comes from its final usage chunk)."""
    writer = _Writer(ctx)
    done = False
    try:
        async for data in iter_data(chunks):
            if data == b"[DONE]":
                done = True
                continue
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(chunk, dict):
                continue
            if isinstance(chunk.get("error"), dict):
                yield _stream_error(chunk["error"])
                return
            out = writer.feed(chunk)
            if out:
                yield b"".join(out)
    except httpx.HTTPError:
        yield _error_event("api_error", "the upstream stream broke off")
        raise
    if done or writer.finish is not None:
        yield b"".join(writer.end())
    else:
        yield _error_event("api_error", "the upstream stream ended before the answer was complete")
