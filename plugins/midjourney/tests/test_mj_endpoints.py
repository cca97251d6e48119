"""Every /mj endpoint through a real gateway, with its price and Midjourney-Proxy's shapes."""

from __future__ import annotations

import pytest
from conftest import Mj, quota_of

from tests.fakes.midjourney_upstream import DESCRIBE_TEXT, SEED

IMG = "data:image/png;base64,iVBORw0KGgo="


@pytest.mark.parametrize(
    ("route", "body", "action", "usd"),
    [
        ("blend", {"base64Array": [IMG, IMG], "dimensions": "SQUARE"}, "BLEND", 0.1),
        ("describe", {"base64": IMG}, "DESCRIBE", 0.05),
        ("shorten", {"prompt": "a very long prompt about cats"}, "SHORTEN", 0.1),
        ("swap", {"sourceBase64": IMG, "targetBase64": IMG}, "SWAP_FACE", 0.05),
        ("imagine", {"prompt": "with images", "base64Array": [IMG]}, "IMAGINE", 0.1),
    ],
)
def test_new_task_routes(mj: Mj, route: str, body: dict[str, object], action: str, usd: float) -> None:
    before = mj.quotas()[0]
    r = mj.submit(route, body)
    assert r.status_code == 200 and r.json()["code"] == 1, r.text
    path = "/mj/insight-face/swap" if route == "swap" else f"/mj/submit/{route}"
    sent = [r for r in mj.fake.requests if r.path == path][-1]  # the task poller may have asked since
    assert sent.json == body
    task = mj.wait(r.json()["result"], "SUCCESS")
    assert task["action"] == action
    if route in ("describe", "shorten"):
        assert task["properties"] == {"finalPrompt": DESCRIBE_TEXT}
    assert mj.quotas()[0] == before - quota_of(usd)


def test_upload_discord_images(mj: Mj) -> None:
    before = mj.quotas()[0]
    r = mj.submit("upload-discord-images", {"base64Array": [IMG, IMG]})
    assert r.status_code == 200, r.text
    assert r.json()["code"] == 1
    assert r.json()["result"] == [f"{mj.fake.base_url}/img/upload0.png", f"{mj.fake.base_url}/img/upload1.png"]
    assert mj.quotas()[0] == before - quota_of(0.05)
    assert mj.logs(type=2)[0]["model_name"] == "mj_upload"


def test_custom_zoom_modal_flow(mj: Mj) -> None:
    task_id = mj.imagine("zoom me")
    done = mj.wait(task_id, "SUCCESS")
    zoom = next(b["customId"] for b in done["buttons"] if "CustomZoom" in b["customId"])
    before = mj.quotas()[0]
    r = mj.submit("action", {"taskId": task_id, "customId": zoom})
    body = r.json()
    assert body["code"] == 21 and body["description"] == "Waiting for window confirm"  # passed through
    assert body["properties"]["remix"] is True
    modal_id = body["result"]
    assert mj.quotas()[0] == before  # CUSTOM_ZOOM costs nothing; the modal is charged
    assert mj.fetch(modal_id).json()["status"] == "MODAL"

    r = mj.submit("modal", {"taskId": modal_id, "prompt": "zoom me --ar 2:1 --zoom 1.5"})
    assert r.json()["code"] == 1, r.text
    upstream_modal = mj.fake.submits("/modal")[-1].json["taskId"]
    assert upstream_modal != modal_id and upstream_modal in mj.fake.tasks
    assert mj.quotas()[0] == before - quota_of(0.1)
    assert mj.logs(type=2)[0]["model_name"] == "mj_modal"


def test_fetch_list_and_image_seed(mj: Mj) -> None:
    a = mj.imagine("one")
    b = mj.imagine("two")
    r = mj.http.post("/mj/task/list-by-condition", json={"ids": [b, a, "nope", a]})
    assert r.status_code == 200
    assert [t["id"] for t in r.json()] == [a, b]
    assert mj.http.post("/mj/task/list-by-condition", json={}).json() == []
    assert mj.http.post("/mj/task/list-by-condition", json={"ids": "x"}).status_code == 400

    task = mj.fetch(a).json()
    for key in ("id", "action", "customId", "botType", "prompt", "promptEn", "description", "state",
                "submitTime", "startTime", "finishTime", "imageUrl", "status", "progress",
                "failReason", "buttons", "maskBase64", "properties"):
        assert key in task

    r = mj.fetch("4242")
    assert r.status_code == 404 and r.json()["code"] == 3

    mj.wait(a, "SUCCESS")
    r = mj.http.get(f"/mj/task/{a}/image-seed")
    assert r.status_code == 200 and r.json() == {"code": 1, "description": "成功", "result": SEED, "properties": {}}
    upstream_a = next(t.id for t in mj.fake.tasks.values() if t.prompt == "one")
    assert any(r.path == f"/mj/task/{upstream_a}/image-seed" for r in mj.fake.requests)
    assert mj.http.get("/mj/task/999/image-seed").status_code == 404


INVALID = [
    ("imagine", {}),
    ("imagine", {"prompt": "  "}),
    ("imagine", {"prompt": 3}),
    ("imagine", {"prompt": "x", "base64Array": "not a list"}),
    ("blend", {"base64Array": [IMG]}),
    ("blend", {"base64Array": [IMG, IMG], "dimensions": "ROUND"}),
    ("describe", {}),
    ("shorten", {"prompt": ""}),
    ("swap", {"sourceBase64": IMG}),
    ("upload-discord-images", {"base64Array": []}),
    ("change", {"taskId": "1", "action": "ZOOM", "index": 1}),
    ("change", {"taskId": "1", "action": "UPSCALE", "index": 7}),
    ("change", {"action": "UPSCALE", "index": 1}),
    ("action", {"taskId": "1"}),
    ("modal", {}),
]


def test_validation_is_refused_before_upstream(mj: Mj) -> None:
    before = mj.quotas()
    for route, body in INVALID:
        r = mj.submit(route, body)
        assert r.status_code == 400, (route, body, r.text)
        assert r.json()["code"] == 4 and r.json()["result"] is None, (route, body)
    assert mj.fake.submits() == []
    assert mj.quotas() == before


def test_bad_bodies_and_unknown_routes(mj: Mj) -> None:
    r = mj.http.post("/mj/submit/imagine", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == 4
    r = mj.http.post("/mj/submit/imagine", json=["a"])
    assert r.status_code == 400
    r = mj.http.post("/mj/submit/nothing", json={})
    assert r.status_code == 404 and r.json()["code"] == 4
    r = mj.http.get("/mj/task/1/fetch", headers={"Origin": "https://app.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"


def test_follow_up_of_unknown_task(mj: Mj) -> None:
    r = mj.submit("change", {"taskId": "1712345678000001", "action": "UPSCALE", "index": 1})
    assert r.status_code == 404 and r.json()["code"] == 3
    assert mj.fake.submits() == []


def test_channel_test_uses_list_by_condition(mj: Mj) -> None:
    root = mj.admin.root
    r = root.get(f"/api/channel/test/{mj.channel['id']}").json()
    assert r["success"], r
    assert any(q.path == "/mj/task/list-by-condition" and q.json == {"ids": []}
               for q in mj.fake.requests)
    bad = mj.add_channel(mj.fake, key="wrong-secret")
    r = root.get(f"/api/channel/test/{bad['id']}").json()
    assert not r["success"] and "mj-api-secret" in r["message"]
    mj.admin.delete_channel(bad["id"])
