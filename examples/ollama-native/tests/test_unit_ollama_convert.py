"""The example Ollama plugin's conversions, without a gateway."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from oneapi_example_ollama._adaptor import keep_alive_error, keep_alive_value
from oneapi_example_ollama._convert import (
    convert_stream,
    error_message,
    to_ollama,
    to_openai,
    usage_of,
)

from oneapi.plugin import RelayContext, RelayError, TokenRecord, Usage, UserRecord

PNG = "iVBORw0KGgo="


def context(include_usage: bool = False, prompt_tokens: int = 9) -> RelayContext:
    return RelayContext(
        request_id="r1", mode="chat", endpoint="/chat/completions",
        token=TokenRecord(1, 1, "k", "t", 1, -1, 0, True, None, ()),
        user=UserRecord(1, "u", 1, 1, "default", 0), model="gemma3", body=b"", content_type="application/json",
        is_stream=True, client_wants_usage=include_usage, prompt_tokens=prompt_tokens)


async def run_stream(ctx: RelayContext, lines: list[dict[str, Any] | str]) -> list[Any]:
    """The events convert_stream makes of ``lines``: parsed JSON, or the raw [DONE] marker."""

    async def source() -> AsyncIterator[str]:
        for line in lines:
            yield line if isinstance(line, str) else json.dumps(line)

    events = [event async for event in convert_stream(ctx, source())]
    assert all(e.startswith(b"data: ") and e.endswith(b"\n\n") for e in events)
    return [e[6:-2].decode() if e == b"data: [DONE]\n\n" else json.loads(e[6:]) for e in events]


def test_request_fields_and_their_ollama_names() -> None:
    body = to_ollama({"messages": [{"role": "developer", "content": "sys"}, {"role": "user", "content": None}],
                      "max_tokens": 5, "max_completion_tokens": 7, "stop": ["a", "b"], "temperature": 0,
                      "frequency_penalty": 0.5, "response_format": {"type": "text"}},
                     "llama3.1", stream=True, keep_alive=-1, num_ctx=4096)
    assert body == {"model": "llama3.1", "stream": True, "keep_alive": -1,
                    "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": ""}],
                    "options": {"temperature": 0, "frequency_penalty": 0.5, "num_predict": 7, "stop": ["a", "b"],
                                "num_ctx": 4096}}


def test_a_json_schema_becomes_the_format() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
    body = to_ollama({"messages": [], "response_format": {"type": "json_schema",
                                                          "json_schema": {"name": "x", "schema": schema}}},
                     "m", stream=False)
    assert body["format"] == schema and "options" not in body


def test_images_as_bare_base64() -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"},
                                           {"type": "image_url", "image_url": f"data:image/png;base64,{PNG}"}]}
    assert to_ollama({"messages": [message]}, "llava", stream=False)["messages"] == [
        {"role": "user", "content": "a\nb", "images": [PNG]}]


@pytest.mark.parametrize(("payload", "param"), [
    ({"n": 2}, "n"),
    ({"tools": [{"type": "function"}]}, "tools"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:x;base64,@@"}}]}]},
     "messages"),
    ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}, "messages"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages"),
])
def test_what_cannot_be_converted_is_a_400(payload: dict[str, Any], param: str) -> None:
    with pytest.raises(RelayError) as refused:
        to_ollama({"messages": [], **payload}, "m", stream=False)
    assert refused.value.status == 400 and refused.value.param == param and not refused.value.retryable


def test_usage_and_answer() -> None:
    assert usage_of({"done": True}, 9) is None
    assert usage_of({"eval_count": 4}, 9) == Usage(9, 4)  # a cached prompt: the estimate
    answer, usage = to_openai({"message": {"role": "assistant", "content": "hi"}, "done": True,
                               "done_reason": "length", "prompt_eval_count": 3, "eval_count": 2}, "gemma3", 9)
    assert usage == Usage(3, 2)
    assert answer["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "logprobs": None,
                                  "finish_reason": "length"}]
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert answer["model"] == "gemma3" and answer["object"] == "chat.completion"


def test_error_messages() -> None:
    assert error_message(b'{"error": "model \\"x\\" not found"}') == 'model "x" not found'
    assert error_message(b'{"error": {"message": "from a proxy"}}') == "from a proxy"
    assert error_message(b"<html>bad gateway</html>") is None and error_message(b"{}") is None


def test_keep_alive_option() -> None:
    assert [keep_alive_error(v) for v in ("", "300", "-1", "10m", "1h30m", "2.5s")] == [None] * 6
    assert keep_alive_error("soon") and keep_alive_error("10 m")
    assert [keep_alive_value(v) for v in (" ", "300", "-1", "10m")] == [None, 300, -1, "10m"]


async def test_stream_chunks_finish_and_usage() -> None:
    ctx = context(include_usage=True)
    events = await run_stream(ctx, [
        {"message": {"role": "assistant", "content": "Hel"}, "done": False}, "",
        {"message": {"role": "assistant", "content": "lo"}, "done": False},
        {"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
         "prompt_eval_count": 4, "eval_count": 2}])
    deltas = [e["choices"][0]["delta"] for e in events[:2]]
    assert deltas == [{"role": "assistant", "content": "Hel"}, {"content": "lo"}]
    assert events[2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert events[3]["choices"] == [] and events[3]["usage"]["total_tokens"] == 6
    assert events[4] == "[DONE]" and len(events) == 5
    assert ctx.usage == Usage(4, 2) and "".join(ctx.completion_text) == "Hello"


async def test_stream_without_the_usage_option_still_sets_the_usage() -> None:
    ctx = context()
    events = await run_stream(ctx, [{"message": {"content": "x"}, "done": True, "eval_count": 1}])
    assert [e if isinstance(e, str) else e["choices"][0]["finish_reason"] for e in events] == [None, "stop", "[DONE]"]
    assert ctx.usage == Usage(9, 1)


async def test_a_stream_cut_short_or_failing_ends_without_done() -> None:
    ctx = context()
    assert (await run_stream(ctx, [{"message": {"content": "a"}, "done": False}]))[-1]["choices"][0]["delta"]["content"] == "a"
    assert ctx.usage is None and ctx.completion_text == ["a"]  # the core counts the delivered text
    events = await run_stream(context(), [{"message": {"content": "a"}, "done": False}, {"error": "model crashed"},
                                    {"message": {"content": "b"}, "done": True}])
    assert events[-1] == {"error": {"message": "model crashed", "type": "upstream_error", "param": None,
                                     "code": None}}
    assert len(events) == 2
