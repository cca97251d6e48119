"""Upstream timeouts: no relayed call waits forever on a hung upstream (it would hold the
client's reserved quota). First byte (connect + response headers): RELAY_TIMEOUT, default 300 s;
each read of the body (between two chunks): STREAMING_TIMEOUT, default 120 s; a channel's config
``timeout``/``stream_timeout`` overrides both. Tested on ``open_stream`` and ``Adaptor.send``
against raw upstreams that hang (no gateway process, no Quart); and, once the relay passes
``adaptor.upstream_timeouts(...)`` to ``send``, through a gateway: the quota is released."""

from __future__ import annotations

import asyncio
import inspect
import math
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from oneapi._http import UpstreamTimeouts, open_stream, relay_timeouts, upstream_client
from oneapi.adaptor import Adaptor
from oneapi.registry import ChannelType
from oneapi.relay import controller
from oneapi.relay.context import ChannelRecord, RelayContext
from oneapi.settings import Settings, load_settings
from oneapi.tokenizer import Tokenizer
from tests.conftest import wait_logs
from tests.fakes.stalling_upstream import SSE_HEADERS, StallingUpstream, chunk, json_headers

pytestmark = pytest.mark.timeout(30)

EVENT = b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
LIMIT = 0.3  # the small timeout under test
SLACK = 1.5  # how late a timeout may fire on a loaded test machine


def settings(**env: Any) -> Settings:
    return load_settings(**{"RELAY_TIMEOUT": 0, "STREAMING_TIMEOUT": 0, **env})


def channel(config: dict[str, Any] | None = None, base_url: str = "") -> ChannelRecord:
    return ChannelRecord(1, 1, "c1", "sk-upstream", 1, base_url, ("m",), ("default",), {}, 0, 0,
                         config or {}, "", "", "")


def stream_ctx(record: ChannelRecord) -> RelayContext:
    return RelayContext(request_id="r", mode="chat", endpoint="/chat/completions", token=None,  # type: ignore[arg-type]
                        user=None, model="m", body=b"", content_type="application/json",  # type: ignore[arg-type]
                        payload={"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
                        is_stream=True, channel=record, upstream_model="m")


async def post(client: httpx.AsyncClient, fake: StallingUpstream, timeout: Any) -> httpx.Response:
    return await open_stream(client, "POST", fake.base_url + "/v1/chat/completions",
                             headers={"Content-Type": "application/json"}, content=b"{}", timeout=timeout)


async def read_all(chunks: AsyncIterator[bytes], into: list[bytes]) -> None:
    async for piece in chunks:
        into.append(piece)


async def eventually(check: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


# --- which timeouts apply ---


def test_defaults_are_300_s_to_the_first_byte_and_120_s_between_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_TIMEOUT", raising=False)
    monkeypatch.delenv("STREAMING_TIMEOUT", raising=False)
    defaults = load_settings()
    assert (defaults.RELAY_TIMEOUT, defaults.STREAMING_TIMEOUT) == (0, 120)
    assert relay_timeouts(defaults, channel()) == UpstreamTimeouts(300, 120)
    assert relay_timeouts(defaults, None) == UpstreamTimeouts(300, 120)
    # 0 means the default, not "no timeout"
    assert relay_timeouts(settings(), channel()) == UpstreamTimeouts(300, 120)


def test_the_settings_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_TIMEOUT", "45")
    monkeypatch.setenv("STREAMING_TIMEOUT", "7.5")
    assert relay_timeouts(load_settings(), channel()) == UpstreamTimeouts(45, 7.5)
    monkeypatch.setenv("STREAMING_TIMEOUT", "-1")
    with pytest.raises(Exception, match="STREAMING_TIMEOUT"):
        load_settings()


def test_a_channels_config_overrides_the_settings() -> None:
    env = settings(RELAY_TIMEOUT=45, STREAMING_TIMEOUT=20)
    assert relay_timeouts(env, channel({"timeout": 10, "stream_timeout": 2.5})) == UpstreamTimeouts(10, 2.5)
    assert relay_timeouts(env, channel({"timeout": "10"})) == UpstreamTimeouts(10, 20)  # as the form stores it
    assert relay_timeouts(env, channel({"stream_timeout": 3})) == UpstreamTimeouts(45, 3)
    assert relay_timeouts(settings(), channel({"stream_timeout": 3})) == UpstreamTimeouts(300, 3)
    for junk in ("", "soon", 0, -5, True, None, "inf", "nan", [], {}):
        assert relay_timeouts(env, channel({"timeout": junk, "stream_timeout": junk})) == UpstreamTimeouts(45, 20)


def test_the_adaptor_gives_the_relay_its_timeouts() -> None:
    adaptor = Adaptor(ChannelType(1, "OpenAI", Adaptor), upstream_client(None))
    record = channel({"timeout": 9})
    assert adaptor.upstream_timeouts(settings(), record) == relay_timeouts(settings(), record) == UpstreamTimeouts(9, 120)


async def test_the_shared_client_never_waits_forever() -> None:
    for timeout in (None, 0):
        client = upstream_client(timeout)
        assert (client.timeout.read, client.timeout.connect) == (300, 30)
        await client.aclose()
    client = upstream_client(12)
    assert client.timeout.read == 12
    await client.aclose()


# --- the first byte ---


async def test_no_response_headers_times_out_after_the_first_byte_limit() -> None:
    client = upstream_client(None)
    async with StallingUpstream() as fake:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout, match="no response headers"):
            await post(client, fake, UpstreamTimeouts(LIMIT, 60))
        assert LIMIT * 0.9 <= time.monotonic() - started < LIMIT + SLACK
        await eventually(lambda: fake.closed_by_client == 1)  # the connection is not kept
    await client.aclose()


async def test_slow_headers_within_the_limit_are_waited_for() -> None:
    body = b'{"ok":true}'
    client = upstream_client(None)
    async with StallingUpstream([(0.4, json_headers(len(body)) + body)]) as fake:
        response = await post(client, fake, UpstreamTimeouts(1.5, LIMIT))  # idle < wait: not used yet
        assert await response.aread() == body
        await response.aclose()
    await client.aclose()


async def test_the_channels_first_byte_timeout_applies_through_adaptor_send() -> None:
    client = upstream_client(None)
    adaptor = Adaptor(ChannelType(1, "OpenAI", Adaptor), client)
    async with StallingUpstream() as fake:
        ctx = stream_ctx(channel({"timeout": LIMIT}, fake.base_url))
        timeouts = adaptor.upstream_timeouts(settings(RELAY_TIMEOUT=60), ctx.channel)
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):  # what _one_attempt turns into a 504, retryable
            await adaptor.send(ctx, timeouts)
        assert time.monotonic() - started < LIMIT + SLACK
    await client.aclose()


# --- between chunks ---


async def test_a_stream_that_stalls_ends_with_a_read_timeout_after_its_first_chunk() -> None:
    client = upstream_client(None)
    async with StallingUpstream([(0, SSE_HEADERS + chunk(EVENT))]) as fake:
        response = await post(client, fake, UpstreamTimeouts(60, LIMIT))
        assert response.status_code == 200
        received = []
        chunks = response.aiter_raw()
        received.append(await anext(chunks))
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout, match="sent nothing"):
            await anext(chunks)
        assert LIMIT * 0.9 <= time.monotonic() - started < LIMIT + SLACK
        assert received == [EVENT]
        closing = time.monotonic()
        await response.aclose()
        assert time.monotonic() - closing < 1
        await eventually(lambda: fake.closed_by_client == 1)
    await client.aclose()


async def test_the_relays_stream_loop_ends_and_keeps_what_was_delivered() -> None:
    """Adaptor.send with the channel's stream_timeout, then the controller's loop: the
    ReadTimeout is an httpx.HTTPError, so the reply ends and is settled for what came."""
    client = upstream_client(None)
    adaptor = Adaptor(ChannelType(1, "OpenAI", Adaptor), client)
    async with StallingUpstream([(0, SSE_HEADERS + chunk(EVENT))]) as fake:
        ctx = stream_ctx(channel({"stream_timeout": LIMIT}, fake.base_url))
        upstream = await adaptor.send(ctx, adaptor.upstream_timeouts(settings(), ctx.channel))
        delivered: list[bytes] = []
        broke: httpx.HTTPError | None = None
        started = time.monotonic()
        try:
            async for piece in adaptor.stream_response(ctx, upstream):  # as controller._stream
                delivered.append(piece)
        except httpx.HTTPError as exc:
            broke = exc
        finally:
            await upstream.aclose()
        assert isinstance(broke, httpx.ReadTimeout)
        assert LIMIT * 0.9 <= time.monotonic() - started < LIMIT + SLACK
        assert b"".join(delivered) == EVENT
        assert ctx.completion_events  # what settlement counts the tokens from
    await client.aclose()


async def test_a_plain_body_that_stalls_times_out_per_read() -> None:
    client = upstream_client(None)
    async with StallingUpstream([(0, json_headers(100) + b'{"id":')]) as fake:
        response = await post(client, fake, UpstreamTimeouts(60, LIMIT))
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await response.aread()
        assert LIMIT * 0.9 <= time.monotonic() - started < LIMIT + SLACK
        await response.aclose()
    await client.aclose()


async def test_a_slow_stream_that_keeps_sending_is_not_cut() -> None:
    """The limit is per read, not for the whole body: 6 chunks 0.15 s apart take longer than it."""
    steps = [(0, SSE_HEADERS)] + [(0.15, chunk(EVENT))] * 6 + [(0.15, chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")]
    client = upstream_client(None)
    async with StallingUpstream(steps) as fake:
        response = await post(client, fake, UpstreamTimeouts(LIMIT, LIMIT))
        started = time.monotonic()
        body = await response.aread()
        assert time.monotonic() - started > 2 * LIMIT
        assert body == EVENT * 6 + b"data: [DONE]\n\n"
        await response.aclose()
    await client.aclose()


async def test_a_slow_reader_is_not_timed_out() -> None:
    """The limit counts only while a read waits: a consumer holding each chunk longer than the
    limit (a slow client) does not end a stream whose upstream already sent everything."""
    steps = [(0, SSE_HEADERS + chunk(EVENT) + chunk(EVENT) + chunk(EVENT) + b"0\r\n\r\n")]
    client = upstream_client(None)
    async with StallingUpstream(steps) as fake:
        response = await post(client, fake, UpstreamTimeouts(60, 0.2))
        received = b""
        async for piece in response.aiter_raw():
            received += piece
            await asyncio.sleep(0.3)
        assert received == EVENT * 3
        await response.aclose()
    await client.aclose()


async def test_cancelling_a_waiting_read_is_a_cancellation_not_a_timeout() -> None:
    client = upstream_client(None)
    async with StallingUpstream([(0, SSE_HEADERS + chunk(EVENT))]) as fake:
        response = await post(client, fake, UpstreamTimeouts(60, 5))
        received: list[bytes] = []
        reader = asyncio.ensure_future(read_all(response.aiter_raw(), received))
        await eventually(lambda: received == [EVENT])
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        await response.aclose()
    await client.aclose()


async def test_numbers_and_none_still_mean_the_transports_timeouts() -> None:
    """Old callers (channel tests, plugins) pass seconds or None: as before, no per-read timer."""
    body = b'{"ok":true}'
    client = upstream_client(None)
    async with StallingUpstream([(0, json_headers(len(body)) + body)]) as fake:
        for timeout in (None, 5.0):
            response = await post(client, fake, timeout)
            assert getattr(response.stream, "_idle", "missing") is None
            assert await response.aread() == body
            await response.aclose()
    async with StallingUpstream() as fake:
        with pytest.raises(httpx.TimeoutException):
            await post(client, fake, LIMIT)
    await client.aclose()


# --- through a gateway: a hung upstream no longer holds the quota ---

relay_applies_timeouts = pytest.mark.skipif(
    "upstream_timeouts" not in inspect.getsource(controller._one_attempt),
    reason="the relay does not pass adaptor.upstream_timeouts(gw.settings, ctx.channel) to send yet")


@relay_applies_timeouts
def test_an_upstream_that_never_answers_is_a_504_and_nothing_stays_reserved(gateway, admin, priced) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody ever answers
    base_url = "http://127.0.0.1:%d" % silent.getsockname()[1]
    channel = admin.channel(base_url, "test-model", config='{"timeout": 0.5}')
    user = admin.user(quota=1_000_000)
    token = admin.token(user)
    try:
        started = time.monotonic()
        reply = httpx.post(gateway.base_url + "/v1/chat/completions", timeout=8,
                           headers={"Authorization": "Bearer sk-" + token["key"]},
                           json={"model": "test-model", "messages": [{"role": "user", "content": "hi"}]})
        assert reply.status_code == 504 and time.monotonic() - started < 5
        assert reply.json()["error"]["code"] == "upstream_timeout"
        admin.settled(user["id"])
        assert admin.user_row(user["id"])["quota"] == 1_000_000
    finally:
        admin.delete_channel(channel["id"])
        silent.close()


@relay_applies_timeouts
def test_a_stream_that_stalls_ends_and_is_billed_for_what_was_delivered(gateway, admin, upstream, priced) -> None:
    channel = admin.channel(upstream.base_url, "test-model", config='{"stream_timeout": 0.5}')
    user = admin.user(quota=1_000_000)
    token = admin.token(user)
    upstream.chunk_count = 20
    upstream.hang_after_chunks = 4  # the role chunk, tok0, tok1, tok2
    upstream.hang_mode = "stall"
    try:
        started = time.monotonic()
        with httpx.stream("POST", gateway.base_url + "/v1/chat/completions", timeout=8,
                          headers={"Authorization": "Bearer sk-" + token["key"]},
                          json={"model": "test-model", "stream": True,
                                "messages": [{"role": "user", "content": "hi"}]}) as response:
            body = "".join(response.iter_text())
        assert time.monotonic() - started < 5
        assert "tok2" in body and "tok3" not in body
        (log,) = wait_logs(admin, token["name"], 1, timeout=15)
        assert log["completion_tokens"] == Tokenizer().count_text("test-model", "tok0 tok1 tok2 ")
        assert log["quota"] == math.ceil(2 * (log["prompt_tokens"] + 3 * log["completion_tokens"]))
        admin.settled(user["id"])
        assert admin.user_row(user["id"])["quota"] == 1_000_000 - log["quota"]
    finally:
        admin.delete_channel(channel["id"])
