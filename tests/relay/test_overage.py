"""A request costs what it cost: an answer far beyond the reservation, or beyond the token's
quota, is charged in full to token and owner; the balance goes below zero, the next request
is refused. (A user could otherwise cap what any request costs with a small token.)"""

from __future__ import annotations

import asyncio
import math

import httpx
import openai
import pytest

from tests.conftest import Admin
from tests.gateway import GatewayProcess, api
from tests.ledger_invariant import check, snapshot, wait_until_quiet

pytestmark = pytest.mark.timeout(120)

COMPLETION = 100_000
COST = math.ceil(0.075 * (10 + COMPLETION))  # 7,501 at ratio 0.075 (10 prompt tokens)


def _priced(admin: Admin, upstream_url: str) -> dict:
    admin.option("ModelRatio", '{"long-model": 0.075}')
    admin.option("CompletionRatio", '{"long-model": 1}')
    return admin.channel(upstream_url, "long-model")


def test_an_answer_beyond_the_tokens_quota_is_charged_in_full(gateway: GatewayProcess, admin: Admin,
                                                               upstream) -> None:
    channel = _priced(admin, upstream.base_url)
    upstream.usage = {"completion_tokens": COMPLETION}
    user = admin.user(quota=1_000_000)
    token = admin.token(user, remain_quota=1_000)
    db = gateway.dir / "one-api.db"
    before = snapshot(db)
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="sk-" + token["key"], max_retries=0)
    reply = client.chat.completions.create(model="long-model", max_tokens=10,
                                           messages=[{"role": "user", "content": "a long story"}])
    assert reply.usage is not None and reply.usage.completion_tokens == COMPLETION
    assert wait_until_quiet(db) == []
    (log,) = [row for row in admin.logs(token_name=token["name"], type=2)]
    assert log["quota"] == COST
    owner = gateway.login(user["username"], "password123")
    token_row = api(owner, "GET", f"/api/token/{token['id']}")
    assert token_row["remain_quota"] == 1_000 - COST and token_row["used_quota"] == COST
    user_row = admin.user_row(user["id"])
    assert user_row["quota"] == 1_000_000 - COST and user_row["used_quota"] == COST
    assert check(db, before, token_ids=[token["id"]], user_ids=[user["id"]]) == []
    with pytest.raises(openai.APIStatusError) as refused:  # below zero: the next one is refused
        client.chat.completions.create(model="long-model", max_tokens=10,
                                       messages=[{"role": "user", "content": "more"}])
    assert refused.value.status_code in (401, 403)
    owner.close()
    admin.delete_channel(channel["id"])


def test_parallel_requests_on_a_small_token_each_pay_in_full(gateway: GatewayProcess, admin: Admin,
                                                             upstream) -> None:
    channel = _priced(admin, upstream.base_url)
    upstream.usage = {"completion_tokens": COMPLETION}
    upstream.latency = 0.2  # all five are in flight together
    user = admin.user(quota=1_000_000)
    token = admin.token(user, remain_quota=2_000)
    db = gateway.dir / "one-api.db"
    before = snapshot(db)

    async def fire() -> list[int]:
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
            async def one() -> int:
                r = await client.post("/v1/chat/completions", headers={"Authorization": f"Bearer sk-{token['key']}"},
                                      json={"model": "long-model", "max_tokens": 10,
                                            "messages": [{"role": "user", "content": "hi"}]})
                return r.status_code
            return list(await asyncio.gather(*(one() for _ in range(5))))

    statuses = asyncio.run(fire())
    served = statuses.count(200)
    assert served >= 1 and set(statuses) <= {200, 403}
    assert wait_until_quiet(db) == []
    logs = admin.logs(token_name=token["name"], type=2)
    assert len(logs) == served and all(row["quota"] == COST for row in logs)
    user_row = admin.user_row(user["id"])
    assert user_row["quota"] == 1_000_000 - served * COST
    assert check(db, before, token_ids=[token["id"]], user_ids=[user["id"]]) == []
    admin.delete_channel(channel["id"])
