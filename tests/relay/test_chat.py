"""Chat and completions through the official openai SDK, billed to the unit."""

from __future__ import annotations

import math
from typing import Any

import openai
import pytest

from oneapi.tokenizer import Tokenizer
from tests.conftest import wait_logs
from tests.relay.conftest import client_for

pytestmark = pytest.mark.timeout(60)


def test_chat_non_stream_is_billed_by_the_formula(gateway, admin, setup, upstream) -> None:
    client = client_for(gateway, setup["token"])
    reply = client.chat.completions.create(model="test-model", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "tok0 tok1 tok2 tok3 tok4 "
    assert reply.usage.prompt_tokens == 10 and reply.usage.completion_tokens == 5
    (log,) = wait_logs(admin, setup["token"]["name"], 1)
    assert log["quota"] == math.ceil(2 * (10 + 5 * 3))  # 50
    assert (log["prompt_tokens"], log["completion_tokens"]) == (10, 5)
    assert log["model_name"] == "test-model" and log["channel"] == setup["channel"]["id"]
    assert log["request_id"] and not log["is_stream"]
    user = admin.user_row(setup["user"]["id"])
    assert user["quota"] == 10_000_000 - 50 and user["used_quota"] == 50 and user["request_count"] == 1
    sent = upstream.requests[-1]
    assert sent.headers["authorization"] == "Bearer sk-upstream"
    assert sent.json["model"] == "test-model"


def test_group_ratio_applies(gateway, admin, upstream, priced) -> None:
    channel = admin.channel(upstream.base_url, "test-model", group="vip")
    user = admin.user(quota=1_000_000, group="vip")
    token = admin.token(user)
    try:
        client_for(gateway, token).chat.completions.create(
            model="test-model", messages=[{"role": "user", "content": "hi"}])
        (log,) = wait_logs(admin, token["name"], 1)
        assert log["quota"] == math.ceil(1.5 * 2 * (10 + 5 * 3))  # 75
    finally:
        admin.delete_channel(channel["id"])


def test_per_call_price(gateway, admin, setup) -> None:
    client_for(gateway, setup["token"]).chat.completions.create(
        model="flat-model", messages=[{"role": "user", "content": "hi"}])
    (log,) = wait_logs(admin, setup["token"]["name"], 1)
    assert log["quota"] == int(0.01 * 500000)


def test_stream_without_client_usage_strips_the_usage_chunk(gateway, admin, setup, upstream) -> None:
    stream = client_for(gateway, setup["token"]).chat.completions.create(
        model="test-model", messages=[{"role": "user", "content": "hi"}], stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "tok0 tok1 tok2 tok3 tok4 "
    assert all(c.usage is None for c in chunks)
    assert upstream.requests[-1].json["stream_options"] == {"include_usage": True}
    (log,) = wait_logs(admin, setup["token"]["name"], 1)
    assert log["is_stream"] and log["quota"] == 50 and log["completion_tokens"] == 5


def test_stream_with_client_usage_keeps_it(gateway, admin, setup) -> None:
    stream = client_for(gateway, setup["token"]).chat.completions.create(
        model="test-model", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    (log,) = wait_logs(admin, setup["token"]["name"], 1)
    assert log["quota"] == 50


def test_stream_without_upstream_usage_counts_with_tiktoken(gateway, admin, setup, upstream) -> None:
    upstream.include_usage = "never"
    messages = [{"role": "user", "content": "hello there"}]
    list(client_for(gateway, setup["token"]).chat.completions.create(
        model="test-model", messages=messages, stream=True))
    (log,) = wait_logs(admin, setup["token"]["name"], 1)
    tok = Tokenizer()
    prompt = tok.count_messages("test-model", messages)
    completion = tok.count_text("test-model", "tok0 tok1 tok2 tok3 tok4 ")
    assert (log["prompt_tokens"], log["completion_tokens"]) == (prompt, completion)
    assert log["quota"] == math.ceil(2 * (prompt + completion * 3))


def test_non_stream_without_upstream_usage_counts_with_tiktoken(gateway, admin, setup, upstream) -> None:
    upstream.include_usage = "never"
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    client_for(gateway, setup["token"]).chat.completions.create(model="test-model", messages=messages)
    (log,) = wait_logs(admin, setup["token"]["name"], 1)
    tok = Tokenizer()
    assert log["prompt_tokens"] == tok.count_messages("test-model", messages)
    assert log["completion_tokens"] == tok.count_text("test-model", "tok0 tok1 tok2 tok3 tok4 ")


def test_tools_round_trip(gateway, setup, upstream) -> None:
    client = client_for(gateway, setup["token"])
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"x": {"type": "integer"}}}}}]
    messages: list[dict[str, Any]] = [{"role": "user", "content": "call it"}]
    first = client.chat.completions.create(model="test-model", messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and call.function.name == "lookup"
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "42"}]
    second = client.chat.completions.create(model="test-model", messages=messages, tools=tools)
    assert second.choices[0].message.content == "tok0 tok1 tok2 tok3 tok4 "
    assert upstream.requests[-1].json["messages"][-1]["role"] == "tool"


def test_stream_tool_calls(gateway, setup) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    chunks = list(client_for(gateway, setup["token"]).chat.completions.create(
        model="test-model", messages=[{"role": "user", "content": "x"}], tools=tools, stream=True))
    args = "".join(
        tc.function.arguments or "" for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or []))
    assert args == '{"x": 1}'


def test_passthrough_fields_reach_upstream(gateway, setup, upstream) -> None:
    client_for(gateway, setup["token"]).chat.completions.create(
        model="test-model", n=2, response_format={"type": "json_object"}, temperature=0.3,
        messages=[{"role": "user", "content": [{"type": "text", "text": "what is this"},
                  {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "detail": "low"}}]}])
    sent = upstream.requests[-1].json
    assert sent["n"] == 2 and sent["response_format"] == {"type": "json_object"} and sent["temperature"] == 0.3
    assert sent["messages"][0]["content"][1]["image_url"]["detail"] == "low"


def test_completions_stream_and_not(gateway, admin, setup) -> None:
    client = client_for(gateway, setup["token"])
    done = client.completions.create(model="test-model", prompt="say")
    assert done.choices[0].text == "tok0 tok1 tok2 tok3 tok4 "
    text = "".join(c.choices[0].text for c in client.completions.create(
        model="test-model", prompt="say", stream=True) if c.choices)
    assert text == "tok0 tok1 tok2 tok3 tok4 "
    logs = wait_logs(admin, setup["token"]["name"], 2)
    assert sorted(log["quota"] for log in logs) == [50, 50]


def test_model_mapping_rewrites_upstream_but_logs_requested(gateway, admin, upstream, priced) -> None:
    channel = admin.channel(upstream.base_url, "cheap-model", model_mapping='{"cheap-model": "real-upstream-model"}')
    user = admin.user()
    token = admin.token(user)
    try:
        reply = client_for(gateway, token).chat.completions.create(
            model="cheap-model", messages=[{"role": "user", "content": "hi"}])
        assert reply.model == "real-upstream-model"
        assert upstream.requests[-1].json["model"] == "real-upstream-model"
        (log,) = wait_logs(admin, token["name"], 1)
        assert log["model_name"] == "cheap-model"
    finally:
        admin.delete_channel(channel["id"])


def test_organization_header(gateway, admin, upstream, priced) -> None:
    channel = admin.channel(upstream.base_url, "cheap-model", openai_organization="org-42")
    token = admin.token(admin.user())
    try:
        client_for(gateway, token).chat.completions.create(
            model="cheap-model", messages=[{"role": "user", "content": "hi"}])
        assert upstream.requests[-1].headers["openai-organization"] == "org-42"
    finally:
        admin.delete_channel(channel["id"])


def test_request_id_header_and_in_errors(gateway, setup) -> None:
    client = client_for(gateway, setup["token"])
    raw = client.chat.completions.with_raw_response.create(
        model="test-model", messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-oneapi-request-id"]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="test-model", messages=[])
    assert "request id" in str(err.value)


def test_channel_system_prompt_is_forced(gateway, admin, upstream, priced) -> None:
    channel = admin.channel(upstream.base_url, "cheap-model", system_prompt="You are terse.")
    token = admin.token(admin.user())
    try:
        client = client_for(gateway, token)
        client.chat.completions.create(model="cheap-model", messages=[
            {"role": "system", "content": "be chatty"}, {"role": "user", "content": "hi"}])
        assert upstream.requests[-1].json["messages"][0] == {"role": "system", "content": "You are terse."}
        assert len(upstream.requests[-1].json["messages"]) == 2
        client.chat.completions.create(model="cheap-model", messages=[{"role": "user", "content": "hi"}])
        assert [m["role"] for m in upstream.requests[-1].json["messages"]] == ["system", "user"]
        logs = wait_logs(admin, token["name"], 2)
        assert all(log["system_prompt_reset"] for log in logs)
    finally:
        admin.delete_channel(channel["id"])
