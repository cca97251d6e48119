"""Pollers racing: several ``poll_once`` at the same time (as on several nodes sharing one
database), or a poller and a notify callback, refund each failed or timed-out task exactly
once, to user and token, through the ledger (a consume log of negative quota per task)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from conftest import Node, quota_of
from oneapi_midjourney import poll_once
from oneapi_midjourney._image import notify_signature
from oneapi_midjourney._models import Midjourney
from oneapi_midjourney._tasks import fail_task, refund_request_id

from oneapi.models import LOG_CONSUME, LOG_SYSTEM, Log
from tests.fakes.midjourney_upstream import FakeMidjourney, Outcome

TASKS = 4
USER_QUOTA, TOKEN_QUOTA = Node.USER_QUOTA, Node.TOKEN_QUOTA


async def _submit(node: Node, count: int) -> list[str]:
    ids = []
    for i in range(count):
        status, body = await node.submit(f"race {i}")
        assert status == 200 and body["code"] == 1, body
        ids.append(body["result"])
    return ids


async def _race(gw: Any, pollers: int = 3) -> Counter[str]:
    total: Counter[str] = Counter()
    for outcome in await asyncio.gather(*(poll_once(gw) for _ in range(pollers))):
        total.update(outcome)
    return total


async def _refunds() -> list[Log]:
    return list(await Log.filter(type=LOG_CONSUME, quota__lt=0).order_by("id"))


async def _fail_all_at_next_look(fake_mj: FakeMidjourney) -> None:
    for task in fake_mj.tasks.values():
        object.__setattr__(task, "outcome", Outcome(steps=(), fail_reason="boom"))


async def test_failed_tasks_are_refunded_once(node: Node, fake_mj: FakeMidjourney) -> None:
    ids = await _submit(node, TASKS)
    price = quota_of(0.1)
    assert await node.quotas() == (USER_QUOTA - TASKS * price, TASKS * price, TOKEN_QUOTA - TASKS * price)
    await _fail_all_at_next_look(fake_mj)
    fake_mj.latency = 0.05  # every poller reads the tasks before any of them writes

    outcome = await _race(node.gw.services)
    assert outcome["failed"] == TASKS and outcome["failed"] + outcome["lost"] == 3 * TASKS
    assert await node.quotas() == (USER_QUOTA, 0, TOKEN_QUOTA)
    refunds = await _refunds()
    assert sorted(r.request_id for r in refunds) == sorted(f"{t}:refund" for t in ids)
    assert all(r.quota == -price and r.token_id and r.channel_id for r in refunds)
    assert await Log.filter(type=LOG_SYSTEM).count() == 0
    assert await Midjourney.filter(status="FAILURE", progress="100%").count() == TASKS

    assert (await _race(node.gw.services))["failed"] == 0  # later rounds change nothing
    assert await node.quotas() == (USER_QUOTA, 0, TOKEN_QUOTA)
    await node.assert_ledger()


async def test_poller_and_notify_report_the_same_failure(node: Node, fake_mj: FakeMidjourney) -> None:
    """The failure reaches the gateway twice at once: the poller's round and upstream's
    notify callback both read the task before either writes; one refund."""
    (task_id,) = await _submit(node, 1)
    await _fail_all_at_next_look(fake_mj)
    fake_mj.latency = 0.05
    sig = notify_signature(node.gw.session_secret, task_id)

    async def notify() -> int:
        r = await node.client.post(f"/mj/notify?id={task_id}&sig={sig}", json={"status": "FAILURE"})
        return r.status_code

    polled, status = await asyncio.gather(poll_once(node.gw.services), notify())
    assert status == 200
    row = await Midjourney.get(task_id=task_id)
    assert row.status == "FAILURE" and row.fail_reason == "boom"
    assert polled["failed"] + polled["lost"] == 1
    assert [r.request_id for r in await _refunds()] == [f"{task_id}:refund"]
    assert await node.quotas() == (USER_QUOTA, 0, TOKEN_QUOTA)
    await node.assert_ledger()


async def test_a_stale_row_is_failed_and_refunded_once(node: Node) -> None:
    """Two holders of the same (stale) row fail it one after the other: the second loses."""
    (task_id,) = await _submit(node, 1)
    first, second = await Midjourney.get(task_id=task_id), await Midjourney.get(task_id=task_id)
    assert await fail_task(node.gw.services, first, "gone") is True
    assert await fail_task(node.gw.services, second, "gone again") is False
    (refund,) = await _refunds()
    assert refund.request_id == refund_request_id(first) == f"{task_id}:refund"
    assert refund.quota == -quota_of(0.1) and refund.model_name == "mj_imagine"
    assert refund.token_name == "race" and refund.username == "racer"
    assert "failed: gone; refunded" in refund.content
    assert await node.quotas() == (USER_QUOTA, 0, TOKEN_QUOTA)
    await node.assert_ledger()


async def test_timed_out_tasks_are_refunded_once(node: Node, fake_mj: FakeMidjourney) -> None:
    fake_mj.outcome = Outcome(hold=True)
    ids = await _submit(node, TASKS)
    await Midjourney.filter(task_id__in=ids).update(submit_time=1)  # submitted long ago
    fake_mj.latency = 0.05

    outcome = await _race(node.gw.services)
    assert outcome["timed_out"] == TASKS
    assert await node.quotas() == (USER_QUOTA, 0, TOKEN_QUOTA)
    assert len(await _refunds()) == TASKS
    rows = await Midjourney.filter(task_id__in=ids)
    assert {r.status for r in rows} == {"FAILURE"} and all("timed out" in r.fail_reason for r in rows)
    await node.assert_ledger()


async def test_unreachable_upstream_skips_but_still_times_out(node: Node, fake_mj: FakeMidjourney) -> None:
    ids = await _submit(node, 2)
    fake_mj.list_status = 503
    outcome = await poll_once(node.gw.services)
    assert outcome["unreachable"] == 2 and await Midjourney.filter(status="FAILURE").count() == 0
    await Midjourney.filter(task_id__in=ids).update(submit_time=1)
    assert (await _race(node.gw.services))["timed_out"] == 2
    assert await node.quotas() == (USER_QUOTA, 0, TOKEN_QUOTA)
    await node.assert_ledger()


def test_two_gateway_nodes_on_one_database(mj: Any) -> None:
    """A second master node on the same database polls too; refunds stay exactly once."""
    from tests.gateway import GatewayProcess

    env = {k: mj.gateway.env[k] for k in ("SQLITE_PATH", "SESSION_SECRET", "PYTHONPATH")}
    second = GatewayProcess(env, name="mj2").start()
    try:
        before = mj.quotas()
        mj.fake.queue_outcome(*(Outcome(steps=("0%",), fail_reason="boom") for _ in range(TASKS)))
        mj.fake.latency = 0.05
        ids = [mj.imagine(f"two nodes {i}") for i in range(TASKS)]
        for task_id in ids:
            mj.wait(task_id, "FAILURE")
        assert mj.quotas() == before
        for task_id in ids:
            (refund,) = mj.refunds(task_id)
            assert refund["quota"] == -quota_of(0.1) and refund["request_id"] == f"{task_id}:refund"
        mj.assert_ledger()
    finally:
        second.stop()
