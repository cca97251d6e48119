"""The native path: a Claude-format client (``/v1/messages``) relayed to an Anthropic channel.

The client's payload goes upstream as it is (its raw bytes when nothing changes), with
``model`` replaced by the channel's mapped model and ``system`` by the channel's forced
system prompt, if it has one. The answer (JSON or SSE) comes back byte for byte; on the way
usage is read (``message_start`` input and cache tokens, ``message_delta`` output tokens) into
``ctx.usage``, and the text into ``ctx.completion_text`` for a stream cut before its usage;
a connection that breaks mid-stream ends with an ``error`` event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from oneapi.plugin import RelayContext, event_data, iter_events

from ._convert import usage_of

__all__ = ["block_texts", "native_betas", "native_body", "native_stream"]


def native_body(ctx: RelayContext) -> bytes:
    """The client's Anthropic payload for the upstream."""
    assert ctx.channel is not None
    payload: dict[str, Any] = ctx.inbound_payload or {}
    system_prompt = ctx.channel.system_prompt
    if payload.get("model") == ctx.upstream_model and not system_prompt:
        return ctx.body
    payload = {**payload, "model": ctx.upstream_model}
    if system_prompt:
        payload["system"] = system_prompt
    return orjson.dumps(payload)


def native_betas(*values: Any) -> str:
    """``anthropic-beta`` values (comma-separated lists) merged, in order, without repeats."""
    seen: dict[str, None] = {}
    for value in values:
        for beta in str(value or "").split(","):
            if beta.strip():
                seen.setdefault(beta.strip(), None)
    return ",".join(seen)


def block_texts(blocks: Any) -> list[str]:
    """The text of a message's content blocks, to count when no usage is known."""
    texts: list[str] = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "thinking":
            texts.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            texts.append(str(block.get("name") or "") + orjson.dumps(block.get("input") or {}).decode())
    return texts


_DELTA_TEXT = {"text_delta": "text", "input_json_delta": "partial_json", "thinking_delta": "thinking"}


def _read(ctx: RelayContext, event: dict[str, Any], usage: dict[str, Any]) -> None:
    """Note the usage and the text one Anthropic stream event carries."""
    kind = event.get("type")
    if kind == "message_start":
        found = (event.get("message") or {}).get("usage") or {}
        usage.update({k: v for k, v in found.items() if v is not None})
    elif kind == "content_block_start":
        block = event.get("content_block") or {}
        if block.get("type") == "tool_use":
            ctx.completion_text.append(str(block.get("name") or ""))
        elif block.get("type") == "text" and block.get("text"):
            ctx.completion_text.append(str(block["text"]))
    elif kind == "content_block_delta":
        delta = event.get("delta") or {}
        field = _DELTA_TEXT.get(str(delta.get("type")))
        if field and delta.get(field):
            ctx.completion_text.append(str(delta[field]))
    elif kind == "message_delta":
        usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        ctx.usage = usage_of(usage)


async def native_stream(ctx: RelayContext, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The upstream's Anthropic events, passed through whole, with usage and text noted."""
    usage: dict[str, Any] = {}
    try:
        async for event in iter_events(chunks):
            data = event_data(event)
            if data is not None and data[:1] == b"{":
                try:
                    parsed = orjson.loads(data)
                except orjson.JSONDecodeError:
                    parsed = None
                if isinstance(parsed, dict):
                    _read(ctx, parsed, usage)
            yield event + b"\n\n"
    except httpx.HTTPError:  # tell the client, as Anthropic would, rather than just hang up
        yield b'event: error\ndata: {"type":"error","error":{"type":"api_error",' \
              b'"message":"the upstream stream broke off"}}\n\n'
        raise
