"""Testing a channel with a real request through its adaptor (API and background job)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
import orjson

from .. import models
from .context import ChannelRecord, RelayContext, RelayError, TokenRecord, UserRecord

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["apply_health", "test_channel"]


def _test_model(channel: ChannelRecord, model: str | None) -> str:
    if model and model in channel.models:
        return model
    return channel.models[0] if channel.models else (model or "gpt-3.5-turbo")


async def test_channel(gw: Gateway, channel: ChannelRecord, model: str | None = None) -> tuple[bool, str, int]:
    """Send a tiny chat request; store response_time/test_time; re-enable or disable per options.

    Returns (passed, message, elapsed ms).
    """
    adaptor = gw.adaptor(channel.type)
    if adaptor is None:
        return False, f"no loaded plugin provides channel type {channel.type}", 0
    model = _test_model(channel, model)
    payload = adaptor.test_request(model)
    ctx = RelayContext(
        request_id=f"test-{channel.id}-{int(time.time())}", mode="chat", endpoint="/chat/completions",
        token=TokenRecord(0, 0, "", "channel test", 1, -1, 0, True, None, ()),
        user=UserRecord(0, "channel-test", models.ROLE_ROOT, 1, "default", 0),
        model=model, body=orjson.dumps(payload), content_type="application/json", payload=payload,
        channel=channel, upstream_model=channel.model_mapping.get(model, model),
    )
    started = time.monotonic()
    passed, message, disable = True, "", False
    try:
        response = await adaptor.send(ctx, 60)
        try:
            if response.status_code >= 400:
                raise await adaptor.read_error(ctx, response)
            await adaptor.read_response(ctx, response)
        finally:
            await response.aclose()
    except RelayError as err:
        passed, message, disable = False, err.message, err.disable_channel
    except httpx.HTTPError as exc:
        passed, message = False, f"upstream unreachable: {exc}"
    elapsed = int((time.monotonic() - started) * 1000)
    if passed and elapsed > gw.options.float("ChannelDisableThreshold", 5) * 1000:
        passed, message = False, f"response time {elapsed} ms is over ChannelDisableThreshold"
        disable = True
    await models.Channel.filter(id=channel.id).update(
        response_time=elapsed if passed else 0, test_time=int(time.time())
    )
    await apply_health(gw, channel, passed, disable, message)
    return passed, message, elapsed


test_channel.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


async def apply_health(gw: Gateway, channel: ChannelRecord, passed: bool, disable: bool, reason: str) -> None:
    """Auto-disable a failing channel, auto-enable an auto-disabled one that passes."""
    changed = 0
    if passed and channel.status == models.CHANNEL_AUTO_DISABLED and gw.options.bool(
        "AutomaticEnableChannelEnabled"
    ):
        changed = await models.Channel.filter(id=channel.id, status=models.CHANNEL_AUTO_DISABLED).update(
            status=models.CHANNEL_ENABLED, status_reason=""
        )
    elif not passed and disable and channel.status == models.CHANNEL_ENABLED and gw.options.bool(
        "AutomaticDisableChannelEnabled"
    ):
        changed = await models.Channel.filter(id=channel.id, status=models.CHANNEL_ENABLED).update(
            status=models.CHANNEL_AUTO_DISABLED, status_reason=reason[:250]
        )
    if changed:
        await gw.db.sync_abilities(await models.Channel.get(id=channel.id))
        await gw.cache.reload_channels()
