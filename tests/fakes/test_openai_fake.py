"""Self-test of the fake OpenAI upstream, driven by the official SDK and by raw httpx."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam

from .openai_upstream import AUDIO_SECONDS, PNG_1X1, SPEECH_BYTES_PER_CHAR, TRANSCRIPT, FakeOpenAI

TEXT = "tok0 tok1 tok2 tok3 tok4 "
TOOLS: list[ChatCompletionFunctionToolParam] = [
    {"type": "function", "function": {"name": "get_x", "parameters": {"type": "object"}}}]
MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@pytest.fixture(name="server", scope="module")
def _server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(name="fake")
def _fake(server: FakeOpenAI) -> FakeOpenAI:
    server.reset()
    return server


@pytest.fixture(name="client")
def _client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fake.base_url + "/v1", api_key="sk-test", max_retries=0) as client:
        yield client


@pytest.fixture(name="http")
def _http(fake: FakeOpenAI) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, headers={"Authorization": "Bearer sk-test"}) as http:
        yield http


def sse_events(raw: str) -> list[str]:
    """The data payloads of an SSE body, asserting the framing."""
    assert raw.endswith("data: [DONE]\n\n")
    blocks = raw.split("\n\n")[:-2]
    assert all(block.startswith("data: ") for block in blocks)
    return [block.removeprefix("data: ") for block in blocks]


def test_lifecycle_and_loopback() -> None:
    fake = FakeOpenAI(latency=0.0)
    with fake:
        assert fake.base_url == f"http://127.0.0.1:{fake.port}" and fake.port > 0
        assert httpx.get(fake.base_url + "/v1/models").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(fake.base_url + "/v1/models")
    with fake:  # a restart keeps the port
        assert httpx.get(fake.base_url + "/v1/models").status_code == 200
    with pytest.raises(TypeError):
        FakeOpenAI(no_such_knob=1)


def test_chat_non_stream(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="gpt-x", messages=MESSAGES)
    assert out.id.startswith("chatcmpl-") and out.object == "chat.completion"
    assert out.model == "gpt-x" and out.created > 0
    choice = out.choices[0]
    assert (choice.index, choice.finish_reason, choice.logprobs) == (0, "stop", None)
    assert choice.message.role == "assistant" and choice.message.content == TEXT
    assert out.usage is not None
    assert out.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}) == {
        "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    [rec] = fake.requests
    assert (rec.method, rec.path) == ("POST", "/v1/chat/completions")
    assert rec.headers["authorization"] == "Bearer sk-test"
    assert rec.json["messages"] == MESSAGES and json.loads(rec.body) == rec.json


def test_chat_n_and_usage_override(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.chunk_count, fake.usage = 3, {"prompt_tokens": 7}
    out = client.chat.completions.create(model="m", messages=MESSAGES, n=2)
    assert [c.index for c in out.choices] == [0, 1]
    assert all(c.message.content == "tok0 tok1 tok2 " for c in out.choices)
    assert out.usage is not None and out.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 7, "completion_tokens": 6, "total_tokens": 13}


def test_chat_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-x", messages=MESSAGES, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" and c.model == "gpt-x" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 15 and chunks[-1].usage.completion_tokens == 5
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_raw_and_include_usage_modes(fake: FakeOpenAI, http: httpx.Client) -> None:
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    resp = http.post("/v1/chat/completions", json=body)
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(e) for e in sse_events(resp.text)]
    assert len(events) == 1 + 5 + 1 and all("usage" not in e for e in events)
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert events[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                        "finish_reason": "stop"}
    fake.include_usage = "always"
    events = [json.loads(e) for e in sse_events(http.post("/v1/chat/completions", json=body).text)]
    assert events[-1]["choices"] == [] and events[-1]["usage"]["prompt_tokens"] == 10
    fake.include_usage = "never"
    body["stream_options"] = {"include_usage": True}
    events = [json.loads(e) for e in sse_events(http.post("/v1/chat/completions", json=body).text)]
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    body["stream"] = False
    assert "usage" not in http.post("/v1/chat/completions", json=body).json()


def test_chat_stream_n_choices(fake: FakeOpenAI, http: httpx.Client) -> None:
    fake.chunk_count = 2
    body = {"model": "m", "messages": MESSAGES, "stream": True, "n": 3}
    events = [json.loads(e) for e in sse_events(http.post("/v1/chat/completions", json=body).text)]
    texts = ["", "", ""]
    for event in events:
        for choice in event["choices"]:
            texts[choice["index"]] += choice["delta"].get("content") or ""
    assert texts == ["tok0 tok1 "] * 3


def test_tool_calls(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="m", messages=MESSAGES, tools=TOOLS)
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_x" and json.loads(call.function.arguments) == {"x": 1}

    follow_up: list[Any] = [*MESSAGES, choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "1"}]
    out = client.chat.completions.create(model="m", messages=follow_up, tools=TOOLS)
    assert out.choices[0].finish_reason == "stop" and out.choices[0].message.content == TEXT


def test_tool_calls_stream(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(model="m", messages=MESSAGES, tools=TOOLS) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.function.name == "get_x" and json.loads(call.function.arguments) == {"x": 1}


def test_completions(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    out = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say")
    assert out.object == "text_completion" and out.id.startswith("cmpl-")
    assert out.choices[0].text == TEXT and out.choices[0].finish_reason == "stop"
    assert out.usage is not None and out.usage.total_tokens == 15
    chunks = list(client.completions.create(model="m", prompt="say", stream=True,
                                            stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == TEXT
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_embeddings(client: openai.OpenAI, http: httpx.Client) -> None:
    # the SDK asks for base64 and decodes it
    out = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert [d.index for d in out.data] == [0, 1] and out.model == "text-embedding-3-small"
    assert out.data[1].embedding == [1 + (j + 1) / 8 for j in range(8)]
    assert (out.usage.prompt_tokens, out.usage.total_tokens) == (6, 6)
    raw = http.post("/v1/embeddings", json={"model": "e", "input": "one"}).json()
    assert raw["object"] == "list" and raw["data"][0]["object"] == "embedding"
    assert raw["data"][0]["embedding"] == [(j + 1) / 8 for j in range(8)]
    assert raw["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


def test_moderations(client: openai.OpenAI) -> None:
    out = client.moderations.create(input=["x", "y"])
    assert out.id.startswith("modr-") and len(out.results) == 2
    assert out.results[0].flagged is False and out.results[0].categories.violence is False


def test_images(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    out = client.images.generate(model="dall-e-3", prompt="a cat", n=2)
    assert [d.url for d in out.data or []] == [f"{fake.base_url}/img/{k}.png" for k in (1, 2)]
    assert (out.data or [])[0].revised_prompt == "a cat"
    png = httpx.get(f"{fake.base_url}/img/1.png")
    assert png.headers["content-type"] == "image/png" and png.content == PNG_1X1
    out = client.images.generate(model="dall-e-2", prompt="a cat", response_format="b64_json")
    assert base64.b64decode((out.data or [])[0].b64_json or "") == PNG_1X1


def test_speech(client: openai.OpenAI) -> None:
    resp = client.audio.speech.create(model="tts-1", voice="alloy", input="hello")
    assert resp.response.headers["content-type"] == "audio/mpeg"
    assert len(resp.content) == 5 * SPEECH_BYTES_PER_CHAR
    again = client.audio.speech.create(model="tts-1", voice="alloy", input="hellohello")
    assert again.content == resp.content * 2


def test_transcriptions_and_translations(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    audio = ("a.mp3", b"ID3fakeaudio", "audio/mpeg")
    out = client.audio.transcriptions.create(model="whisper-1", file=audio)
    assert out.text == TRANSCRIPT
    rec = fake.requests[-1]
    assert rec.form["model"] == "whisper-1" and rec.json is None
    assert rec.files["file"].filename == "a.mp3" and rec.files["file"].data == b"ID3fakeaudio"
    text = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="text")
    assert text.strip() == TRANSCRIPT
    verbose = client.audio.transcriptions.create(model="whisper-1", file=audio,
                                                 response_format="verbose_json")
    assert verbose.duration == AUDIO_SECONDS and verbose.text == TRANSCRIPT
    srt = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="srt")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:02,500\n")
    vtt = httpx.post(f"{fake.base_url}/v1/audio/translations", files={"file": audio},
                     data={"model": "whisper-1", "response_format": "vtt"})
    assert vtt.text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n")
    assert fake.requests[-1].path == "/v1/audio/translations"


def test_models(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert "gpt-4o-mini" in ids
    assert {m.object for m in client.models.list()} == {"model"}
    fake.models = ["only-one"]
    assert [m.id for m in client.models.list()] == ["only-one"]


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_billing(fake: FakeOpenAI, http: httpx.Client, prefix: str) -> None:
    fake.hard_limit_usd, fake.total_usage_cents = 20.0, 550.0
    sub = http.get(f"{prefix}/dashboard/billing/subscription").json()
    assert sub["object"] == "billing_subscription" and sub["hard_limit_usd"] == 20.0
    usage = http.get(f"{prefix}/dashboard/billing/usage",
                     params={"start_date": "2024-01-01", "end_date": "2024-02-01"}).json()
    assert usage["total_usage"] == 550.0
    assert fake.requests[-1].query == {"start_date": "2024-01-01", "end_date": "2024-02-01"}


def test_unknown_path_and_bad_json(http: httpx.Client) -> None:
    resp = http.post("/v1/nope", json={})
    assert resp.status_code == 404
    assert resp.json() == {"error": {"message": "Invalid URL (POST /v1/nope)",
                                     "type": "invalid_request_error", "param": None, "code": None}}
    assert http.get("/v1/chat/completions").status_code == 404
    bad = http.post("/v1/chat/completions", content=b"{not json",
                    headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    missing = http.post("/v1/chat/completions", json={"model": "m"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "messages"


def test_expected_key(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.expected_key = "sk-right"
    with pytest.raises(openai.AuthenticationError) as info:
        client.models.list()
    assert info.value.status_code == 401 and info.value.code == "invalid_api_key"
    assert client.with_options(api_key="sk-right").models.list().data


def test_fail_injection(fake: FakeOpenAI, client: openai.OpenAI, http: httpx.Client) -> None:
    fake.fail(429, times=2)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="m", messages=MESSAGES)
        assert info.value.code == "rate_limit_exceeded"
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices
    assert fake.fail_times == 0 and len(fake.requests) == 3

    fake.fail(502, "<html><body>Bad Gateway</body></html>")  # forever
    for _ in range(3):
        resp = http.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
        assert resp.status_code == 502 and resp.text.startswith("<html>")
        assert resp.headers["content-type"].startswith("text/html")
        with pytest.raises(json.JSONDecodeError):
            resp.json()
    fake.fail(400, {"error": {"message": "custom", "type": "x", "param": None, "code": "c"}},
              times=1)
    with pytest.raises(openai.BadRequestError) as bad:
        client.models.list()
    assert bad.value.code == "c" and "custom" in bad.value.message


def test_latency(fake: FakeOpenAI, http: httpx.Client) -> None:
    fake.latency = 0.3
    started = time.monotonic()
    assert http.get("/v1/models").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        http.get("/v1/models", timeout=0.1)


def test_chunk_interval(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.chunk_interval = 0.05
    started = time.monotonic()
    stamps = [time.monotonic() - started
              for _ in client.chat.completions.create(model="m", messages=MESSAGES, stream=True)]
    assert len(stamps) == 7 and stamps[-1] >= 6 * 0.05 * 0.9


def test_hang_close(fake: FakeOpenAI, http: httpx.Client) -> None:
    fake.hang_after_chunks = 3
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        with http.stream("POST", "/v1/chat/completions", json=body) as resp:
            for part in resp.iter_bytes():
                received += part
    assert received.count(b"data: ") == 3
    assert http.get("/v1/models").status_code == 200  # the server is still fine


def test_hang_stall(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.hang_after_chunks, fake.hang_mode = 2, "stall"
    got = []
    with pytest.raises(openai.APITimeoutError):
        stream = client.with_options(timeout=0.5).chat.completions.create(
            model="m", messages=MESSAGES, stream=True)
        for chunk in stream:
            got.append(chunk)
    assert len(got) == 2


def test_reset(fake: FakeOpenAI, http: httpx.Client) -> None:
    fake.chunk_count, fake.expected_key = 1, "sk-other"
    fake.fail(500)
    assert http.get("/v1/models").status_code == 401
    fake.reset()
    assert fake.requests == [] and fake.chunk_count == 5 and fake.expected_key is None
    assert fake.fail_status is None and http.get("/v1/models").status_code == 200
    configured = FakeOpenAI(chunk_count=2)
    configured.chunk_count = 9
    configured.reset()
    assert configured.chunk_count == 2


def test_concurrent_async_clients(fake: FakeOpenAI) -> None:
    fake.latency = 0.3

    async def run() -> list[str]:
        async with openai.AsyncOpenAI(base_url=fake.base_url + "/v1", api_key="k",
                                      max_retries=0) as client:
            async def one(i: int) -> str:
                stream = await client.chat.completions.create(
                    model=f"m{i}", messages=MESSAGES, stream=True)
                parts = [c.choices[0].delta.content async for c in stream if c.choices]
                return "".join(part or "" for part in parts)
            return await asyncio.gather(*(one(i) for i in range(20)))

    started = time.monotonic()
    assert asyncio.run(run()) == [TEXT] * 20
    assert time.monotonic() - started < 2.5
    assert sorted(r.json["model"] for r in fake.requests) == sorted(f"m{i}" for i in range(20))


def test_main_runs_in_foreground() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_upstream", "--port", str(port),
         "--latency", "0.01"],
        cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"FakeOpenAI listening on http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_start_failure_and_stop_with_stalled_stream() -> None:
    with FakeOpenAI(hang_after_chunks=1, hang_mode="stall") as fake:
        with pytest.raises(OSError):
            FakeOpenAI(fake.port).start()  # the port is taken
        with httpx.stream("POST", f"{fake.base_url}/v1/chat/completions",
                          json={"model": "m", "messages": MESSAGES, "stream": True}) as resp:
            chunks = resp.iter_bytes()
            assert next(chunks).startswith(b"data: ")
            started = time.monotonic()
            fake.stop()
            assert time.monotonic() - started < 2
            with pytest.raises(httpx.RemoteProtocolError):
                next(chunks)
