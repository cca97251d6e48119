"""Online top-up (/api/user/amount, /api/user/pay, /api/user/topup/...) and the admin order list.

The money logic lives in ``oneapi.payments``; these views only parse, authorize and answer.
Provider callbacks are routes of the payment plugins themselves.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema
from quart import Blueprint, jsonify, request
from quart.typing import ResponseReturnValue
from tortoise.expressions import Q

from .. import models, payments
from ._common import (
    MAX_ID,
    ApiError,
    Body,
    current_user,
    doc,
    gateway,
    int_arg,
    ok,
    page_of,
    parse_body,
    require_role,
    str_arg,
)
from .openapi import PAGE, query_enum, query_int, query_text
from .schemas import OrderOut, TopUpInfoOut

__all__ = ["blueprint"]

ORDER_STATUSES = ("pending", "success", "failed", "expired")
_STATUS = query_enum("order status; blank: all", *ORDER_STATUSES)
_WHOLE = re.compile(r"-?[0-9]{1,20}")


def _whole_number(value: Any) -> Any:
    """Amounts are whole USD: refuse booleans, fractions and text that is not a number."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number of USD, not true/false")
    if isinstance(value, str):
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            raise ValueError("must be a whole number of USD")
        return int(text)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number of USD")
        return int(value)
    return value


Amount = Annotated[
    int,
    BeforeValidator(_whole_number),
    WithJsonSchema(  # the bounds are payments.quote's
        {
            "anyOf": [
                {"type": "integer", "maximum": payments.MAX_TOPUP_USD},
                {"type": "string", "pattern": r"^\s*(-?[0-9]{1,7}|10000000)\s*$"},
            ],
            "description": "whole USD, at most 10000000 (and within the quota's range); the "
            "minimum is MinTopUp",
        }
    ),
]


class AmountBody(Body):
    amount: Amount
    payment_method: str = Field("", max_length=32)


class PayBody(Body):
    amount: Amount
    payment_method: str = Field(min_length=1, max_length=32)


def order_dict(row: models.TopUp) -> dict[str, Any]:
    """An order as the API shows it (money as a number, like One API's float column)."""
    return {
        "id": row.id,
        "user_id": row.user_id,
        "amount": row.amount,
        "money": float(row.money),
        "trade_no": row.trade_no,
        "payment_method": row.payment_method,
        "payment_provider": row.payment_provider,
        "provider_trade_no": row.provider_trade_no,
        "status": row.status,
        "create_time": row.create_time,
        "complete_time": row.complete_time,
    }


def _request_base() -> str:
    return request.host_url.rstrip("/")


def _new_api_error(text: str) -> ResponseReturnValue:
    """New API's refusal on its top-up routes (its clients read ``data``); ``success`` too,
    for One API's envelope."""
    return jsonify({"success": False, "message": "error", "data": text})


def _order_query(keyword: str, status: str) -> Q:
    query = Q()
    if keyword:
        query &= Q(trade_no__icontains=keyword) | Q(provider_trade_no=keyword)
    if status:
        if status not in ORDER_STATUSES:
            raise ApiError(f"query parameter status must be one of {', '.join(ORDER_STATUSES)}")
        query &= Q(status=status)
    return query


def blueprint() -> Blueprint:
    bp = Blueprint("topup", __name__)

    @bp.get("/user/topup/info")
    @require_role(models.ROLE_USER)
    @doc(
        "What the top-up page needs: methods offered, minimum, price, your group ratio",
        response=TopUpInfoOut,
    )
    async def topup_info() -> ResponseReturnValue:
        gw = gateway()
        user = await current_user()
        methods = payments.offered_methods(gw)
        ratios = gw.options.json("TopupGroupRatio")
        ratio = ratios.get(user.group or "default", 1) if isinstance(ratios, dict) else 1
        return ok(
            {
                "enable_online_topup": bool(methods),
                "pay_methods": methods,
                "min_topup": max(gw.options.int("MinTopUp", 1), 1),
                "price": gw.options.get("Price", "7.3"),
                "group_ratio": ratio,
                "quota_per_unit": gw.options.float("QuotaPerUnit", 500000),
            }
        )

    @bp.post("/user/amount")
    @require_role(models.ROLE_USER)
    @doc(
        "Price preview: what paying for `amount` USD costs you (New API's shape: "
        '`message` "success" and `data` the price as text, or `message` "error" and `data` why)',
        AmountBody,
    )
    async def amount() -> ResponseReturnValue:
        gw = gateway()
        user = await current_user()
        try:
            body = await parse_body(AmountBody)
            entry = (
                payments.resolve_method(gw, body.payment_method)[1] if body.payment_method else None
            )
            priced = payments.quote(gw, user, body.amount, entry)
        except (ApiError, payments.PaymentError) as exc:
            return _new_api_error(exc.message)
        return ok(payments.money_text(priced.money), "success", quota=priced.quota)

    @bp.post("/user/pay")
    @require_role(models.ROLE_USER)
    @doc(
        "Create a pending order. New API's shape: `data` the form fields the browser submits "
        "to `url` (with `method`, POST unless said), or `message` \"error\" and `data` why",
        PayBody,
        response=dict[str, str],
    )
    async def pay() -> ResponseReturnValue:
        gw = gateway()
        user = await current_user()
        try:
            body = await parse_body(PayBody)
            order, action = await payments.create_order(
                gw, user, body.amount, body.payment_method, _request_base()
            )
        except (ApiError, payments.PaymentError) as exc:
            return _new_api_error(exc.message)
        return ok(
            action["fields"],
            "success",
            url=action["url"],
            method=action["method"],
            trade_no=order.trade_no,
            money=payments.money_text(order.money),
        )

    @bp.get("/user/topup/self")
    @require_role(models.ROLE_USER)
    @doc(
        "Your own top-up orders, newest first",
        query={**PAGE, "keyword": query_text("trade number", 64), "status": _STATUS},
        response=list[OrderOut],
    )
    async def own_orders() -> ResponseReturnValue:
        user = await current_user()
        query = models.TopUp.filter(
            _order_query(str_arg("keyword", 64), str_arg("status", 16)), user_id=user.id
        )
        return await page_of(query, order_dict, "-id")

    @bp.get("/topup/")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Every top-up order, newest first",
        query={
            **PAGE,
            "keyword": query_text("trade number", 64),
            "user_id": query_int("the user's id", 1, MAX_ID),
            "status": _STATUS,
        },
        response=list[OrderOut],
    )
    async def all_orders() -> ResponseReturnValue:
        query = models.TopUp.filter(_order_query(str_arg("keyword", 64), str_arg("status", 16)))
        user_id = int_arg("user_id", None, 1, MAX_ID)
        if user_id is not None:
            query = query.filter(user_id=user_id)
        return await page_of(query, order_dict, "-id")

    return bp
