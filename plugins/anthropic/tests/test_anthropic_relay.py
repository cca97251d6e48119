"""Anthropic channels (type 14) through a real gateway, driven by the official openai SDK."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import Admin, wait_logs
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.gateway import GatewayProcess, api

pytestmark = pytest.mark.timeout(60)

KEY = "sk-ant-upstream"
HAIKU = "claude-3-5-haiku-20241022"
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@pytest.fixture(scope="module")
def relay(plugin_relay: Any) -> Any:
    return plugin_relay("anthropic", prices={HAIKU: (2, 3), "claude-alias": (1, 5)})


@pytest.fixture(scope="module")
def fake(relay: Any) -> FakeAnthropic:
    return relay.fake(FakeAnthropic, expected_key=KEY)


@pytest.fixture
def setup(relay: Any, admin: Admin, fake: FakeAnthropic, owner: dict[str, Any]) -> Iterator[dict[str, Any]]:
    fake.reset()
    channel = admin.channel(fake.base_url, f"{HAIKU},claude-3-haiku-20240307,claude-alias", type=14,
                            key=KEY, model_mapping=json.dumps({"claude-alias": "claude-sonnet-4-20250514"}))
    token = relay.token()
    yield {"channel": channel, "user": owner["user"], "token": token}
    admin.delete_channel(channel["id"])
    fake.reset()


def client(gateway: GatewayProcess, setup: dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-" + setup["token"]["key"], base_url=gateway.base_url + "/v1",
                         max_retries=0)


def wait_log(admin: Admin, setup: dict[str, Any]) -> dict[str, Any]:
    """The one consume log of the test's token."""
    logs = wait_logs(admin, setup["token"]["name"], 1)
    assert len(logs) == 1, logs
    return logs[0]


def test_text_is_converted_and_billed_from_anthropic_usage(gateway, admin, setup, fake) -> None:
    reply = client(gateway, setup).chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "tok0 tok1 tok2 tok3 tok4 "
    assert reply.choices[0].finish_reason == "stop" and reply.object == "chat.completion"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (10, 5)
    log = wait_log(admin, setup)
    assert log["quota"] == math.ceil(2 * (10 + 5 * 3))
    assert (log["prompt_tokens"], log["completion_tokens"]) == (10, 5)
    sent = fake.requests[-1]
    assert sent.path == "/v1/messages" and "authorization" not in sent.headers
    assert sent.headers["x-api-key"] == KEY and sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json == {"model": HAIKU, "max_tokens": 8192,
                         "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}


def test_system_turns_and_parameters(gateway, setup, fake) -> None:
    reply = client(gateway, setup).chat.completions.create(
        model="claude-alias", max_tokens=100, temperature=1.5, top_p=0.9, stop=["tok3"], user="u-1",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a"},
                  {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
                  {"role": "user", "content": [{"type": "text", "text": "d"}]},
                  {"role": "developer", "content": "Use English."}])
    assert reply.choices[0].message.content == "tok0 tok1 tok2 " and reply.choices[0].finish_reason == "stop"
    assert reply.model == "claude-alias"
    sent = fake.requests[-1].json
    assert sent["model"] == "claude-sonnet-4-20250514" and sent["max_tokens"] == 100
    assert sent["system"] == "Be brief.\n\nUse English."
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][2]["content"] == [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]
    assert sent["stop_sequences"] == ["tok3"] and sent["temperature"] == 1.0 and sent["top_p"] == 0.9
    assert sent["metadata"] == {"user_id": "u-1"}


def test_max_tokens_maps_to_length_and_claude3_default(gateway, setup, fake) -> None:
    reply = client(gateway, setup).chat.completions.create(
        model=HAIKU, max_tokens=2, messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].finish_reason == "length" and reply.choices[0].message.content == "tok0 tok1 "
    client(gateway, setup).chat.completions.create(
        model="claude-3-haiku-20240307", messages=[{"role": "user", "content": "hi"}])
    assert fake.requests[-1].json["max_tokens"] == 4096


def test_prefill_and_only_system(gateway, setup, fake) -> None:
    client(gateway, setup).chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "count"}, {"role": "assistant", "content": "tok0 "}])
    assert fake.requests[-1].json["messages"][-1] == {"role": "assistant",
                                                      "content": [{"type": "text", "text": "tok0"}]}
    client(gateway, setup).chat.completions.create(
        model=HAIKU, messages=[{"role": "system", "content": "Say hi."}])
    sent = fake.requests[-1].json
    assert "system" not in sent and sent["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "Say hi."}]}]


def test_images_become_base64_and_url_sources(gateway, setup, fake) -> None:
    client(gateway, setup).chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": PNG}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}}]}])
    blocks = fake.requests[-1].json["messages"][0]["content"]
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                     "data": PNG.split(",", 1)[1]}}
    assert blocks[2] == {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}


def test_tools_full_round_trip(gateway, admin, setup, fake) -> None:
    sdk = client(gateway, setup)
    question = [{"role": "user", "content": "Weather in Paris?"}]
    first = sdk.chat.completions.create(model=HAIKU, messages=question, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and first.choices[0].message.content is None
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"x": 1} and call.id.startswith("toolu_")
    sent = fake.requests[-1].json
    assert sent["tools"] == [{"name": "get_weather", "description": "Weather of a city",
                              "input_schema": WEATHER["function"]["parameters"]}]
    assert "tool_choice" not in sent
    history = [*question, first.choices[0].message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]
    second = sdk.chat.completions.create(model=HAIKU, messages=history, tools=[WEATHER])
    assert second.choices[0].message.content == "The tool returned sunny, 21 C"
    assert second.choices[0].finish_reason == "stop"
    sent = fake.requests[-1].json["messages"]
    assert sent[1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": call.id, "name": "get_weather", "input": {"x": 1}}]}
    assert sent[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}]}
    sdk.chat.completions.create(model=HAIKU, messages=question, tools=[WEATHER], tool_choice="required",
                                parallel_tool_calls=False)
    assert fake.requests[-1].json["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    sdk.chat.completions.create(model=HAIKU, messages=question, tools=[WEATHER],
                                tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert fake.requests[-1].json["tool_choice"] == {"type": "tool", "name": "get_weather"}


def test_stream_with_usage(gateway, admin, setup, fake) -> None:
    stream = client(gateway, setup).chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "tok0 tok1 tok2 tok3 tok4 "
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 10
    assert chunks[-1].usage.completion_tokens == 5
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-msg_")
    log = wait_log(admin, setup)
    assert log["is_stream"] and log["quota"] == math.ceil(2 * (10 + 5 * 3))
    assert fake.requests[-1].json["stream"] is True
    assert fake.requests[-1].headers["accept"] == "text/event-stream"


def test_stream_without_usage_option_is_still_billed_from_upstream(gateway, admin, setup, fake) -> None:
    chunks = list(client(gateway, setup).chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "hi"}], stream=True))
    assert all(c.choices for c in chunks)
    log = wait_log(admin, setup)
    assert (log["prompt_tokens"], log["completion_tokens"]) == (10, 5)


def test_stream_tool_call(gateway, setup, fake) -> None:
    chunks = list(client(gateway, setup).chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER], stream=True))
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].id.startswith("toolu_") and calls[0].function.name == "get_weather"
    assert json.loads("".join(tc.function.arguments or "" for tc in calls)) == {"x": 1}
    assert {tc.index for tc in calls} == {0}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_cache_tokens_count_as_prompt_and_cached(gateway, admin, setup, fake) -> None:
    fake.cache_read, fake.cache_creation = 100, 20
    reply = client(gateway, setup).chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "hi"}])
    assert reply.usage.prompt_tokens == 130 and reply.usage.prompt_tokens_details.cached_tokens == 100
    log = wait_log(admin, setup)
    assert log["prompt_tokens"] == 130 and log["quota"] == math.ceil(2 * (130 + 5 * 3))


@pytest.mark.parametrize(("status", "error", "client_status", "etype"), [
    (401, openai.AuthenticationError, 401, "authentication_error"),
    (403, openai.PermissionDeniedError, 403, "permission_error"),
    (429, openai.RateLimitError, 429, "rate_limit_error"),
    (500, openai.InternalServerError, 500, "api_error"),
    (529, openai.InternalServerError, 503, "overloaded_error"),
    (400, openai.BadRequestError, 400, "invalid_request_error"),
])
def test_errors_in_openai_shape(gateway, setup, fake, status, error, client_status, etype) -> None:
    fake.fail(status)
    with pytest.raises(error) as caught:
        client(gateway, setup).chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == client_status
    body = caught.value.response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    assert body["type"] == etype and body["code"] == etype


def test_upstream_validation_error_message_reaches_the_client(gateway, setup, fake) -> None:
    call = {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    with pytest.raises(openai.BadRequestError) as caught:
        client(gateway, setup).chat.completions.create(model=HAIKU, tools=[WEATHER], messages=[
            {"role": "user", "content": "Weather?"}, {"role": "assistant", "tool_calls": [call]},
            {"role": "user", "content": "never mind"}])
    error = caught.value.response.json()["error"]
    assert "without `tool_result` blocks" in error["message"] and error["type"] == "invalid_request_error"


def test_malformed_upstream_bodies(gateway, setup, fake) -> None:
    fake.malformed = True
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway, setup).chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert caught.value.response.json()["error"]["code"] == "bad_response_body"
    fake.malformed = False
    fake.fail(502, "<html><body>Bad gateway</body></html>")
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway, setup).chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502 and "error" in caught.value.response.json()


def test_stream_error_event_becomes_an_error_chunk(gateway, setup, fake) -> None:
    fake.error_after_events = 4
    stream = client(gateway, setup).chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert "Overloaded" in str(caught.value)


def test_cut_stream_is_billed_for_delivered_text(gateway, admin, setup, fake) -> None:
    fake.hang_after_events = 5  # message_start, block start, ping, two text deltas
    chunks = list(client(gateway, setup).chat.completions.create(
        model=HAIKU, messages=[{"role": "user", "content": "hi"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "tok0 tok1 "
    log = wait_log(admin, setup)
    assert log["completion_tokens"] >= 2 and log["quota"] > 0


def test_other_endpoints_are_refused(gateway, setup) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway, setup).embeddings.create(model=HAIKU, input="hello")
    assert caught.value.status_code == 501
    assert "chat/completions" in caught.value.response.json()["error"]["message"]


def test_channel_test_and_registry(gateway, admin, setup) -> None:
    result = admin.root.get(f"/api/channel/test/{setup['channel']['id']}").json()
    assert result["success"], result
    types = {t["id"]: t for t in api(admin.root, "GET", "/api/channel/types")}
    assert types[14]["name"] == "Anthropic Claude"
    assert "claude-sonnet-4-20250514" in types[14]["default_models"]
