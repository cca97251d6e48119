"""EPay (易支付) payments for oneapi: the provider, its options and its notify route.

Options: ``PayAddress`` (the EPay site, e.g. ``https://pay.example.com``), ``EpayId``
(merchant id, ``pid``) and ``EpayKey`` (merchant key; secret, never shown by the options API).
Orders, prices and crediting belong to the core (``Services.credit_order``).
"""

from __future__ import annotations

from quart import Blueprint

from oneapi.plugin import OptionSpec, PaymentProvider, Services, hookimpl

from ._provider import NOTIFY_PATH, TRADE_SUCCESS, EpayProvider
from ._routes import blueprint
from ._sign import sign, verify

__all__ = [
    "NOTIFY_PATH",
    "TRADE_SUCCESS",
    "EpayProvider",
    "register_blueprints",
    "register_options",
    "register_payment_providers",
    "sign",
    "verify",
]


def _validate_address(value: str) -> str | None:
    text = value.strip()
    if text and (not text.startswith(("http://", "https://")) or any(c.isspace() for c in text)):
        return "must be the http:// or https:// address of the EPay site"
    return None


def _validate_short(value: str) -> str | None:
    return (
        "must be at most 128 characters without spaces"
        if len(value) > 128 or " " in value.strip()
        else None
    )


@hookimpl
def register_payment_providers() -> list[PaymentProvider]:
    return [EpayProvider()]


@hookimpl
def register_options() -> list[OptionSpec]:
    return [
        OptionSpec(
            "PayAddress",
            "",
            _validate_address,
            label={"en": "EPay address", "zh-CN": "易支付地址"},
            help={
                "en": "The http:// or https:// address of the EPay site, e.g. https://pay.example.com",
                "zh-CN": "易支付站点的 http:// 或 https:// 地址，例如 https://pay.example.com",
            },
            section="payment",
        ),
        OptionSpec(
            "EpayId",
            "",
            _validate_short,
            label={"en": "EPay merchant ID", "zh-CN": "易支付商户 ID"},
            help={
                "en": "The merchant id (pid) EPay gave you",
                "zh-CN": "易支付分配的商户号（pid）",
            },
            section="payment",
        ),
        OptionSpec(
            "EpayKey",
            "",
            _validate_short,
            secret=True,
            label={"en": "EPay merchant key", "zh-CN": "易支付商户密钥"},
            help={
                "en": "Signs payments and checks EPay's callbacks",
                "zh-CN": "用于签名支付请求和校验易支付回调",
            },
            type="secret",
            section="payment",
        ),
    ]


@hookimpl
def register_blueprints(services: Services) -> list[Blueprint]:
    return [blueprint(services)]
