"""Claude-format clients: ``POST /v1/messages`` through a real gateway, driven by the official
``anthropic`` SDK — converted for an OpenAI channel, relayed natively to an Anthropic one."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import Admin, wait_logs
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess

pytestmark = pytest.mark.timeout(60)

ANT_KEY = "sk-ant-upstream"
OAI_KEY = "sk-openai-upstream"
GPT = "gpt-4o-mini"  # served by the OpenAI channel
HAIKU = "claude-haiku-4-5-20251001"  # served by the Anthropic channel
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
HI = [{"role": "user", "content": "hi"}]
TEXT = "tok0 tok1 tok2 tok3 tok4 "


@pytest.fixture(scope="module")
def relay(plugin_relay: Any) -> Any:
    """The gateway (request bodies up to 0.5 MB), with one OpenAI and one Anthropic channel."""
    relay = plugin_relay("inbound", prices={HAIKU: (2, 3), GPT: (1.5, 4), "claude-alias": (1, 5)},
                         MAX_REQUEST_BODY_MB="0.5")
    relay.ant = relay.fake(FakeAnthropic, expected_key=ANT_KEY)
    relay.oai = relay.fake(FakeOpenAI, expected_key=OAI_KEY)
    relay.admin.channel(relay.oai.base_url, GPT, type=1, key=OAI_KEY)
    relay.admin.channel(relay.ant.base_url, f"{HAIKU},claude-alias", type=14, key=ANT_KEY,
                        model_mapping=json.dumps({"claude-alias": "claude-sonnet-4-20250514"}))
    return relay


@pytest.fixture(scope="module")
def fake_ant(relay: Any) -> FakeAnthropic:
    return relay.ant


@pytest.fixture(scope="module")
def fake_oai(relay: Any) -> FakeOpenAI:
    return relay.oai


@pytest.fixture
def token(relay: Any, fake_ant: FakeAnthropic, fake_oai: FakeOpenAI) -> Iterator[dict[str, Any]]:
    """A fresh token per test (so its consume logs are the test's own); fakes reset."""
    fake_ant.reset()
    fake_oai.reset()
    yield relay.token()
    fake_ant.reset()
    fake_oai.reset()


def claude(gateway: GatewayProcess, token: dict[str, Any]) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-" + token["key"], base_url=gateway.base_url, max_retries=0)


def wait_log(admin: Admin, token: dict[str, Any]) -> dict[str, Any]:
    logs = wait_logs(admin, token["name"], 1)
    assert len(logs) == 1, logs
    return logs[0]


# --- converted: an OpenAI channel --------------------------------------------------------------


def test_text_to_openai_channel_and_billing(gateway, admin, token, fake_oai) -> None:
    reply = claude(gateway, token).messages.create(model=GPT, max_tokens=100, messages=HI)
    assert reply.type == "message" and reply.role == "assistant" and reply.model == GPT
    assert reply.id.startswith("msg_") and [b.type for b in reply.content] == ["text"]
    assert reply.content[0].text == TEXT and reply.stop_reason == "end_turn" and reply.stop_sequence is None
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (10, 5)
    assert reply.usage.cache_read_input_tokens == 0
    sent = fake_oai.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.headers["authorization"] == f"Bearer {OAI_KEY}"
    assert sent.json == {"model": GPT, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    log = wait_log(admin, token)
    assert (log["prompt_tokens"], log["completion_tokens"]) == (10, 5) and log["model_name"] == GPT
    assert log["quota"] == math.ceil(1.5 * (10 + 5 * 4)) and not log["is_stream"]


def test_system_multi_turn_and_parameters(gateway, token, fake_oai) -> None:
    claude(gateway, token).messages.create(
        model=GPT, max_tokens=50, stop_sequences=["tok3", "END"], metadata={"user_id": "u-42"},
        extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 5},
        output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
        system=[{"type": "text", "text": "Be brief."},
                {"type": "text", "text": "Use English.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "a"},
                  {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
                  {"role": "user", "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]}])
    sent = fake_oai.requests[-1].json
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief.\n\nUse English."}, {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"}, {"role": "user", "content": "c\nd"}]
    assert sent["stop"] == ["tok3", "END"] and sent["temperature"] == 0.5 and sent["top_p"] == 0.9
    assert sent["user"] == "u-42" and sent["max_tokens"] == 50 and "top_k" not in sent
    assert "metadata" not in sent and "system" not in sent
    assert sent["response_format"] == {"type": "json_schema", "json_schema": {"name": "output",
                                                                              "schema": {"type": "object"}}}


def test_stop_sequences_become_stop(gateway, token, fake_oai) -> None:
    reply = claude(gateway, token).messages.create(model=GPT, max_tokens=10, messages=HI, stop_sequences=["###"])
    assert fake_oai.requests[-1].json["stop"] == ["###"]
    assert reply.stop_reason == "end_turn"  # OpenAI does not say which stop sequence (if any) ended it


def test_image_base64_and_url(gateway, token, fake_oai) -> None:
    reply = claude(gateway, token).messages.create(model=GPT, max_tokens=10, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "text", "text": "What is this?"}]}])
    assert reply.content[0].text == TEXT
    assert fake_oai.requests[-1].json["messages"] == [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "text", "text": "What is this?"}]}]


def test_tools_full_round_trip(gateway, token, fake_oai) -> None:
    client = claude(gateway, token)
    question = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.messages.create(model=GPT, max_tokens=100, tools=[WEATHER], messages=question)
    assert first.stop_reason == "tool_use"
    (call,) = first.content
    assert call.type == "tool_use" and call.name == "get_weather" and call.input == {"x": 1} and call.id
    assert fake_oai.requests[-1].json["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "parameters": WEATHER["input_schema"], "description": "Weather of a city"}}]
    history = [*question, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"},
                                            {"type": "text", "text": "And tomorrow?"}]}]
    second = client.messages.create(model=GPT, max_tokens=100, tools=[WEATHER], messages=history)
    assert second.stop_reason == "tool_use"  # the fake calls again since the last turn is the user's text
    sent = fake_oai.requests[-1].json["messages"]
    assert sent[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": '{"x":1}'}}]}
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}
    assert sent[3] == {"role": "user", "content": "And tomorrow?"}
    history[-1]["content"] = [{"type": "tool_result", "tool_use_id": call.id,
                               "content": [{"type": "text", "text": "sunny, 21 C"}]}]
    answer = client.messages.create(model=GPT, max_tokens=100, tools=[WEATHER], messages=history,
                                    tool_choice={"type": "any", "disable_parallel_tool_use": True})
    assert answer.stop_reason == "end_turn" and answer.content[0].text == TEXT
    sent = fake_oai.requests[-1].json
    assert sent["messages"][-1] == {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}
    assert sent["tool_choice"] == "required" and sent["parallel_tool_calls"] is False
    client.messages.create(model=GPT, max_tokens=10, tools=[WEATHER], messages=question,
                           tool_choice={"type": "tool", "name": "get_weather"})
    assert fake_oai.requests[-1].json["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_stream_to_openai_channel(gateway, admin, token, fake_oai) -> None:
    with claude(gateway, token).messages.stream(model=GPT, max_tokens=100, messages=HI) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == TEXT and final.content[0].text == TEXT and final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (10, 5)
    assert final.id.startswith("msg_fake")  # the upstream id, "chatcmpl-" swapped for "msg_"
    sent = fake_oai.requests[-1].json
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    log = wait_log(admin, token)
    assert log["is_stream"] and (log["prompt_tokens"], log["completion_tokens"]) == (10, 5)
    assert log["quota"] == math.ceil(1.5 * (10 + 5 * 4))


def test_stream_event_sequence_and_tool_call(gateway, token) -> None:
    events = list(claude(gateway, token).messages.create(model=GPT, max_tokens=100, tools=[WEATHER],
                                                         messages=HI, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds[1] == "content_block_start" and kinds[-3] == "content_block_stop"
    assert events[1].content_block.type == "tool_use" and events[1].content_block.name == "get_weather"
    arguments = "".join(e.delta.partial_json for e in events if e.type == "content_block_delta")
    assert json.loads(arguments) == {"x": 1}
    assert events[-2].delta.stop_reason == "tool_use" and events[-2].usage.output_tokens == 5
    with claude(gateway, token).messages.stream(model=GPT, max_tokens=100, tools=[WEATHER], messages=HI) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use" and final.content[0].input == {"x": 1}


def test_cut_openai_stream_ends_with_an_error_event(gateway, admin, token, fake_oai) -> None:
    fake_oai.hang_after_chunks = 3  # role chunk and two text chunks, then the connection closes
    with pytest.raises(anthropic.APIStatusError) as caught:
        with claude(gateway, token).messages.stream(model=GPT, max_tokens=100, messages=HI) as stream:
            for _ in stream:
                pass
    assert caught.value.body["error"]["type"] == "api_error"
    log = wait_log(admin, token)  # billed for what was delivered
    assert log["completion_tokens"] >= 2 and log["quota"] > 0


# --- native: an Anthropic channel ----------------------------------------------------------------


def test_native_text_passes_the_payload_through(gateway, admin, token, fake_ant) -> None:
    reply = claude(gateway, token).messages.create(
        model=HAIKU, max_tokens=100, system="Be brief.", extra_body={"top_k": 3}, metadata={"user_id": "u-1"},
        messages=[{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31", "anthropic-version": "2023-01-01"})
    assert reply.content[0].text == TEXT and reply.id.startswith("msg_fake") and reply.model == HAIKU
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (10, 5)
    sent = fake_ant.requests[-1]
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == ANT_KEY
    assert sent.headers["anthropic-version"] == "2023-01-01"  # the client's own
    assert sent.headers["anthropic-beta"] == "prompt-caching-2024-07-31"
    assert sent.json == {"max_tokens": 100, "model": HAIKU, "system": "Be brief.", "top_k": 3,
                         "metadata": {"user_id": "u-1"}, "messages": [{"role": "user", "content": [
                             {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}]}
    log = wait_log(admin, token)
    assert (log["prompt_tokens"], log["completion_tokens"]) == (10, 5)
    assert log["quota"] == math.ceil(2 * (10 + 5 * 3))
    raw = httpx.post(f"{gateway.base_url}/v1/messages", headers={"x-api-key": "sk-" + token["key"]},
                     json={"model": HAIKU, "max_tokens": 5, "messages": HI})
    assert raw.status_code == 200 and raw.json()["type"] == "message"
    assert fake_ant.requests[-1].headers["anthropic-version"] == "2023-06-01"  # the channel's default
    assert "anthropic-beta" not in fake_ant.requests[-1].headers


def test_native_model_mapping_and_stop_sequence(gateway, token, fake_ant) -> None:
    reply = claude(gateway, token).messages.create(model="claude-alias", max_tokens=100, messages=HI,
                                                   stop_sequences=["tok2"])
    assert reply.stop_reason == "stop_sequence" and reply.stop_sequence == "tok2"
    assert reply.content[0].text == "tok0 tok1 "
    sent = fake_ant.requests[-1].json
    assert sent["model"] == "claude-sonnet-4-20250514" and sent["stop_sequences"] == ["tok2"]


def test_native_stream_with_cache_usage_billed(gateway, admin, token, fake_ant) -> None:
    fake_ant.cache_read, fake_ant.cache_creation = 100, 20
    with claude(gateway, token).messages.stream(model=HAIKU, max_tokens=100, messages=HI) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == TEXT and final.id.startswith("msg_fake") and final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (10, 5)
    assert final.usage.cache_read_input_tokens == 100 and final.usage.cache_creation_input_tokens == 20
    sent = fake_ant.requests[-1]
    assert sent.json["stream"] is True and sent.headers["accept"] == "text/event-stream"
    log = wait_log(admin, token)
    assert log["is_stream"] and (log["prompt_tokens"], log["completion_tokens"]) == (130, 5)
    assert log["quota"] == math.ceil(2 * (130 + 5 * 3))


def test_native_tools_round_trip_and_stream(gateway, token, fake_ant) -> None:
    client = claude(gateway, token)
    question = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.messages.create(model=HAIKU, max_tokens=100, tools=[WEATHER], messages=question)
    (call,) = first.content
    assert first.stop_reason == "tool_use" and call.type == "tool_use" and call.input == {"x": 1}
    history = [*question, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]}]
    answer = client.messages.create(model=HAIKU, max_tokens=100, tools=[WEATHER], messages=history)
    assert answer.content[0].text == "The tool returned sunny" and answer.stop_reason == "end_turn"
    assert fake_ant.requests[-1].json["messages"] == history
    with client.messages.stream(model=HAIKU, max_tokens=100, tools=[WEATHER], messages=question) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use" and final.content[0].input == {"x": 1}
    assert final.stop_reason == "tool_use"


# --- errors in Anthropic's shape -------------------------------------------------------------------


def test_route_beats_the_catch_all_and_bad_keys_are_authentication_errors(gateway, token) -> None:
    bad = anthropic.Anthropic(api_key="sk-not-a-token", base_url=gateway.base_url, max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        bad.messages.create(model=GPT, max_tokens=10, messages=HI)
    body = caught.value.body
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
    assert set(body["error"]) == {"type", "message"} and body["request_id"]
    raw = httpx.post(f"{gateway.base_url}/v1/messages", json={"model": GPT, "max_tokens": 1, "messages": HI})
    assert raw.status_code == 401 and raw.json()["error"]["type"] == "authentication_error"
    other = httpx.post(f"{gateway.base_url}/v1/messagez", json={})
    assert other.status_code == 404 and "type" not in other.json()  # the relay's own catch-all
    bearer = httpx.post(f"{gateway.base_url}/v1/messages", headers={"Authorization": f"Bearer sk-{token['key']}"},
                        json={"model": GPT, "max_tokens": 10, "messages": HI})
    assert bearer.status_code == 200 and bearer.json()["content"][0]["text"] == TEXT


@pytest.mark.parametrize(("body", "needle"), [
    (b"{not json", "not valid JSON"),
    (json.dumps({"model": GPT, "messages": HI}).encode(), "max_tokens"),
    (json.dumps({"model": GPT, "max_tokens": 5}).encode(), "messages"),
    (json.dumps({"model": GPT, "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}).encode(),
     "messages.0.role"),
    (json.dumps({"model": GPT, "max_tokens": 5, "messages": HI, "tools": [{"name": "f"}]}).encode(),
     "input_schema"),
])
def test_malformed_requests_are_invalid_request_errors(gateway, token, body, needle) -> None:
    response = httpx.post(f"{gateway.base_url}/v1/messages", content=body,
                          headers={"x-api-key": "sk-" + token["key"], "content-type": "application/json",
                                   "anthropic-version": "2023-06-01"})
    assert response.status_code == 400
    data = response.json()
    assert data["type"] == "error" and data["error"]["type"] == "invalid_request_error"
    assert needle in data["error"]["message"]


@pytest.mark.parametrize("model", [GPT, HAIKU])
def test_upstream_429_is_a_rate_limit_error(gateway, token, fake_ant, fake_oai, model) -> None:
    fake_ant.fail(429)
    fake_oai.fail(429)
    with pytest.raises(anthropic.RateLimitError) as caught:
        claude(gateway, token).messages.create(model=model, max_tokens=10, messages=HI)
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == "rate_limit_error"


def test_native_upstream_errors_keep_anthropic_types(gateway, token, fake_ant) -> None:
    client = claude(gateway, token)
    fake_ant.fail(529)
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        client.messages.create(model=HAIKU, max_tokens=10, messages=HI)
    assert overloaded.value.body["error"]["type"] == "overloaded_error"
    fake_ant.reset()
    with pytest.raises(anthropic.BadRequestError) as caught:  # Anthropic's own validation message
        client.messages.create(model=HAIKU, max_tokens=10, messages=[
            {"role": "user", "content": "x"}, {"role": "assistant", "content": "trailing "}])
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "trailing whitespace" in caught.value.body["error"]["message"]
    fake_ant.error_after_events = 4
    with pytest.raises(anthropic.APIStatusError) as streamed:
        with client.messages.stream(model=HAIKU, max_tokens=10, messages=HI) as stream:
            for _ in stream:
                pass
    assert streamed.value.body["error"]["type"] == "overloaded_error"


def test_unknown_model_is_reported_in_anthropic_shape(gateway, token) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude(gateway, token).messages.create(model="no-such-model", max_tokens=10, messages=HI)
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "no-such-model" in caught.value.body["error"]["message"]


def test_too_large_body_is_request_too_large(gateway, token) -> None:
    big = "x" * 600_000
    response = httpx.post(f"{gateway.base_url}/v1/messages", headers={"x-api-key": "sk-" + token["key"]},
                          json={"model": GPT, "max_tokens": 5, "messages": [{"role": "user", "content": big}]})
    assert response.status_code == 413
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "request_too_large"


def test_native_cut_stream_ends_with_an_error_event_and_is_billed(gateway, admin, token, fake_ant) -> None:
    fake_ant.hang_after_events = 5  # message_start, block start, ping, two text deltas
    texts: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        with claude(gateway, token).messages.stream(model=HAIKU, max_tokens=100, messages=HI) as stream:
            texts.extend(stream.text_stream)
    assert "".join(texts) == "tok0 tok1 " and caught.value.body["error"]["type"] == "api_error"
    log = wait_log(admin, token)
    assert log["completion_tokens"] >= 2 and log["quota"] > 0
