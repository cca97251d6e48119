"""The whole top-up: price preview, POST /api/user/pay, the browser at the fake EPay site, the
provider's notify back to the gateway (GET and POST style, with retries) and credited quota;
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.fakes.epay_upstream import epay_sign
from tests.gateway import api

if TYPE_CHECKING:
    from epay_harness import Shop

pytest_plugins = ["epay_harness"]

QPU = 500_000


@pytest.fixture(autouse=True)
def _fresh_knobs(shop: Shop) -> Iterator[None]:
    shop.fake.reset()
    yield
    shop.fake.reset()


def test_price_preview_follows_price_and_group_ratio(shop: Shop) -> None:
    _, client = shop.user()
    r = client.post("/api/user/amount", json={"amount": 10})
    assert r.json() == {"success": True, "message": "success", "data": "73.00", "quota": 10 * QPU}
    shop.option("TopupGroupRatio", '{"default": 0.5, "vip": 1}')
    try:
        assert api(client, "POST", "/api/user/amount", json={"amount": 3}) == "10.95"
    finally:
        shop.option("TopupGroupRatio", '{"default": 1, "vip": 1, "svip": 1}')
    info = api(client, "GET", "/api/user/topup/info")
    assert info["min_topup"] == 1 and info["enable_online_topup"]
    assert {"type": "alipay", "name": "alipay", "provider": "epay"} in info["pay_methods"]


def _refusal(r, text: str) -> bool:  # type: ignore[no-untyped-def]
    """New API's refusal on the top-up routes: 200, message "error", the reason in data."""
    body = r.json()
    assert r.status_code == 200 and body["message"] == "error" and not body["success"], body
    return text in body["data"]


def test_full_flow_get_notify(shop: Shop) -> None:
    user, client = shop.user()
    answer = shop.pay(client, 10, "alipay")
    action, trade_no = answer["form"], answer["trade_no"]
    fields = answer["data"]  # New API's shape: the form fields, and the submit URL beside them
    assert answer["url"] == action["url"] and set(answer) >= {"success", "message", "data", "url"}
    assert action["url"] == shop.fake.base_url + "/submit.php" and action["method"] == "POST"
    assert (
        fields["pid"] == shop.pid
        and fields["type"] == "alipay"
        and fields["out_trade_no"] == trade_no
    )
    assert fields["money"] == "73.00" and fields["name"] == "TUC10" and fields["sign_type"] == "MD5"
    assert fields["notify_url"] == shop.base_url + "/api/user/epay/notify"
    assert fields["return_url"] == shop.base_url + "/topup"
    assert fields["sign"] == epay_sign(fields, shop.key)
    assert trade_no.startswith(f"USR{user['id']}NO")
    pending = shop.order(trade_no)
    assert pending["status"] == "pending" and pending["money"] == 73.0 and pending["amount"] == 10

    page = shop.browser_submit(action)
    assert page.status_code == 200, page.text
    assert shop.fake.wait_reply(trade_no) == "success"
    assert shop.fake.replies(trade_no) == ["success"]
    assert shop.quota(user["id"]) == 10 * QPU

    done = shop.order(trade_no)
    assert done["status"] == "success" and done["complete_time"] > 0
    assert done["provider_trade_no"].startswith("EP") and done["payment_provider"] == "epay"
    topups = shop.logs(user["id"], 1)
    assert len(topups) == 1 and topups[0]["quota"] == 10 * QPU and trade_no in topups[0]["content"]
    r = client.get("/api/user/topup/self", params={"p": 0, "page_size": 5})
    body = r.json()
    assert body["success"] and body["total"] == 1 and body["data"][0]["status"] == "success"
    assert "payment_completed" in shop.marks.read_text().split()


def test_post_style_provider_with_retries_credits_once(shop: Shop) -> None:
    user, client = shop.user()
    shop.fake.notify_method = "POST"
    shop.fake.corrupt_first = 2  # garbled in transit: we must answer fail, it must retry
    shop.fake.lose_replies = 1  # our first "success" is lost: the retry is a duplicate
    answer = shop.pay(client, 2, "wxpay")
    trade_no = answer["trade_no"]
    assert shop.browser_submit(answer["form"]).status_code == 200
    assert shop.fake.wait_reply(trade_no) == "success"
    assert shop.fake.replies(trade_no) == ["fail", "fail", "success", "success"]
    assert shop.quota(user["id"]) == 2 * QPU
    assert len(shop.logs(user["id"], 1)) == 1
    assert shop.order(trade_no)["payment_method"] == "wxpay"


def test_custom_callback_address_and_return_url_never_credits(shop: Shop) -> None:
    user, client = shop.user()
    shop.option("ServerAddress", "http://ui.example.invalid/")
    shop.option("CustomCallbackAddress", shop.base_url + "/")
    try:
        shop.fake.auto_notify = False
        answer = shop.pay(client, 1)
    finally:
        shop.option("ServerAddress", shop.base_url)
        shop.option("CustomCallbackAddress", "")
    fields = answer["data"]
    assert fields["notify_url"] == shop.base_url + "/api/user/epay/notify"
    assert fields["return_url"] == "http://ui.example.invalid/topup"
    shop.browser_submit(answer["form"])
    # The browser comes back to the return page with the signed notice: display only.
    back = httpx.get(shop.base_url + "/topup", params=shop.fake.notice(answer["trade_no"]))
    assert back.status_code in (200, 404)
    assert shop.quota(user["id"]) == 0 and shop.order(answer["trade_no"])["status"] == "pending"


def test_invitation_rebate_after_commit(shop: Shop) -> None:
    inviter, inviter_client = shop.user()
    code = api(inviter_client, "GET", "/api/user/aff")
    invitee, client = shop.user(aff_code=code)
    assert invitee["inviter_id"] == inviter["id"]
    shop.option("InviteRebateTimes", "1")
    shop.option("InviteRebatePercent", "10")
    try:
        for _ in range(2):
            answer = shop.pay(client, 4)
            shop.browser_submit(answer["form"])
            assert shop.fake.wait_reply(answer["trade_no"]) == "success"
    finally:
        shop.option("InviteRebateTimes", "0")
        shop.option("InviteRebatePercent", "0")
    assert shop.quota(invitee["id"]) == 8 * QPU
    assert shop.quota(inviter["id"]) == 4 * QPU // 10  # only the first top-up earns a rebate


def test_order_lists_are_paginated_and_private(shop: Shop) -> None:
    user, client = shop.user()
    other, other_client = shop.user()
    trade_nos = [shop.pay(client, n)["trade_no"] for n in (1, 2, 3)]
    body = client.get("/api/user/topup/self", params={"p": 1, "page_size": 2}).json()
    assert body["total"] == 3 and [o["trade_no"] for o in body["data"]] == [trade_nos[0]]
    assert other_client.get("/api/user/topup/self").json()["total"] == 0
    assert other_client.get("/api/topup/").json()["success"] is False
    everyone = api(shop.root, "GET", "/api/topup/", params={"user_id": user["id"]})
    assert sorted(o["trade_no"] for o in everyone) == sorted(trade_nos)
    pending = shop.root.get(
        "/api/topup/", params={"status": "pending", "user_id": user["id"]}
    ).json()
    assert pending["total"] == 3
    assert shop.root.get("/api/topup/", params={"status": "nope"}).json()["success"] is False
    assert other["quota"] == 0


def test_payment_methods_and_configuration(shop: Shop) -> None:
    _, client = shop.user()
    shop.option("PayMethods", '[{"type": "wxpay", "name": "WeChat", "min_topup": 5}]')
    try:
        r = client.post("/api/user/pay", json={"amount": 10, "payment_method": "alipay"})
        assert _refusal(r, "not offered")
        r = client.post("/api/user/pay", json={"amount": 4, "payment_method": "wxpay"})
        assert _refusal(r, "at least 5")
        assert shop.pay(client, 5, "wxpay")["data"]["type"] == "wxpay"
        methods = api(client, "GET", "/api/user/topup/info")["pay_methods"]
        assert methods == [{"type": "wxpay", "name": "WeChat", "provider": "epay", "min_topup": 5}]
    finally:
        shop.option("PayMethods", "")
    bad = shop.root.put("/api/option/", json={"key": "PayMethods", "value": '{"type": 1}'})
    assert bad.json()["success"] is False
    assert (
        shop.root.put("/api/option/", json={"key": "Price", "value": "0"}).json()["success"]
        is False
    )
    # The echo test plugin registers a provider that cannot create payments.
    r = client.post("/api/user/pay", json={"amount": 1, "payment_method": "echo"})
    assert _refusal(r, "cannot create payments")
    shop.option("EpayKey", "")
    try:
        r = client.post("/api/user/pay", json={"amount": 1, "payment_method": "alipay"})
        assert _refusal(r, "not configured")
    finally:
        shop.option("EpayKey", shop.key)
    keys = {o["key"]: o["value"] for o in api(shop.root, "GET", "/api/option/")}
    assert keys["EpayKey"] == "" and keys["EpayId"] == shop.pid
