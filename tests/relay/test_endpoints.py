"""Every other /v1 endpoint, and the errors a client can provoke."""

from __future__ import annotations

import io
import math

import httpx
import openai
import pytest

from oneapi.tokenizer import Tokenizer
from tests.conftest import wait_logs
from tests.relay.conftest import client_for

pytestmark = pytest.mark.timeout(60)

SENTENCE = "The quick brown fox jumps over the lazy dog."


@pytest.fixture
def audio_setup(admin, upstream, priced):
    channel = admin.channel(upstream.base_url, "whisper-1,tts-1,dall-e-3,dall-e-2,text-embedding-3-small,"
                            "text-moderation-latest,omni-moderation-latest")
    user = admin.user()
    token = admin.token(user)
    yield {"channel": channel, "user": user, "token": token}
    admin.delete_channel(channel["id"])


def test_embeddings(gateway, admin, audio_setup) -> None:
    client = client_for(gateway, audio_setup["token"])
    result = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == 8
    (log,) = wait_logs(admin, audio_setup["token"]["name"], 1)
    assert log["prompt_tokens"] == 6 and log["quota"] == math.ceil(0.01 * 6)


def test_engines_embeddings_route(gateway, audio_setup) -> None:
    r = httpx.post(f"{gateway.base_url}/v1/engines/text-embedding-3-small/embeddings",
                   headers={"Authorization": "Bearer sk-" + audio_setup["token"]["key"]}, json={"input": "x"})
    assert r.status_code == 200 and r.json()["data"][0]["object"] == "embedding"


def test_moderations(gateway, audio_setup, upstream) -> None:
    result = client_for(gateway, audio_setup["token"]).moderations.create(input="hello")
    assert result.results[0].flagged is False
    assert upstream.requests[-1].json["model"] == "text-moderation-latest"


def test_images_priced_by_size_and_quality(gateway, admin, audio_setup) -> None:
    client = client_for(gateway, audio_setup["token"])
    image = client.images.generate(model="dall-e-3", prompt="a cat", size="1024x1792", quality="hd")
    assert image.data[0].url
    (log,) = wait_logs(admin, audio_setup["token"]["name"], 1)
    assert log["quota"] == int(20 * 1 * 3 * 1000)  # ratio 20 × hd 1024x1792 ×3 = $0.12
    with pytest.raises(openai.BadRequestError, match="size"):
        client.images.generate(model="dall-e-3", prompt="a cat", size="256x256")


def test_speech_is_binary_passthrough(gateway, admin, audio_setup) -> None:
    client = client_for(gateway, audio_setup["token"])
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input="hello world")
    assert len(audio.content) == 32 * 11  # the fake sends 32 bytes per character
    (log,) = wait_logs(admin, audio_setup["token"]["name"], 1)
    assert log["quota"] == int(11 * 7.5)


@pytest.mark.parametrize("fmt", ["json", "text", "srt", "vtt", "verbose_json"])
def test_transcription_formats_billed_by_transcript(gateway, admin, audio_setup, fmt) -> None:
    client = client_for(gateway, audio_setup["token"])
    result = client.audio.transcriptions.create(
        model="whisper-1", file=("a.mp3", io.BytesIO(b"fake-audio"), "audio/mpeg"), response_format=fmt)
    text = result if isinstance(result, str) else result.text
    assert "quick brown fox" in text
    (log,) = wait_logs(admin, audio_setup["token"]["name"], 1)
    tokens = Tokenizer().count_text("whisper-1", SENTENCE)
    assert log["completion_tokens"] == tokens and log["quota"] == math.ceil(15 * tokens)


def test_translation_multipart(gateway, admin, audio_setup) -> None:
    r = httpx.post(f"{gateway.base_url}/v1/audio/translations",
                   headers={"Authorization": "Bearer sk-" + audio_setup["token"]["key"]},
                   data={"model": "whisper-1"}, files={"file": ("a.mp3", b"x", "audio/mpeg")})
    assert r.status_code == 200 and SENTENCE in r.json()["text"]


def test_models_only_what_the_token_may_use(gateway, admin, audio_setup) -> None:
    client = client_for(gateway, audio_setup["token"])
    ids = {m.id for m in client.models.list()}
    assert {"whisper-1", "tts-1", "dall-e-3"} <= ids
    assert client.models.retrieve("tts-1").id == "tts-1"
    limited = admin.token(audio_setup["user"], models="tts-1")
    limited_client = client_for(gateway, limited)
    assert [m.id for m in limited_client.models.list()] == ["tts-1"]
    with pytest.raises(openai.NotFoundError):
        limited_client.models.retrieve("whisper-1")


def test_billing_dashboard(gateway, audio_setup) -> None:
    headers = {"Authorization": "Bearer sk-" + audio_setup["token"]["key"]}
    for prefix in ("", "/v1"):
        sub = httpx.get(f"{gateway.base_url}{prefix}/dashboard/billing/subscription", headers=headers).json()
        assert sub["hard_limit_usd"] == pytest.approx(1_000_000 / 500000)
        usage = httpx.get(f"{gateway.base_url}{prefix}/dashboard/billing/usage", headers=headers).json()
        assert usage["total_usage"] == 0


@pytest.mark.parametrize("path", ["/v1/files", "/v1/assistants", "/v1/images/edits", "/v1/fine_tuning/jobs",
                                  "/v1/threads/abc/runs", "/v1/batches"])
def test_endpoints_not_served_are_404_so_sdks_do_not_retry(gateway, path) -> None:
    r = httpx.post(gateway.base_url + path, json={})
    error = r.json()["error"]
    assert r.status_code == 404 and error["type"] == "invalid_request_error" and error["code"] == "unknown_url"
    assert "does not serve" in error["message"]


def test_bad_requests_get_openai_errors(gateway, audio_setup) -> None:
    url = gateway.base_url + "/v1/chat/completions"
    auth = {"Authorization": "Bearer sk-" + audio_setup["token"]["key"]}
    cases = [
        (httpx.post(url, headers={**auth, "Content-Type": "application/json"}, content=b"{nope"), 400, "invalid_json"),
        (httpx.post(url, headers=auth, json={"messages": []}), 400, "missing_model"),
        (httpx.post(url, headers={**auth, "Content-Type": "text/plain"}, content=b"x"), 415, "invalid_content_type"),
        (httpx.post(url, headers=auth, json=[1, 2]), 400, "invalid_json"),
        (httpx.post(gateway.base_url + "/v1/nonsense", headers=auth, json={}), 404, "unknown_url"),
        (httpx.post(url, headers=auth, json={"model": "nobody-priced-this", "messages": [{"role": "user", "content": "x"}]}),
         400, "model_price_unset"),
    ]
    for response, status, code in cases:
        body = response.json()
        assert response.status_code == status, body
        assert set(body["error"]) == {"message", "type", "param", "code"} and body["error"]["code"] == code


def test_body_too_large_is_413(gateway, audio_setup) -> None:
    r = httpx.post(gateway.base_url + "/v1/chat/completions",
                   headers={"Authorization": "Bearer sk-" + audio_setup["token"]["key"],
                            "Content-Type": "application/json"},
                   content=b'{"model": "x", "pad": "' + b"a" * (65 * 1024 * 1024) + b'"}', timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_no_channel_is_503(gateway, admin, priced) -> None:
    token = admin.token(admin.user())
    with pytest.raises(openai.InternalServerError) as err:
        client_for(gateway, token).chat.completions.create(
            model="cheap-model", messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 503 and "cheap-model" in str(err.value)


def test_html_upstream_body_is_a_clear_502(gateway, admin, upstream, priced) -> None:
    channel = admin.channel(upstream.base_url, "cheap-model")
    token = admin.token(admin.user())
    upstream.fail(502, "<html><body>Bad gateway</body></html>")
    try:
        with pytest.raises(openai.APIStatusError) as err:
            client_for(gateway, token).chat.completions.create(
                model="cheap-model", messages=[{"role": "user", "content": "x"}])
        assert err.value.status_code == 502 and f"channel {channel['id']}" in str(err.value)
    finally:
        admin.delete_channel(channel["id"])


def test_cors_on_v1(gateway) -> None:
    r = httpx.options(gateway.base_url + "/v1/chat/completions",
                      headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                               "Access-Control-Request-Headers": "authorization,content-type"})
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in r.headers["access-control-allow-headers"]
    assert "origin" in r.headers["vary"].lower()
    # a non-browser client (no Origin) gets no CORS headers; a browser's POST gets them
    r = httpx.post(gateway.base_url + "/v1/chat/completions", json={})
    assert r.status_code == 401 and "access-control-allow-origin" not in r.headers
    assert "server" not in r.headers
    r = httpx.post(gateway.base_url + "/v1/chat/completions", json={}, headers={"Origin": "https://app.example"})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "https://app.example"
