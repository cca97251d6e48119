"""The core's payment options, registered like a plugin's (listed in ``DEFAULT_PLUGINS``).

- ``Price``: what the user pays (in the provider's currency) per 1 USD of quota; default 7.3.
- ``MinTopUp``: the smallest top-up in USD; default 1.
- ``TopupGroupRatio``: JSON ``{group: ratio}`` multiplying the price per user group.
- ``PayMethods``: JSON list of the methods the UI offers; blank or ``[]`` offers every method
  of every payment provider. An item is a method type (``"alipay"``) or an object
  ``{"type", "name", "color", "min_topup", "provider"}``.
- ``CustomCallbackAddress``: base URL the provider calls back (else ``ServerAddress``).
- ``InviteRebateTimes`` / ``InviteRebatePercent``: the inviter of a user gets this percent of
  the quota of the user's first N online top-ups (0 turns it off).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from .hookspecs import hookimpl
from .options import validate_ratio_map
from .registry import OptionSpec

__all__ = ["register_options", "validate_pay_methods"]


def _number(value: str, low: float, high: float, *, low_open: bool = False) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return "must be a number"
    if not math.isfinite(number) or number > high or number < low or (low_open and number == low):
        sign = ">" if low_open else "≥"
        return f"must be a number {sign} {low:g} and ≤ {high:g}"
    return None


def validate_price(value: str) -> str | None:
    """A positive price with at most 6 decimals."""
    error = _number(value, 0, 1_000_000, low_open=True)
    if error is None and Decimal(value.strip()).as_tuple().exponent < -6:  # type: ignore[operator]
        return "must have at most 6 decimals"
    return error


def validate_min_topup(value: str) -> str | None:
    try:
        number = int(value)
    except ValueError:
        return "must be a whole number of USD"
    return None if 1 <= number <= 1_000_000 else "must be between 1 and 1000000"


def _validate_min(item: dict[str, Any], where: str) -> str | None:
    raw = item.get("min_topup")
    if raw in (None, ""):
        return None
    try:
        number = Decimal(str(raw))
    except InvalidOperation:
        return f"{where}: min_topup must be a number"
    if not number.is_finite() or number < 0 or number != number.to_integral_value():
        return f"{where}: min_topup must be a whole number ≥ 0"
    return None


def validate_pay_methods(value: str) -> str | None:
    """Blank, or a JSON list of method types or ``{"type", ...}`` objects."""
    if not value.strip():
        return None
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        return f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if not isinstance(data, list):
        return "must be a JSON list"
    seen: set[str] = set()
    for index, item in enumerate(data):
        where = f"item {index}"
        if isinstance(item, str):
            item = {"type": item}
        if not isinstance(item, dict):
            return f"{where} must be a method type or an object with a type"
        kind = item.get("type")
        if not isinstance(kind, str) or not kind.strip() or len(kind) > 32:
            return f"{where}: type must be a text of 1-32 characters"
        if kind in seen:
            return f"{where}: type {kind!r} is listed twice"
        seen.add(kind)
        for key in ("name", "color", "provider"):
            if key in item and not isinstance(item[key], str):
                return f"{where}: {key} must be a text"
        error = _validate_min(item, where)
        if error:
            return error
    return None


def validate_url(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if not text.startswith(("http://", "https://")) or any(c.isspace() for c in text):
        return "must be an http:// or https:// URL"
    return None


def validate_percent(value: str) -> str | None:
    return _number(value, 0, 100)


def validate_times(value: str) -> str | None:
    try:
        number = int(value)
    except ValueError:
        return "must be a whole number"
    return None if 0 <= number <= 100 else "must be between 0 and 100"


@hookimpl(trylast=True)
def register_options() -> list[OptionSpec]:
    """The core's payment options."""
    return [
        OptionSpec("Price", "7.3", validate_price),
        OptionSpec("MinTopUp", "1", validate_min_topup),
        OptionSpec("TopupGroupRatio", '{"default": 1, "vip": 1, "svip": 1}', validate_ratio_map),
        OptionSpec("PayMethods", "", validate_pay_methods),
        OptionSpec("CustomCallbackAddress", "", validate_url),
        OptionSpec("InviteRebateTimes", "0", validate_times),
        OptionSpec("InviteRebatePercent", "0", validate_percent),
    ]
