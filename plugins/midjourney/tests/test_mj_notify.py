"""Notify callbacks: upstream gets the gateway's own signed hook; a callback makes the gateway
re-fetch the task (its body is never trusted); the client's hook is not passed on."""

from __future__ import annotations

from conftest import POLL, Mj


def test_notify_hook_updates_without_the_poller(mj: Mj) -> None:
    mj.admin.option("MjPollInterval", "0")
    mj.admin.option("ServerAddress", mj.gateway.base_url)
    mj.admin.option("MjNotifyEnabled", "true")
    try:
        before = mj.quotas()
        task_id = mj.imagine("notify me", notifyHook="http://client.example/hook")
        hook = mj.fake.submits("/imagine")[-1].json["notifyHook"]
        assert hook.startswith(f"{mj.gateway.base_url}/mj/notify?id={task_id}&sig=")
        upstream_id = next(iter(mj.fake.tasks))

        # A forged callback (no or a wrong signature) is refused.
        anonymous = mj.gateway.client()
        assert anonymous.post(f"/mj/notify?id={task_id}&sig=bad", json={}).status_code == 403
        # A signed callback that lies about the task changes nothing: the task is re-fetched.
        lie = {"id": upstream_id, "status": "FAILURE", "progress": "", "failReason": "lie"}
        assert anonymous.post(hook.removeprefix(mj.gateway.base_url), json=lie).status_code == 200
        assert mj.fetch(task_id).json()["status"] in ("SUBMITTED", "IN_PROGRESS")
        assert mj.quotas()[0] < before[0]  # still charged: nothing failed

        mj.fake.advance(upstream_id, 5)  # upstream finishes and calls the hook
        assert mj.fake.notified[-1]["status"] == 200
        task = mj.fetch(task_id).json()
        assert task["status"] == "SUCCESS" and task["progress"] == "100%"
        anonymous.close()
    finally:
        mj.admin.option("MjNotifyEnabled", "false")
        mj.admin.option("ServerAddress", "")
        mj.admin.option("MjPollInterval", POLL)


def test_status_says_drawing_and_notify_for_new_apis_console(mj: Mj) -> None:
    status = mj.gateway.client().get("/api/status").json()["data"]
    assert status["enable_drawing"] is True and status["enable_task"] is True
    assert status["mj_notify_enabled"] is False
    mj.admin.option("MjNotifyEnabled", "true")
    try:
        assert mj.gateway.client().get("/api/status").json()["data"]["mj_notify_enabled"] is True
    finally:
        mj.admin.option("MjNotifyEnabled", "false")
