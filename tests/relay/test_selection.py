"""Channel selection: priority tiers, weights, retries on other channels, auto-disable/enable."""

from __future__ import annotations

import random
from collections import Counter

import httpx
import pytest

from oneapi.cache import ChannelTable
from oneapi.relay.context import ChannelRecord
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import api

pytestmark = pytest.mark.timeout(90)


def record(cid: int, priority: int = 0, weight: int = 0, status: int = 1) -> ChannelRecord:
    return ChannelRecord(cid, 1, f"c{cid}", "k", status, "", ("m",), ("default",), {}, priority, weight,
                         {}, "", "", "")


def test_weighted_random_inside_the_top_tier() -> None:
    table = ChannelTable([record(1, 10, 1), record(2, 10, 3), record(3, 0, 100), record(4, 10, 0, status=2)])
    rng = random.Random(1234)
    picks = Counter(table.pick("default", "m", set(), rng).id for _ in range(4000))
    assert set(picks) == {1, 2}  # lower tier and disabled channel never picked
    assert 0.70 < picks[2] / 4000 < 0.80  # weight 3 of 4
    assert table.pick("default", "m", {1, 2}, rng).id == 3  # tier exhausted → next tier
    assert table.pick("default", "m", {1, 2, 3}, rng) is None
    zero = ChannelTable([record(1, 0, 0), record(2, 0, 0)])
    counts = Counter(zero.pick("default", "m", set(), rng).id for _ in range(2000))
    assert 0.4 < counts[1] / 2000 < 0.6  # weight 0 counts as 1


def chat(gateway, token) -> httpx.Response:
    return httpx.post(gateway.base_url + "/v1/chat/completions", headers={"Authorization": "Bearer sk-" + token["key"]},
                      json={"model": "cheap-model", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)


@pytest.fixture
def two_upstreams():
    with FakeOpenAI() as a, FakeOpenAI() as b:
        yield a, b


def test_priority_and_weight_end_to_end(gateway, admin, two_upstreams, priced) -> None:
    a, b = two_upstreams
    high = admin.channel(a.base_url, "cheap-model", priority=10)
    low = admin.channel(b.base_url, "cheap-model", priority=0)
    token = admin.token(admin.user())
    try:
        for _ in range(6):
            assert chat(gateway, token).status_code == 200
        assert len(a.requests) == 6 and len(b.requests) == 0
    finally:
        admin.delete_channel(high["id"])
        admin.delete_channel(low["id"])


def test_retry_goes_to_another_channel_and_never_the_failed_one(gateway, admin, two_upstreams, priced) -> None:
    a, b = two_upstreams
    admin.option("RetryTimes", "2")
    bad = admin.channel(a.base_url, "cheap-model", priority=10)
    good = admin.channel(b.base_url, "cheap-model", priority=0)
    token = admin.token(admin.user())
    a.fail(500)
    try:
        r = chat(gateway, token)
        assert r.status_code == 200, r.text
        assert len(a.requests) == 1 and len(b.requests) == 1
        assert b.requests[0].json == a.requests[0].json  # body replayed exactly
        a.fail(400, {"error": {"message": "bad request", "type": "invalid_request_error"}})
        r = chat(gateway, token)
        assert r.status_code == 400 and len(b.requests) == 1  # a 400 is never retried
        a.fail(429)
        b.fail(429)
        r = chat(gateway, token)
        assert r.status_code == 429 and "饱和" in r.json()["error"]["message"]
    finally:
        admin.option("RetryTimes", "0")
        admin.delete_channel(bad["id"])
        admin.delete_channel(good["id"])


def test_failed_request_refunds_everything(gateway, admin, upstream, priced) -> None:
    channel = admin.channel(upstream.base_url, "cheap-model")
    user = admin.user(quota=100_000)
    token = admin.token(user, remain_quota=100_000)
    upstream.fail(500)
    try:
        assert chat(gateway, token).status_code == 500
        admin.settled(user["id"])
        assert admin.user_row(user["id"])["quota"] == 100_000
        owner = gateway.login(user["username"], "password123")
        assert api(owner, "GET", f"/api/token/{token['id']}")["remain_quota"] == 100_000
        assert admin.logs(token_name=token["name"], type=2) == []
    finally:
        admin.delete_channel(channel["id"])


def test_auto_disable_then_test_re_enables_only_auto_disabled(gateway, admin, upstream, priced) -> None:
    admin.option("AutomaticDisableChannelEnabled", "true")
    admin.option("AutomaticEnableChannelEnabled", "true")
    auto = admin.channel(upstream.base_url, "cheap-model")
    manual = admin.channel(upstream.base_url, "cheap-model")
    admin.update_channel(manual["id"], status=2)
    token = admin.token(admin.user())
    try:
        upstream.fail(401, {"error": {"message": "Incorrect API key", "type": "invalid_request_error",
                                      "code": "invalid_api_key"}}, times=1)
        assert chat(gateway, token).status_code == 401
        assert api(admin.root, "GET", f"/api/channel/{auto['id']}")["status"] == 3
        assert chat(gateway, token).status_code == 503  # no enabled channel left
        for ch in (auto, manual):
            api(admin.root, "GET", f"/api/channel/test/{ch['id']}")
        assert api(admin.root, "GET", f"/api/channel/{auto['id']}")["status"] == 1
        assert api(admin.root, "GET", f"/api/channel/{manual['id']}")["status"] == 2
        assert chat(gateway, token).status_code == 200
    finally:
        admin.option("AutomaticDisableChannelEnabled", "false")
        admin.option("AutomaticEnableChannelEnabled", "false")
        admin.delete_channel(auto["id"])
        admin.delete_channel(manual["id"])
