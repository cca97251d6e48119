"""The fast lane (plain ASGI) and Quart's path answer and bill alike; a client that leaves early
never loses or double-counts quota on either.

Requests without an ``Origin`` take the fast lane; browsers' requests (with ``Origin``) take
Quart's path, which adds CORS headers.
"""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from tests.conftest import api, wait_logs
from tests.relay.conftest import client_for

pytestmark = pytest.mark.timeout(60)

BROWSER = {"Origin": "https://app.example"}
PATHS = pytest.mark.parametrize("headers", [{}, BROWSER], ids=["fast-lane", "quart"])


@pytest.fixture
def account(admin, upstream, priced) -> Any:
    channel = admin.channel(upstream.base_url, "test-model")
    user = admin.user(quota=1_000_000)
    token = admin.token(user, remain_quota=500_000)
    yield {"user": user, "token": token}
    admin.delete_channel(channel["id"])


def _quota(admin, account) -> tuple[int, int]:
    if "owner" not in account:
        account["owner"] = admin.gateway.login(account["user"]["username"], "password123")
    token = api(account["owner"], "GET", f"/api/token/{account['token']['id']}")
    return admin.user_row(account["user"]["id"])["quota"], token["remain_quota"]


def _wait_quota(admin, account, expected: tuple[int, int], timeout: float = 10) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while (seen := _quota(admin, account)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return seen


@PATHS
def test_both_paths_answer_and_bill_alike(gateway, admin, account, headers) -> None:
    client = client_for(gateway, account["token"], default_headers=headers)
    raw = client.chat.completions.with_raw_response.create(
        model="test-model", messages=[{"role": "user", "content": "hi"}])
    reply = raw.parse()
    assert reply.choices[0].message.content == "tok0 tok1 tok2 tok3 tok4 "
    assert raw.headers["x-oneapi-request-id"]
    assert raw.headers.get("access-control-allow-origin") == headers.get("Origin")
    stream = client.chat.completions.create(model="test-model", stream=True,
                                            messages=[{"role": "user", "content": "hi"}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "tok0 tok1 tok2 tok3 tok4 "
    logs = wait_logs(admin, account["token"]["name"], 2)
    assert len(logs) == 2 and {log["is_stream"] for log in logs} == {True, False}
    charged = sum(log["quota"] for log in logs)
    # prompt 10, completion 5, model ratio 2, completion ratio 3: 2 × (10 + 3 × 5) = 50 each
    assert charged == 2 * 50
    assert _wait_quota(admin, account, (1_000_000 - charged, 500_000 - charged)) == (
        1_000_000 - charged, 500_000 - charged)


@PATHS
def test_client_gone_before_the_answer_is_billed_once(gateway, admin, account, upstream, headers) -> None:
    upstream.latency = 1.0
    client = client_for(gateway, account["token"], default_headers=headers, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="test-model", messages=[{"role": "user", "content": "hi"}])
    # The upstream answered after the client left: that call cost the operator, so it is billed.
    (log,) = wait_logs(admin, account["token"]["name"], 1)
    assert log["quota"] == 50
    assert _wait_quota(admin, account, (1_000_000 - 50, 500_000 - 50)) == (1_000_000 - 50, 500_000 - 50)


@PATHS
def test_stream_client_gone_before_the_first_chunk_is_refunded(gateway, admin, account, upstream,
                                                               headers) -> None:
    upstream.latency = 1.0
    client = client_for(gateway, account["token"], default_headers=headers, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="test-model", stream=True,
                                       messages=[{"role": "user", "content": "hi"}])
    deadline = time.monotonic() + 10
    while not upstream.answered:  # the upstream answers (after its latency); nobody reads the stream
        assert time.monotonic() < deadline, "the upstream never answered"
        time.sleep(0.02)
    # Once the hold is closed the gateway has decided: nothing was delivered, so the reservation
    # comes back whole and no consume log is written (a charge writes its log with the hold's end).
    admin.settled(account["user"]["id"])
    assert _quota(admin, account) == (1_000_000, 500_000)
    assert admin.logs(token_name=account["token"]["name"], type=2) == []
