"""The Anthropic adaptor's converters in-process: OpenAI chat → Messages request, Anthropic
message → chat.completion, and Anthropic's SSE events → OpenAI chunks (no gateway, no upstream)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from oneapi_anthropic._convert import FINISH_REASONS, to_anthropic, to_openai, usage_of
from oneapi_anthropic._stream import convert_stream

from oneapi.plugin import RelayContext, RelayError, Usage

PNG = "iVBORw0KGgo="


def chat(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "gpt-x", "messages": list(messages) or [{"role": "user", "content": "hi"}], **fields}


def convert(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return to_anthropic(chat(*messages, **fields), "claude-x", 8192)


# --- requests ---------------------------------------------------------------------------------------


def test_system_and_developer_messages_anywhere_become_the_system_text_in_order() -> None:
    out = convert({"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
                  {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
                  {"role": "user", "content": "again"})
    assert out["system"] == "Be brief.\n\nUse French."
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"},
                                                            {"type": "text", "text": "again"}]}]
    assert out["model"] == "claude-x" and out["max_tokens"] == 8192 and "stream" not in out


def test_only_system_text_becomes_a_user_turn() -> None:
    out = convert({"role": "system", "content": "Say hi."})
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Say hi."}]}]
    assert "system" not in out


def test_a_tool_conversation_becomes_tool_use_and_leading_tool_result_blocks() -> None:
    out = convert(
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
        {"role": "user", "content": "thanks"})
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "call_2", "name": "time", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
            {"type": "text", "text": "thanks"}]},
    ]


def test_tool_results_lead_their_user_turn_whatever_came_first() -> None:
    out = convert({"role": "user", "content": "weather?"},
                  {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "w", "arguments": "{}"}}]},
                  {"role": "user", "content": "(the tool is slow)"},
                  {"role": "tool", "tool_call_id": "c1", "content": "sunny"})
    assert out["messages"][-1] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "c1", "content": "sunny"},
        {"type": "text", "text": "(the tool is slow)"}]}


def test_images_and_pdfs_become_sources() -> None:
    out = convert({"role": "user", "content": [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}]})
    assert out["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}]


@pytest.mark.parametrize("content", [
    [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}],
    [{"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}}],
    [{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}],
    [{"type": "file", "file": {"file_id": "file-1"}}],
    42,
])
def test_content_anthropic_cannot_take_is_a_400(content) -> None:
    with pytest.raises(RelayError) as refused:
        convert({"role": "user", "content": content})
    assert refused.value.status == 400 and refused.value.type == "invalid_request_error"


@pytest.mark.parametrize("messages", [[], [{"role": "user", "content": ""}], [{"role": "function", "content": "x"}],
                                      [{"role": "tool", "content": "no call id"}]])
def test_messages_with_nothing_to_send_or_unknown_roles_are_a_400(messages) -> None:
    with pytest.raises(RelayError) as refused:
        to_anthropic({"model": "m", "messages": messages}, "claude-x", 1024)
    assert refused.value.status == 400


def test_a_final_assistant_prefill_loses_its_trailing_whitespace() -> None:
    out = convert({"role": "user", "content": "count"}, {"role": "assistant", "content": "1, 2, "})
    assert out["messages"][-1] == {"role": "assistant", "content": [{"type": "text", "text": "1, 2,"}]}
    blank = convert({"role": "user", "content": "count"}, {"role": "assistant", "content": "  "})
    assert [m["role"] for m in blank["messages"]] == ["user"]


@pytest.mark.parametrize(("fields", "max_tokens"), [
    ({}, 8192), ({"max_tokens": 100}, 100), ({"max_completion_tokens": 50, "max_tokens": 100}, 50),
    ({"max_tokens": 0}, 8192), ({"max_tokens": -3}, 8192)])
def test_max_tokens(fields, max_tokens) -> None:
    assert convert(**fields)["max_tokens"] == max_tokens


@pytest.mark.parametrize(("stop", "sequences"), [("END", ["END"]), (["a", "b"], ["a", "b"])])
def test_stop_becomes_stop_sequences(stop, sequences) -> None:
    assert convert(stop=stop)["stop_sequences"] == sequences
    assert "stop_sequences" not in convert(stop=[]) and "stop_sequences" not in convert(stop=None)


@pytest.mark.parametrize(("temperature", "sent"), [(0, 0.0), (0.4, 0.4), (1.7, 1.0), (-1, 0.0)])
def test_temperature_is_clamped_to_anthropics_range(temperature, sent) -> None:
    assert convert(temperature=temperature)["temperature"] == sent


def test_sampling_and_user_fields() -> None:
    out = convert(top_p=0.9, top_k=40, user="user-7", stream=True, stream_options={"include_usage": True},
                  thinking={"type": "enabled", "budget_tokens": 2048}, n=1, seed=3, presence_penalty=0.5)
    assert (out["top_p"], out["top_k"], out["stream"]) == (0.9, 40, True)
    assert out["metadata"] == {"user_id": "user-7"}
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    # What the Messages API does not know is not sent: it refuses unknown fields with a 400.
    assert not {"stream_options", "n", "seed", "presence_penalty", "user", "messages_extra"} & set(out)


def test_response_format_is_not_sent_as_an_unknown_field() -> None:
    out = convert(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}})
    assert "response_format" not in out


def test_openai_metadata_does_not_reach_anthropic_as_it_is() -> None:
    out = convert(metadata={"session": "abc", "team": "x"}, user="user-7")
    assert set(out.get("metadata", {})) <= {"user_id"}
    assert out["metadata"] == {"user_id": "user-7"}


def test_tools_and_tool_choice() -> None:
    tools = [{"type": "function", "function": {"name": "weather", "description": "Weather now",
                                               "parameters": {"type": "object", "properties": {"c": {"type": "string"}}}}},
             {"type": "function", "function": {"name": "noargs"}}]
    out = convert(tools=tools)
    assert out["tools"] == [
        {"name": "weather", "input_schema": {"type": "object", "properties": {"c": {"type": "string"}}},
         "description": "Weather now"},
        {"name": "noargs", "input_schema": {"type": "object", "properties": {}}}]
    assert "tool_choice" not in out
    cases = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
    for choice, expected in cases.items():
        assert convert(tools=tools, tool_choice=choice)["tool_choice"] == expected
    named = {"type": "function", "function": {"name": "weather"}}
    assert convert(tools=tools, tool_choice=named)["tool_choice"] == {"type": "tool", "name": "weather"}
    assert convert(tools=tools, parallel_tool_calls=False)["tool_choice"] == {
        "type": "auto", "disable_parallel_tool_use": True}
    assert convert(tools=tools, tool_choice="required", parallel_tool_calls=False)["tool_choice"] == {
        "type": "any", "disable_parallel_tool_use": True}
    with pytest.raises(RelayError):
        convert(tools=tools, tool_choice="sometimes")
    with pytest.raises(RelayError):
        convert(tools=[{"type": "function", "function": {}}])


def test_tool_call_arguments_must_be_a_json_object() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}
    with pytest.raises(RelayError):
        convert({"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [call]})


# --- answers ------------------------------------------------------------------------------------------


def message(content: list[dict[str, Any]], stop_reason: str | None = "end_turn", **usage: int) -> dict[str, Any]:
    return {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-x", "content": content,
            "stop_reason": stop_reason, "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5, **usage}}


def test_an_answer_with_text_thinking_and_tool_use() -> None:
    answer, usage = to_openai(message([
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "Let me "}, {"type": "text", "text": "check."},
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}], "tool_use"), "gpt-x")
    assert answer["object"] == "chat.completion" and answer["model"] == "gpt-x" and answer["id"] == "chatcmpl-msg_01"
    [choice] = answer["choices"]
    assert choice["finish_reason"] == "tool_calls" and choice["index"] == 0
    assert choice["message"]["content"] == "Let me check." and choice["message"]["reasoning_content"] == "hmm"
    [call] = choice["message"]["tool_calls"]
    assert call["id"] == "toolu_1" and call["type"] == "function" and call["function"]["name"] == "weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert usage == Usage(10, 5, 0)
    assert answer["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                               "prompt_tokens_details": {"cached_tokens": 0}}


def test_an_answer_of_only_a_tool_call_has_no_content() -> None:
    answer, _ = to_openai(message([{"type": "tool_use", "id": "t", "name": "f", "input": {}}], "tool_use"), "m")
    assert answer["choices"][0]["message"]["content"] is None
    empty, _ = to_openai(message([], "end_turn"), "m")
    assert empty["choices"][0]["message"] == {"role": "assistant", "content": ""}


@pytest.mark.parametrize(("stop_reason", "finish"), [*FINISH_REASONS.items(), ("something_new", "stop"), (None, None)])
def test_stop_reasons(stop_reason, finish) -> None:
    answer, _ = to_openai(message([{"type": "text", "text": "x"}], stop_reason), "m")
    assert answer["choices"][0]["finish_reason"] == finish


def test_finish_reason_table_matches_openais_vocabulary() -> None:
    assert FINISH_REASONS["end_turn"] == "stop" and FINISH_REASONS["max_tokens"] == "length"
    assert FINISH_REASONS["tool_use"] == "tool_calls" and FINISH_REASONS["stop_sequence"] == "stop"
    assert set(FINISH_REASONS.values()) <= {"stop", "length", "tool_calls", "content_filter"}


def test_cache_reads_and_writes_count_as_prompt_tokens() -> None:
    # Anthropic's input_tokens leave out the cache: prompt = input + cache reads + cache writes.
    assert usage_of({"input_tokens": 10, "cache_read_input_tokens": 300, "cache_creation_input_tokens": 50,
                     "output_tokens": 7}) == Usage(360, 7, 300)
    assert usage_of({}) == Usage(0, 0, 0)
    answer, usage = to_openai(message([{"type": "text", "text": "x"}], cache_read_input_tokens=90), "m")
    assert usage == Usage(100, 5, 90) and answer["usage"]["prompt_tokens_details"] == {"cached_tokens": 90}


# --- streams -------------------------------------------------------------------------------------------


def ctx(wants_usage: bool = True) -> RelayContext:
    c = RelayContext(request_id="req1", mode="chat", endpoint="/chat/completions", token=None,  # type: ignore[arg-type]
                     user=None, model="gpt-x", body=b"", content_type="application/json",  # type: ignore[arg-type]
                     is_stream=True)
    c.client_wants_usage = wants_usage
    return c


def sse(events: list[dict[str, Any]], piece: int = 0) -> list[bytes]:
    raw = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
    return [raw[i:i + piece] for i in range(0, len(raw), piece)] if piece else [raw]


async def chunks_of(c: RelayContext, parts: list[bytes]) -> list[Any]:
    async def feed() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    out = b"".join([b async for b in convert_stream(c, feed())]).decode()
    assert out.endswith("\n\n")
    return [json.loads(e[6:]) if e != "data: [DONE]" else "[DONE]" for e in out.strip().split("\n\n")]


def conversation(stop_reason: str = "tool_use") -> list[dict[str, Any]]:
    return [
        {"type": "message_start", "message": {"id": "msg_9", "type": "message", "role": "assistant", "content": [],
                                              "usage": {"input_tokens": 25, "cache_read_input_tokens": 5,
                                                        "output_tokens": 1}}},
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "plan"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2,
         "content_block": {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"c":'}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '"Oslo"}'}},
        {"type": "content_block_stop", "index": 2},
        {"type": "content_block_start", "index": 3,
         "content_block": {"type": "tool_use", "id": "toolu_2", "name": "time", "input": {}}},
        {"type": "content_block_stop", "index": 3},
        {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
         "usage": {"output_tokens": 42}},
        {"type": "message_stop"},
    ]


@pytest.mark.parametrize("piece", [0, 1, 7, 64], ids=["whole", "bytewise", "7-byte", "64-byte"])
async def test_a_stream_becomes_openai_chunks_with_usage_last(piece) -> None:
    c = ctx()
    chunks = await chunks_of(c, sse(conversation(), piece))
    assert chunks[-1] == "[DONE]"
    body = chunks[:-1]
    assert {ch["id"] for ch in body} == {"chatcmpl-msg_9"} and {ch["model"] for ch in body} == {"gpt-x"}
    assert all(ch["object"] == "chat.completion.chunk" for ch in body)
    deltas = [ch["choices"][0]["delta"] for ch in body[:-1]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert [d.get("reasoning_content") for d in deltas if "reasoning_content" in d] == ["plan"]
    assert "".join(d.get("content") or "" for d in deltas) == "Hello"
    calls = [call for d in deltas for call in d.get("tool_calls", ())]
    assert calls[0] == {"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": ""}}
    assert "".join(call["function"]["arguments"] for call in calls if call["index"] == 0) == '{"c":"Oslo"}'
    assert [call.get("id") for call in calls if call["index"] == 1] == ["toolu_2"]
    finish = [ch["choices"][0]["finish_reason"] for ch in body[:-1]]
    assert finish[:-1] == [None] * (len(finish) - 1) and finish[-1] == "tool_calls"
    usage = body[-1]
    assert usage["choices"] == [] and usage["usage"] == {
        "prompt_tokens": 30, "completion_tokens": 42, "total_tokens": 72, "prompt_tokens_details": {"cached_tokens": 5}}
    assert c.usage == Usage(30, 42, 5)


async def test_without_stream_options_no_usage_chunk_but_the_usage_is_kept() -> None:
    c = ctx(wants_usage=False)
    chunks = await chunks_of(c, sse(conversation("max_tokens")))
    assert chunks[-1] == "[DONE]" and all(ch["choices"] for ch in chunks[:-1])
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert c.usage == Usage(30, 42, 5)


async def test_an_error_event_ends_the_stream_with_an_error_and_no_done() -> None:
    c = ctx()
    events = conversation()[:9] + [{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}]
    chunks = await chunks_of(c, sse(events))
    assert chunks[-1] == {"error": {"message": "Overloaded", "type": "overloaded_error", "param": None,
                                    "code": "overloaded_error"}}
    assert "[DONE]" not in chunks and c.usage is None
    assert "".join(c.completion_text) == "planHello"  # what was delivered, to bill it by count


async def test_a_stream_cut_short_ends_without_done() -> None:
    c = ctx()
    chunks = await chunks_of(c, sse(conversation()[:9]))
    assert "[DONE]" not in chunks and not any("usage" in ch for ch in chunks)
    assert c.usage is None


async def test_unknown_events_and_broken_lines_are_skipped() -> None:
    c = ctx(wants_usage=False)
    events = conversation()
    raw = sse(events[:2])[0] + b"data: {not json\n\nevent: future\ndata: {\"type\": \"future_event\"}\n\n" + sse(events[2:])[0]
    def timeless(chunks: list[Any]) -> list[Any]:
        return [{k: v for k, v in ch.items() if k != "created"} if isinstance(ch, dict) else ch for ch in chunks]

    assert timeless(await chunks_of(c, [raw])) == timeless(await chunks_of(ctx(wants_usage=False), sse(events)))


# --- response_format (structured outputs) -------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "required": ["n"],
          "additionalProperties": False}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": SCHEMA}}


def test_structured_outputs_models() -> None:
    from oneapi_anthropic._structured import native_structured_outputs
    for model in ("claude-sonnet-4-5", "claude-haiku-4-5-20251001", "claude-opus-4-1", "claude-opus-4-5-20251101",
                  "claude-sonnet-5", "claude-opus-4-7"):
        assert native_structured_outputs(model), model
    for model in ("claude-3-5-haiku-20241022", "claude-sonnet-4-20250514", "claude-opus-4-20250514", "gpt-4o", "x"):
        assert not native_structured_outputs(model), model


def test_json_schema_on_a_structured_outputs_model_is_output_config() -> None:
    out = to_anthropic(chat(response_format=JSON_SCHEMA), "claude-sonnet-4-5", 8192)
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": {
        "type": "object", "properties": {"n": {"type": "integer", "description": "{minimum: 1}"}},
        "required": ["n"], "additionalProperties": False}}}
    assert "tools" not in out and "response_format" not in out


def test_json_schema_on_older_models_and_json_object_are_a_forced_tool() -> None:
    out = convert(response_format=JSON_SCHEMA)
    assert out["tools"][0]["name"] == "json_response" and out["tools"][0]["input_schema"] == SCHEMA
    assert out["tool_choice"] == {"type": "tool", "name": "json_response"}
    plain = to_anthropic(chat(response_format={"type": "json_object"}), "claude-sonnet-4-5", 8192)
    assert plain["tools"][0]["input_schema"] == {"type": "object"} and "output_config" not in plain
    weather = {"type": "function", "function": {"name": "weather"}}
    both = convert(response_format=JSON_SCHEMA, tools=[weather])
    assert [t["name"] for t in both["tools"]] == ["weather", "json_response"] and both["tool_choice"] == {"type": "any"}
    thinking = convert(response_format=JSON_SCHEMA, thinking={"type": "enabled", "budget_tokens": 1024})
    assert thinking["tool_choice"] == {"type": "auto"}  # Anthropic refuses forced tools with thinking
    assert "tools" not in convert(response_format={"type": "text"})


def test_the_json_tool_input_is_the_answer() -> None:
    data = message([{"type": "tool_use", "id": "t", "name": "json_response", "input": {"n": 2}}], "tool_use")
    answer, _ = to_openai(data, "m", "json_response")
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": '{"n":2}'}
    assert answer["choices"][0]["finish_reason"] == "stop"
    other, _ = to_openai(data, "m")  # no response_format: a tool call as usual
    assert other["choices"][0]["finish_reason"] == "tool_calls"
