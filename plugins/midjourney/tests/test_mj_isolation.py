"""Users see only their own tasks (relay and /api/mj); admins see every task."""

from __future__ import annotations

from conftest import Mj

from tests.gateway import api


def test_another_users_task_is_not_found(mj: Mj) -> None:
    mine = mj.imagine("private")
    mj.wait(mine, "SUCCESS")
    _, _, key = mj.add_user()
    other = mj.client(key)

    r = mj.fetch(mine, client=other)
    assert r.status_code == 404 and r.json()["code"] == 3
    assert other.post("/mj/task/list-by-condition", json={"ids": [mine]}).json() == []
    count = len(mj.fake.submits())
    for route, body in (("change", {"taskId": mine, "action": "UPSCALE", "index": 1}),
                        ("simple-change", {"content": f"{mine} U1"}),
                        ("action", {"taskId": mine, "customId": "MJ::JOB::upsample::1::abc"}),
                        ("modal", {"taskId": mine})):
        r = mj.submit(route, body, client=other)
        assert r.status_code == 404 and r.json()["code"] == 3, (route, r.text)
    assert other.get(f"/mj/task/{mine}/image-seed").status_code == 404
    assert len(mj.fake.submits()) == count
    # and the upstream id is no key to it either
    upstream_id = next(iter(mj.fake.tasks))
    assert mj.fetch(upstream_id).status_code == 404
    other.close()


def test_api_mj_self_and_admin_listing(mj: Mj) -> None:
    first = mj.imagine("first")
    second = mj.imagine("second")
    mj.wait(first, "SUCCESS")
    session = mj.session()
    r = session.get("/api/mj/self", params={"p": 0, "page_size": 1})
    body = r.json()
    assert body["success"] and body["total"] == 2 and len(body["data"]) == 1
    row = body["data"][0]
    assert row["mj_id"] == second and row["prompt"] == "second" and row["action"] == "IMAGINE"
    assert "channel_id" not in row and "user_id" not in row and "upstream_id" not in row
    assert api(session, "GET", "/api/mj/self", params={"mj_id": first})[0]["status"] == "SUCCESS"
    succeeded = api(session, "GET", "/api/mj/self", params={"status": "success"})
    assert first in {r["mj_id"] for r in succeeded} and {r["status"] for r in succeeded} == {"SUCCESS"}
    assert api(session, "GET", "/api/mj/self", params={"action": "upscale"}) == []
    assert api(session, "GET", "/api/mj/self", params={"start_timestamp": 2**33}) == []
    done = api(session, "GET", "/api/mj/self", params={"mj_id": first})[0]
    assert done["image_url"].startswith(mj.gateway.base_url + f"/mj/image/{first}?sig=")
    assert session.get("/api/mj/").json()["success"] is False  # not an admin (One API: 200)
    assert session.get("/api/mj/self", params={"page_size": "x"}).json()["success"] is False

    root = mj.admin.root
    rows = api(root, "GET", "/api/mj/", params={"channel_id": mj.channel["id"], "page_size": 100})
    assert {r["mj_id"] for r in rows} == {first, second}
    assert rows[0]["user_id"] == mj.user["id"] and rows[0]["channel_id"] == mj.channel["id"]
    assert rows[0]["upstream_id"] in mj.fake.tasks
    by_user = api(root, "GET", "/api/mj/", params={"user_id": mj.user["id"]})
    assert len(by_user) == 2
    assert mj.gateway.client().get("/api/mj/self").status_code == 401
