"""Server-sent events in OpenAI's stream format: split, inspect, pass through."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from .context import RelayContext, Usage

__all__ = ["event_data", "iter_data", "iter_events", "relay_openai_stream", "usage_from_json"]

DONE = b"[DONE]"


async def iter_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Yield whole SSE events (without the blank-line terminator) from raw byte chunks."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        while True:
            end = buffer.find(b"\n\n")
            if end < 0:
                break
            event, buffer = buffer[:end], buffer[end + 2 :]
            if event:
                yield event
    if buffer.strip():
        yield buffer.strip()


def event_data(event: bytes) -> bytes | None:
    """The concatenated ``data:`` payload of one event, or None when it has none."""
    parts = [line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(parts) if parts else None


async def iter_data(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The ``data:`` payload of each SSE event in a byte stream."""
    async for event in iter_events(chunks):
        data = event_data(event)
        if data is not None:
            yield data


def usage_from_json(usage: dict[str, Any] | None) -> Usage | None:
    """OpenAI's usage object as a Usage (None when absent)."""
    if not usage:
        return None
    details = usage.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
    )


def collect_text(ctx: RelayContext, chunk: dict[str, Any]) -> None:
    """Remember the text a chunk delivers, to count it when no usage arrives."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        text = delta.get("content") or choice.get("text")
        if text:
            ctx.completion_text.append(text)
        for call in delta.get("tool_calls") or ():
            fn = call.get("function") or {}
            ctx.completion_text.append((fn.get("name") or "") + (fn.get("arguments") or ""))


async def relay_openai_stream(
    ctx: RelayContext, chunks: AsyncIterator[bytes], strip_usage_chunk: bool
) -> AsyncIterator[bytes]:
    """Pass an OpenAI-format stream through event by event, reading usage and text on the way.

    With ``strip_usage_chunk`` the usage-only chunk (``choices: []``) the gateway asked for
    is not forwarded, since the client did not ask for it.
    """
    async for event in iter_events(chunks):
        data = event_data(event)
        if data is not None and data != DONE and data[:1] == b"{":
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                chunk = None
            if isinstance(chunk, dict):
                if chunk.get("usage"):
                    ctx.usage = usage_from_json(chunk["usage"])
                    if strip_usage_chunk and not chunk.get("choices"):
                        continue
                collect_text(ctx, chunk)
        yield event + b"\n\n"
