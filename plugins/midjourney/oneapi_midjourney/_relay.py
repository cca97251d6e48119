"""Relaying a submit: pick (or pin) a channel, reserve the price, call upstream, keep the
charge only if upstream accepted the job (codes 1, 21, 22), store the task, and answer
with upstream's body carrying the gateway's task id."""

from __future__ import annotations

import inspect
import logging
import random
import time
from typing import Any

import httpx
import orjson
from quart import Response

from oneapi import ChannelRecord, RelayContext, RelayError
from oneapi.models import CHANNEL_ENABLED, LOG_CONSUME, Log, Midjourney
from oneapi.relay.context import TokenRecord, UserRecord

from . import _actions as A
from ._client import UpstreamReply, call
from ._options import server_address
from ._submit import MjError, Plan, upstream_body
from ._tasks import new_task_id, now_ms, with_token_id

__all__ = ["MJ_TYPES", "mj_json", "pinned_channel", "relay_submit"]

log = logging.getLogger("oneapi.midjourney")

MJ_TYPES = (2, 5)
ACCEPTED = (1, 21, 22)
_rng = random.Random()


def mj_json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, content_type="application/json")


def _usable(channel: ChannelRecord | None) -> bool:
    return channel is not None and channel.type in MJ_TYPES and channel.status == CHANNEL_ENABLED


def pinned_channel(gw: Any, channel_id: int, why: str) -> ChannelRecord:
    """A channel a task or an admin token pins; MjError if it cannot serve."""
    channel: ChannelRecord | None = gw.cache.channels.by_id.get(channel_id)
    if channel is None or not _usable(channel):
        raise MjError(503, 4, f"channel {channel_id} of {why} is missing, disabled or not a Midjourney channel")
    if not channel.base_url:
        raise MjError(503, 4, f"channel {channel_id} has no base URL")
    return channel


def _pick(gw: Any, user: UserRecord, model: str, exclude: set[int]) -> ChannelRecord | None:
    while True:
        channel = gw.cache.channels.pick(user.group, model, exclude, _rng)
        if channel is None or (_usable(channel) and channel.base_url):
            return channel  # type: ignore[no-any-return]
        exclude.add(channel.id)


def quota_of(gw: Any, model: str, group: str) -> int:
    """Quota of one call: per-call USD × group ratio × QuotaPerUnit (0.1 USD if unpriced)."""
    try:
        price = gw.pricing.price(model, group)
        usd = price.per_call_usd
        ratio = price.group_ratio
    except RelayError:
        usd, ratio = None, gw.pricing.group_ratio(group)
    if usd is None:
        usd = A.DEFAULT_PRICES.get(model, A.FALLBACK_PRICE)
    return int(usd * gw.pricing.quota_per_unit() * ratio)


async def _write_log(gw: Any, ctx: RelayContext, task_id: str, quota: int, action: str) -> None:
    if not gw.options.bool("LogConsumeEnabled") or quota <= 0:
        return
    assert ctx.channel is not None
    usd = quota / gw.pricing.quota_per_unit()
    await Log.create(
        user_id=ctx.user.id, created_at=int(time.time()), type=LOG_CONSUME,
        content=f"Midjourney {action}: ${usd:.4f} (per-call price × group ratio); task {task_id}",
        username=ctx.user.username, token_name=ctx.token.name, model_name=ctx.model,
        quota=quota, channel_id=ctx.channel.id, request_id=task_id[:64],
        elapsed_time=int((time.monotonic() - ctx.started) * 1000),
    )
    for result in gw.pm.hook.quota_consumed(ctx=ctx, quota=quota):
        if inspect.isawaitable(result):
            await result


def _row_state(reply: UpstreamReply) -> dict[str, Any]:
    """The first status of an accepted task from the submit code."""
    props = reply.data.get("properties") if isinstance(reply.data, dict) else None
    props = props if isinstance(props, dict) else {}
    if reply.code == 21 and props.get("status") == "SUCCESS":
        image = props.get("imageUrl")
        return {"status": "SUCCESS", "progress": "100%", "finish_time": now_ms(),
                "image_url": image if isinstance(image, str) else ""}
    status = {21: "MODAL", 22: "NOT_START"}.get(reply.code or 0, "SUBMITTED")
    return {"status": status, "progress": "0%"}


async def _send(
    gw: Any, plan: Plan, channel: ChannelRecord, fixed: bool, user: UserRecord, mode: str,
    notify: tuple[str, str] | None,
) -> tuple[ChannelRecord, UpstreamReply]:
    """POST the job; on connection failures try other channels (unless pinned)."""
    exclude: set[int] = set()
    attempts = 1 if fixed else 1 + max(0, gw.options.int("RetryTimes", 0))
    for attempt in range(attempts):
        body = upstream_body(plan, channel, gw.options, mode, notify)
        try:
            return channel, await call(gw.http, channel, "POST", plan.path, body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            log.warning("midjourney channel %d unreachable: %s", channel.id, exc)
            exclude.add(channel.id)
            following = None if attempt + 1 >= attempts else _pick(gw, user, plan.model, exclude)
            if following is None:
                raise MjError(502, 9, f"channel {channel.id}: upstream unreachable") from None
            channel = following
        except httpx.TimeoutException:
            raise MjError(504, 9, f"channel {channel.id}: upstream did not answer in time") from None
        except httpx.HTTPError as exc:
            raise MjError(502, 9, f"channel {channel.id}: upstream request failed: {type(exc).__name__}") from None
    raise MjError(502, 9, "no channel answered")  # pragma: no cover


def _choose(gw: Any, plan: Plan, user: UserRecord, pinned: int | None) -> tuple[ChannelRecord, bool]:
    """The channel to send to, and whether it is fixed (the origin's, or an admin's pin)."""
    if plan.origin is not None:
        return pinned_channel(gw, plan.origin.channel_id, "the origin task"), True
    if pinned is not None:
        return pinned_channel(gw, pinned, "this token"), True
    found = _pick(gw, user, plan.model, set())
    if found is None:
        raise MjError(503, 3, f"no available channel for model {plan.model} in group {user.group}")
    return found, False


def _accepted(plan: Plan, reply: UpstreamReply) -> bool:
    """Whether upstream took the job (so it is charged)."""
    if plan.route == "upload-discord-images":  # no task: the result lists the image URLs
        return reply.status == 200 and reply.code == 1
    result = reply.data.get("result")
    return (reply.status == 200 and reply.code in ACCEPTED
            and isinstance(result, str | int) and str(result) != "")


async def relay_submit(
    gw: Any, plan: Plan, token: TokenRecord, user: UserRecord, pinned: int | None, mode: str,
    host_url: str,
) -> Response:
    """Relay one checked submit and bill it; MjError for anything the client must be told."""
    if token.models is not None and plan.model not in token.models:
        raise MjError(403, 4, f"this token may not use model {plan.model}")
    channel, fixed = _choose(gw, plan, user, pinned)
    priced = A.price_model(plan.model, mode, {**gw.registry.model_prices, **gw.options.json("ModelPrice")})
    quota = quota_of(gw, priced, user.group)
    task_id = plan.extra["task_id"] = new_task_id()
    ctx = RelayContext(request_id=task_id, mode="midjourney", endpoint=plan.path, token=token,
                       user=user, model=priced, body=b"", content_type="application/json",
                       payload=plan.body, channel=channel)
    try:
        reserved = await gw.ledger.reserve(ctx, quota)
    except RelayError as err:
        raise MjError(err.status, 4, f"quota_not_enough: {err.message}") from None
    notify = None
    if gw.options.bool("MjNotifyEnabled") and (address := server_address(gw, host_url)):
        notify = (address, gw.session_secret)
    submitted = now_ms()
    try:
        channel, reply = await _send(gw, plan, channel, fixed, user, mode, notify)
        ctx.channel = channel
        if reply.status in (401, 403):
            raise MjError(502, 9, f"channel {channel.id}: the Midjourney-Proxy refused the channel key")
        if reply.code is None:
            raise MjError(502, 9, f"channel {channel.id}: upstream answered HTTP {reply.status} "
                                  "without a submit result")
    except MjError:
        await gw.ledger.refund(ctx, reserved)
        raise
    upload = plan.route == "upload-discord-images"
    row: dict[str, Any] = {
        "user_id": user.id, "action": plan.action, "prompt": plan.prompt, "task_id": task_id,
        "state": plan.body.get("state") if isinstance(plan.body.get("state"), str) else "",
        "submit_time": submitted, "channel_id": channel.id, "code": reply.code,
        "description": str(reply.data.get("description") or "")[:4000],
    }
    if not _accepted(plan, reply):
        await gw.ledger.refund(ctx, reserved)
        if not upload:  # kept for the gallery: a failed row that was never charged
            await Midjourney.create(**row, mj_id="", status="FAILURE", progress="100%", quota=0,
                                    finish_time=now_ms(),
                                    fail_reason=row["description"] or f"upstream code {reply.code}")
        return Response(reply.body, reply.status, content_type=reply.content_type)
    if not upload:
        row.update(_row_state(reply), mj_id=str(reply.data["result"])[:191], quota=quota,
                   properties="{}", buttons="[]")
        try:
            await Midjourney.create(**with_token_id(row, token.id))
        except Exception:
            await gw.ledger.refund(ctx, reserved)
            raise
    charged = await gw.ledger.settle(ctx, reserved, quota)
    await _write_log(gw, ctx, task_id, charged, plan.action)
    data = dict(reply.data)
    if not upload:
        data["result"] = task_id
    return mj_json(data, reply.status)
