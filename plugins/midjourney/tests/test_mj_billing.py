"""Billing: charged once when upstream accepts (1, 21, 22), nothing when it refuses, refunded
to user and token exactly once when the task fails or times out (a consume log of negative
quota). Every test ends with the ledger's invariant checked (the ``mj`` fixture)."""

from __future__ import annotations

import pytest
from conftest import Mj, quota_of

from tests.fakes.midjourney_upstream import FakeMidjourney, Outcome
from tests.gateway import free_port


def test_code_22_queued_is_passed_through_and_charged(mj: Mj) -> None:
    before = mj.quotas()
    mj.fake.inject(22, "排队中，前面还有1个任务", {"numberOfQueues": 1})
    r = mj.submit("imagine", {"prompt": "queued"})
    body = r.json()
    assert r.status_code == 200 and body["code"] == 22
    assert body["description"] == "排队中，前面还有1个任务"
    assert body["properties"]["numberOfQueues"] == 1
    assert body["result"].isdigit() and body["result"] not in mj.fake.tasks
    assert mj.fetch(body["result"]).json()["status"] in ("NOT_START", "SUBMITTED", "IN_PROGRESS")
    assert mj.quotas()[0] == before[0] - quota_of(0.1)
    assert mj.wait(body["result"], "SUCCESS")["progress"] == "100%"


def test_code_21_existing_result_is_success_at_once(mj: Mj) -> None:
    task_id = mj.imagine("exists")
    mj.wait(task_id, "SUCCESS")
    before = mj.quotas()[0]
    image = f"{mj.fake.base_url}/img/existing.png"
    mj.fake.inject(21, "任务已存在", {"status": "SUCCESS", "imageUrl": image})
    r = mj.submit("change", {"taskId": task_id, "action": "UPSCALE", "index": 1})
    body = r.json()
    assert body["code"] == 21 and body["description"] == "任务已存在"
    assert body["properties"]["status"] == "SUCCESS"
    task = mj.fetch(body["result"]).json()
    assert task["status"] == "SUCCESS" and task["progress"] == "100%"
    assert f"/mj/image/{body['result']}?sig=" in task["imageUrl"]
    assert mj.quotas()[0] == before - quota_of(0.05)


@pytest.mark.parametrize(
    ("code", "description", "properties"),
    [
        (23, "队列已满，请稍后尝试", {"discordInstanceId": "1118138338562560102"}),
        (24, "可能包含敏感词", {"promptEn": "nude body", "bannedWord": "nude"}),
        (4, "prompt不能为空", {}),
        (9, "系统异常", {}),
    ],
)
def test_refusals_are_passed_through_and_not_charged(
    mj: Mj, code: int, description: str, properties: dict[str, str]
) -> None:
    before = mj.quotas()
    mj.fake.inject(code, description, properties)
    r = mj.submit("imagine", {"prompt": "nude body"})
    assert r.status_code == 200
    assert r.json() == {"code": code, "description": description, "result": None, "properties": properties}
    assert mj.quotas() == before
    assert mj.logs(type=2) == []
    rows = mj.session().get("/api/mj/self").json()["data"]
    assert rows[0]["status"] == "FAILURE" and rows[0]["quota"] == 0 and rows[0]["code"] == code
    mj.poll_rounds(2)  # the poller must not refund what was never charged
    assert mj.quotas() == before


def test_upstream_errors_are_not_charged(mj: Mj) -> None:
    before = mj.quotas()
    bad_key = mj.add_channel(mj.fake, key="wrong", priority=5)
    r = mj.submit("imagine", {"prompt": "x"})
    assert r.status_code == 502 and r.json()["code"] == 9
    assert "refused the channel key" in r.json()["description"]
    mj.admin.delete_channel(bad_key["id"])

    dead = mj.admin.channel(f"http://127.0.0.1:{free_port()}", "mj_imagine", type=2,
                            key="mj-secret", group=mj.group, priority=5)
    r = mj.submit("imagine", {"prompt": "x"})
    assert r.status_code == 502 and r.json()["code"] == 9 and "unreachable" in r.json()["description"]
    assert mj.quotas() == before

    mj.admin.option("RetryTimes", "1")  # a connection failure is retried on another channel
    try:
        r = mj.submit("imagine", {"prompt": "retried"})
        assert r.json()["code"] == 1, r.text
    finally:
        mj.admin.option("RetryTimes", "0")
    mj.admin.delete_channel(dead["id"])
    assert mj.quotas()[0] == before[0] - quota_of(0.1)


def test_failure_is_refunded_to_user_and_token_once(mj: Mj) -> None:
    before = mj.quotas()
    mj.fake.queue_outcome(Outcome(steps=("0%", "30%"), fail_reason="[Invalid parameter] Invalid value"))
    task_id = mj.imagine("will fail")
    charged = mj.quotas()
    assert charged == (before[0] - quota_of(0.1), before[1] + quota_of(0.1), before[2] - quota_of(0.1))
    task = mj.wait(task_id, "FAILURE")
    assert task["failReason"] == "[Invalid parameter] Invalid value" and task["progress"] == "100%"
    assert mj.quotas() == before
    mj.poll_rounds(2)  # more poll rounds: still exactly one refund
    assert mj.quotas() == before
    (refund,) = mj.refunds(task_id)  # a consume log of negative quota, not a system log
    assert refund["quota"] == -quota_of(0.1) and refund["request_id"] == f"{task_id}:refund"
    assert refund["model_name"] == "mj_imagine" and refund["token_name"] == mj.token["name"]
    assert refund["channel"] == mj.channel["id"]
    assert "[Invalid parameter] Invalid value" in refund["content"]
    assert not [entry for entry in mj.logs(type=4) if task_id in entry["content"]]
    (charge,) = [e for e in mj.logs(type=2) if e["request_id"] == task_id]
    assert charge["quota"] == quota_of(0.1)


def test_timeout_and_vanished_tasks_are_refunded(mj: Mj) -> None:
    before = mj.quotas()
    mj.fake.queue_outcome(Outcome(hold=True), Outcome(vanish=True))
    held = mj.imagine("held forever")
    gone = mj.imagine("upstream forgets me")
    assert mj.quotas()[0] == before[0] - 2 * quota_of(0.1)
    mj.admin.option("MjTaskTimeout", "1")
    try:
        for task_id in (held, gone):
            task = mj.wait(task_id, "FAILURE")
            assert "timed out" in task["failReason"]
    finally:
        mj.admin.option("MjTaskTimeout", "3600")
    assert mj.quotas() == before


def test_not_enough_quota_is_refused_before_upstream(mj: Mj) -> None:
    user, token, key = mj.add_user(quota=quota_of(0.1) - 1)
    client = mj.client(key)
    r = mj.submit("imagine", {"prompt": "x"}, client=client)
    assert r.status_code == 403 and r.json()["code"] == 4
    assert "quota_not_enough" in r.json()["description"]
    _, _, small_key = mj.add_user(remain_quota=1000)
    r = mj.submit("imagine", {"prompt": "x"}, client=mj.client(small_key))
    assert r.status_code == 403
    assert mj.fake.submits() == []
    assert mj.admin.user_row(user["id"])["quota"] == quota_of(0.1) - 1


def test_token_model_limits(mj: Mj) -> None:
    _, _, key = mj.add_user(models="mj_imagine")
    client = mj.client(key)
    task_id = mj.submit("imagine", {"prompt": "ok"}, client=client).json()["result"]
    mj.wait(task_id, "SUCCESS", client=client)
    r = mj.submit("change", {"taskId": task_id, "action": "UPSCALE", "index": 1}, client=client)
    assert r.status_code == 403 and "mj_upscale" in r.json()["description"]


def test_unlimited_token_refund_goes_to_the_user(mj: Mj) -> None:
    user, token, key = mj.add_user(unlimited_quota=True)
    quota = mj.admin.user_row(user["id"])["quota"]
    mj.fake.queue_outcome(Outcome(fail_reason="boom"))
    client = mj.client(key)
    task_id = mj.submit("imagine", {"prompt": "x"}, client=client).json()["result"]
    assert mj.admin.user_row(user["id"])["quota"] == quota - quota_of(0.1)
    mj.wait(task_id, "FAILURE", client=client)
    assert mj.admin.user_row(user["id"])["quota"] == quota


def test_same_upstream_id_on_two_channels(mj: Mj) -> None:
    with FakeMidjourney(secret="mj-secret") as other:
        second = Mj(mj.gateway, mj.admin, other)
        try:
            other.queue_outcome(Outcome(fail_reason="second fails"))
            mine = mj.imagine("first channel")
            theirs = second.imagine("second channel")
            assert mj.fake.tasks.keys() == other.tasks.keys()  # the same upstream id
            assert mine != theirs
            assert mj.wait(mine, "SUCCESS")["prompt"] == "first channel"
            assert second.wait(theirs, "FAILURE")["failReason"] == "second fails"
            assert mj.fetch(theirs).status_code == 404  # and each user sees only their own
        finally:
            second.close()
