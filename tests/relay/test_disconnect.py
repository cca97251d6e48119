"""A stream cut off mid-way is billed for exactly what was delivered."""

from __future__ import annotations

import math
import time

import httpx
import pytest

from oneapi.tokenizer import Tokenizer
from tests.relay.test_chat import priced, wait_logs  # noqa: F401

pytestmark = pytest.mark.timeout(60)


def test_client_disconnect_bills_only_delivered(gateway, admin, upstream, priced) -> None:  # noqa: F811
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
        time.sleep(0.2)
        assert admin.user_row(user["id"])["quota"] == 1_000_000 - log["quota"]
    finally:
        admin.delete_channel(channel["id"])


def test_upstream_reset_mid_stream_bills_delivered(gateway, admin, upstream, priced) -> None:  # noqa: F811
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
