"""Relay-token checks: each failure has its own clear OpenAI-shaped 401/403."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.gateway import api

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def channel(admin, upstream, priced):
    ch = admin.channel(upstream.base_url, "cheap-model,test-model")
    yield ch
    admin.delete_channel(ch["id"])


def chat(gateway, key: str, model: str = "cheap-model", **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(gateway.base_url + "/v1/chat/completions", headers={**auth, **headers},
                      json={"model": model, "messages": [{"role": "user", "content": "hi"}]})


def expect(response: httpx.Response, status: int, code: str) -> None:
    body = response.json()
    assert response.status_code == status, body
    assert body["error"]["code"] == code, body


def test_token_failures(gateway, admin, channel) -> None:
    user = admin.user()
    expect(chat(gateway, ""), 401, "missing_api_key")
    expect(chat(gateway, "sk-doesnotexist"), 401, "invalid_api_key")
    expired = admin.token(user, expired_time=int(time.time()) - 10)
    expect(chat(gateway, "sk-" + expired["key"]), 401, "token_expired")
    exhausted = admin.token(user, remain_quota=0)
    expect(chat(gateway, "sk-" + exhausted["key"]), 401, "token_exhausted")
    limited = admin.token(user, models="test-model")
    expect(chat(gateway, "sk-" + limited["key"]), 403, "model_not_allowed")
    assert chat(gateway, "sk-" + limited["key"], model="test-model").status_code == 200
    subnet = admin.token(user, subnet="10.9.9.0/24")
    expect(chat(gateway, "sk-" + subnet["key"]), 403, "ip_not_allowed")
    local = admin.token(user, subnet="127.0.0.0/8")
    assert chat(gateway, "sk-" + local["key"]).status_code == 200


def test_disabled_token_and_user(gateway, admin, channel) -> None:
    user = admin.user()
    token = admin.token(user)
    assert chat(gateway, "sk-" + token["key"]).status_code == 200
    owner = gateway.login(user["username"], "password123")
    api(owner, "PUT", "/api/token/", params={"status_only": "true"}, json={"id": token["id"], "status": 2})
    expect(chat(gateway, "sk-" + token["key"]), 401, "token_disabled")
    api(owner, "PUT", "/api/token/", params={"status_only": "true"}, json={"id": token["id"], "status": 1})
    assert chat(gateway, "sk-" + token["key"]).status_code == 200
    api(admin.root, "POST", "/api/user/manage", json={"username": user["username"], "action": "disable"})
    expect(chat(gateway, "sk-" + token["key"]), 403, "user_disabled")


def test_x_api_key_header_works(gateway, admin, channel) -> None:
    token = admin.token(admin.user())
    r = httpx.post(gateway.base_url + "/v1/chat/completions", headers={"x-api-key": "sk-" + token["key"]},
                   json={"model": "cheap-model", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200


def test_channel_pinning_is_for_admins_only(gateway, admin, channel, upstream) -> None:
    user_token = admin.token(admin.user())
    expect(chat(gateway, f"sk-{user_token['key']}-{channel['id']}"), 403, "channel_pin_forbidden")
    root_token = api(admin.root, "POST", "/api/token/", json={"name": "pin", "unlimited_quota": True,
                                                               "expired_time": -1})
    if not isinstance(root_token, dict):
        root_token = api(admin.root, "GET", "/api/token/search", params={"keyword": "pin"})[0]
    other = admin.channel(upstream.base_url, "cheap-model", priority=5)
    try:
        for _ in range(3):  # the pinned channel wins even though `other` has a higher priority
            assert chat(gateway, f"sk-{root_token['key']}-{channel['id']}").status_code == 200
        logs = admin.logs(token_name="pin", type=2)
        assert logs and all(log["channel"] == channel["id"] for log in logs[:3])
        admin.update_channel(channel["id"], status=2)
        expect(chat(gateway, f"sk-{root_token['key']}-{channel['id']}"), 403, "channel_unavailable")
    finally:
        admin.delete_channel(other["id"])
        admin.update_channel(channel["id"], status=1)
