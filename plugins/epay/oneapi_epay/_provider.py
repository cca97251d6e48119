"""The EPay payment provider: page-redirect payments to ``{PayAddress}/submit.php`` and
verification of the provider's signed notify callbacks."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from oneapi.plugin import PaymentError, PaymentNotice, PaymentProvider, Services, money_text

from ._sign import sign, verify

__all__ = ["NOTIFY_PATH", "TRADE_SUCCESS", "EpayProvider"]

log = logging.getLogger("oneapi.epay")

NOTIFY_PATH = "/api/user/epay/notify"
TRADE_SUCCESS = "TRADE_SUCCESS"
#: The order field EPay shows as the item name (new-api: "TUC" + amount).
_NAME_PREFIX = "TUC"


class EpayProvider(PaymentProvider):
    """EPay (易支付): alipay, wxpay and qqpay through one merchant account."""

    name = "epay"
    methods = ("alipay", "wxpay", "qqpay")

    @staticmethod
    def settings(services: Services) -> tuple[str, str, str]:
        """(PayAddress, EpayId, EpayKey), stripped."""
        o = services.options
        return o.get("PayAddress").strip(), o.get("EpayId").strip(), o.get("EpayKey").strip()

    @staticmethod
    def submit_url(address: str) -> str:
        base = address.rstrip("/")
        return base if base.endswith("/submit.php") else base + "/submit.php"

    async def create_payment(
        self, services: Services, order: Any, urls: dict[str, str]
    ) -> dict[str, Any]:
        """The signed form the browser posts to ``{PayAddress}/submit.php``."""
        address, pid, key = self.settings(services)
        if not (address and pid and key):
            raise PaymentError(
                "online payment is not configured: the administrator must set PayAddress, EpayId and EpayKey",
                "config",
            )
        fields: dict[str, str] = {
            "pid": pid,
            "type": str(order.payment_method),
            "out_trade_no": str(order.trade_no),
            "notify_url": urls["callback_base"] + NOTIFY_PATH,
            "return_url": urls["return_url"],
            "name": f"{_NAME_PREFIX}{order.amount}",
            "money": money_text(order.money),
        }
        fields["sign"] = sign(fields, key)
        fields["sign_type"] = "MD5"
        return {"url": self.submit_url(address), "method": "POST", "fields": fields}

    def verify_callback(self, params: dict[str, str], services: Services) -> PaymentNotice:
        """A verified notice from a notify's parameters; PaymentError when it is not genuine.

        The signature covers every received parameter (constant-time compare). Merchant id
        and money are handed on for the core to check against the order.
        """
        _, pid, key = self.settings(services)
        if not (pid and key):
            raise PaymentError("EPay is not configured (EpayId, EpayKey)", "config")
        if not params.get("sign"):
            raise PaymentError("the notice carries no signature")
        if params.get("sign_type", "MD5").upper() not in ("MD5", ""):
            raise PaymentError(f"unsupported sign_type {params.get('sign_type')!r}")
        if not verify(params, key):
            raise PaymentError("the notice's signature is not valid")
        trade_no = params.get("out_trade_no", "")
        if not trade_no:
            raise PaymentError("the notice names no order (out_trade_no)")
        try:
            money = Decimal(params.get("money", ""))
        except InvalidOperation:
            raise PaymentError(
                f"the notice's money {params.get('money')!r} is not a number"
            ) from None
        return PaymentNotice(
            provider=self.name,
            trade_no=trade_no,
            money=money,
            paid=params.get("trade_status") == TRADE_SUCCESS,
            provider_trade_no=params.get("trade_no", ""),
            payment_method=params.get("type", ""),
            merchant_id=params.get("pid", ""),
            expected_merchant_id=pid,
        )
