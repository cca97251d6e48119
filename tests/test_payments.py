"""The core of online top-up (oneapi.payments) in-process: prices, methods, order creation and
crediting exactly once (50 concurrent credits), mismatches, the payment_completed hook and the
invitation rebate; on SQLite and PostgreSQL. The HTTP flow with EPay is in plugins/epay/tests."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pluggy
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from oneapi import defaults, hookimpl, hookspecs, models, payment_defaults, payments
from oneapi.db import Database
from oneapi.options import Options
from oneapi.registry import PaymentProvider, build_registry
from oneapi.settings import Settings
from tests.dbs import postgres_database
from tests.services import require_service

QPU = 500_000


class CardPay(PaymentProvider):
    name = "cardpay"
    methods = ("card", "bank")

    async def create_payment(
        self, gateway: Any, order: Any, urls: dict[str, str]
    ) -> dict[str, Any]:
        if order.amount == 13:
            raise RuntimeError("provider is down")
        return {
            "url": "https://pay.example/go",
            "method": "get",
            "fields": {
                "order": order.trade_no,
                "notify": urls["callback_base"] + "/n",
                "back": urls["return_url"],
            },
        }


class Recorder:
    def __init__(self) -> None:
        self.orders: list[Any] = []

    @hookimpl
    def payment_completed(self, order: Any) -> Any:
        async def later() -> None:
            self.orders.append(order)

        return later()

    @hookimpl
    def register_options(self) -> list[Any]:
        return defaults.register_options() + payment_defaults.register_options()

    @hookimpl
    def register_payment_providers(self) -> list[PaymentProvider]:
        return [CardPay()]


class Gw:
    """The parts of the Gateway that oneapi.payments uses."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("oneapi")
        self.pm.add_hookspecs(hookspecs)
        self.recorder = Recorder()
        self.pm.register(self.recorder)
        self.registry = build_registry(self.pm)
        self.options = Options(self.registry.options)
        self.invalidated: list[int] = []
        self.cache = self
        self.services = self  # what a provider is handed: it reads ``options``

    def invalidate_user(self, user_id: int) -> None:
        self.invalidated.append(user_id)

    def set(self, **values: str) -> None:
        self.options.values.update(values)
        self.options._parsed.clear()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def dsn(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    with ExitStack() as stack:
        if request.param == "postgres":
            require_service("PostgreSQL")
            yield "postgres", stack.enter_context(postgres_database())
        else:
            yield "sqlite", ""


@pytest.fixture(scope="module")
async def db(dsn: tuple[str, str]) -> AsyncIterator[Database]:
    path = Path(tempfile.mkdtemp(prefix="oneapi-pay-")) / "one-api.db"
    database = Database(Settings(SQL_DSN=dsn[1], SQLITE_PATH=str(path)))
    EXECUTOR_CACHE.clear()  # tortoise caches SQL per connection name: another dialect now
    await database.connect()
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
def gw() -> Gw:
    return Gw()


_users = iter(range(1, 10**6))


async def _user(group: str = "default", inviter: int = 0) -> models.User:
    return await models.User.create(username=f"pay{next(_users)}", group=group, inviter_id=inviter)


def _notice(order: models.TopUp, **changes: Any) -> payments.PaymentNotice:
    fields: dict[str, Any] = {
        "provider": "cardpay",
        "trade_no": order.trade_no,
        "money": order.money,
        "paid": True,
        "provider_trade_no": "P1",
        "merchant_id": "m",
        "expected_merchant_id": "m",
    }
    return payments.PaymentNotice(**{**fields, **changes})


async def _order(gw: Gw, user: models.User, amount: int = 10, method: str = "card") -> models.TopUp:
    order, _ = await payments.create_order(gw, user, amount, method, "http://gw.test")
    return order


async def _quota(user: models.User) -> int:
    row = await models.User.get(id=user.id)
    return int(row.quota)


def test_option_validators() -> None:
    v = payment_defaults
    assert v.validate_price("7.3") is None and v.validate_price("0") and v.validate_price("nan")
    assert v.validate_price("1e-9") and v.validate_price("-1") and v.validate_price("x")
    assert (
        v.validate_min_topup("1") is None
        and v.validate_min_topup("0")
        and v.validate_min_topup("1.5")
    )
    assert v.validate_pay_methods("") is None and v.validate_pay_methods("[]") is None
    assert (
        v.validate_pay_methods('["alipay", {"type": "usdt", "provider": "epay", "min_topup": 10}]')
        is None
    )
    for bad in (
        '{"type": "x"}',
        "[1]",
        '[{"name": "x"}]',
        '["a", "a"]',
        '[{"type": "a", "min_topup": -1}]',
        '[{"type": "a", "min_topup": "1.5"}]',
        "[",
        '[{"type": "a", "name": 3}]',
    ):
        assert v.validate_pay_methods(bad), bad
    assert (
        v.validate_url("") is None
        and v.validate_url("https://x.y") is None
        and v.validate_url("ftp://x")
    )
    assert (
        v.validate_percent("100") is None and v.validate_percent("101") and v.validate_times("101")
    )


async def test_quote_prices_and_limits(db: Database, gw: Gw) -> None:
    user = await _user("vip")
    assert payments.quote(gw, user, 10).money == Decimal("73.00")
    gw.set(TopupGroupRatio='{"vip": 0.8}', Price="7.333")
    priced = payments.quote(gw, user, 3)
    assert priced.money == Decimal("17.60") and priced.quota == 3 * QPU  # 3*7.333*0.8 = 17.5992
    gw.set(TopupGroupRatio='{"vip": 0}', Price="0.005")
    assert payments.quote(gw, user, 1).money == Decimal("0.01")  # ratio 0 counts as 1; half-up
    gw.set(Price="0.001")
    with pytest.raises(payments.PaymentError, match="too low"):
        payments.quote(gw, user, 1)
    gw.set(Price="7.3", MinTopUp="5")
    for amount, message in (
        (4, "at least 5"),
        (-1, "at least 5"),
        (10**8, "at most"),
        (True, "whole"),
    ):
        with pytest.raises(payments.PaymentError, match=message):
            payments.quote(gw, user, amount)
    assert payments.quote(gw, user, 2, {"min_topup": 2}).amount == 2


async def test_methods_and_order_creation(db: Database, gw: Gw) -> None:
    user = await _user()
    assert [m["type"] for m in payments.offered_methods(gw)] == ["card", "bank"]
    order, action = await payments.create_order(gw, user, 10, "card", "http://gw.test")
    assert action == {
        "url": "https://pay.example/go",
        "method": "GET",
        "fields": {
            "order": order.trade_no,
            "notify": "http://gw.test/n",
            "back": "http://gw.test/topup",
        },
    }
    row = await models.TopUp.get(trade_no=order.trade_no)
    assert (row.status, row.amount, row.money, row.payment_provider) == (
        "pending",
        10,
        Decimal("73.00"),
        "cardpay",
    )
    gw.set(ServerAddress="https://ui.test/", CustomCallbackAddress="https://cb.test")
    _, action = await payments.create_order(gw, user, 1, "bank", "http://ignored")
    assert (
        action["fields"]["notify"] == "https://cb.test/n"
        and action["fields"]["back"] == "https://ui.test/topup"
    )
    gw.set(
        PayMethods='[{"type": "bank", "name": "Bank"}, {"type": "usdt", "provider": "cardpay"}, "nope"]'
    )
    assert payments.offered_methods(gw) == [
        {"type": "bank", "name": "Bank", "provider": "cardpay"},
        {"type": "usdt", "name": "usdt", "provider": "cardpay"},
    ]
    for method in ("card", "nope", ""):
        with pytest.raises(payments.PaymentError):
            await payments.create_order(gw, user, 1, method, "http://gw.test")
    before = await models.TopUp.filter(user_id=user.id).count()
    with pytest.raises(payments.PaymentError) as failed:
        await payments.create_order(gw, user, 13, "bank", "http://gw.test")
    assert failed.value.code == "provider"
    assert await models.TopUp.filter(user_id=user.id).count() == before  # no orphan order


async def test_credit_once_and_hooks_after_commit(db: Database, gw: Gw) -> None:
    user = await _user()
    order = await _order(gw, user, 10)
    assert (
        await payments.credit_order(gw, _notice(order, payment_method="bank")) == payments.CREDITED
    )
    assert await payments.credit_order(gw, _notice(order)) == payments.DUPLICATE
    assert await _quota(user) == 10 * QPU
    row = await models.TopUp.get(id=order.id)
    assert (row.status, row.provider_trade_no, row.payment_method) == ("success", "P1", "bank")
    assert row.complete_time > 0
    logs = await models.Log.filter(user_id=user.id, type=models.LOG_TOPUP)
    assert len(logs) == 1 and logs[0].quota == 10 * QPU
    assert [o.trade_no for o in gw.recorder.orders] == [order.trade_no]
    assert gw.invalidated == [user.id]


async def test_fifty_concurrent_credits_credit_once(db: Database, gw: Gw) -> None:
    user = await _user()
    order = await _order(gw, user, 3)
    outcomes = await asyncio.gather(*(payments.credit_order(gw, _notice(order)) for _ in range(50)))
    assert sorted(set(outcomes)) == [payments.CREDITED, payments.DUPLICATE]
    assert outcomes.count(payments.CREDITED) == 1
    assert await _quota(user) == 3 * QPU
    assert await models.Log.filter(user_id=user.id, type=models.LOG_TOPUP).count() == 1
    assert len(gw.recorder.orders) == 1
    locked = models.TopUp.filter(trade_no=order.trade_no).select_for_update().sql()
    assert ("FOR UPDATE" in locked) == (db.dialect == "postgres")


async def test_refused_notices_change_nothing(db: Database, gw: Gw) -> None:
    user = await _user()
    order = await _order(gw, user, 10)
    cases = [
        (_notice(order, money=Decimal("73.01")), "mismatch"),
        (_notice(order, money=Decimal("73.001")), "mismatch"),
        (_notice(order, merchant_id="other"), "mismatch"),
        (_notice(order, provider="epay"), "mismatch"),
        (_notice(order, paid=False), "status"),
        (_notice(order, trade_no="USR0NOnothing"), "not_found"),
    ]
    for notice, code in cases:
        with pytest.raises(payments.PaymentError) as refused:
            await payments.credit_order(gw, notice)
        assert refused.value.code == code, notice
    assert await _quota(user) == 0 and not gw.recorder.orders
    assert (await models.TopUp.get(id=order.id)).status == "pending"
    assert await models.Log.filter(user_id=user.id, type=models.LOG_SYSTEM).count() == 4
    await models.TopUp.filter(id=order.id).update(status="expired")
    with pytest.raises(payments.PaymentError, match="expired"):
        await payments.credit_order(gw, _notice(order))


async def test_invitation_rebate(db: Database, gw: Gw) -> None:
    inviter = await _user()
    invitee = await _user(inviter=inviter.id)
    gw.set(InviteRebateTimes="2", InviteRebatePercent="12.5")
    for amount in (8, 8, 8):
        order = await _order(gw, invitee, amount)
        assert await payments.credit_order(gw, _notice(order)) == payments.CREDITED
    assert await _quota(invitee) == 24 * QPU
    assert await _quota(inviter) == 2 * (8 * QPU // 8)  # 12.5 % of the first two top-ups
    assert await models.Log.filter(user_id=inviter.id, type=models.LOG_SYSTEM).count() == 2
