"""Prices, the quota formula, and the quota ledger (reserve, settle, refund).

Quota moves only through conditional UPDATEs (never read-modify-write), so token and
user quota can never go below zero, even across nodes sharing one database.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import models
from .batch import REFUND_TOKEN as _REFUND_TOKEN
from .batch import RESERVE_TOKEN as _RESERVE_TOKEN
from .batch import RESERVE_USER as _RESERVE_USER
from .batch import Batch
from .relay.context import RelayContext, RelayError, Usage

if TYPE_CHECKING:
    from ._local_quota import LocalQuota
    from .db import Database
    from .options import Options
    from .registry import Registry

__all__ = ["Ledger", "Price", "Pricing"]

log = logging.getLogger("oneapi.billing")


@dataclass(frozen=True, slots=True)
class Price:
    """What one model costs for one group: a ratio pair or a fixed per-call price."""

    model_ratio: float
    completion_ratio: float
    group_ratio: float
    per_call_usd: float | None = None


class Pricing:
    """Looks prices up: admin overrides (options) first, then the plugins' defaults."""

    def __init__(self, registry: Registry, options: Options) -> None:
        self.registry = registry
        self.options = options

    def group_ratio(self, group: str) -> float:
        return float(self.options.json("GroupRatio").get(group, 1))

    def price(self, model: str, group: str, channel_type: int | None = None) -> Price:
        """The price of ``model``; RelayError 400 for a model nobody priced."""
        group_ratio = self.group_ratio(group)
        per_call = self.options.json("ModelPrice").get(model, self.registry.model_prices.get(model))
        completion = float(
            self.options.json("CompletionRatio").get(
                model, self.registry.completion_ratios.get(model, 1)
            )
        )
        if per_call is not None:
            return Price(0, completion, group_ratio, float(per_call))
        ratios = self.options.json("ModelRatio")
        ratio = None
        if channel_type is not None:
            ratio = ratios.get(f"{model}({channel_type})")
        if ratio is None:
            ratio = ratios.get(model, self.registry.model_ratios.get(model))
        if ratio is None:
            ratio = ratios.get("*")
        if ratio is None:
            raise RelayError(
                400,
                f"model {model} has no price; an administrator must set its ratio "
                "(ModelRatio) or price (ModelPrice), or a default ratio under \"*\"",
                "invalid_request_error",
                "model_price_unset",
                "model",
            )
        return Price(float(ratio), completion, group_ratio)

    def quota_per_unit(self) -> float:
        return self.options.float("QuotaPerUnit", 500000)

    def text_quota(self, price: Price, usage: Usage) -> int:
        """ceil(group × model ratio × (prompt + completion × completion ratio)), or the call price."""
        if price.per_call_usd is not None:
            return int(price.per_call_usd * self.quota_per_unit() * price.group_ratio)
        if usage.prompt_tokens + usage.completion_tokens == 0:
            return 0
        ratio = price.model_ratio * price.group_ratio
        quota = math.ceil(
            round(
                (usage.prompt_tokens + usage.completion_tokens * price.completion_ratio) * ratio, 6
            )
        )
        return max(quota, 1) if ratio != 0 else 0

    def image_quota(self, price: Price, model: str, size: str, quality: str, n: int) -> int:
        """int(model ratio × group ratio × size ratio × 1000) × n, or the call price × n."""
        sizes = self.registry.image_ratios.get(model)
        size_ratio = 1.0
        if sizes is not None:
            key = f"hd:{size}" if quality == "hd" and f"hd:{size}" in sizes else size
            if key not in sizes:
                allowed = ", ".join(sorted(k for k in sizes if not k.startswith("hd:")))
                raise RelayError(
                    400, f"size {size} is not supported by {model}; use one of: {allowed}",
                    "invalid_request_error", "invalid_size", "size",
                )
            size_ratio = sizes[key]
        if price.per_call_usd is not None:
            return int(price.per_call_usd * self.quota_per_unit() * price.group_ratio * size_ratio) * n
        return int(price.model_ratio * price.group_ratio * size_ratio * 1000) * n


_REFUND_USER = "UPDATE users SET quota = quota + ? WHERE id = ?"


def _not_enough(whose: str, amount: int) -> RelayError:
    return RelayError(
        403, f"{whose} quota is not enough for this request (needs {amount})",
        "insufficient_quota", f"insufficient_{whose}_quota",
    )


class Ledger:
    """Atomic quota movements on tokens and users, and the consume log.

    The hot path sends plain SQL (no ORM query building). Settlement counters, refunds
    and log rows go through the ``batch``. Reservations are conditional UPDATEs before the
    upstream call: on SQLite claims written by the batch at once (concurrent requests share
    a transaction), elsewhere statements of their own; with ``local`` (BATCH_UPDATE_ENABLED)
    they are taken from in-memory balances and written with the batch.
    """

    def __init__(self, db: Database, batch: Batch, local: LocalQuota | None = None) -> None:
        self.db = db
        self.batch = batch
        self.local = local  # BATCH_UPDATE_ENABLED: reservations in memory, written with the batch

    async def write_log(self, **fields: Any) -> None:
        """A consume log row, written with the batch's next flush."""
        self.batch.add_log(fields)

    async def reserve(self, ctx: RelayContext, amount: int) -> int:
        """Take ``amount`` from token and user, or raise 403; returns what was taken."""
        if amount <= 0:
            return 0
        token = ctx.token
        token_id = None if token.unlimited_quota else token.id
        if self.local is not None:
            outcome = await self.local.reserve(token_id, ctx.user.id, amount)
        elif self.db.dialect == "sqlite":  # SQLite has one writer: reservations share its writes
            outcome = await self.batch.claim(token_id, ctx.user.id, amount)
        else:
            outcome = None
        if outcome is not None:
            if outcome != "ok":
                raise _not_enough(outcome, amount)
            return amount
        if not token.unlimited_quota:
            if not await self.db.execute(_RESERVE_TOKEN, [amount, token.id, amount]):
                raise _not_enough("token", amount)
        try:
            taken = await self.db.execute(_RESERVE_USER, [amount, ctx.user.id, amount])
        except Exception:
            if not token.unlimited_quota:
                await self.db.execute(_REFUND_TOKEN, [amount, token.id])
            raise
        if not taken:
            if not token.unlimited_quota:
                await self.db.execute(_REFUND_TOKEN, [amount, token.id])
            raise _not_enough("user", amount)
        return amount

    async def refund(self, ctx: RelayContext, amount: int) -> None:
        """Give a reservation back to token and user."""
        if amount <= 0:
            return
        if self.local is not None:
            self.local.give_back(None if ctx.token.unlimited_quota else ctx.token.id, ctx.user.id, amount)
            return
        if not ctx.token.unlimited_quota:
            await self.db.execute(_REFUND_TOKEN, [amount, ctx.token.id])
        await self.db.execute(_REFUND_USER, [amount, ctx.user.id])

    async def _take_extra(self, ctx: RelayContext, wanted: int) -> int:
        """Take up to ``wanted`` more from token and user without going below zero."""
        if self.local is not None:
            token_id = None if ctx.token.unlimited_quota else ctx.token.id
            take = max(0, min(wanted, await self.local.available(token_id, ctx.user.id)))
            return take if take and await self.local.reserve(token_id, ctx.user.id, take) == "ok" else 0
        for _ in range(8):
            user = await models.User.filter(id=ctx.user.id).only("quota").first()
            available = user.quota if user else 0
            if not ctx.token.unlimited_quota:
                token = await models.Token.filter(id=ctx.token.id).only("remain_quota").first()
                available = min(available, token.remain_quota if token else 0)
            take = max(0, min(wanted, available))
            if take == 0:
                return 0
            try:
                return await self.reserve(ctx, take)
            except RelayError:
                continue
        return 0

    async def settle(self, ctx: RelayContext, reserved: int, quota: int) -> int:
        """Make the charge exactly ``quota`` (or all that is left); return what was charged.

        The refund of an over-reservation rides with the usage counters in the batch
        (see oneapi/batch.py), so concurrent settlements share their statements.
        """
        refund = 0
        if quota <= reserved:
            charged, refund = quota, reserved - quota
        else:
            charged = reserved + await self._take_extra(ctx, quota - reserved)
            if charged < quota:
                log.warning(
                    "request %s cost %d but only %d quota was left", ctx.request_id, quota, charged
                )
        channel_id = ctx.channel.id if ctx.channel is not None else None
        self.batch.add(ctx.token.id, not ctx.token.unlimited_quota, ctx.user.id, channel_id,
                       refund, charged, int(time.time()))
        return charged
