"""The Gemini adaptor's answer converters in-process: ``generateContent`` answers →
chat.completion with usage, ``streamGenerateContent?alt=sse`` → OpenAI chunks, embeddings."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from oneapi_gemini._convert import SIGNATURE_MARK
from oneapi_gemini._response import (
    FINISH_REASONS,
    convert_stream,
    embeddings_to_openai,
    to_openai,
    usage_of,
)

from oneapi.plugin import RelayContext, RelayError, Usage

META = {"promptTokenCount": 40, "cachedContentTokenCount": 30, "candidatesTokenCount": 12,
        "thoughtsTokenCount": 8, "toolUsePromptTokenCount": 5, "totalTokenCount": 65}


def answer(*parts: dict[str, Any], finish: str | None = "STOP", **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": META, "responseId": "resp-1", **extra}


def test_usage_counts_tool_prompts_and_thoughts_like_openai() -> None:
    # Gemini's promptTokenCount already includes the cached tokens; thoughts are output.
    assert usage_of(META) == Usage(45, 20, 30)
    assert usage_of({}) == Usage(0, 0, 0)


def test_an_answer_with_text_thoughts_and_calls() -> None:
    out, usage = to_openai(answer({"text": "plan", "thought": True}, {"text": "Checking "}, {"text": "now."},
                                  {"functionCall": {"name": "weather", "args": {"city": "Oslo"}}, "thoughtSignature": "c2ln"},
                                  {"functionCall": {"name": "time"}}), "gpt-x")
    assert out["id"] == "chatcmpl-resp-1" and out["object"] == "chat.completion" and out["model"] == "gpt-x"
    [choice] = out["choices"]
    message = choice["message"]
    assert (message["content"], message["reasoning_content"]) == ("Checking now.", "plan")
    first, second = message["tool_calls"]
    assert first["id"].startswith("call_") and first["id"].endswith(SIGNATURE_MARK + "c2ln")  # sent back later
    assert first["type"] == "function" and first["function"]["name"] == "weather"
    assert json.loads(first["function"]["arguments"]) == {"city": "Oslo"}
    assert SIGNATURE_MARK not in second["id"] and second["function"]["arguments"] == "{}"
    assert first["id"] != second["id"]
    assert choice["finish_reason"] == "tool_calls"  # a STOP that called tools
    assert usage == Usage(45, 20, 30)
    assert out["usage"] == {"prompt_tokens": 45, "completion_tokens": 20, "total_tokens": 65,
                            "prompt_tokens_details": {"cached_tokens": 30},
                            "completion_tokens_details": {"reasoning_tokens": 8}}


def test_only_calls_means_no_content_and_several_candidates_are_several_choices() -> None:
    out, _ = to_openai(answer({"functionCall": {"name": "f", "args": {}}}), "m")
    assert out["choices"][0]["message"]["content"] is None
    two = {"candidates": [{"content": {"parts": [{"text": "a"}]}, "finishReason": "STOP"},
                          {"content": {"parts": [{"text": "b"}]}, "finishReason": "MAX_TOKENS", "index": 1}]}
    out, usage = to_openai(two, "m")
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in out["choices"]] == [
        (0, "a", "stop"), (1, "b", "length")]
    assert usage == Usage(0, 0, 0) and out["id"].startswith("chatcmpl-")


@pytest.mark.parametrize(("reason", "finish"), [*FINISH_REASONS.items(), ("OTHER", "stop"),
                                                ("FINISH_REASON_UNSPECIFIED", "stop")])
def test_finish_reasons(reason, finish) -> None:
    out, _ = to_openai(answer({"text": "x"}, finish=reason), "m")
    assert out["choices"][0]["finish_reason"] == finish


def test_safety_stops_stay_content_filter_even_with_calls() -> None:
    out, _ = to_openai(answer({"functionCall": {"name": "f", "args": {}}}, finish="SAFETY"), "m")
    assert out["choices"][0]["finish_reason"] == "content_filter"


def test_no_candidates_is_a_blocked_prompt_or_an_empty_answer() -> None:
    with pytest.raises(RelayError) as blocked:
        to_openai({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": META}, "m")
    err = blocked.value
    assert (err.status, err.code, err.type) == (400, "content_filter", "invalid_request_error") and "SAFETY" in err.message
    with pytest.raises(RelayError) as empty:
        to_openai({"candidates": []}, "m")
    assert (empty.value.status, empty.value.code, empty.value.retryable) == (502, "empty_response", True)


def test_embeddings_as_floats_or_base64() -> None:
    data = {"embeddings": [{"values": [0.5, -1.0]}, {"values": [2]}]}
    out, usage = embeddings_to_openai(data, "text-embedding-004", 9, None)
    assert out == {"object": "list", "model": "text-embedding-004",
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
                            {"object": "embedding", "index": 1, "embedding": [2.0]}],
                   "usage": {"prompt_tokens": 9, "total_tokens": 9}}
    assert usage == Usage(9, 0)
    packed, _ = embeddings_to_openai(data, "m", 9, "base64")
    raw = base64.b64decode(packed["data"][0]["embedding"])
    assert struct.unpack("<2f", raw) == (0.5, -1.0)  # what the OpenAI SDK decodes (little-endian float32)


# --- streams ------------------------------------------------------------------------------------------------


def ctx(wants_usage: bool = True) -> RelayContext:
    c = RelayContext(request_id="req1", mode="chat", endpoint="/chat/completions", token=None,  # type: ignore[arg-type]
                     user=None, model="gpt-x", body=b"", content_type="application/json",  # type: ignore[arg-type]
                     is_stream=True)
    c.client_wants_usage = wants_usage
    return c


async def run(c: RelayContext, events: list[Any], piece: int = 0) -> list[Any]:
    raw = b"".join(b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\r\n\r\n" for e in events)
    parts = [raw[i:i + piece] for i in range(0, len(raw), piece)] if piece else [raw]

    async def feed() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    text = b"".join([b async for b in convert_stream(c, feed())]).decode()
    return [json.loads(e[6:]) if e != "data: [DONE]" else "[DONE]" for e in text.strip().split("\n\n")] if text else []


def piece(*parts: dict[str, Any], finish: str | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": meta or {"promptTokenCount": 40}, "modelVersion": "g"}


@pytest.mark.parametrize("size", [0, 1, 13], ids=["whole", "bytewise", "13-byte"])
async def test_a_text_stream_with_usage_last(size) -> None:
    c = ctx()
    chunks = await run(c, [piece({"text": "thinking", "thought": True}), piece({"text": "Hel"}),
                           piece({"text": "lo"}, finish="STOP", meta=META)], size)
    assert chunks[-1] == "[DONE]"
    body = chunks[:-1]
    assert len({ch["id"] for ch in body}) == 1 and {ch["object"] for ch in body} == {"chat.completion.chunk"}
    deltas = [ch["choices"][0]["delta"] for ch in body[:-1]]
    assert deltas[0] == {"role": "assistant", "content": "", "reasoning_content": "thinking"}
    assert "".join(d.get("content", "") for d in deltas) == "Hello"
    assert [ch["choices"][0]["finish_reason"] for ch in body[:-1]] == [None, None, None, "stop"]
    assert deltas[-1] == {}
    assert body[-1]["choices"] == [] and body[-1]["usage"]["prompt_tokens"] == 45
    assert body[-1]["usage"]["completion_tokens"] == 20 and body[-1]["usage"]["total_tokens"] == 65
    assert c.usage == Usage(45, 20, 30)  # from the last usageMetadata


async def test_a_stream_without_stream_options_keeps_the_usage_but_sends_none() -> None:
    c = ctx(wants_usage=False)
    chunks = await run(c, [piece({"text": "Hi"}), piece({"text": "!"}, finish="MAX_TOKENS", meta=META)])
    assert chunks[-1] == "[DONE]" and all(ch["choices"] for ch in chunks[:-1])
    assert chunks[-2]["choices"][0]["finish_reason"] == "length" and c.usage == Usage(45, 20, 30)


async def test_usage_arriving_after_the_finish_reason_is_used() -> None:
    c = ctx()
    chunks = await run(c, [piece({"text": "Hi"}, finish="STOP"), {"usageMetadata": META}])
    assert chunks[-2]["usage"]["total_tokens"] == 65 and c.usage == Usage(45, 20, 30)


async def test_a_streamed_tool_call() -> None:
    c = ctx()
    chunks = await run(c, [piece({"text": "Let me check."}),
                           piece({"functionCall": {"name": "weather", "args": {"city": "Oslo"}}, "thoughtSignature": "c2ln"},
                                 {"functionCall": {"name": "time", "args": {}}}),
                           piece({"functionCall": {"name": "later", "args": {}}}, finish="STOP", meta=META)])
    calls = [call for ch in chunks[:-2] for call in ch["choices"][0]["delta"].get("tool_calls", ())]
    assert [call["index"] for call in calls] == [0, 1, 2]  # numbered across chunks
    assert [call["function"]["name"] for call in calls] == ["weather", "time", "later"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Oslo"}
    assert calls[0]["id"].endswith(SIGNATURE_MARK + "c2ln") and all(call["type"] == "function" for call in calls)
    finishes = [ch["choices"][0]["finish_reason"] for ch in chunks[:-2]]
    assert finishes[-1] == "tool_calls" and set(finishes[:-1]) == {None}
    assert any("weather" in text for text in c.completion_text)  # billed by count if no usage came


async def test_a_prompt_blocked_in_a_stream_ends_it_with_content_filter() -> None:
    c = ctx(wants_usage=False)
    chunks = await run(c, [{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": META}])
    assert chunks[0]["choices"][0]["finish_reason"] == "content_filter" and chunks[-1] == "[DONE]"


async def test_an_error_in_a_stream_is_an_error_chunk_without_done() -> None:
    c = ctx()
    chunks = await run(c, [piece({"text": "Hi"}), {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}])
    assert chunks[-1] == {"error": {"message": "overloaded", "type": "upstream_error", "param": None,
                                    "code": "UNAVAILABLE"}}
    assert "[DONE]" not in chunks and c.usage is None


async def test_a_stream_cut_before_any_finish_reason_ends_without_done_or_usage() -> None:
    c = ctx()
    chunks = await run(c, [piece({"text": "Hel"}), b"{not json", piece({"text": "lo"})])
    assert "[DONE]" not in chunks and not any(ch.get("usage") for ch in chunks)
    assert c.usage is None and "".join(c.completion_text) == "Hello"
