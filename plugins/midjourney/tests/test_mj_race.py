"""Pollers racing: several ``poll_once`` at the same time (as on several nodes sharing one
database) refund each failed or timed-out task exactly once, to user and token."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import quota_of
from oneapi_midjourney import poll_once

from oneapi.app import create_app
from oneapi.models import LOG_SYSTEM, Channel, Log, Midjourney, Token, User
from oneapi.settings import load_settings
from tests.fakes.midjourney_upstream import FakeMidjourney, Outcome

TASKS = 4
USER_QUOTA = 10_000_000
TOKEN_QUOTA = 1_000_000


@pytest.fixture
async def node(tmp_path: Path, fake_mj: FakeMidjourney) -> AsyncIterator[tuple[Any, Any, str]]:
    """The gateway app in this process (its own poller off), a user, a token and a channel."""
    app = create_app(load_settings(SQLITE_PATH=str(tmp_path / "one-api.db"), SESSION_SECRET="race"))
    await app.startup()
    gw = app.extensions["oneapi"]
    try:
        await gw.options.set("MjPollInterval", "0")
        user = await User.create(username="racer", quota=USER_QUOTA, group="default")
        token = await Token.create(user_id=user.id, key="r" * 48, name="race", remain_quota=TOKEN_QUOTA)
        await Channel.create(type=5, key="mj-secret", name="mj", base_url=fake_mj.base_url,
                             models="mj_imagine", group="default")
        await gw.cache.reload_channels()
        yield gw, app.test_client(), token.key
    finally:
        await app.shutdown()


async def _quotas(gw: Any, user_name: str = "racer") -> tuple[int, int, int]:
    await gw.ledger.batch.flush()  # settlements are group-committed: write what is pending first
    user = await User.get(username=user_name)
    token = await Token.get(user_id=user.id)
    return user.quota, user.used_quota, token.remain_quota


async def _submit(client: Any, key: str, count: int) -> list[str]:
    ids = []
    for i in range(count):
        r = await client.post("/mj/submit/imagine", json={"prompt": f"race {i}"},
                              headers={"Authorization": f"Bearer sk-{key}"})
        body = await r.get_json()
        assert body["code"] == 1, body
        ids.append(body["result"])
    return ids


async def _race(gw: Any, pollers: int = 3) -> Counter[str]:
    total: Counter[str] = Counter()
    for outcome in await asyncio.gather(*(poll_once(gw) for _ in range(pollers))):
        total.update(outcome)
    return total


async def test_failed_tasks_are_refunded_once(node: tuple[Any, Any, str], fake_mj: FakeMidjourney) -> None:
    gw, client, key = node
    await _submit(client, key, TASKS)
    price = quota_of(0.1)
    assert await _quotas(gw) == (USER_QUOTA - TASKS * price, TASKS * price, TOKEN_QUOTA - TASKS * price)
    for task in fake_mj.tasks.values():  # every task fails at its next observation
        object.__setattr__(task, "outcome", Outcome(steps=(), fail_reason="boom"))
    fake_mj.latency = 0.05  # every poller reads the tasks before any of them writes

    outcome = await _race(gw)
    assert outcome["failed"] == TASKS and outcome["failed"] + outcome["lost"] == 3 * TASKS
    assert await _quotas(gw) == (USER_QUOTA, 0, TOKEN_QUOTA)
    assert await Log.filter(type=LOG_SYSTEM).count() == TASKS
    assert await Midjourney.filter(status="FAILURE", progress="100%").count() == TASKS

    assert (await _race(gw))["failed"] == 0  # later rounds change nothing
    assert await _quotas(gw) == (USER_QUOTA, 0, TOKEN_QUOTA)


async def test_timed_out_tasks_are_refunded_once(node: tuple[Any, Any, str], fake_mj: FakeMidjourney) -> None:
    gw, client, key = node
    fake_mj.outcome = Outcome(hold=True)
    ids = await _submit(client, key, TASKS)
    await Midjourney.filter(task_id__in=ids).update(submit_time=1)  # submitted long ago
    fake_mj.latency = 0.05

    outcome = await _race(gw)
    assert outcome["timed_out"] == TASKS
    assert await _quotas(gw) == (USER_QUOTA, 0, TOKEN_QUOTA)
    assert await Log.filter(type=LOG_SYSTEM).count() == TASKS
    rows = await Midjourney.filter(task_id__in=ids)
    assert {r.status for r in rows} == {"FAILURE"} and all("timed out" in r.fail_reason for r in rows)


async def test_unreachable_upstream_skips_but_still_times_out(
    node: tuple[Any, Any, str], fake_mj: FakeMidjourney
) -> None:
    gw, client, key = node
    ids = await _submit(client, key, 2)
    fake_mj.list_status = 503
    outcome = await poll_once(gw)
    assert outcome["unreachable"] == 2 and await Midjourney.filter(status="FAILURE").count() == 0
    await Midjourney.filter(task_id__in=ids).update(submit_time=1)
    assert (await _race(gw))["timed_out"] == 2
    assert await _quotas(gw) == (USER_QUOTA, 0, TOKEN_QUOTA)


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
        refunds = [e for e in mj.logs(type=LOG_SYSTEM) if any(i in e["content"] for i in ids)]
        assert len(refunds) == TASKS
    finally:
        second.stop()
