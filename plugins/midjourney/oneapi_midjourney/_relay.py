"""Relaying a submit: price it (an unpriced action is refused), pick (or pin) a channel, and
as one billed call of the ledger (``services.ledger.billed_call``) call upstream, store the task
and keep the charge only if upstream accepted the job (codes 1, 21, 22); answer with
upstream's body carrying the gateway's task id."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import httpx
import orjson
from quart import Response

from oneapi.plugin import (
    CHANNEL_ENABLED,
    Bill,
    ChannelRecord,
    RelayContext,
    RelayError,
    Services,
    TokenRecord,
    UserRecord,
)

from . import _actions as A
from ._client import UpstreamReply, call
from ._models import Midjourney
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


def pinned_channel(services: Services, channel_id: int, why: str) -> ChannelRecord:
    """A channel a task or an admin token pins; MjError if it cannot serve."""
    channel: ChannelRecord | None = services.channel(channel_id)
    if channel is None or not _usable(channel):
        raise MjError(503, 4, f"channel {channel_id} of {why} is missing, disabled or not a Midjourney channel")
    if not channel.base_url:
        raise MjError(503, 4, f"channel {channel_id} has no base URL")
    return channel


def _pick(services: Services, user: UserRecord, model: str, exclude: set[int]) -> ChannelRecord | None:
    while True:
        channel = services.pick_channel(user.group, model, exclude, _rng)
        if channel is None or (_usable(channel) and channel.base_url):
            return channel  # type: ignore[no-any-return]
        exclude.add(channel.id)


def quota_of(services: Services, model: str, group: str) -> int:
    """Quota of one call: per-call USD × group ratio × QuotaPerUnit. The plugin registers a
    default price for every action (``register_model_prices``); a model nobody priced is
    refused (MjError 400) like any unpriced model, never charged a made-up price."""
    try:
        price = services.pricing.price(model, group)
    except RelayError:
        raise MjError(
            400, 4,
            f"model_price_unset: Midjourney model {model} has no price; an administrator must set "
            f"its per-call price in USD under ModelPrice (e.g. {{\"{model}\": 0.1}})",
        ) from None
    if price.per_call_usd is not None:
        return int(price.per_call_usd * services.pricing.quota_per_unit() * price.group_ratio)
    # Priced by a ratio only (ModelRatio, or its "*" default): one call counts as 1000 tokens,
    # as the core counts an image priced by ratio.
    return int(price.model_ratio * price.group_ratio * 1000)


def _consume_log(services: Services, ctx: RelayContext, task_id: str, quota: int, action: str) -> dict[str, Any]:
    """The consume log's fields (the ledger adds quota, request id, user, token and channel)."""
    usd = quota / services.pricing.quota_per_unit()
    return {
        "created_at": int(time.time()),
        "content": f"Midjourney {action}: ${usd:.4f} (per-call price × group ratio); task {task_id}",
        "username": ctx.user.username, "token_name": ctx.token.name, "model_name": ctx.model,
        "elapsed_time": int((time.monotonic() - ctx.started) * 1000),
    }


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
    services: Services, plan: Plan, channel: ChannelRecord, fixed: bool, user: UserRecord, mode: str,
    notify: tuple[str, str] | None,
) -> tuple[ChannelRecord, UpstreamReply]:
    """POST the job; on connection failures try other channels (unless pinned)."""
    exclude: set[int] = set()
    attempts = 1 if fixed else 1 + max(0, services.options.int("RetryTimes", 0))
    for attempt in range(attempts):
        body = upstream_body(plan, channel, services.options, mode, notify)
        try:
            return channel, await call(services.http, channel, "POST", plan.path, body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            log.warning("midjourney channel %d unreachable: %s", channel.id, exc)
            exclude.add(channel.id)
            following = None if attempt + 1 >= attempts else _pick(services, user, plan.model, exclude)
            if following is None:
                raise MjError(502, 9, f"channel {channel.id}: upstream unreachable") from None
            channel = following
        except httpx.TimeoutException:
            raise MjError(504, 9, f"channel {channel.id}: upstream did not answer in time") from None
        except httpx.HTTPError as exc:
            raise MjError(502, 9, f"channel {channel.id}: upstream request failed: {type(exc).__name__}") from None
    raise MjError(502, 9, "no channel answered")  # pragma: no cover


def _choose(services: Services, plan: Plan, user: UserRecord, pinned: int | None) -> tuple[ChannelRecord, bool]:
    """The channel to send to, and whether it is fixed (the origin's, or an admin's pin)."""
    if plan.origin is not None:
        return pinned_channel(services, plan.origin.channel_id, "the origin task"), True
    if pinned is not None:
        return pinned_channel(services, pinned, "this token"), True
    found = _pick(services, user, plan.model, set())
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
    services: Services, plan: Plan, token: TokenRecord, user: UserRecord, pinned: int | None, mode: str,
    host_url: str,
) -> Response:
    """Relay one checked submit and bill it; MjError for anything the client must be told.

    The price is held, then everything that follows (the upstream call, the task row, the
    charge) runs as one billed call: a client that hangs up once the job is on its way does
    not cut it, so a job that reached upstream is always either charged with its task row and
    consume log, or (refused, or anything failed) given back in full."""
    if token.models is not None and plan.model not in token.models:
        raise MjError(403, 4, f"this token may not use model {plan.model}")
    priced = A.price_model(plan.model, mode, services.model_prices())
    quota = quota_of(services, priced, user.group)
    channel, fixed = _choose(services, plan, user, pinned)
    task_id = plan.extra["task_id"] = new_task_id()
    ctx = RelayContext(request_id=task_id, mode="midjourney", endpoint=plan.path, token=token,
                       user=user, model=priced, body=b"", content_type="application/json",
                       payload=plan.body, channel=channel)
    notify = None
    if services.options.bool("MjNotifyEnabled") and (address := server_address(services, host_url)):
        notify = (address, services.session_secret)
    upload = plan.route == "upload-discord-images"

    async def submit(bill: Bill) -> Response:
        """Runs to its end even if the client leaves; an exception gives the hold back."""
        submitted = now_ms()
        sent_to, reply = await _send(services, plan, channel, fixed, user, mode, notify)
        ctx.channel = sent_to
        if reply.status in (401, 403):
            raise MjError(502, 9, f"channel {sent_to.id}: the Midjourney-Proxy refused the channel key")
        if reply.code is None:
            raise MjError(502, 9, f"channel {sent_to.id}: upstream answered HTTP {reply.status} "
                                  "without a submit result")
        row: dict[str, Any] = {
            "user_id": user.id, "action": plan.action, "prompt": plan.prompt, "task_id": task_id,
            "state": plan.body.get("state") if isinstance(plan.body.get("state"), str) else "",
            "submit_time": submitted, "channel_id": sent_to.id, "code": reply.code,
            "description": str(reply.data.get("description") or "")[:4000],
        }
        if not _accepted(plan, reply):  # refused: not kept, so the hold goes back
            if not upload:  # kept for the gallery: a failed row that was never charged
                await Midjourney.create(**row, mj_id="", status="FAILURE", progress="100%", quota=0,
                                        finish_time=now_ms(),
                                        fail_reason=row["description"] or f"upstream code {reply.code}")
            return Response(reply.body, reply.status, content_type=reply.content_type)
        if not upload:
            row.update(_row_state(reply), mj_id=str(reply.data["result"])[:191], quota=quota,
                       properties="{}", buttons="[]")
            await Midjourney.create(**with_token_id(row, token.id))
        bill.keep(quota, channel_id=sent_to.id, **_consume_log(services, ctx, task_id, quota, plan.action))
        if quota > 0:  # runs once the call has returned and the charge is on its way
            services.in_background(services.quota_consumed(ctx, quota))
        data = dict(reply.data)
        if not upload:
            data["result"] = task_id
        return mj_json(data, reply.status)

    try:
        return await services.ledger.billed_call(ctx, quota, submit)
    except RelayError as err:  # from the reservation: quota short (403) or billing unavailable (503)
        prefix = "quota_not_enough: " if err.status == 403 else ""
        raise MjError(err.status, 4, prefix + err.message) from None
