"""Channel tests and balances (/api/channel/test..., /api/channel/update_balance...)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from quart import Blueprint
from quart.typing import ResponseReturnValue

from .. import models
from ..cache import channel_record
from ..gateway import Gateway
from ..relay.context import RelayError
from ._common import ApiError, doc, gateway, now, ok, path_id, require_role, str_arg
from .accounts import record_log
from .openapi import query_enum, query_text

__all__ = ["blueprint", "test_all_channels", "test_one_channel", "update_balance"]

log = logging.getLogger("oneapi.api.channels")

_RUNNING = "api.channel_test_running"


async def _channel(channel_id: int) -> models.Channel:
    channel = await models.Channel.filter(id=path_id(channel_id, "channel")).first()
    if channel is None:
        raise ApiError(f"channel {channel_id} not found")
    return channel


def _pick_model(channel: models.Channel, wanted: str) -> str:
    """The requested model if the channel serves it, else its first model (One API)."""
    record = channel_record(channel)
    if wanted and wanted in record.models:
        return wanted
    if record.models:
        return record.models[0]
    if wanted:
        return wanted
    raise ApiError("the channel has no models to test; give ?model=")


async def test_one_channel(
    gw: Gateway, channel: models.Channel, wanted: str = ""
) -> tuple[bool, str, int]:
    """Send a test request through the relay core (which stores response_time, test_time
    and applies the automatic disable/enable options); write a test log."""
    from ..relay.channel_test import test_channel

    model = _pick_model(channel, wanted)
    try:
        success, message, elapsed = await test_channel(gw, channel_record(channel), model)
    except RelayError as exc:
        success, message, elapsed = False, exc.message, 0
    except Exception as exc:  # noqa: BLE001 - plugin code failed: a failed test, not a 500
        log.warning("test of channel %s failed: %r", channel.id, exc)
        success, message, elapsed = False, f"{type(exc).__name__}: {exc}"[:300], 0
    outcome = "passed" if success else f"failed: {message}"
    await record_log(
        0, models.LOG_TEST, f"channel #{channel.id} {channel.name} test with {model} {outcome}", ""
    )
    return success, message, elapsed


async def test_all_channels(gw: Gateway, scope: str = "all") -> None:
    """Test every channel (or only the disabled ones), one after the other."""
    try:
        query = models.Channel.all()
        if scope == "disabled":
            query = query.exclude(status=models.CHANNEL_ENABLED)
        for channel in await query.order_by("id"):
            try:
                await test_one_channel(gw, channel)
            except ApiError:
                pass
            if gw.settings.POLLING_INTERVAL:
                await asyncio.sleep(gw.settings.POLLING_INTERVAL)
    except Exception:  # noqa: BLE001 - a background run must never die silently
        log.exception("testing all channels failed")
    finally:
        gw.memo.pop(_RUNNING, None)


async def update_balance(gw: Gateway, channel: models.Channel) -> float:
    """Ask the channel type's adaptor for the balance; store it."""
    adaptor = gw.adaptor(channel.type)
    if adaptor is None:
        raise ApiError(f"no loaded plugin provides channel type {channel.type}")
    try:
        balance = float(await adaptor.fetch_balance(channel_record(channel)))
    except RelayError as exc:
        raise ApiError(exc.message or "the balance could not be read") from None
    except Exception as exc:  # noqa: BLE001 - plugin code or the network failed: say so, no 500
        log.warning("balance of channel %s failed: %r", channel.id, exc)
        raise ApiError(
            f"the balance could not be read: {type(exc).__name__}: {exc}"[:300]
        ) from None
    channel.balance = balance
    channel.balance_updated_time = now()
    await channel.save(update_fields=["balance", "balance_updated_time"])
    return balance


def blueprint() -> Blueprint:
    bp = Blueprint("channel_ops", __name__)

    @bp.get("/channel/test/<int:channel_id>")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Send a test request through the channel (?model=)",
        query={"model": query_text("model name; blank: the channel's test model or first")},
    )
    async def test(channel_id: int) -> ResponseReturnValue:
        gw = gateway()
        channel = await _channel(channel_id)
        success, message, elapsed = await test_one_channel(gw, channel, str_arg("model"))
        if not success:
            return ok_false(message, {"time": elapsed / 1000})
        return ok(
            {"time": elapsed / 1000, "response_time": elapsed},
            message="the channel works",
            time=elapsed / 1000,
        )

    @bp.get("/channel/test")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Test every channel in the background (?scope=all|disabled)",
        query={"scope": query_enum("which channels; blank: all", "all", "disabled")},
    )
    async def test_all() -> ResponseReturnValue:
        gw = gateway()
        scope = str_arg("scope", 16) or "all"
        if scope not in ("all", "disabled"):
            raise ApiError("query parameter scope must be all or disabled")
        if gw.memo.get(_RUNNING):
            raise ApiError("a test of all channels is already running")
        gw.memo[_RUNNING] = True
        gw.tasks.append(asyncio.create_task(test_all_channels(gw, scope)))
        gw.tasks[:] = [t for t in gw.tasks if not t.done()]
        return ok(message="testing all channels started; results appear in the channel list")

    @bp.get("/channel/update_balance/<int:channel_id>")
    @require_role(models.ROLE_ADMIN)
    @doc("Read the channel's balance from its upstream")
    async def balance(channel_id: int) -> ResponseReturnValue:
        channel = await _channel(channel_id)
        value = await update_balance(gateway(), channel)
        return ok(value, balance=value)

    @bp.get("/channel/update_balance")
    @require_role(models.ROLE_ADMIN)
    @doc("Read the balance of every enabled channel")
    async def balance_all() -> ResponseReturnValue:
        gw = gateway()
        channels = await models.Channel.filter(status=models.CHANNEL_ENABLED).order_by("id")
        limit = asyncio.Semaphore(8)
        results: list[dict[str, Any]] = []

        async def one(channel: models.Channel) -> None:
            async with limit:
                try:
                    value = await asyncio.wait_for(update_balance(gw, channel), 30)
                    results.append(
                        {"id": channel.id, "success": True, "balance": value, "message": ""}
                    )
                except (ApiError, TimeoutError) as exc:
                    message = exc.message if isinstance(exc, ApiError) else "timed out"
                    results.append(
                        {
                            "id": channel.id,
                            "success": False,
                            "balance": channel.balance,
                            "message": message,
                        }
                    )

        await asyncio.gather(*(one(c) for c in channels))
        return ok(sorted(results, key=lambda r: r["id"]))

    return bp


def ok_false(message: str, data: Any) -> ResponseReturnValue:
    """A completed test that failed: One API answers success false with the reason."""
    from quart import jsonify

    return jsonify(
        {"success": False, "message": message, "data": data, "time": data.get("time", 0)}
    )
