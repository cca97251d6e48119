"""Submits go through the ledger's billed call: a client that hangs up once its job is on the
way to upstream still gets the job billed (task row, consume log, charge) or, if upstream
refused it, nothing charged; never a charge without a task and a log. An action nobody
priced is refused before anything is held or sent."""

from __future__ import annotations

import time

import httpx
import pytest
from conftest import Mj, Node, quota_of
from oneapi_midjourney._models import Midjourney

from oneapi.models import Log
from tests.ledger_invariant import holds

LATENCY = 1.0  # seconds the fake takes to answer anything


def _hang_up_after_submit(mj: Mj, prompt: str) -> None:
    """Submit, then close the connection while upstream is still thinking."""
    with httpx.Client(base_url=mj.gateway.base_url, timeout=LATENCY / 4,
                      headers={"Authorization": f"Bearer sk-{mj.key}"}) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/mj/submit/imagine", json={"prompt": prompt})
    deadline = time.monotonic() + 5
    while not mj.fake.submits("/imagine"):  # the gateway did send it on
        assert time.monotonic() < deadline, "the submit never reached upstream"
        time.sleep(0.02)


def _tasks(mj: Mj) -> list[dict[str, object]]:
    return list(mj.session().get("/api/mj/self").json()["data"])


def _wait_for_task(mj: Mj, timeout: float = 10) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while not (rows := _tasks(mj)):
        assert time.monotonic() < deadline, "no task row was written"
        time.sleep(0.05)
    (row,) = rows
    return row


def test_client_gone_after_submit_is_billed(mj: Mj) -> None:
    before = mj.quotas()
    mj.fake.latency = LATENCY
    _hang_up_after_submit(mj, "nobody waits for me")
    row = _wait_for_task(mj)  # written after upstream answered, long after the client left
    mj.fake.latency = 0
    task_id = str(row["mj_id"])  # the public id: the gateway's task id
    price = quota_of(0.1)
    assert row["quota"] == price and row["status"] != "FAILURE"
    assert mj.quotas() == (before[0] - price, before[1] + price, before[2] - price)
    (charge,) = mj.logs(type=2)
    assert charge["quota"] == price and charge["model_name"] == "mj_imagine"
    assert charge["request_id"] == task_id and task_id in charge["content"]
    assert mj.fetch(task_id).json()["id"] == task_id
    assert charge["token_name"] == mj.token["name"] and charge["channel"] == mj.channel["id"]
    assert holds(mj.db) == []
    mj.assert_ledger()


def test_client_gone_and_upstream_refuses_is_not_charged(mj: Mj) -> None:
    before = mj.quotas()
    mj.fake.latency = LATENCY
    mj.fake.inject(23, "队列已满，请稍后尝试")
    _hang_up_after_submit(mj, "refused later")
    row = _wait_for_task(mj)  # the gallery's failed row, never charged
    mj.fake.latency = 0
    assert row["status"] == "FAILURE" and row["quota"] == 0 and row["code"] == 23
    assert mj.quotas() == before
    assert mj.logs(type=2) == []
    mj.assert_ledger()


async def test_unpriced_action_is_refused_and_not_charged(node: Node, fake_mj: object) -> None:
    """Nobody priced the model (here: the plugin's default price is gone): refused in
    Midjourney-Proxy's shape before anything is held or sent; an admin's price fixes it."""
    before = await node.quotas()
    node.gw.registry.model_prices.pop("mj_imagine")
    status, body = await node.submit("no price")
    assert status == 400 and body["code"] == 4 and body["result"] is None
    assert "mj_imagine" in body["description"] and "ModelPrice" in body["description"]
    assert fake_mj.submits() == []  # type: ignore[attr-defined]
    assert await node.quotas() == before
    assert await Log.all().count() == 0 and await Midjourney.all().count() == 0
    await node.assert_ledger()

    await node.gw.options.set("ModelPrice", '{"mj_imagine": 0.2}')
    status, body = await node.submit("priced by the admin")
    assert status == 200 and body["code"] == 1, body
    assert (await node.quotas())[0] == before[0] - quota_of(0.2)
    await node.assert_ledger()


async def test_default_prices_price_every_action(node: Node) -> None:
    """Out of the box (no admin price), every Midjourney model has the plugin's price."""
    from oneapi_midjourney._actions import DEFAULT_PRICES, PLUS_MODELS
    from oneapi_midjourney._relay import quota_of as mj_quota

    for model in PLUS_MODELS:
        assert mj_quota(node.gw.services, model, "default") == quota_of(DEFAULT_PRICES[model])
