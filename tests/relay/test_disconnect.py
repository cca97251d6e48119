"""A stream cut off mid-way is billed for exactly what was delivered."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest

from oneapi._http import open_stream, upstream_client
from oneapi.tokenizer import Tokenizer
from tests.conftest import wait_logs

pytestmark = pytest.mark.timeout(60)


def test_client_disconnect_bills_only_delivered(gateway, admin, upstream, priced) -> None:
    channel = admin.channel(upstream.base_url, "test-model")
    user = admin.user(quota=1_000_000)
    token = admin.token(user)
    upstream.chunk_count = 40
    upstream.chunk_interval = 0.05
    try:
        with httpx.stream("POST", gateway.base_url + "/v1/chat/completions",
                          headers={"Authorization": "Bearer sk-" + token["key"]},
                          json={"model": "test-model", "stream": True,
                                "messages": [{"role": "user", "content": "hi"}]}) as response:
            seen = 0
            for line in response.iter_lines():
                if '"content":"tok' in line:
                    seen += 1
                if seen == 5:
                    break
        (log,) = wait_logs(admin, token["name"], 1, timeout=15)
        # Delivered: the first k chunks, at least the 5 read and fewer than the 40 the upstream had.
        tok = Tokenizer()
        counts = {tok.count_text("test-model", "".join(f"tok{i} " for i in range(k))) for k in range(5, 40)}
        assert log["completion_tokens"] in counts
        assert log["completion_tokens"] < tok.count_text("test-model", "".join(f"tok{i} " for i in range(40)))
        assert log["quota"] == math.ceil(2 * (log["prompt_tokens"] + 3 * log["completion_tokens"]))
        admin.settled(user["id"])
        assert admin.user_row(user["id"])["quota"] == 1_000_000 - log["quota"]
    finally:
        admin.delete_channel(channel["id"])


def test_upstream_reset_mid_stream_bills_delivered(gateway, admin, upstream, priced) -> None:
    channel = admin.channel(upstream.base_url, "test-model")
    token = admin.token(admin.user())
    upstream.chunk_count = 20
    upstream.hang_after_chunks = 4
    try:
        with httpx.stream("POST", gateway.base_url + "/v1/chat/completions",
                          headers={"Authorization": "Bearer sk-" + token["key"]},
                          json={"model": "test-model", "stream": True,
                                "messages": [{"role": "user", "content": "hi"}]}) as response:
            body = "".join(response.iter_text())
        assert "tok2" in body and "tok5" not in body
        (log,) = wait_logs(admin, token["name"], 1, timeout=15)
        assert log["completion_tokens"] == Tokenizer().count_text("test-model", "tok0 tok1 tok2 ")
    finally:
        admin.delete_channel(channel["id"])


async def test_what_arrived_before_the_upstream_hung_up_is_not_lost() -> None:
    """Headers, two events and the hang-up arrive together, before the relay reads the body
    (aiohttp would raise at once and drop the two events)."""
    events = b'data: {"n":1}\n\n' + b'data: {"n":2}\n\n'
    cut = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
           + b"%x\r\n%s\r\n" % (len(events), events))

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(cut)
        writer.close()  # no final chunk: the body is cut

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = upstream_client(10)
    try:
        response = await open_stream(client, "POST", f"http://127.0.0.1:{port}/v1/chat/completions",
                                     headers={"content-type": "application/json"}, content=b"{}")
        await asyncio.sleep(0.2)  # the hang-up is seen before the body is read
        received = b""
        with pytest.raises(httpx.ReadError):
            async for chunk in response.aiter_raw():
                received += chunk
        assert received == events
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
