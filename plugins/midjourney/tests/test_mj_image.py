"""The signed image proxy: ``imageUrl`` points at the gateway, the signature is checked,
only images are relayed, and ``ServerAddress`` / ``MjForwardUrlEnabled`` are honoured."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from conftest import Mj

from tests.fakes.midjourney_upstream import PNG_1X1


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query)["sig"][0]


def test_signed_image_url(mj: Mj) -> None:
    task_id = mj.imagine("picture")
    task = mj.wait(task_id, "SUCCESS")
    path, sig = _split(task["imageUrl"])
    assert path == f"/mj/image/{task_id}" and len(sig) == 32
    anonymous = mj.gateway.client()  # the signature is the only key needed
    r = anonymous.get(task["imageUrl"])
    assert r.status_code == 200 and r.content == PNG_1X1
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"

    assert anonymous.get(path).status_code == 403
    assert anonymous.get(path, params={"sig": "0" * 32}).status_code == 403
    assert anonymous.get(path, params={"sig": sig[:-1]}).status_code == 403
    other = mj.imagine("other picture")
    assert anonymous.get(f"/mj/image/{other}", params={"sig": sig}).status_code == 403
    assert anonymous.get("/mj/image/9999", params={"sig": sig}).status_code == 403
    anonymous.close()


def test_only_images_are_relayed(mj: Mj) -> None:
    task_id = mj.imagine("html please")
    task = mj.wait(task_id, "SUCCESS")
    mj.fake.image_type = "text/html"
    mj.fake.image_body = b"<script>alert(1)</script>"
    r = mj.gateway.client().get(task["imageUrl"])
    assert r.status_code == 502 and b"script" not in r.content


def test_server_address_and_forwarding_switch(mj: Mj) -> None:
    task_id = mj.imagine("where")
    mj.wait(task_id, "SUCCESS")
    mj.admin.option("ServerAddress", "https://gw.example.com/")
    try:
        url = mj.fetch(task_id).json()["imageUrl"]
        assert url.startswith(f"https://gw.example.com/mj/image/{task_id}?sig=")
        mj.admin.option("MjForwardUrlEnabled", "false")
        url = mj.fetch(task_id).json()["imageUrl"]
        upstream_id = next(iter(mj.fake.tasks))
        assert url == f"{mj.fake.base_url}/img/{upstream_id}.png"
    finally:
        mj.admin.option("MjForwardUrlEnabled", "true")
        mj.admin.option("ServerAddress", "")
