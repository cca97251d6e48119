"""``POST /v1/messages`` converted for OpenAI-format channels, in-process: the Anthropic request
→ OpenAI chat payload (and back again through the outbound converter), and OpenAI answers →
Anthropic messages and events. Complements ``test_inbound_convert.py``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from oneapi_anthropic._convert import to_anthropic
from oneapi_anthropic._inbound import to_openai_request
from oneapi_anthropic._inbound_stream import convert_result, convert_stream

from oneapi.plugin import RelayContext, RelayResult, Usage


def claude(**fields: Any) -> dict[str, Any]:
    return {"model": "claude-x", "max_tokens": 300, "messages": [{"role": "user", "content": "hi"}], **fields}


def test_system_as_a_string_or_text_blocks_leads_the_messages() -> None:
    assert to_openai_request(claude(system="Be brief."))["messages"][0] == {"role": "system", "content": "Be brief."}
    blocks = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
              {"type": "text", "text": ""}, {"type": "text", "text": "Use French."}]
    out = to_openai_request(claude(system=blocks))
    assert out["messages"] == [{"role": "system", "content": "Be brief.\n\nUse French."},
                               {"role": "user", "content": "hi"}]


def test_parameters_map_to_their_openai_names() -> None:
    out = to_openai_request(claude(stop_sequences=["END", "STOP"], temperature=0.2, top_p=0.8,
                                   metadata={"user_id": "u-1"}, stream=True))
    assert out == {"model": "claude-x", "max_tokens": 300, "messages": [{"role": "user", "content": "hi"}],
                   "stop": ["END", "STOP"], "temperature": 0.2, "top_p": 0.8, "user": "u-1", "stream": True}
    bare = to_openai_request(claude(stop_sequences=[], metadata={}, stream=False))
    assert set(bare) == {"model", "max_tokens", "messages"}


@pytest.mark.parametrize(("choice", "expected", "parallel"), [
    ({"type": "auto"}, "auto", None),
    ({"type": "any"}, "required", None),
    ({"type": "none"}, "none", None),
    ({"type": "tool", "name": "weather"}, {"type": "function", "function": {"name": "weather"}}, None),
    ({"type": "auto", "disable_parallel_tool_use": True}, "auto", False),
    ({"type": "any", "disable_parallel_tool_use": False}, "required", None),
])
def test_tool_choice(choice, expected, parallel) -> None:
    tools = [{"name": "weather", "description": "Weather now",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    out = to_openai_request(claude(tools=tools, tool_choice=choice))
    assert out["tools"] == [{"type": "function", "function": {
        "name": "weather", "parameters": tools[0]["input_schema"], "description": "Weather now"}}]
    assert out["tool_choice"] == expected and out.get("parallel_tool_calls") == parallel


@pytest.mark.parametrize("field", ["output_config", "output_format"])
def test_a_json_schema_output_format_becomes_response_format(field) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    fmt = {"type": "json_schema", "schema": schema}
    out = to_openai_request(claude(**{field: {"format": fmt} if field == "output_config" else fmt}))
    assert out["response_format"] == {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def test_image_sources_and_assistant_text() -> None:
    out = to_openai_request(claude(messages=[
        {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}},
                                     {"type": "text", "text": "what is it?"}]},
        {"role": "assistant", "content": "A cat."},
        {"role": "assistant", "content": [{"type": "text", "text": "A "}, {"type": "text", "text": "cat."}]}]))
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
                                     {"type": "text", "text": "what is it?"}]},
        {"role": "assistant", "content": "A cat."}, {"role": "assistant", "content": "A cat."}]


def blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def test_a_conversation_survives_the_round_trip_through_openai_format() -> None:
    """What an OpenAI-format hop keeps of a Claude request comes back as Anthropic would take it."""
    tools = [{"name": "weather", "description": "Weather", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    original = claude(
        system="Be brief.",
        messages=[
            {"role": "user", "content": "weather in Oslo?"},
            {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
                                              {"type": "tool_use", "id": "toolu_1", "name": "weather",
                                               "input": {"city": "Oslo"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                                         {"type": "text", "text": "and tomorrow?"}]}],
        stop_sequences=["END"], temperature=0.3, top_p=0.9, metadata={"user_id": "u-1"}, tools=tools,
        tool_choice={"type": "tool", "name": "weather", "disable_parallel_tool_use": True})
    back = to_anthropic(to_openai_request(original), "claude-x", 4096)
    assert back["system"] == original["system"]
    assert back["messages"] == [{"role": m["role"], "content": blocks(m["content"])} for m in original["messages"]]
    for key in ("max_tokens", "stop_sequences", "temperature", "top_p", "metadata", "tool_choice"):
        assert back[key] == original[key], key
    assert back["tools"] == tools


# --- answers --------------------------------------------------------------------------------------------


def make_ctx(usage: Usage | None = None, stream: bool = False) -> RelayContext:
    ctx = RelayContext(request_id="req7", mode="chat", endpoint="/chat/completions", token=None,  # type: ignore[arg-type]
                       user=None, model="claude-x", body=b"", content_type="application/json",  # type: ignore[arg-type]
                       is_stream=stream)
    ctx.prompt_tokens = 11
    ctx.usage = usage
    ctx.inbound_payload = {}
    return ctx


@pytest.mark.parametrize(("finish", "calls", "stop_reason"), [
    ("stop", False, "end_turn"), ("length", False, "max_tokens"), ("content_filter", False, "refusal"),
    ("tool_calls", True, "tool_use"), ("stop", True, "tool_use"), (None, False, "end_turn"),
    ("function_call", True, "tool_use")])
def test_finish_reasons_map_to_stop_reasons(finish, calls, stop_reason) -> None:
    message: dict[str, Any] = {"role": "assistant", "content": "x"}
    if calls:
        message["tool_calls"] = [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    answer = {"id": "chatcmpl-1", "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    out = convert_result(make_ctx(), RelayResult(200, b"", json=answer)).json
    assert out["stop_reason"] == stop_reason and out["type"] == "message" and out["role"] == "assistant"


def test_an_answer_becomes_a_message_with_the_upstreams_usage() -> None:
    answer = {"id": "chatcmpl-xyz", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}]}}]}
    result = convert_result(make_ctx(Usage(120, 30, 100)), RelayResult(200, b"", json=answer, usage=Usage(120, 30, 100)))
    assert result.status == 200 and result.content_type == "application/json"
    message = json.loads(result.body)
    assert message == {
        "id": "msg_xyz", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [{"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Oslo"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 20, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100,
                  "output_tokens": 30}}
    assert result.usage == Usage(120, 30, 100)  # billing keeps the OpenAI-side usage


async def test_a_text_stream_cut_by_length_ends_with_max_tokens_and_the_final_usage() -> None:
    ctx = make_ctx(stream=True)
    chunks = [{"id": "chatcmpl-s", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
              {"id": "chatcmpl-s", "choices": [{"index": 0, "delta": {"content": "Hel"}}]},
              {"id": "chatcmpl-s", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "length"}]},
              {"id": "chatcmpl-s", "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 2}}]

    async def feed() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    text = b"".join([b async for b in convert_stream(ctx, feed())]).decode()
    events = [(block.split("\n")[0][7:], json.loads(block.split("\n")[1][6:])) for block in text.strip().split("\n\n")]
    assert [name for name, _ in events] == ["message_start", "ping", "content_block_start", "content_block_delta",
                                            "content_block_delta", "content_block_stop", "message_delta",
                                            "message_stop"]
    assert events[0][1]["message"]["id"] == "msg_s" and events[0][1]["message"]["usage"]["input_tokens"] == 11
    assert "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta") == "Hello"
    assert events[6][1]["delta"] == {"stop_reason": "max_tokens", "stop_sequence": None}
    assert events[6][1]["usage"]["output_tokens"] == 2 and events[6][1]["usage"]["input_tokens"] == 11
