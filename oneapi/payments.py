"""Online top-up, the core side: prices, orders, and crediting a paid order exactly once.

A payment plugin only creates payments and verifies callbacks; everything about money and
quota is here. The flow:

1. ``quote`` prices an amount (USD units of quota) for a user: ``amount × Price ×
   TopupGroupRatio[group]`` in the provider's currency, rounded half-up to 2 decimals.
2. ``create_order`` asks the provider what the browser must do and stores a ``pending``
   ``top_ups`` row under a fresh ``trade_no``.
3. A provider's callback handler verifies the callback and hands a ``PaymentNotice`` to
   ``credit_order``, which in ONE transaction locks the order row (``SELECT ... FOR UPDATE``;
   SQLite serializes transactions instead), checks provider, merchant id and money, moves
   ``pending`` to ``success``, adds ``amount × QuotaPerUnit`` to the user's quota with an
   atomic update and writes a top-up log row. An order already ``success`` is a duplicate and
   changes nothing. Only after the commit do the invitation rebate and the
   ``payment_completed`` hook run, and only then may the handler tell the provider "success".
"""

from __future__ import annotations

import inspect
import logging
import secrets
import string
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from tortoise.expressions import F

from . import models
from .db import write_transaction
from .registry import PaymentProvider

__all__ = [
    "CREDITED",
    "DUPLICATE",
    "MAX_TOPUP_USD",
    "PaymentError",
    "PaymentNotice",
    "Quote",
    "create_order",
    "credit_order",
    "money_text",
    "offered_methods",
    "quote",
    "resolve_method",
]

log = logging.getLogger("oneapi.payments")

CREDITED, DUPLICATE = "credited", "duplicate"
#: The largest single top-up in USD (far beyond any real payment, far below every limit).
MAX_TOPUP_USD = 10_000_000
#: ``top_ups.money`` is DECIMAL(12, 2).
_MAX_MONEY = Decimal("9999999999.99")
_MAX_QUOTA = 2**53 - 1
_CENT = Decimal("0.01")
_ALPHABET = string.ascii_letters + string.digits


class PaymentError(Exception):
    """A payment could not be created or a callback must not be credited.

    ``code`` is one of ``invalid`` (bad input), ``config`` (the provider is not set up),
    ``not_found`` (no such order), ``mismatch`` (provider, merchant or money differ),
    ``status`` (the order is neither pending nor success), ``provider`` (the provider failed).
    """

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class PaymentNotice:
    """A provider's verified word that an order was paid (built by the provider plugin).

    ``merchant_id`` is the merchant the callback names and ``expected_merchant_id`` the one
    configured; the core credits only when they are equal and ``money`` equals the order's.
    """

    provider: str
    trade_no: str
    money: Decimal
    paid: bool
    provider_trade_no: str = ""
    payment_method: str = ""
    merchant_id: str = ""
    expected_merchant_id: str = ""


@dataclass(frozen=True)
class Quote:
    """What a top-up of ``amount`` USD costs a user, and the quota it brings."""

    amount: int
    money: Decimal
    quota: int
    group_ratio: float
    price: Decimal


def money_text(value: Decimal | float | int | str) -> str:
    """Money as providers and the UI expect it: 2 decimals, ``"73.00"``."""
    return str(Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP))


def _now() -> int:
    return int(time.time())


def _quota_per_unit(gw: Any) -> Decimal:
    value = Decimal(str(gw.options.float("QuotaPerUnit", 500000.0)))
    return value if value > 0 else Decimal(500000)


def _pay_method_items(gw: Any) -> list[dict[str, Any]]:
    raw = gw.options.get("PayMethods", "").strip()
    items = gw.options.json("PayMethods") if raw else []
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            item = {"type": item}
        if isinstance(item, dict) and isinstance(item.get("type"), str) and item["type"]:
            out.append(item)
    return out


def _provider_of(gw: Any, method: str, wanted: str = "") -> str:
    for name, provider in gw.registry.payment_providers.items():
        if (not wanted or name == wanted) and method in provider.methods:
            return str(name)
    return wanted if wanted in gw.registry.payment_providers else ""


def offered_methods(gw: Any) -> list[dict[str, Any]]:
    """The methods the UI offers: ``PayMethods`` if set, else every provider's methods.

    Each is ``{"type", "name", "provider", "color"?, "min_topup"?}``; a listed method whose
    provider is not loaded is left out.
    """
    items = _pay_method_items(gw)
    if not items:
        items = [
            {"type": method, "provider": name}
            for name, provider in gw.registry.payment_providers.items()
            for method in provider.methods
        ]
    out = []
    for item in items:
        provider = _provider_of(gw, item["type"], str(item.get("provider") or ""))
        if not provider:
            continue
        entry = {
            "type": item["type"],
            "name": str(item.get("name") or item["type"]),
            "provider": provider,
        }
        for key in ("color", "min_topup"):
            if item.get(key) not in (None, ""):
                entry[key] = item[key]
        out.append(entry)
    return out


def resolve_method(gw: Any, method: str) -> tuple[PaymentProvider, dict[str, Any]]:
    """The provider of an offered payment method; PaymentError if it is not offered."""
    if not method:
        raise PaymentError("choose a payment method (payment_method)")
    for entry in offered_methods(gw):
        if entry["type"] == method:
            return gw.registry.payment_providers[entry["provider"]], entry
    offered = ", ".join(e["type"] for e in offered_methods(gw)) or "none"
    raise PaymentError(f"payment method {method!r} is not offered (offered: {offered})")


def _min_topup(gw: Any, method_entry: dict[str, Any] | None) -> int:
    minimum = max(gw.options.int("MinTopUp", 1), 1)
    if method_entry and method_entry.get("min_topup") not in (None, ""):
        try:
            minimum = max(int(Decimal(str(method_entry["min_topup"]))), 1)
        except (InvalidOperation, ValueError):
            pass
    return minimum


def quote(
    gw: Any, user: models.User, amount: int, method_entry: dict[str, Any] | None = None
) -> Quote:
    """Price ``amount`` USD for ``user``; PaymentError with a clear reason if it cannot be paid."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise PaymentError("the amount must be a whole number of USD")
    minimum = _min_topup(gw, method_entry)
    if amount < minimum:
        raise PaymentError(f"the amount must be at least {minimum} (USD)")
    qpu = _quota_per_unit(gw)
    limit = min(MAX_TOPUP_USD, int(Decimal(_MAX_QUOTA) / qpu))
    if amount > limit:
        raise PaymentError(f"the amount must be at most {limit} (USD)")
    try:
        price = Decimal(gw.options.get("Price", "7.3").strip() or "7.3")
    except InvalidOperation:
        price = Decimal("7.3")
    ratios = gw.options.json("TopupGroupRatio")
    ratio = ratios.get(user.group or "default", 1) if isinstance(ratios, dict) else 1
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or ratio <= 0:
        ratio = 1
    money = (Decimal(amount) * price * Decimal(str(ratio))).quantize(_CENT, rounding=ROUND_HALF_UP)
    if money < _CENT:
        raise PaymentError("the amount to pay is too low (below 0.01)")
    if money > _MAX_MONEY:
        raise PaymentError("the amount to pay is too large")
    quota = int(Decimal(amount) * qpu)
    if user.quota + quota > _MAX_QUOTA:
        raise PaymentError("this top-up would take your quota beyond the largest storable value")
    return Quote(amount, money, quota, float(ratio), price)


def _trade_no(user_id: int) -> str:
    """Our order number: ``USR{user}NO{random}{unix}`` as new-api makes it (≤ 64 chars)."""
    nonce = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"USR{user_id}NO{nonce}{_now()}"


def callback_urls(gw: Any, request_base: str) -> dict[str, str]:
    """Bases a provider builds its URLs from.

    ``callback_base``: where the provider's server calls us (CustomCallbackAddress, else
    ServerAddress, else the address this request came in on); ``server_base``: where browsers
    reach us; ``return_url``: the page shown after paying (display only, never credits).
    """
    server = (gw.options.get("ServerAddress", "").strip() or request_base).rstrip("/")
    callback = (gw.options.get("CustomCallbackAddress", "").strip() or server).rstrip("/")
    return {"callback_base": callback, "server_base": server, "return_url": server + "/topup"}


async def create_order(
    gw: Any, user: models.User, amount: int, method: str, request_base: str
) -> tuple[models.TopUp, dict[str, Any]]:
    """A ``pending`` order and what the browser must do (``{"url", "method", "fields"}``)."""
    provider, entry = resolve_method(gw, method)
    priced = quote(gw, user, amount, entry)
    order = models.TopUp(
        user_id=user.id,
        amount=priced.amount,
        money=priced.money,
        trade_no=_trade_no(user.id),
        payment_method=method,
        payment_provider=provider.name,
        status="pending",
        create_time=_now(),
    )
    name = provider.name
    try:
        action = await provider.create_payment(gw.services, order, callback_urls(gw, request_base))
    except PaymentError:
        raise
    except NotImplementedError:
        raise PaymentError(f"payment provider {name!r} cannot create payments", "config") from None
    except Exception as exc:
        log.exception("payment provider %s failed to create a payment", name)
        raise PaymentError(
            f"the payment provider failed: {type(exc).__name__}", "provider"
        ) from exc
    url = str(action.get("url", "")) if isinstance(action, dict) else ""
    if not url.startswith(("http://", "https://")):
        raise PaymentError(f"payment provider {name!r} returned no payment URL", "provider")
    await order.save()
    log.info("top-up order %s: user %s, $%s, %s via %s/%s", order.trade_no, user.id, amount,
             money_text(order.money), name, method)  # fmt: skip
    fields = {str(k): str(v) for k, v in dict(action.get("fields") or {}).items()}
    action = {"url": url, "method": str(action.get("method") or "POST").upper(), "fields": fields}
    return order, action


def _to_money(value: Any) -> Decimal | None:
    """The exact amount (never rounded: 73.001 is not 73.00), or None if it is no number."""
    try:
        money = Decimal(str(value))
    except InvalidOperation:
        return None
    return money if money.is_finite() else None


async def _system_log(user_id: int, content: str, quota: int = 0) -> None:
    user = await models.User.filter(id=user_id).only("username").first()
    await models.Log.create(
        user_id=user_id,
        created_at=_now(),
        type=models.LOG_SYSTEM,
        content=content,
        username=user.username if user else "",
        quota=max(min(quota, 2**31 - 1), 0),
    )


def _problem(order: models.TopUp, notice: PaymentNotice) -> str:
    """Why a notice does not fit its order ("" when provider, merchant and money all match)."""
    paid = _to_money(notice.money)
    if order.payment_provider != notice.provider:
        return f"provider {notice.provider!r} is not the order's {order.payment_provider!r}"
    if notice.merchant_id != notice.expected_merchant_id:
        return f"merchant id {notice.merchant_id!r} is not ours"
    if paid is None or paid != _to_money(order.money):
        return f"money {notice.money} does not match the order's {money_text(order.money)}"
    return ""


async def _mark_paid(gw: Any, order: models.TopUp, notice: PaymentNotice) -> int | None:
    """Inside the transaction: pending → success, quota, top-up log; the quota added (None: a
    concurrent credit won). The status condition keeps it exactly-once even where FOR UPDATE
    is a no-op (SQLite)."""
    quota = int(Decimal(order.amount) * _quota_per_unit(gw))
    changes: dict[str, Any] = {"status": "success", "complete_time": _now()}
    if notice.provider_trade_no:
        changes["provider_trade_no"] = notice.provider_trade_no[:128]
    if notice.payment_method and len(notice.payment_method) <= 32:
        changes["payment_method"] = notice.payment_method
    if not await models.TopUp.filter(id=order.id, status="pending").update(**changes):
        return None
    for key, value in changes.items():
        setattr(order, key, value)
    await models.User.filter(id=order.user_id).update(quota=F("quota") + quota)
    user = await models.User.filter(id=order.user_id).only("username").first()
    await models.Log.create(
        user_id=order.user_id,
        created_at=order.complete_time,
        type=models.LOG_TOPUP,
        username=user.username if user else "",
        quota=min(quota, 2**31 - 1),
        content=f"online top-up of ${order.amount} ({quota} quota), paid {money_text(order.money)} "
        f"via {notice.provider}/{order.payment_method}, order {order.trade_no}",
    )
    return quota


async def credit_order(gw: Any, notice: PaymentNotice) -> str:
    """Credit a paid order once: ``CREDITED`` or ``DUPLICATE``; PaymentError otherwise.

    Only after this returns may the provider be told "success".
    """
    if not notice.paid:
        raise PaymentError("the notice does not report a successful payment", "status")
    async with write_transaction():
        order = await models.TopUp.filter(trade_no=notice.trade_no).select_for_update().first()
        if order is None:
            raise PaymentError(f"no top-up order {notice.trade_no!r}", "not_found")
        if order.status == "success":
            return DUPLICATE
        if order.status != "pending":
            raise PaymentError(f"top-up order {order.trade_no} is {order.status}", "status")
        problem = _problem(order, notice)
        quota = None if problem else await _mark_paid(gw, order, notice)
    if problem:
        log.warning("top-up order %s NOT credited: %s", order.trade_no, problem)
        await _system_log(
            order.user_id, f"payment notice for order {order.trade_no} refused: {problem}"
        )
        raise PaymentError(f"order {order.trade_no}: {problem}", "mismatch")
    if quota is None:
        return DUPLICATE
    log.info("top-up order %s credited: user %s +%s quota", order.trade_no, order.user_id, quota)
    await _after_commit(gw, order, quota)
    return CREDITED


async def _after_commit(gw: Any, order: models.TopUp, quota: int) -> None:
    """Cache, invitation rebate and the ``payment_completed`` hook; never undoes the credit."""
    gw.cache.invalidate_user(order.user_id)
    try:
        await _invite_rebate(gw, order, quota)
    except Exception:
        log.exception("invitation rebate for order %s failed", order.trade_no)
    for result in gw.pm.hook.payment_completed(order=order):
        try:
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("a payment_completed hook failed for order %s", order.trade_no)


async def _invite_rebate(gw: Any, order: models.TopUp, quota: int) -> None:
    """The inviter earns InviteRebatePercent of the quota of the user's first N top-ups."""
    times = gw.options.int("InviteRebateTimes", 0)
    percent = Decimal(str(gw.options.float("InviteRebatePercent", 0.0)))
    if times <= 0 or percent <= 0:
        return
    user = await models.User.filter(id=order.user_id).only("inviter_id", "username").first()
    if user is None or not user.inviter_id:
        return
    rank = await models.TopUp.filter(
        user_id=order.user_id, status="success", id__lte=order.id
    ).count()
    if rank > times:
        return
    rebate = int(Decimal(quota) * min(percent, Decimal(100)) / 100)
    if rebate <= 0:
        return
    await models.User.filter(id=user.inviter_id).update(quota=F("quota") + rebate)
    gw.cache.invalidate_user(user.inviter_id)
    await _system_log(
        user.inviter_id,
        f"invitation rebate: {rebate} quota for the top-up of invited "
        f"user {user.username} (order {order.trade_no})",
        rebate,
    )
