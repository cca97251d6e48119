"""Server-sent events in OpenAI's stream format: split, inspect, pass through."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from .context import RelayContext, Usage

__all__ = ["event_data", "iter_data", "iter_events", "read_completion_events", "relay_openai_stream",
           "usage_from_json"]

DONE = b"[DONE]"
USAGE_KEY = b'"usage"'
RAW_EVENTS_LIMIT = 16 * 1024  # bytes of raw events per stream kept unread (read beyond that)


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
    """Pass an OpenAI-format stream through, whole events at a time, reading its usage.

    Only events that mention ``"usage"`` are parsed. The others are kept as raw bytes in
    ``ctx.completion_events`` while no usage has arrived (read for text only if none
    does, see ``read_completion_events``; past ``RAW_EVENTS_LIMIT`` bytes they are read
    at once to bound memory). With ``strip_usage_chunk`` the usage-only chunk
    (``choices: []``) the gateway asked for is not forwarded: the client did not ask for it.
    """
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        end = buffer.rfind(b"\n\n")
        if end < 0:
            continue
        events, buffer = buffer[: end + 2], buffer[end + 2 :]
        if events := _inspect(ctx, events, strip_usage_chunk):
            yield events
    if buffer.strip() and (events := _inspect(ctx, buffer.strip() + b"\n\n", strip_usage_chunk)):
        yield events


def _inspect(ctx: RelayContext, events: bytes, strip_usage_chunk: bool) -> bytes:
    """Whole events as they go out: usage read (and its chunk maybe dropped), text kept."""
    if USAGE_KEY in events:
        kept = []
        for event in events.split(b"\n\n"):
            if event and not _usage_event(ctx, event, strip_usage_chunk):
                kept.append(event + b"\n\n")
        events = b"".join(kept)
    if ctx.usage is None and events:
        ctx.completion_events.append(events)
        ctx.completion_events_size += len(events)
        if ctx.completion_events_size > RAW_EVENTS_LIMIT:
            read_completion_events(ctx)
    return events


def _usage_event(ctx: RelayContext, event: bytes, strip_usage_chunk: bool) -> bool:
    """Read the usage of one event; True when the event is the usage-only chunk to drop."""
    chunk = _json_chunk(event) if USAGE_KEY in event else None
    if chunk is None or not chunk.get("usage"):
        return False
    ctx.usage = usage_from_json(chunk["usage"])
    ctx.completion_events.clear()  # the upstream counted: the text is not needed
    ctx.completion_events_size = 0
    return strip_usage_chunk and not chunk.get("choices")


def _json_chunk(event: bytes) -> dict[str, Any] | None:
    """The JSON object an event carries, or None ([DONE], comments, broken JSON)."""
    data = event_data(event)
    if data is None or data[:1] != b"{":
        return None
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return chunk if isinstance(chunk, dict) else None


def read_completion_events(ctx: RelayContext) -> None:
    """Move the text of the raw events kept in ``ctx.completion_events`` to ``ctx.completion_text``."""
    for events in ctx.completion_events:
        for event in events.split(b"\n\n"):
            chunk = _json_chunk(event) if event else None
            if chunk is not None:
                collect_text(ctx, chunk)
    ctx.completion_events.clear()
    ctx.completion_events_size = 0
