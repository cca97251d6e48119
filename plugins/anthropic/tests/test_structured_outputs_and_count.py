"""Structured outputs (OpenAI ``response_format``) on Claude and Gemini channels, and
``/v1/messages/count_tokens``, through a real gateway with the official openai and anthropic SDKs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Literal

import anthropic
import openai
import pytest
from pydantic import BaseModel

from tests.conftest import wait_logs
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess

pytestmark = pytest.mark.timeout(60)

ANT_KEY, OAI_KEY, GEM_KEY = "sk-ant-upstream", "sk-openai-upstream", "AIza-upstream"
GPT, OLD_CLAUDE, NEW_CLAUDE, FLASH = ("gpt-4o-mini", "claude-3-5-haiku-20241022", "claude-haiku-4-5-20251001",
                                      "gemini-2.0-flash")
HI = [{"role": "user", "content": "Extract the event."}]


class Place(BaseModel):
    city: str
    floor: int


class Event(BaseModel):
    name: str
    priority: Literal[1, 2, 3]
    place: Place
    tags: list[str]


@pytest.fixture(scope="module")
def relay(plugin_relay: Any) -> Any:
    relay = plugin_relay("structured", prices={GPT: (1, 1), OLD_CLAUDE: (1, 5), NEW_CLAUDE: (1, 5), FLASH: (1, 4)})
    relay.ant = relay.fake(FakeAnthropic, expected_key=ANT_KEY)
    relay.oai = relay.fake(FakeOpenAI, expected_key=OAI_KEY)
    relay.gem = relay.fake(FakeGemini, expected_key=GEM_KEY)
    relay.admin.channel(relay.oai.base_url, GPT, type=1, key=OAI_KEY)
    relay.admin.channel(relay.ant.base_url, f"{OLD_CLAUDE},{NEW_CLAUDE}", type=14, key=ANT_KEY)
    relay.admin.channel(relay.gem.base_url, FLASH, type=24, key=GEM_KEY)
    return relay


@pytest.fixture
def token(relay: Any) -> Iterator[dict[str, Any]]:
    for fake in (relay.ant, relay.oai, relay.gem):
        fake.reset()
    yield relay.token()


def oai(gateway: GatewayProcess, token: dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-" + token["key"], base_url=gateway.base_url + "/v1", max_retries=0)


def claude(gateway: GatewayProcess, token: dict[str, Any]) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-" + token["key"], base_url=gateway.base_url, max_retries=0)


def check_event(event: Event | None) -> None:
    assert event == Event(name="tok", priority=1, place=Place(city="tok", floor=1), tags=["tok"])


def test_parse_on_an_older_claude_uses_a_forced_tool(gateway, relay, token) -> None:
    reply = oai(gateway, token).chat.completions.parse(model=OLD_CLAUDE, messages=HI, response_format=Event,
                                                       metadata={"session": "s1"}, store=False)
    check_event(reply.choices[0].message.parsed)
    assert reply.choices[0].finish_reason == "stop" and not reply.choices[0].message.tool_calls
    sent = relay.ant.requests[-1].json
    assert sent["tool_choice"] == {"type": "tool", "name": "json_response"}
    assert [t["name"] for t in sent["tools"]] == ["json_response"]
    assert "response_format" not in sent and "metadata" not in sent
    log = wait_logs(relay.admin, token["name"], 1)[0]
    assert log["completion_tokens"] == 5


def test_parse_streams_on_an_older_claude(gateway, relay, token) -> None:
    with oai(gateway, token).chat.completions.stream(model=OLD_CLAUDE, messages=HI, response_format=Event) as stream:
        final = stream.get_final_completion()
    check_event(final.choices[0].message.parsed)
    assert final.choices[0].finish_reason == "stop" and not final.choices[0].message.tool_calls
    assert relay.ant.requests[-1].json["stream"] is True


def test_parse_on_a_claude_with_structured_outputs_uses_output_config(gateway, relay, token) -> None:
    client = oai(gateway, token)
    check_event(client.chat.completions.parse(model=NEW_CLAUDE, messages=HI, response_format=Event)
                .choices[0].message.parsed)
    sent = relay.ant.requests[-1].json
    schema = sent["output_config"]["format"]["schema"]
    assert sent["output_config"]["format"]["type"] == "json_schema" and "tools" not in sent
    assert schema["additionalProperties"] is False and "$defs" in schema
    with client.chat.completions.stream(model=NEW_CLAUDE, messages=HI, response_format=Event) as stream:
        check_event(stream.get_final_completion().choices[0].message.parsed)


def test_json_object_on_claude(gateway, relay, token) -> None:
    reply = oai(gateway, token).chat.completions.create(
        model=NEW_CLAUDE, messages=HI, response_format={"type": "json_object"})
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)
    assert reply.choices[0].finish_reason == "stop"
    assert relay.ant.requests[-1].json["tool_choice"] == {"type": "tool", "name": "json_response"}


def test_parse_on_gemini(gateway, relay, token) -> None:
    client = oai(gateway, token)
    reply = client.chat.completions.parse(model=FLASH, messages=HI, response_format=Event)
    check_event(reply.choices[0].message.parsed)
    config = relay.gem.requests[-1].json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseSchema"]
    assert "$defs" not in json.dumps(schema) and "additionalProperties" not in json.dumps(schema)
    assert schema["properties"]["priority"]["type"] == "integer" and "enum" not in schema["properties"]["priority"]
    assert schema["properties"]["place"]["properties"]["floor"] == {"type": "integer", "title": "Floor"}
    with client.chat.completions.stream(model=FLASH, messages=HI, response_format=Event) as stream:
        check_event(stream.get_final_completion().choices[0].message.parsed)
    client.chat.completions.create(model=FLASH, messages=HI, response_format={"type": "json_object"})
    assert relay.gem.requests[-1].json["generationConfig"] == {"responseMimeType": "application/json"}


def test_count_tokens_passes_through_to_anthropic(gateway, relay, token) -> None:
    messages = [{"role": "user", "content": "Hello, Claude"}]
    counted = claude(gateway, token).messages.count_tokens(model=NEW_CLAUDE, messages=messages, system="Be brief.")
    assert counted.input_tokens == len(json.dumps(messages)) // 4 + 7
    seen = relay.ant.requests[-1]
    assert seen.path == "/v1/messages/count_tokens" and seen.headers["x-api-key"] == ANT_KEY
    assert seen.json["model"] == NEW_CLAUDE and seen.json["system"] == "Be brief."
    time.sleep(0.5)
    assert wait_logs(relay.admin, token["name"], 0) == []  # not billed


def test_count_tokens_of_another_channel_type_is_counted_locally(gateway, relay, token) -> None:
    client = claude(gateway, token)
    short = client.messages.count_tokens(model=GPT, messages=[{"role": "user", "content": "hi"}])
    longer = client.messages.count_tokens(model=GPT, system="You are terse.", messages=[
        {"role": "user", "content": "hi there, how are you doing today?"}])
    assert 0 < short.input_tokens < longer.input_tokens
    assert relay.oai.requests == []  # nothing went upstream
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(api_key="sk-nope", base_url=gateway.base_url, max_retries=0).messages.count_tokens(
            model=GPT, messages=[{"role": "user", "content": "hi"}])
    time.sleep(0.5)
    assert wait_logs(relay.admin, token["name"], 0) == []


def test_messages_output_config_reaches_a_gemini_channel_as_a_response_schema(gateway, relay, token) -> None:
    schema = Event.model_json_schema()
    reply = claude(gateway, token).messages.create(
        model=FLASH, max_tokens=100, messages=[{"role": "user", "content": "Extract the event."}],
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": schema}}})
    check_event(Event.model_validate_json(reply.content[0].text))
    config = relay.gem.requests[-1].json["generationConfig"]
    assert config["responseMimeType"] == "application/json" and "$defs" not in json.dumps(config)
