"""Anthropic's SSE stream → OpenAI ``chat.completion.chunk`` SSE bytes.

Anthropic sends ``message_start`` (id, input usage), then per content block
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``input_json_delta``,
``thinking_delta``) / ``content_block_stop``, then ``message_delta`` (stop reason, final
usage) and ``message_stop``; ``ping`` may come at any time and ``error`` ends the stream.
Text becomes ``delta.content``, tool_use blocks ``delta.tool_calls`` (id and name first,
then argument fragments), thinking ``delta.reasoning_content``. The forced tool that
carries a ``response_format`` (``json_tool``) streams as ``delta.content`` instead, and its
``tool_use`` stop reason as ``stop``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from oneapi.plugin import RelayContext, iter_data

from ._convert import FINISH_REASONS, openai_usage, usage_of

__all__ = ["convert_stream"]

DONE = b"data: [DONE]\n\n"


class _Converter:
    """Turns one Anthropic stream event at a time into OpenAI chunks."""

    def __init__(self, ctx: RelayContext, json_tool: str | None = None) -> None:
        self.ctx = ctx
        self.json_tool = json_tool
        self.json_blocks: set[int] = set()  # content block indexes of the JSON answer tool
        self.id = "chatcmpl-"
        self.created = int(time.time())
        self.tool_index: dict[int, int] = {}  # content block index -> OpenAI tool call index
        self.usage: dict[str, Any] = {}
        self.finished = False

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.ctx.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        return b"data: " + orjson.dumps(body) + b"\n\n"

    def feed(self, event: dict[str, Any]) -> list[bytes]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.id = f"chatcmpl-{message.get('id') or ''}"
            self.usage.update({k: v for k, v in (message.get("usage") or {}).items() if v is not None})
            return [self.chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self.block_start(int(event.get("index") or 0), event.get("content_block") or {})
        if kind == "content_block_delta":
            return self.block_delta(int(event.get("index") or 0), event.get("delta") or {})
        if kind == "message_delta":
            self.usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
            self.ctx.usage = usage_of(self.usage)
            reason = (event.get("delta") or {}).get("stop_reason")
            if reason == "tool_use" and self.json_blocks and not self.tool_index:
                reason = "end_turn"
            return [self.chunk({}, FINISH_REASONS.get(str(reason), "stop"))] if reason else []
        if kind == "message_stop":
            self.finished = True
            out = []
            if self.ctx.client_wants_usage:
                usage = self.ctx.usage or usage_of(self.usage)
                body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                        "model": self.ctx.model, "choices": [], "usage": openai_usage(usage)}
                out.append(b"data: " + orjson.dumps(body) + b"\n\n")
            return [*out, DONE]
        if kind == "error":
            error = event.get("error") or {}
            etype = str(error.get("type") or "upstream_error")
            body = {"error": {"message": str(error.get("message") or "upstream stream error"),
                              "type": etype, "param": None, "code": etype}}
            self.finished = True
            return [b"data: " + orjson.dumps(body) + b"\n\n"]
        return []  # ping and events unknown to this version

    def block_start(self, index: int, block: dict[str, Any]) -> list[bytes]:
        kind = block.get("type")
        if kind == "tool_use" and self.json_tool is not None and block.get("name") == self.json_tool:
            self.json_blocks.add(index)
            return []
        if kind == "tool_use":
            call = len(self.tool_index)
            self.tool_index[index] = call
            name = str(block.get("name") or "")
            self.ctx.completion_text.append(name)
            return [self.chunk({"tool_calls": [{"index": call, "id": block.get("id"), "type": "function",
                                                "function": {"name": name, "arguments": ""}}]})]
        if kind == "text" and block.get("text"):
            self.ctx.completion_text.append(str(block["text"]))
            return [self.chunk({"content": block["text"]})]
        return []

    def block_delta(self, index: int, delta: dict[str, Any]) -> list[bytes]:
        kind = delta.get("type")
        if kind == "text_delta":
            text = str(delta.get("text") or "")
            self.ctx.completion_text.append(text)
            return [self.chunk({"content": text})] if text else []
        if kind == "input_json_delta":
            part = str(delta.get("partial_json") or "")
            if part and index in self.json_blocks:
                self.ctx.completion_text.append(part)
                return [self.chunk({"content": part})]
            if not part or index not in self.tool_index:
                return []
            self.ctx.completion_text.append(part)
            return [self.chunk({"tool_calls": [{"index": self.tool_index[index],
                                                "function": {"arguments": part}}]})]
        if kind == "thinking_delta":
            text = str(delta.get("thinking") or "")
            self.ctx.completion_text.append(text)
            return [self.chunk({"reasoning_content": text})] if text else []
        return []  # signature_delta, citations_delta


async def convert_stream(ctx: RelayContext, chunks: AsyncIterator[bytes],
                         json_tool: str | None = None) -> AsyncIterator[bytes]:
    """OpenAI SSE bytes for an Anthropic SSE byte stream; sets ``ctx.usage`` at message_delta.

    A stream cut before ``message_stop`` ends without ``[DONE]``; the core then bills the
    text collected in ``ctx.completion_text`` unless the final usage had already arrived.
    """
    converter = _Converter(ctx, json_tool)
    async for data in iter_data(chunks):
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(event, dict):
            continue
        for out in converter.feed(event):
            yield out
        if converter.finished:
            return
