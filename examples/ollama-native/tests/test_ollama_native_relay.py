"""The example Ollama plugin (channel type 1030) through a real gateway, driven by the official
openai SDK, against a fake Ollama server (tests/fakes/ollama_upstream.py)."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import openai
import pytest
from oneapi_example_ollama import CHANNEL_TYPE, PRICES

from tests.conftest import Admin, GatewayWorld, new_token, start_world, wait_logs
from tests.fakes._server import PNG_1X1
from tests.fakes.ollama_upstream import PROMPT_TOKENS, FakeOllama
from tests.gateway import GatewayProcess, api

pytestmark = pytest.mark.timeout(60)

KEY = "ollama-proxy-key"
MODEL = "gemma3"  # priced by the plugin: (0.15, 3)
GROUP_RATIO = 1.5  # the default group's ratio in this gateway, so that every factor of the price counts
HI = [{"role": "user", "content": "hi"}]
TEXT = "tok0 tok1 tok2 tok3 tok4 "
PNG_B64 = base64.b64encode(PNG_1X1).decode()


# --- the world: one gateway (with the plugin installed) and one fake Ollama for the module ---


@pytest.fixture(scope="module")
def relay() -> Iterator[GatewayWorld]:
    with ExitStack() as stack:
        world = start_world(stack, "ollama")  # no ModelRatio set: the plugin's default prices apply
        world.admin.option("GroupRatio", json.dumps({"default": GROUP_RATIO, "vip": 1, "svip": 1}))
        yield world


@pytest.fixture(scope="module")
def gateway(relay: GatewayWorld) -> GatewayProcess:
    return relay.gateway


@pytest.fixture(scope="module")
def admin(relay: GatewayWorld) -> Admin:
    return relay.admin


@pytest.fixture(scope="module")
def fake(relay: GatewayWorld) -> FakeOllama:
    return relay.fake(FakeOllama, expected_key=KEY)


def make_setup(relay: GatewayWorld, fake: FakeOllama, **fields: Any) -> dict[str, Any]:
    """A channel of type 1030 to the fake and a fresh token, so that the consume logs of the
    token are the test's own."""
    channel = relay.admin.channel(fake.base_url, "gemma3,llava",
                                  **{"type": CHANNEL_TYPE, "key": KEY, **fields})
    assert relay.owner is not None
    return {"channel": channel, "user": relay.owner["user"], "token": new_token(relay.admin, relay.owner)}


@pytest.fixture
def setup(relay: GatewayWorld, fake: FakeOllama) -> Iterator[dict[str, Any]]:
    fake.reset()
    made = make_setup(relay, fake)
    yield made
    relay.admin.delete_channel(made["channel"]["id"])
    fake.reset()


def client(gateway: GatewayProcess, setup: dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-" + setup["token"]["key"], base_url=gateway.base_url + "/v1",
                         max_retries=0)


def wait_log(admin: Admin, setup: dict[str, Any]) -> dict[str, Any]:
    """The one consume log of the test's token."""
    logs = wait_logs(admin, setup["token"]["name"], 1)
    assert len(logs) == 1, logs
    return logs[0]


def expected_quota(model: str, prompt: int, completion: int) -> int:
    """The core's formula: ceil(group ratio × model ratio × (prompt + completion × completion ratio))."""
    ratio, completion_ratio = PRICES[model]
    return math.ceil(round(GROUP_RATIO * ratio * (prompt + completion * completion_ratio), 6))


def assert_nothing_charged(admin: Admin, setup: dict[str, Any]) -> None:
    admin.settled(setup["user"]["id"])
    assert admin.logs(token_name=setup["token"]["name"], type=2) == []


# --- request and response ---


def test_request_is_converted_to_ollamas_format(gateway, setup, fake) -> None:
    reply = client(gateway, setup).chat.completions.create(
        model=MODEL, temperature=0.5, top_p=0.9, max_tokens=100, stop="tok3", seed=7,
        response_format={"type": "json_object"},
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a"},
                  {"role": "assistant", "content": "b"},
                  {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                               {"type": "image_url",
                                                "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}]}])
    assert reply.choices[0].message.content == "tok0 tok1 tok2 "
    sent = fake.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/api/chat")
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json == {
        "model": MODEL, "stream": False, "format": "json",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a"},
                     {"role": "assistant", "content": "b"},
                     {"role": "user", "content": "What is this?", "images": [PNG_B64]}],
        "options": {"temperature": 0.5, "top_p": 0.9, "seed": 7, "num_predict": 100, "stop": ["tok3"]},
    }


def test_answer_is_converted_and_billed_exactly(gateway, admin, setup, fake) -> None:
    reply = client(gateway, setup).chat.completions.create(model=MODEL, messages=HI)
    choice = reply.choices[0]
    assert (choice.message.role, choice.message.content, choice.finish_reason) == ("assistant", TEXT, "stop")
    assert reply.object == "chat.completion" and reply.model == MODEL and reply.id.startswith("chatcmpl-")
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (PROMPT_TOKENS, 5)
    log = wait_log(admin, setup)
    assert (log["prompt_tokens"], log["completion_tokens"]) == (PROMPT_TOKENS, 5)
    assert log["quota"] == expected_quota(MODEL, PROMPT_TOKENS, 5) == 10  # ceil(1.5 × 0.15 × (26 + 5 × 3))
    assert not log["is_stream"] and log["model_name"] == MODEL


def test_stream_with_usage(gateway, admin, setup, fake) -> None:
    chunks = list(client(gateway, setup).chat.completions.create(
        model=MODEL, messages=HI, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert all(c.object == "chat.completion.chunk" and c.model == MODEL for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (PROMPT_TOKENS, 5)
    log = wait_log(admin, setup)
    assert log["is_stream"] and (log["prompt_tokens"], log["completion_tokens"]) == (PROMPT_TOKENS, 5)
    assert log["quota"] == expected_quota(MODEL, PROMPT_TOKENS, 5)
    sent = fake.requests[-1]
    assert sent.json["stream"] is True and "stream_options" not in sent.json
    assert sent.headers["accept"] == "application/x-ndjson"


def test_stream_without_the_usage_option_is_billed_from_ollamas_counts(gateway, admin, setup) -> None:
    chunks = list(client(gateway, setup).chat.completions.create(model=MODEL, messages=HI, stream=True))
    assert all(c.choices and c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    log = wait_log(admin, setup)
    assert (log["prompt_tokens"], log["completion_tokens"]) == (PROMPT_TOKENS, 5)
    assert log["quota"] == expected_quota(MODEL, PROMPT_TOKENS, 5)


def test_max_tokens_ends_with_length(gateway, setup) -> None:
    sdk = client(gateway, setup)
    reply = sdk.chat.completions.create(model=MODEL, max_tokens=2, messages=HI)
    assert (reply.choices[0].message.content, reply.choices[0].finish_reason) == ("tok0 tok1 ", "length")
    chunks = list(sdk.chat.completions.create(model=MODEL, max_completion_tokens=2, messages=HI, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "tok0 tok1 "
    assert chunks[-1].choices[0].finish_reason == "length"


def test_a_cached_prompt_is_billed_with_the_gateways_estimate(gateway, admin, setup, fake) -> None:
    fake.prompt_cached = True  # Ollama leaves prompt_eval_count out
    reply = client(gateway, setup).chat.completions.create(model=MODEL, messages=HI)
    assert 0 < reply.usage.prompt_tokens < PROMPT_TOKENS and reply.usage.completion_tokens == 5
    log = wait_log(admin, setup)
    assert (log["prompt_tokens"], log["completion_tokens"]) == (reply.usage.prompt_tokens, 5)
    assert log["quota"] == expected_quota(MODEL, reply.usage.prompt_tokens, 5)


# --- errors ---


@pytest.mark.parametrize(("status", "error", "etype", "message"), [
    (400, openai.BadRequestError, "invalid_request_error", "ollama says 400"),
    (429, openai.RateLimitError, "rate_limit_error", "saturated"),  # the core's words for a 429
    (500, openai.InternalServerError, "upstream_error", "ollama says 500"),
])
def test_upstream_errors_in_openai_shape(gateway, admin, setup, fake, status, error, etype, message) -> None:
    fake.fail(status, {"error": f"ollama says {status}"})
    with pytest.raises(error) as caught:
        client(gateway, setup).chat.completions.create(model=MODEL, messages=HI)
    assert caught.value.status_code == status
    body = caught.value.response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    assert message in body["message"] and body["type"] == etype
    assert_nothing_charged(admin, setup)


def test_a_model_ollama_has_not_pulled_is_a_404_model_not_found(gateway, admin, setup, fake) -> None:
    fake.models = ("gemma3",)
    with pytest.raises(openai.NotFoundError) as caught:
        client(gateway, setup).chat.completions.create(model="llava", messages=HI)
    body = caught.value.response.json()["error"]
    assert 'model "llava" not found' in body["message"] and body["code"] == "model_not_found"
    assert_nothing_charged(admin, setup)


def test_an_error_mid_stream_ends_the_stream_and_bills_what_was_delivered(gateway, admin, setup, fake) -> None:
    fake.error_after_chunks = 2
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client(gateway, setup).chat.completions.create(model=MODEL, messages=HI, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "tok0 tok1 "
    assert "an error was encountered while running the model" in caught.value.message
    log = wait_log(admin, setup)  # no usage came: the core counted the delivered text
    assert log["completion_tokens"] >= 2 and log["prompt_tokens"] > 0


def test_a_wrong_key_is_a_401(gateway, relay, fake) -> None:
    made = make_setup(relay, fake, key="wrong-key")
    try:
        with pytest.raises(openai.AuthenticationError) as caught:
            client(gateway, made).chat.completions.create(model=MODEL, messages=HI)
        assert caught.value.response.json()["error"]["type"] == "authentication_error"
    finally:
        relay.admin.delete_channel(made["channel"]["id"])


def test_what_the_example_does_not_convert_is_refused(gateway, admin, setup, fake) -> None:
    sdk = client(gateway, setup)
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=HI, tools=[tool])
    assert caught.value.response.json()["error"]["param"] == "tools"
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}])
    assert caught.value.response.json()["error"]["code"] == "invalid_image_url"
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.embeddings.create(model=MODEL, input="hi")
    assert caught.value.status_code == 501
    assert fake.requests == []  # refused before anything went upstream
    assert_nothing_charged(admin, setup)


# --- settings: the plugin's option and the channel's config field ---


def test_keep_alive_option_and_num_ctx_config_field(gateway, relay, fake) -> None:
    made = make_setup(relay, fake, config=json.dumps({"num_ctx": 8192}))
    try:
        sdk = client(gateway, made)
        sdk.chat.completions.create(model=MODEL, messages=HI)
        assert "keep_alive" not in fake.requests[-1].json  # blank: Ollama's default
        assert fake.requests[-1].json["options"] == {"num_ctx": 8192}
        for value, sent in (("10m", "10m"), ("-1", -1), ("300", 300)):
            relay.admin.option("OllamaNativeKeepAlive", value)
            sdk.chat.completions.create(model=MODEL, messages=HI, stream=True).close()
            assert fake.requests[-1].json["keep_alive"] == sent
        refused = relay.admin.root.put("/api/option/", json={"key": "OllamaNativeKeepAlive", "value": "soon"})
        assert not refused.json()["success"] and "duration" in refused.json()["message"]
    finally:
        relay.admin.option("OllamaNativeKeepAlive", "")
        relay.admin.delete_channel(made["channel"]["id"])


def test_registrations_and_the_channel_test(gateway, admin, setup, fake) -> None:
    result = admin.root.get(f"/api/channel/test/{setup['channel']['id']}").json()
    assert result["success"], result
    assert fake.requests[-1].json["options"] == {"num_predict": 1} and fake.requests[-1].json["stream"] is False
    types = {t["id"]: t for t in api(admin.root, "GET", "/api/channel/types")}
    assert types[CHANNEL_TYPE]["name"] == "Ollama (native API, example)"
    assert types[CHANNEL_TYPE]["default_models"] == list(PRICES)
    assert [f["key"] for f in types[CHANNEL_TYPE]["config_fields"]] == ["num_ctx"]
    specs = {s["key"]: s for s in api(admin.root, "GET", "/api/option/specs")}
    assert specs["OllamaNativeKeepAlive"]["plugin"] == "ollama_native"
    plugins = {p["name"]: p for p in api(admin.root, "GET", "/api/plugins")}
    assert plugins["ollama_native"]["distribution"] == "oneapi-example-ollama"
