"""Bad input and attacks on the top-up: forged, unsigned, misaddressed, wrong-money, unknown,
replayed and concurrent duplicate notices, other users' orders, bad amounts. Nothing of it may
credit quota; on SQLite and PostgreSQL."""

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


def _nothing_credited(shop: Shop, user_id: int, trade_no: str) -> None:
    assert shop.quota(user_id) == 0
    assert shop.order(trade_no)["status"] == "pending"
    assert shop.logs(user_id, 1) == []


def test_forged_signature(shop: Shop) -> None:
    user, client = shop.user()
    trade_no = shop.paid_order(client)
    forged = shop.fake.notice(trade_no)
    forged["sign"] = epay_sign(forged, "guessed-key")
    assert shop.fake.send(shop.notify_url, forged) == ["fail"]
    assert shop.fake.send(shop.notify_url, forged, "POST") == ["fail"]
    tampered = shop.fake.notice(trade_no)
    tampered["money"] = "730.00"  # signed for 73.00
    assert shop.fake.send(shop.notify_url, tampered) == ["fail"]
    assert shop.fake.send(shop.notify_url, shop.fake.notice(trade_no, sign="é" * 32)) == ["fail"]
    _nothing_credited(shop, user["id"], trade_no)


def test_missing_sign_and_empty_notices(shop: Shop) -> None:
    user, client = shop.user()
    trade_no = shop.paid_order(client)
    assert shop.fake.send(shop.notify_url, shop.fake.notice(trade_no, sign=None)) == ["fail"]
    assert shop.fake.send(shop.notify_url, shop.fake.notice(trade_no, sign="")) == ["fail"]
    assert shop.fake.send(shop.notify_url, {}, "POST") == ["fail"]
    assert httpx.get(shop.notify_url).text == "fail"
    huge = {**shop.fake.notice(trade_no), "param": "x" * 5000}
    assert shop.fake.send(shop.notify_url, huge, "POST") == ["fail"]
    _nothing_credited(shop, user["id"], trade_no)


def test_wrong_pid_is_refused_and_logged(shop: Shop) -> None:
    user, client = shop.user()
    trade_no = shop.paid_order(client)
    shop.fake.notify_pid = "9999"  # another merchant, signed with the same key
    assert shop.fake.send(shop.notify_url, shop.fake.notice(trade_no)) == ["fail"]
    _nothing_credited(shop, user["id"], trade_no)
    refused = [r["content"] for r in shop.logs(user["id"], 4)]
    assert any(trade_no in c and "merchant" in c for c in refused), refused


def test_wrong_money_is_refused_and_logged(shop: Shop) -> None:
    user, client = shop.user()
    trade_no = shop.paid_order(client)
    for money in ("0.01", "72.99", "73.001", "abc", ""):
        notice = shop.fake.notice(trade_no, money=money)
        assert shop.fake.send(shop.notify_url, notice, "POST") == ["fail"], money
    _nothing_credited(shop, user["id"], trade_no)
    assert any("money" in r["content"] for r in shop.logs(user["id"], 4))
    # The genuine notice still credits afterwards ("73" is the same money as "73.00").
    assert shop.fake.send(shop.notify_url, shop.fake.notice(trade_no, money="73")) == ["success"]
    assert shop.quota(user["id"]) == 10 * QPU


def test_unknown_order_and_unpaid_status(shop: Shop) -> None:
    user, client = shop.user()
    trade_no = shop.paid_order(client)
    unknown = shop.fake.notice(trade_no, out_trade_no="USR1NOnosuchorder1")
    assert shop.fake.send(shop.notify_url, unknown) == ["fail"]
    for status in ("WAIT_BUYER_PAY", "TRADE_CLOSED", ""):
        notice = shop.fake.notice(trade_no, trade_status=status)
        assert shop.fake.send(shop.notify_url, notice) == ["fail"], status
    _nothing_credited(shop, user["id"], trade_no)


def test_replayed_notice_credits_once(shop: Shop) -> None:
    user, client = shop.user()
    trade_no = shop.paid_order(client, 3)
    notice = shop.fake.notice(trade_no)
    replies = [
        shop.fake.send(shop.notify_url, notice, m)[0] for m in ("GET", "POST", "GET", "POST")
    ]
    assert replies == ["success"] * 4
    assert shop.quota(user["id"]) == 3 * QPU
    assert len(shop.logs(user["id"], 1)) == 1


def test_fifty_concurrent_duplicate_notices_credit_once(shop: Shop) -> None:
    user, client = shop.user()
    trade_no = shop.paid_order(client, 7)
    replies = shop.fake.send(shop.notify_url, shop.fake.notice(trade_no), "GET", count=50)
    assert len(replies) == 50 and set(replies) == {"success"}, replies
    assert shop.quota(user["id"]) == 7 * QPU
    assert len(shop.logs(user["id"], 1)) == 1
    assert shop.order(trade_no)["status"] == "success"


def test_notice_for_another_users_order(shop: Shop) -> None:
    victim, victim_client = shop.user()
    attacker, attacker_client = shop.user()
    victim_order = shop.paid_order(victim_client, 5)
    attacker_order = shop.paid_order(attacker_client, 1)
    # The attacker re-targets his own genuine notice at the victim's order: the sign breaks.
    own = shop.fake.notice(attacker_order)
    assert shop.fake.send(shop.notify_url, {**own, "out_trade_no": victim_order}) == ["fail"]
    # A genuine notice for the victim's order credits the order's owner, whatever it carries.
    notice = shop.fake.notice(victim_order, param=str(attacker["id"]))
    assert shop.fake.send(shop.notify_url, notice) == ["success"]
    assert shop.quota(victim["id"]) == 5 * QPU and shop.quota(attacker["id"]) == 0
    mine = attacker_client.get("/api/user/topup/self").json()
    assert [o["trade_no"] for o in mine["data"]] == [attacker_order]
    found = attacker_client.get("/api/user/topup/self", params={"keyword": victim_order}).json()
    assert found["total"] == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (0, "at least 1"),
        (-5, "at least 1"),
        ("abc", "whole number"),
        (1.5, "whole number"),
        (True, "whole number"),
        (None, "amount"),
        (10**12, "at most"),
        (10**30, "at most"),
        ("1e3", "whole number"),
        ("--5", "whole number"),
    ],
)
def test_bad_amounts(shop: Shop, amount: object, message: str) -> None:
    user, client = shop.spare()
    for path in ("/api/user/amount", "/api/user/pay"):
        r = client.post(path, json={"amount": amount, "payment_method": "alipay"})
        body = r.json()
        assert r.status_code == 200 and body["success"] is False, body
        assert body["message"] == "error" and message in body["data"], body
    assert client.get("/api/user/topup/self").json()["total"] == 0
    assert shop.quota(user["id"]) == 0


def test_minimum_and_missing_method(shop: Shop) -> None:
    _, client = shop.spare()
    shop.option("MinTopUp", "20")
    try:
        r = client.post("/api/user/pay", json={"amount": 19, "payment_method": "alipay"})
        assert "at least 20" in r.json()["data"]
    finally:
        shop.option("MinTopUp", "1")
    r = client.post("/api/user/pay", json={"amount": 5})
    assert "payment_method" in r.json()["data"]
    r = client.post("/api/user/pay", json={"amount": 5, "payment_method": "bitcoin"})
    assert "not offered" in r.json()["data"]
    assert httpx.post(shop.base_url + "/api/user/pay", json={"amount": 5}).status_code == 401
    assert api(client, "GET", "/api/user/topup/self") == []
    assert api(client, "POST", "/api/user/amount", json={"amount": " 12 "}) == "87.60"
