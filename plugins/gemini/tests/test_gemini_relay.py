"""Gemini channels (type 24) through a real gateway, driven by the official openai SDK."""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import Admin, new_token, wait_logs
from tests.fakes.gemini_upstream import PNG_1X1, FakeGemini
from tests.gateway import GatewayProcess, api

pytestmark = pytest.mark.timeout(60)

KEY = "AIza-upstream"
FLASH = "gemini-2.0-flash"
PNG = "data:image/png;base64," + base64.b64encode(PNG_1X1).decode()
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                   "additionalProperties": False, "required": ["city"],
                   "properties": {"city": {"type": "string", "format": "uri"},
                                  "unit": {"type": ["string", "null"], "enum": ["C", "F"]}}}}}
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def relay(plugin_relay: Any) -> Any:
    # The fake's images are on loopback, which image fetches may reach only when allowed.
    return plugin_relay("gemini", prices={FLASH: (2, 3), "text-embedding-004": 1, "gemma-3-27b-it": 0.1},
                        FETCH_ALLOWED_NETWORKS="127.0.0.1/32")


@pytest.fixture(scope="module")
def fake(relay: Any) -> FakeGemini:
    return relay.fake(FakeGemini, expected_key=KEY)


def make_setup(admin: Admin, fake: FakeGemini, owner: dict[str, Any], **fields: Any) -> dict[str, Any]:
    channel = admin.channel(fake.base_url, f"{FLASH},gemini-2.5-pro,text-embedding-004,gemma-3-27b-it",
                            **{"type": 24, "key": KEY, **fields})
    token = new_token(admin, owner)
    return {"channel": channel, "user": owner["user"], "token": token}


@pytest.fixture
def setup(admin: Admin, fake: FakeGemini, owner: dict[str, Any]) -> Iterator[dict[str, Any]]:
    fake.reset()
    made = make_setup(admin, fake, owner)
    yield made
    admin.delete_channel(made["channel"]["id"])
    fake.reset()


def client(gateway: GatewayProcess, setup: dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-" + setup["token"]["key"], base_url=gateway.base_url + "/v1",
                         max_retries=0)


def wait_log(admin: Admin, setup: dict[str, Any]) -> dict[str, Any]:
    """The one consume log of the test's token."""
    logs = wait_logs(admin, setup["token"]["name"], 1)
    assert len(logs) == 1, logs
    return logs[0]


def test_text_is_converted_and_billed_from_usage_metadata(gateway, admin, setup, fake) -> None:
    reply = client(gateway, setup).chat.completions.create(model=FLASH, messages=HI)
    assert reply.choices[0].message.content == "tok0 tok1 tok2 tok3 tok4 "
    assert reply.choices[0].finish_reason == "stop" and reply.model == FLASH
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (10, 5)
    log = wait_log(admin, setup)
    assert log["quota"] == math.ceil(2 * (10 + 5 * 3))
    assert (log["prompt_tokens"], log["completion_tokens"]) == (10, 5)
    sent = fake.requests[-1]
    assert sent.path == f"/v1beta/models/{FLASH}:generateContent" and sent.query == {}
    assert sent.headers["x-goog-api-key"] == KEY and "authorization" not in sent.headers
    assert sent.json["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert {s["threshold"] for s in sent.json["safetySettings"]} == {"BLOCK_NONE"}
    assert len(sent.json["safetySettings"]) == 5 and "generationConfig" not in sent.json


def test_system_turns_and_generation_config(gateway, setup, fake) -> None:
    reply = client(gateway, setup).chat.completions.create(
        model=FLASH, max_tokens=100, temperature=0.5, top_p=0.9, stop="tok3", n=2, seed=7,
        response_format={"type": "json_object"},
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a"},
                  {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
                  {"role": "user", "content": [{"type": "text", "text": "d"}]}])
    assert [c.message.content for c in reply.choices] == ["tok0 tok1 tok2 ", "tok0 tok1 tok2 "]
    assert [c.index for c in reply.choices] == [0, 1]
    sent = fake.requests[-1].json
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [c["role"] for c in sent["contents"]] == ["user", "model", "user"]
    assert sent["contents"][2]["parts"] == [{"text": "c"}, {"text": "d"}]
    assert sent["generationConfig"] == {"temperature": 0.5, "topP": 0.9, "seed": 7, "maxOutputTokens": 100,
                                        "stopSequences": ["tok3"], "candidateCount": 2,
                                        "responseMimeType": "application/json"}


def test_gemma_gets_system_text_as_a_user_turn(gateway, setup, fake) -> None:
    client(gateway, setup).chat.completions.create(
        model="gemma-3-27b-it", messages=[{"role": "system", "content": "Be brief."}, *HI])
    sent = fake.requests[-1].json
    assert "systemInstruction" not in sent
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "Be brief."}, {"text": "hi"}]}]


def test_max_tokens_maps_to_length(gateway, setup) -> None:
    reply = client(gateway, setup).chat.completions.create(model=FLASH, max_tokens=2, messages=HI)
    assert reply.choices[0].finish_reason == "length" and reply.choices[0].message.content == "tok0 tok1 "


def test_images_are_inlined(gateway, setup, fake) -> None:
    client(gateway, setup).chat.completions.create(model=FLASH, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": PNG}},
        {"type": "image_url", "image_url": {"url": f"{fake.base_url}/img/cat.png"}}]}])
    parts = fake.requests[-1].json["contents"][0]["parts"]
    inline = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG_1X1).decode()}}
    assert parts == [{"text": "What is in these?"}, inline, inline]


def test_unreachable_image_is_a_clear_400(gateway, setup, fake) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(gateway, setup).chat.completions.create(model=FLASH, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": f"{fake.base_url}/missing"}}]}])
    assert caught.value.response.json()["error"]["code"] == "invalid_image_url"


def test_an_image_on_a_private_address_is_never_fetched(gateway, setup, fake) -> None:
    for url in ("http://10.0.0.1/cat.png", "http://169.254.169.254/latest/meta-data/", "http://[::1]/x.png"):
        with pytest.raises(openai.BadRequestError) as caught:
            client(gateway, setup).chat.completions.create(model=FLASH, messages=[{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": url}}]}])
        error = caught.value.response.json()["error"]
        assert error["code"] == "invalid_image_url" and "not a public address" in error["message"], error


def test_tools_full_round_trip_with_thought_signature(gateway, setup, fake) -> None:
    fake.signature = "c2lnbmF0dXJlLTE="
    sdk = client(gateway, setup)
    question = [{"role": "user", "content": "Weather in Paris?"}]
    first = sdk.chat.completions.create(model=FLASH, messages=question, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and first.choices[0].message.content is None
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"x": 1}
    declaration = fake.requests[-1].json["tools"][0]["functionDeclarations"][0]
    assert declaration == {"name": "get_weather", "description": "Weather of a city", "parameters": {
        "type": "object", "required": ["city"], "properties": {
            "city": {"type": "string"}, "unit": {"type": "string", "nullable": True, "enum": ["C", "F"]}}}}
    history = [*question, first.choices[0].message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]
    second = sdk.chat.completions.create(model=FLASH, messages=history, tools=[WEATHER])
    assert second.choices[0].message.content == "The tool returned sunny, 21 C"
    assert second.choices[0].finish_reason == "stop"
    contents = fake.requests[-1].json["contents"]
    assert contents[1] == {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"x": 1}},
                                                        "thoughtSignature": "c2lnbmF0dXJlLTE="}]}
    assert contents[2] == {"role": "user", "parts": [{"functionResponse": {
        "name": "get_weather", "response": {"content": "sunny, 21 C"}}}]}
    sdk.chat.completions.create(model=FLASH, messages=question, tools=[WEATHER], tool_choice="required")
    assert fake.requests[-1].json["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    sdk.chat.completions.create(model=FLASH, messages=question, tools=[WEATHER],
                                tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert fake.requests[-1].json["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"] == ["get_weather"]


def test_stream_with_usage(gateway, admin, setup, fake) -> None:
    chunks = list(client(gateway, setup).chat.completions.create(
        model=FLASH, messages=HI, stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "tok0 tok1 tok2 tok3 tok4 "
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (10, 5)
    log = wait_log(admin, setup)
    assert log["is_stream"] and log["quota"] == math.ceil(2 * (10 + 5 * 3))
    sent = fake.requests[-1]
    assert sent.path == f"/v1beta/models/{FLASH}:streamGenerateContent" and sent.query == {"alt": "sse"}


def test_stream_tool_call_and_usage_without_the_option(gateway, admin, setup) -> None:
    chunks = list(client(gateway, setup).chat.completions.create(
        model=FLASH, messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER], stream=True))
    assert all(c.choices for c in chunks)
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1 and calls[0].index == 0 and calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"x": 1}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    log = wait_log(admin, setup)
    assert (log["prompt_tokens"], log["completion_tokens"]) == (10, 5)


def test_thoughts_and_cached_tokens(gateway, admin, setup, fake) -> None:
    fake.thoughts, fake.cached = 7, 4
    reply = client(gateway, setup).chat.completions.create(model=FLASH, messages=HI)
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (14, 12)
    assert reply.usage.prompt_tokens_details.cached_tokens == 4
    assert reply.usage.completion_tokens_details.reasoning_tokens == 7
    assert wait_log(admin, setup)["quota"] == math.ceil(2 * (14 + 12 * 3))


@pytest.mark.parametrize(("status", "error", "code"), [
    (429, openai.RateLimitError, "RESOURCE_EXHAUSTED"),
    (500, openai.InternalServerError, "INTERNAL"),
    (503, openai.InternalServerError, "UNAVAILABLE"),
    (403, openai.PermissionDeniedError, "PERMISSION_DENIED"),
])
def test_errors_in_openai_shape(gateway, setup, fake, status, error, code) -> None:
    fake.fail(status)
    with pytest.raises(error) as caught:
        client(gateway, setup).chat.completions.create(model=FLASH, messages=HI)
    assert caught.value.status_code == status
    body = caught.value.response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"} and body["code"] == code


def test_invalid_key_is_a_401(gateway, admin, fake, owner) -> None:
    made = make_setup(admin, fake, owner, key="AIza-wrong")
    try:
        with pytest.raises(openai.AuthenticationError) as caught:
            client(gateway, made).chat.completions.create(model=FLASH, messages=HI)
        error = caught.value.response.json()["error"]
        assert caught.value.status_code == 401 and "API key not valid" in error["message"]
        assert error["type"] == "authentication_error"
    finally:
        admin.delete_channel(made["channel"]["id"])


def test_upstream_validation_error_reaches_the_client(gateway, admin, fake, owner) -> None:
    made = make_setup(admin, fake, owner, config=json.dumps({"safety_setting": "BLOCK_EVERYTHING"}))
    try:
        with pytest.raises(openai.BadRequestError) as caught:
            client(gateway, made).chat.completions.create(model=FLASH, messages=HI)
        error = caught.value.response.json()["error"]
        assert "safety_settings" in error["message"] and error["code"] == "INVALID_ARGUMENT"
    finally:
        admin.delete_channel(made["channel"]["id"])


def test_malformed_upstream_body(gateway, setup, fake) -> None:
    fake.malformed = True
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway, setup).chat.completions.create(model=FLASH, messages=HI)
    assert caught.value.status_code == 502
    assert caught.value.response.json()["error"]["code"] == "bad_response_body"


def test_blocked_prompt(gateway, setup, fake) -> None:
    fake.block_prompt = "SAFETY"
    with pytest.raises(openai.BadRequestError) as caught:
        client(gateway, setup).chat.completions.create(model=FLASH, messages=HI)
    assert caught.value.response.json()["error"]["code"] == "content_filter"
    chunks = list(client(gateway, setup).chat.completions.create(model=FLASH, messages=HI, stream=True))
    assert chunks[-1].choices[0].finish_reason == "content_filter"


def test_cut_stream_is_billed_for_delivered_text(gateway, admin, setup, fake) -> None:
    fake.hang_after_chunks = 2
    chunks = list(client(gateway, setup).chat.completions.create(model=FLASH, messages=HI, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "tok0 tok1 "
    log = wait_log(admin, setup)
    assert log["completion_tokens"] >= 2 and log["prompt_tokens"] > 0


def test_embeddings_via_batch_embed_contents(gateway, admin, setup, fake) -> None:
    reply = client(gateway, setup).embeddings.create(model="text-embedding-004", input=["a b", "c"],
                                                     dimensions=4)
    assert [d.embedding for d in reply.data] == [[0.125, 0.25, 0.375, 0.5], [1.125, 1.25, 1.375, 1.5]]
    assert [d.index for d in reply.data] == [0, 1] and reply.usage.prompt_tokens > 0
    sent = fake.requests[-1]
    assert sent.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert sent.json == {"requests": [
        {"model": "models/text-embedding-004", "outputDimensionality": 4, "content": {"parts": [{"text": "a b"}]}},
        {"model": "models/text-embedding-004", "outputDimensionality": 4, "content": {"parts": [{"text": "c"}]}}]}
    log = wait_log(admin, setup)
    assert log["prompt_tokens"] == reply.usage.prompt_tokens and log["quota"] == reply.usage.prompt_tokens
    b64 = client(gateway, setup).embeddings.create(model="text-embedding-004", input="x", dimensions=2,
                                                   encoding_format="base64")
    packed = base64.b64decode(b64.data[0].embedding)
    assert struct.unpack("<2f", packed) == (0.125, 0.25)


def test_api_version_from_config_and_legacy_other(gateway, admin, fake, owner) -> None:
    for fields in ({"config": json.dumps({"api_version": "v1"})}, {"other": "v1alpha"}):
        made = make_setup(admin, fake, owner, **fields)
        try:
            client(gateway, made).chat.completions.create(model=FLASH, messages=HI)
            assert fake.requests[-1].path.split("/")[1] == fields.get("other", "v1")
        finally:
            admin.delete_channel(made["channel"]["id"])


def test_other_endpoints_are_refused(gateway, setup) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway, setup).completions.create(model=FLASH, prompt="hi")
    assert caught.value.status_code == 501


def test_channel_test_and_registry(gateway, admin, setup) -> None:
    result = admin.root.get(f"/api/channel/test/{setup['channel']['id']}").json()
    assert result["success"], result
    types = {t["id"]: t for t in api(admin.root, "GET", "/api/channel/types")}
    assert types[24]["name"] == "Google Gemini" and "gemini-2.5-pro" in types[24]["default_models"]
    assert {f["key"] for f in types[24]["config_fields"]} == {"api_version", "safety_setting"}
