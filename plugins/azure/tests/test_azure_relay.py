"""Azure OpenAI channels (type 3) through a real gateway, driven by the official openai SDK."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import Admin, new_token, wait_logs
from tests.fakes.azure_upstream import FakeAzure
from tests.gateway import GatewayProcess, api

pytestmark = pytest.mark.timeout(60)

KEY = "azure-key-upstream"
TURBO = "gpt-3.5-turbo"
HI = [{"role": "user", "content": "hi"}]
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}


@pytest.fixture(scope="module")
def relay(plugin_relay: Any) -> Any:
    return plugin_relay("azure", prices={TURBO: (2, 3), "gpt-4o": 1})


@pytest.fixture(scope="module")
def fake(relay: Any) -> FakeAzure:
    return relay.fake(FakeAzure, expected_key=KEY)


def make_setup(admin: Admin, fake: FakeAzure, owner: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base_url = fields.pop("base_url", fake.base_url)
    channel = admin.channel(base_url, f"{TURBO},gpt-4o,text-embedding-3-small,dall-e-3,tts-1,whisper-1",
                            **{"type": 3, "key": KEY, **fields})
    token = new_token(admin, owner, remain_quota=50_000_000)
    return {"channel": channel, "user": owner["user"], "token": token}


@pytest.fixture
def setup(admin: Admin, fake: FakeAzure, owner: dict[str, Any]) -> Iterator[dict[str, Any]]:
    fake.reset()
    made = make_setup(admin, fake, owner)
    yield made
    admin.delete_channel(made["channel"]["id"])
    fake.reset()


@pytest.fixture
def channel_with(admin: Admin, fake: FakeAzure, owner: dict[str, Any]) -> Iterator[Any]:
    """Make a channel with extra fields; deleted after the test."""
    made: list[dict[str, Any]] = []

    def make(**fields: Any) -> dict[str, Any]:
        made.append(make_setup(admin, fake, owner, **fields))
        return made[-1]

    fake.reset()
    yield make
    for setup in made:
        admin.root.delete(f"/api/channel/{setup['channel']['id']}")  # some tests delete early
    fake.reset()


def client(gateway: GatewayProcess, setup: dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-" + setup["token"]["key"], base_url=gateway.base_url + "/v1",
                         max_retries=0)


def wait_log(admin: Admin, setup: dict[str, Any]) -> dict[str, Any]:
    """The one consume log of the test's token."""
    logs = wait_logs(admin, setup["token"]["name"], 1)
    assert len(logs) == 1, logs
    return logs[0]


def test_url_api_version_key_header_and_dotless_deployment(gateway, admin, setup, fake) -> None:
    reply = client(gateway, setup).chat.completions.create(model=TURBO, messages=HI)
    assert reply.choices[0].message.content == "tok0 tok1 tok2 tok3 tok4 "
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (10, 5)
    log = wait_log(admin, setup)
    assert log["quota"] == math.ceil(2 * (10 + 5 * 3))
    sent = fake.requests[-1]
    assert sent.path == "/openai/deployments/gpt-35-turbo/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == KEY and "authorization" not in sent.headers
    assert sent.json["model"] == TURBO


def test_explicit_mapping_is_the_deployment_verbatim(gateway, channel_with, fake) -> None:
    setup = channel_with(model_mapping=json.dumps({"gpt-4o": "prod.gpt-4o"}))
    client(gateway, setup).chat.completions.create(model="gpt-4o", messages=HI)
    assert fake.requests[-1].path == "/openai/deployments/prod.gpt-4o/chat/completions"


def test_api_version_from_config_and_legacy_other(gateway, admin, channel_with, fake) -> None:
    setup = channel_with(config=json.dumps({"api_version": "2025-04-01-preview"}))
    client(gateway, setup).chat.completions.create(model=TURBO, messages=HI)
    assert fake.requests[-1].query == {"api-version": "2025-04-01-preview"}
    admin.delete_channel(setup["channel"]["id"])  # one channel per model at a time
    legacy = channel_with(other="2024-06-01")
    client(gateway, legacy).chat.completions.create(model=TURBO, messages=HI)
    assert fake.requests[-1].query == {"api-version": "2024-06-01"}


def test_v1_api(gateway, channel_with, fake) -> None:
    setup = channel_with(config=json.dumps({"api_version": "v1"}), base_url=fake.base_url + "/openai")
    client(gateway, setup).chat.completions.create(model=TURBO, messages=HI)
    sent = fake.requests[-1]
    assert sent.path == "/openai/v1/chat/completions" and sent.query == {} and sent.json["model"] == TURBO


def test_stream_with_usage_drops_the_prompt_filter_chunk(gateway, admin, setup, fake) -> None:
    chunks = list(client(gateway, setup).chat.completions.create(
        model=TURBO, messages=HI, stream=True, stream_options={"include_usage": True}))
    assert all(c.choices for c in chunks[:-1]) and chunks[0].id  # Azure's empty first chunk is gone
    assert "".join(c.choices[0].delta.content or "" for c in chunks[:-1]) == "tok0 tok1 tok2 tok3 tok4 "
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 5
    assert wait_log(admin, setup)["quota"] == math.ceil(2 * (10 + 5 * 3))


def test_stream_usage_is_asked_for_and_stripped(gateway, admin, setup, fake) -> None:
    chunks = list(client(gateway, setup).chat.completions.create(model=TURBO, messages=HI, stream=True))
    assert all(c.choices for c in chunks)
    assert fake.requests[-1].json["stream_options"] == {"include_usage": True}
    log = wait_log(admin, setup)
    assert (log["prompt_tokens"], log["completion_tokens"]) == (10, 5)


def test_old_api_version_streams_without_stream_options(gateway, admin, channel_with, fake) -> None:
    setup = channel_with(config=json.dumps({"api_version": "2024-06-01"}))
    chunks = list(client(gateway, setup).chat.completions.create(model=TURBO, messages=HI, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "tok0 tok1 tok2 tok3 tok4 "
    assert "stream_options" not in fake.requests[-1].json
    assert wait_log(admin, setup)["completion_tokens"] > 0  # counted locally
    chunks = list(client(gateway, setup).chat.completions.create(  # refused by Azure: dropped
        model=TURBO, messages=HI, stream=True, stream_options={"include_usage": True}))
    assert chunks and "stream_options" not in fake.requests[-1].json


def test_prompt_content_filter_error_passes_through(gateway, setup, fake) -> None:
    fake.content_filter = "prompt"
    with pytest.raises(openai.BadRequestError) as caught:
        client(gateway, setup).chat.completions.create(model=TURBO, messages=HI)
    error = caught.value.response.json()["error"]
    assert error["code"] == "content_filter" and error["param"] == "prompt"
    assert "content management policy" in error["message"]
    assert error["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert error["innererror"]["content_filter_result"]["violence"]["filtered"] is True


def test_completion_content_filter_finish_reason(gateway, setup, fake) -> None:
    fake.content_filter = "completion"
    reply = client(gateway, setup).chat.completions.create(model=TURBO, messages=HI)
    assert reply.choices[0].finish_reason == "content_filter"
    chunks = list(client(gateway, setup).chat.completions.create(model=TURBO, messages=HI, stream=True))
    assert chunks[-1].choices[0].finish_reason == "content_filter"


def test_tools_round_trip(gateway, setup, fake) -> None:
    sdk = client(gateway, setup)
    first = sdk.chat.completions.create(model=TURBO, messages=HI, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    history = [*HI, first.choices[0].message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    second = sdk.chat.completions.create(model=TURBO, messages=history, tools=[WEATHER])
    assert second.choices[0].message.content == "The tool returned sunny"
    assert fake.requests[-1].json["messages"][1]["tool_calls"][0]["id"] == call.id


@pytest.mark.parametrize(("status", "error", "message"), [
    (401, openai.AuthenticationError, "Access denied"),
    (429, openai.RateLimitError, ""),
    (500, openai.InternalServerError, "server had an error"),
])
def test_errors_in_openai_shape(gateway, setup, fake, status, error, message) -> None:
    fake.fail(status)
    with pytest.raises(error) as caught:
        client(gateway, setup).chat.completions.create(model=TURBO, messages=HI)
    assert caught.value.status_code == status
    body = caught.value.response.json()["error"]
    assert set(body) == {"message", "type", "param", "code"} and message in body["message"]


def test_missing_deployment_and_malformed_body(gateway, setup, fake) -> None:
    fake.deployments = ["gpt-4o"]
    with pytest.raises(openai.NotFoundError) as caught:
        client(gateway, setup).chat.completions.create(model=TURBO, messages=HI)
    assert caught.value.response.json()["error"]["code"] == "DeploymentNotFound"
    fake.deployments = None
    fake.fail(502, "<html><body>Bad gateway</body></html>")
    with pytest.raises(openai.APIStatusError) as caught:
        client(gateway, setup).chat.completions.create(model=TURBO, messages=HI)
    assert caught.value.status_code == 502 and caught.value.response.json()["error"]["code"] == "bad_response_body"


def test_embeddings_and_images(gateway, setup, fake) -> None:
    sdk = client(gateway, setup)
    reply = sdk.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(reply.data) == 2 and reply.usage.prompt_tokens == 6
    assert fake.requests[-1].path == "/openai/deployments/text-embedding-3-small/embeddings"
    image = sdk.images.generate(model="dall-e-3", prompt="a cat", size="1024x1024")
    assert image.data[0].url.endswith("/img/1.png") and image.data[0].revised_prompt == "a cat"
    assert fake.requests[-1].path == "/openai/deployments/dall-e-3/images/generations"


def test_audio_speech_and_transcription(gateway, setup, fake) -> None:
    sdk = client(gateway, setup)
    speech = sdk.audio.speech.create(model="tts-1", voice="alloy", input="hello")
    assert len(speech.content) == 32 * 5
    assert fake.requests[-1].path == "/openai/deployments/tts-1/audio/speech"
    text = sdk.audio.transcriptions.create(model="whisper-1", file=("a.mp3", b"ID3fake", "audio/mpeg"))
    assert text.text.startswith("The quick brown fox")
    sent = fake.requests[-1]
    assert sent.path == "/openai/deployments/whisper-1/audio/transcriptions" and sent.headers["api-key"] == KEY
    assert sent.form["model"] == "whisper-1" and sent.files["file"].data == b"ID3fake"


def test_channel_test_and_registry(gateway, admin, setup) -> None:
    result = admin.root.get(f"/api/channel/test/{setup['channel']['id']}").json()
    assert result["success"], result
    types = {t["id"]: t for t in api(admin.root, "GET", "/api/channel/types")}
    assert types[3]["name"] == "Azure OpenAI" and "gpt-4o" in types[3]["default_models"]
    assert types[3]["config_fields"][0]["key"] == "api_version"
    assert types[3]["config_fields"][0]["default"] == "2024-10-21"
