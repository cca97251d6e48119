"""The Claude-format converters in isolation: edge cases a fake upstream does not produce."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from oneapi_anthropic._inbound import AnthropicInbound, to_openai_request
from oneapi_anthropic._inbound_stream import convert_result, convert_stream
from oneapi_anthropic._native import native_betas, native_stream

from oneapi import RelayContext, RelayError, RelayResult, Usage

PNG = "iVBORw0KGgo="


def make_ctx(**inbound: Any) -> RelayContext:
    ctx = RelayContext(request_id="req1", mode="chat", endpoint="/chat/completions", token=None,  # type: ignore[arg-type]
                       user=None, model="m", body=b"", content_type="application/json")  # type: ignore[arg-type]
    ctx.prompt_tokens = 7
    ctx.inbound_payload = inbound
    return ctx


def base(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}], **fields}


def test_tool_results_lead_and_their_images_follow() -> None:
    out = to_openai_request(base(messages=[
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "t1", "name": "shot", "input": {}},
            {"type": "tool_use", "id": "t2", "name": "read", "input": {"p": "a"}}]},
        {"role": "user", "content": [
            {"type": "text", "text": "both done"},
            {"type": "tool_result", "tool_use_id": "t1", "is_error": False, "content": [
                {"type": "text", "text": "took it"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]},
            {"type": "tool_result", "tool_use_id": "t2"}]},
        {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "x"}]}]))
    assert out["messages"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "shot", "arguments": "{}"}},
            {"id": "t2", "type": "function", "function": {"name": "read", "arguments": '{"p":"a"}'}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "took it"},
        {"role": "tool", "tool_call_id": "t2", "content": ""},
        {"role": "user", "content": [
            {"type": "text", "text": "both done"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
    ]


def test_documents_server_tools_and_unexpressible_fields() -> None:
    out = to_openai_request(base(
        messages=[{"role": "user", "content": [
            {"type": "document", "title": "a.pdf", "source": {"type": "base64", "media_type": "application/pdf",
                                                               "data": "JVBERi0="}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"}},
            {"type": "document", "source": {"type": "url", "url": "https://example.com/x.pdf"}},
            {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
            {"type": "search_result", "source": "s", "title": "t", "content": []}]}],
        tools=[{"type": "web_search_20250305", "name": "web_search"},
               {"name": "f", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
        tool_choice={"type": "auto"}, thinking={"type": "enabled", "budget_tokens": 1024}, top_k=4,
        stream=True, system=""))
    assert out["messages"] == [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
        {"type": "text", "text": "plain doc"}]}]
    assert out["tools"] == [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    assert out["tool_choice"] == "auto" and out["stream"] is True
    assert not {"thinking", "top_k", "system"} & set(out)
    only_server = to_openai_request(base(tools=[{"type": "bash_20250124", "name": "bash"}],
                                         tool_choice={"type": "any"}))
    assert "tools" not in only_server and "tool_choice" not in only_server


@pytest.mark.parametrize(("payload", "needle"), [
    ({"max_tokens": 1, "messages": [{"role": "user", "content": "x"}]}, "model"),
    (base(max_tokens=True), "max_tokens"),
    (base(messages=[]), "messages"),
    (base(messages=[{"role": "user"}]), "messages.0.content"),
    (base(messages=[{"role": "user", "content": [{"text": "no type"}]}]), "messages.0.content.0"),
    (base(messages=[{"role": "user", "content": [{"type": "tool_result"}]}]), "tool_use_id"),
    (base(messages=[{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f"}]}]), "tool_use"),
    (base(system=5), "system"),
    (base(stop_sequences="x"), "stop_sequences"),
    (base(temperature="hot"), "temperature"),
    (base(tools=[{"name": "f", "input_schema": {}}], tool_choice={"type": "maybe"}), "tool_choice"),
])
def test_malformed_payloads(payload: dict[str, Any], needle: str) -> None:
    with pytest.raises(RelayError) as caught:
        to_openai_request(payload)
    assert caught.value.status == 400 and needle in caught.value.message


def test_result_with_reasoning_refusal_and_cached_usage() -> None:
    ctx = make_ctx(thinking={"type": "enabled", "budget_tokens": 100})
    ctx.usage = Usage(30, 4, 20)
    answer = {"id": "chatcmpl-abc", "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": None, "reasoning_content": "thought", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "not json"}}]}}]}
    out = convert_result(ctx, RelayResult(200, json.dumps(answer).encode(), json=answer)).json
    assert out["id"] == "msg_abc" and out["stop_reason"] == "tool_use"  # tool calls under "stop"
    assert out["content"] == [{"type": "thinking", "thinking": "thought", "signature": ""},
                              {"type": "tool_use", "id": "call_1", "name": "f", "input": {}}]
    assert out["usage"] == {"input_tokens": 10, "cache_creation_input_tokens": 0,
                            "cache_read_input_tokens": 20, "output_tokens": 4}
    refused = {"choices": [{"finish_reason": "content_filter", "message": {"content": None, "refusal": "no"}}]}
    out = convert_result(make_ctx(), RelayResult(200, b"", json=refused)).json
    assert out["content"] == [{"type": "text", "text": "no"}] and out["stop_reason"] == "refusal"
    assert out["usage"]["input_tokens"] == 7  # no upstream usage: the gateway's own count
    bad = convert_result(make_ctx(), RelayResult(200, b"<html>", "text/html"))
    assert bad.status == 502 and json.loads(bad.body)["error"]["type"] == "api_error"


def test_json_answer_to_a_stream_request_becomes_events() -> None:
    ctx = make_ctx()
    ctx.is_stream = True
    answer = {"choices": [{"finish_reason": "length", "message": {"content": "partial"}}]}
    out = convert_result(ctx, RelayResult(200, b"", json=answer))
    assert out.content_type == "text/event-stream"
    events = [json.loads(line[6:]) for line in out.body.decode().splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events] == ["message_start", "ping", "content_block_start", "content_block_delta",
                                           "content_block_stop", "message_delta", "message_stop"]
    assert events[3]["delta"] == {"type": "text_delta", "text": "partial"}
    assert events[5]["delta"]["stop_reason"] == "max_tokens"


async def _feed(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def run_stream(ctx: RelayContext, chunks: list[dict[str, Any] | str]) -> list[tuple[str, dict[str, Any]]]:
    raw = [b"data: " + (c.encode() if isinstance(c, str) else json.dumps(c).encode()) + b"\n\n" for c in chunks]

    async def collect() -> bytes:
        return b"".join([out async for out in convert_stream(ctx, _feed(raw))])

    text = asyncio.run(collect()).decode()
    events = []
    for block in text.strip().split("\n\n"):
        name, data = block.split("\n")
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    for name, data in events:
        assert name == data["type"]
    return events


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "chatcmpl-s1", "choices": choices, **extra}


def test_stream_thinking_text_and_parallel_tools_without_indexes() -> None:
    ctx = make_ctx(thinking={"type": "adaptive"})
    events = run_stream(ctx, [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "let me "}), chunk({"reasoning_content": "think"}),
        chunk({"content": "Calling."}),
        chunk({"tool_calls": [{"id": "c1", "function": {"name": "a", "arguments": '{"k":'}}]}),
        chunk({"tool_calls": [{"function": {"arguments": "1}"}}]}),
        chunk({"tool_calls": [{"id": "c2", "function": {"name": "b", "arguments": {"z": 2}}}]}),
        chunk({}, "tool_calls"),
        chunk(usage={"prompt_tokens": 12, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 2}}),
        "[DONE]"])
    names = [name for name, _ in events]
    assert names == ["message_start", "ping",
                     "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]
    assert events[0][1]["message"]["id"] == "msg_s1" and events[0][1]["message"]["usage"]["input_tokens"] == 7
    assert events[2][1]["content_block"]["type"] == "thinking"
    assert events[9][1]["content_block"] == {"type": "tool_use", "id": "c1", "name": "a", "input": {}}
    assert events[11][1] == {"type": "content_block_delta", "index": 2,
                             "delta": {"type": "input_json_delta", "partial_json": "1}"}}
    assert events[14][1]["delta"]["partial_json"] == '{"z":2}' and events[14][1]["index"] == 3
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"] == {"input_tokens": 10, "cache_creation_input_tokens": 0,
                                      "cache_read_input_tokens": 2, "output_tokens": 9}


def test_stream_without_thinking_request_drops_reasoning() -> None:
    events = run_stream(make_ctx(), [chunk({"reasoning_content": "x"}), chunk({"content": "y"}, "stop"), "[DONE]"])
    starts = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert starts == ["text"] and events[-2][1]["delta"]["stop_reason"] == "end_turn"


def test_stream_errors() -> None:
    events = run_stream(make_ctx(), [chunk({"content": "a"}), {"error": {"message": "slow down",
                                                                          "type": "requests",
                                                                          "code": "rate_limit_exceeded"}}])
    assert events[-1] == ("error", {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    cut = run_stream(make_ctx(), [chunk({"content": "a"})])
    assert cut[-1][0] == "error" and cut[-1][1]["error"]["type"] == "api_error"
    empty = run_stream(make_ctx(), ["[DONE]"])  # nothing at all still makes a well-formed message
    assert [n for n, _ in empty] == ["message_start", "ping", "message_delta", "message_stop"]


def test_native_stream_reads_usage_and_text() -> None:
    ctx = make_ctx()
    events = [
        {"type": "message_start", "message": {"usage": {"input_tokens": 5, "cache_read_input_tokens": 3,
                                                        "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hello"}},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "name": "f", "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 8}},
        {"type": "message_stop"}]
    raw = [f"event: {e['type']}\r\ndata: {json.dumps(e)}\r\n\r\n".encode() for e in events]

    async def collect() -> bytes:
        return b"".join([out async for out in native_stream(ctx, _feed(raw))])

    passed = asyncio.run(collect())
    assert passed == b"".join(raw).replace(b"\r\n", b"\n")
    assert ctx.usage == Usage(8, 8, 3) and ctx.completion_text == ["hello", "f", "{}"]


def test_error_body_types_and_betas() -> None:
    inbound = AnthropicInbound()
    cases = {(401, "invalid_request_error"): "authentication_error", (403, "permission_error"): "permission_error",
             (503, "overloaded_error"): "overloaded_error", (503, "one_api_error"): "api_error",
             (502, "upstream_error"): "api_error", (415, "invalid_request_error"): "invalid_request_error",
             (429, "one_api_error"): "rate_limit_error", (404, "invalid_request_error"): "not_found_error"}
    for (status, etype), expected in cases.items():
        body = json.loads(inbound.error_body(RelayError(status, "m", etype), "r1"))
        assert body == {"type": "error", "error": {"type": expected, "message": "m (request id: r1)"},
                        "request_id": "r1"}
    assert native_betas("a,b", None, " b , c,") == "a,b,c" and native_betas(None, "") == ""
