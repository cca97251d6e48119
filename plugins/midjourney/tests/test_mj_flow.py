"""The main flow through a real gateway: imagine → poll → SUCCESS → U1 → fetch, billed."""

from __future__ import annotations

import httpx
from conftest import Mj, quota_of

from tests.fakes.midjourney_upstream import FIRST_ID


def test_imagine_poll_success_upscale_fetch(mj: Mj) -> None:
    before = mj.quotas()
    r = mj.submit("imagine", {"prompt": "a red fox", "state": "s1", "notifyHook": "http://evil/"})
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == 1 and body["description"] == "提交成功"
    task_id = body["result"]
    assert task_id != str(FIRST_ID) and task_id.isdigit()  # our id, not upstream's
    sent = mj.fake.submits("/imagine")[-1]
    assert sent.headers["mj-api-secret"] == "mj-secret"
    assert sent.json["prompt"] == "a red fox" and sent.json["state"] == "s1"
    assert "notifyHook" not in sent.json  # MjNotifyEnabled is off

    first = mj.fetch(task_id).json()
    assert first["id"] == task_id and first["action"] == "IMAGINE" and first["prompt"] == "a red fox"
    assert first["status"] in ("SUBMITTED", "IN_PROGRESS", "SUCCESS")

    done = mj.wait(task_id, "SUCCESS")
    assert done["progress"] == "100%" and done["finishTime"] and done["state"] == "s1"
    assert done["imageUrl"].startswith(mj.gateway.base_url + f"/mj/image/{task_id}?sig=")
    labels = [b["label"] for b in done["buttons"]]
    assert labels[:4] == ["U1", "U2", "U3", "U4"]

    after_imagine = mj.quotas()
    price = quota_of(0.1)
    assert after_imagine == (before[0] - price, before[1] + price, before[2] - price)

    # U1 through the Plus button: pinned to the origin's channel, upstream id sent.
    custom_id = done["buttons"][0]["customId"]
    r = mj.submit("action", {"taskId": task_id, "customId": custom_id})
    assert r.status_code == 200 and r.json()["code"] == 1, r.text
    up_id = r.json()["result"]
    sent = mj.fake.submits("/action")[-1]
    upstream_origin = next(t for t in mj.fake.tasks.values() if t.prompt == "a red fox" and t.action == "IMAGINE")
    assert sent.json["taskId"] == upstream_origin.id and sent.json["customId"] == custom_id

    upscaled = mj.wait(up_id, "SUCCESS")
    assert upscaled["action"] == "UPSCALE" and upscaled["prompt"] == "a red fox"
    final = mj.quotas()
    assert final[0] == after_imagine[0] - quota_of(0.05)
    assert final[2] == after_imagine[2] - quota_of(0.05)

    logs = mj.logs(type=2)
    by_model = {entry["model_name"]: entry for entry in logs}
    assert by_model["mj_imagine"]["quota"] == price
    assert by_model["mj_upscale"]["quota"] == quota_of(0.05)
    assert by_model["mj_imagine"]["channel"] == mj.channel["id"]
    assert by_model["mj_imagine"]["token_name"] == mj.token["name"]


def test_change_and_simple_change(mj: Mj) -> None:
    task_id = mj.imagine("a blue bird")
    mj.wait(task_id, "SUCCESS")
    origin_up = next(t.id for t in mj.fake.tasks.values() if t.prompt == "a blue bird")

    r = mj.submit("change", {"taskId": task_id, "action": "VARIATION", "index": 2})
    assert r.json()["code"] == 1, r.text
    assert mj.fake.submits("/change")[-1].json["taskId"] == origin_up
    assert mj.wait(r.json()["result"], "SUCCESS")["action"] == "VARIATION"

    r = mj.submit("simple-change", {"content": f"{task_id} U3"})
    assert r.json()["code"] == 1, r.text
    assert mj.fake.submits("/simple-change")[-1].json["content"] == f"{origin_up} U3"
    assert mj.wait(r.json()["result"], "SUCCESS")["action"] == "UPSCALE"

    r = mj.submit("simple-change", {"content": f"{task_id} R"})
    assert r.json()["code"] == 1, r.text
    assert mj.fetch(r.json()["result"]).json()["action"] == "REROLL"

    r = mj.submit("simple-change", {"content": f"{task_id} X9"})
    assert r.status_code == 400 and r.json()["code"] == 4


def test_follow_up_needs_success(mj: Mj) -> None:
    from tests.fakes.midjourney_upstream import Outcome

    mj.fake.queue_outcome(Outcome(hold=True))
    task_id = mj.imagine("never ends")
    count = len(mj.fake.submits())
    r = mj.submit("change", {"taskId": task_id, "action": "UPSCALE", "index": 1})
    assert r.status_code == 400 and r.json()["code"] == 4
    assert "task_status_not_success" in r.json()["description"]
    assert len(mj.fake.submits()) == count  # refused before upstream

    mj.admin.option("MjActionCheckSuccessEnabled", "false")
    try:
        r = mj.submit("change", {"taskId": task_id, "action": "UPSCALE", "index": 1})
        assert r.json()["code"] == 4  # now upstream itself refuses ("关联任务状态错误")
        assert r.json()["description"] == "关联任务状态错误"
        assert len(mj.fake.submits()) == count + 1
    finally:
        mj.admin.option("MjActionCheckSuccessEnabled", "true")


def test_mj_api_secret_header_and_missing_key(mj: Mj) -> None:
    plain = httpx.Client(base_url=mj.gateway.base_url, timeout=30)
    r = plain.post("/mj/submit/imagine", json={"prompt": "x"},
                   headers={"mj-api-secret": f"sk-{mj.key}"})
    assert r.status_code == 200 and r.json()["code"] == 1
    r = plain.post("/mj/submit/imagine", json={"prompt": "x"},
                   headers={"Authorization": "Bearer midjourney-proxy", "mj-api-secret": f"sk-{mj.key}"})
    assert r.json()["code"] == 1
    r = plain.post("/mj/submit/imagine", json={"prompt": "x"})
    assert r.status_code == 401 and r.json()["code"] == 4 and r.json()["result"] is None
    r = plain.get("/mj/task/123/fetch", headers={"mj-api-secret": "sk-wrong"})
    assert r.status_code == 401
    plain.close()


def test_mode_prefix(mj: Mj) -> None:
    mj.admin.option("ModelPrice", '{"mj_relax_imagine": 0.02}')
    try:
        before = mj.quotas()
        r = mj.submit("imagine", {"prompt": "slow"}, prefix="/mj-relax")
        assert r.json()["code"] == 1, r.text
        sent = mj.fake.submits()[-1]
        assert sent.path == "/mj/submit/imagine"  # prefix stripped upstream
        assert sent.json["accountFilter"] == {"modes": ["RELAX"]}  # a Plus channel picks the mode
        assert mj.quotas()[0] == before[0] - quota_of(0.02)
        assert mj.logs(type=2)[0]["model_name"] == "mj_relax_imagine"
        r = mj.submit("imagine", {"prompt": "fast"}, prefix="/mj-fast")
        assert mj.quotas()[0] == before[0] - quota_of(0.02) - quota_of(0.1)  # no fast price set
        task_id = r.json()["result"]
        assert mj.http.get(f"/mj-fast/mj/task/{task_id}/fetch").json()["id"] == task_id
    finally:
        mj.admin.option("ModelPrice", "{}")


def test_follow_up_of_a_disabled_channel_is_refused(mj: Mj) -> None:
    task_id = mj.imagine("pinned")
    mj.wait(task_id, "SUCCESS")
    mj.add_channel(mj.fake)  # another channel of the group: never used for the follow-up
    mj.admin.update_channel(mj.channel["id"], status=2)
    try:
        count = len(mj.fake.submits())
        r = mj.submit("change", {"taskId": task_id, "action": "UPSCALE", "index": 1})
        assert r.status_code == 503 and r.json()["code"] == 4
        assert len(mj.fake.submits()) == count
        assert mj.imagine("new tasks still go to the other channel")
    finally:
        mj.admin.update_channel(mj.channel["id"], status=1)


def test_admin_token_may_pin_a_channel(mj: Mj) -> None:
    from tests.gateway import api

    root_key = api(mj.admin.root, "POST", "/api/token/", json={"name": "mjroot", "unlimited_quota": True})["key"]
    pinned = mj.admin.root.post(
        "/mj/submit/imagine", json={"prompt": "pinned"},
        headers={"Authorization": f"Bearer sk-{root_key.removeprefix('sk-')}-{mj.channel['id']}"})
    assert pinned.json()["code"] == 1, pinned.text
    assert mj.fake.submits("/imagine")[-1].json["prompt"] == "pinned"
