"""The /v1 routes One API has beyond OpenAI's current API: the raw channel proxy, the retired
/v1/edits, DELETE /v1/models/:model; and /v1/models naming the owner that really serves a model."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Admin, wait_logs
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, api
from tests.relay.conftest import client_for

pytestmark = pytest.mark.timeout(60)


def _bearer(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": "Bearer sk-" + token["key"]}


def test_edits_are_relayed_and_billed(gateway: GatewayProcess, admin: Admin, setup: dict[str, Any],
                                      upstream: FakeOpenAI) -> None:
    body = {"model": "test-model", "input": "helo wrld", "instruction": "fix the spelling"}
    r = httpx.post(f"{gateway.base_url}/v1/edits", headers=_bearer(setup["token"]), json=body)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["text"] == "helo wrld [fix the spelling]"
    assert upstream.requests[-1].path == "/v1/edits"
    (log,) = wait_logs(admin, setup["token"]["name"], 1)
    usage = r.json()["usage"]
    assert log["quota"] == 2 * (usage["prompt_tokens"] + 3 * usage["completion_tokens"])
    missing = httpx.post(f"{gateway.base_url}/v1/edits", headers=_bearer(setup["token"]),
                         json={"model": "test-model", "input": "x"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "instruction"


def test_deleting_a_model_is_not_implemented(gateway: GatewayProcess, setup: dict[str, Any]) -> None:
    r = httpx.delete(f"{gateway.base_url}/v1/models/ft:test-model:x", headers=_bearer(setup["token"]))
    assert r.status_code == 501 and r.json()["error"]["code"] == "api_not_implemented"


def test_models_are_owned_by_the_type_that_serves_them(gateway: GatewayProcess, admin: Admin,
                                                       upstream: FakeOpenAI, priced: None) -> None:
    """gpt-4o is listed by the OpenAI and the Azure types; an OpenAI channel serves it here."""
    channel = admin.channel(upstream.base_url, "gpt-4o,made-up-model")
    try:
        token = admin.token(admin.user())
        cards = {m.id: m.owned_by for m in client_for(gateway, token).models.list()}
        types = {t["id"]: t["name"].lower() for t in api(admin.root, "GET", "/api/channel/types")}
        assert cards["gpt-4o"] == types[1] and cards["made-up-model"] == types[1]
    finally:
        admin.delete_channel(channel["id"])


def test_channel_proxy_passes_through_with_the_channels_key(
    gateway: GatewayProcess, admin: Admin, upstream: FakeOpenAI, priced: None
) -> None:
    channel = admin.channel(upstream.base_url, "test-model", key="sk-proxy-upstream-key")
    upstream.expected_key = "sk-proxy-upstream-key"
    try:
        user = admin.user()
        api(admin.root, "POST", "/api/user/manage", json={"id": user["id"], "action": "promote"})
        admin_token = admin.token(user)
        url = f"{gateway.base_url}/v1/oneapi/proxy/{channel['id']}/v1/models"
        r = httpx.get(url, params={"limit": "2"}, headers={**_bearer(admin_token), "X-Trace": "t-1"})
        assert r.status_code == 200, r.text
        assert r.json()["object"] == "list"
        seen = upstream.requests[-1]
        assert seen.path == "/v1/models" and seen.query.get("limit") == "2"
        assert seen.headers["authorization"] == "Bearer sk-proxy-upstream-key"  # never the client's
        assert seen.headers.get("x-trace") == "t-1"
        posted = httpx.post(f"{gateway.base_url}/v1/oneapi/proxy/{channel['id']}/v1/chat/completions",
                            headers=_bearer(admin_token),
                            json={"model": "test-model", "messages": [{"role": "user", "content": "hi"}]})
        assert posted.status_code == 200 and posted.json()["object"] == "chat.completion"
        assert admin.logs(token_name=admin_token["name"]) == []  # One API: the proxy is not billed
        upstream_error = httpx.get(f"{gateway.base_url}/v1/oneapi/proxy/{channel['id']}/v1/nothing",
                                   headers=_bearer(admin_token))
        assert upstream_error.status_code == 404  # the upstream's answer, as it is
        # Unbilled, so never for common users; never to a disabled or unknown channel.
        common = admin.token(admin.user())
        refused = httpx.get(url, headers=_bearer(common))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "proxy_not_allowed"
        missing = httpx.get(f"{gateway.base_url}/v1/oneapi/proxy/999999/v1/models",
                            headers=_bearer(admin_token))
        assert missing.status_code == 403
        assert httpx.get(url).status_code == 401
    finally:
        upstream.expected_key = None
        admin.delete_channel(channel["id"])
