"""relay_openai_stream: bytes pass through whole events at a time, usage is read, text is
recovered only when no usage arrives, however the upstream cuts its chunks."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator

import pytest

from oneapi.relay import sse
from oneapi.relay.context import RelayContext, Usage


def chunk(content: str, finish: str | None = None) -> bytes:
    body = {"id": "c", "object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": {"content": content}, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


USAGE = b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\n'
DONE = b"data: [DONE]\n\n"


def fresh_ctx() -> RelayContext:
    return RelayContext(request_id="r", mode="chat", endpoint="/chat/completions", token=None,  # type: ignore[arg-type]
                        user=None, model="gpt-4", body=b"", content_type="application/json", is_stream=True)  # type: ignore[arg-type]


async def pieces(data: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted(cuts) + [len(data)]:
        yield data[start:cut]
        start = cut


async def run(data: bytes, cuts: list[int], strip: bool) -> tuple[bytes, RelayContext]:
    ctx = fresh_ctx()
    out = b"".join([part async for part in sse.relay_openai_stream(ctx, pieces(data, cuts), strip)])
    return out, ctx


@pytest.mark.parametrize("seed", range(20))
async def test_any_chunking_gives_the_same_bytes_and_usage(seed: int) -> None:
    data = chunk("Hel") + chunk("lo") + chunk("!", "stop") + USAGE + DONE
    cuts = random.Random(seed).sample(range(1, len(data)), k=random.Random(seed).randint(0, 12))
    out, ctx = await run(data, cuts, strip=False)
    assert out == data
    assert ctx.usage == Usage(7, 3)
    assert ctx.completion_events == [] and ctx.completion_text == []  # never parsed for text


@pytest.mark.parametrize("seed", range(10))
async def test_the_usage_chunk_the_gateway_asked_for_is_dropped(seed: int) -> None:
    data = chunk("Hi") + USAGE + DONE
    cuts = random.Random(seed).sample(range(1, len(data)), k=5)
    out, ctx = await run(data, cuts, strip=True)
    assert out == chunk("Hi") + DONE
    assert ctx.usage == Usage(7, 3)


async def test_without_usage_the_text_is_recovered() -> None:
    out, ctx = await run(chunk("Hel") + chunk("lo") + DONE, [5, 40], strip=True)
    assert ctx.usage is None
    sse.read_completion_events(ctx)
    assert "".join(ctx.completion_text) == "Hello"


async def test_long_streams_are_read_as_they_go_to_bound_memory() -> None:
    parts = [chunk("x" * 100) for _ in range(400)]  # ~60 KB of events
    out, ctx = await run(b"".join(parts), [len(p) * (i + 1) for i, p in enumerate(parts[:-1])], strip=False)
    assert ctx.completion_events_size <= sse.RAW_EVENTS_LIMIT
    sse.read_completion_events(ctx)
    assert "".join(ctx.completion_text) == "x" * 100 * 400


async def test_crlf_events_and_a_missing_final_blank_line() -> None:
    data = chunk("a").replace(b"\n", b"\r\n") + b'data: {"choices":[{"delta":{"content":"b"}}]}'
    out, ctx = await run(data, [3, len(data) - 4], strip=False)
    assert out == chunk("a") + b'data: {"choices":[{"delta":{"content":"b"}}]}\n\n'
    sse.read_completion_events(ctx)
    assert ctx.completion_text == ["a", "b"]


async def test_usage_null_in_every_chunk_is_not_usage() -> None:
    data = b'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\n' + DONE
    out, ctx = await run(data, [], strip=True)
    assert out == data and ctx.usage is None
    sse.read_completion_events(ctx)
    assert ctx.completion_text == ["a"]
