"""The core's own background jobs: option and cache sync, ledger heartbeat and reconcile, log
retention, channel tests and balances, batch flushes and WAL checkpoints."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from . import models
from .ledger import heartbeat, reconcile
from .registry import Job
from .relay.channel_test import test_channel
from .relay.context import RelayError

__all__ = ["core_jobs"]

log = logging.getLogger("oneapi.jobs")


async def _sync(gw: Any) -> None:
    await gw.options.load()
    gw.tokenizer.approximate = gw.options.bool("ApproximateTokenEnabled")
    await gw.cache.reload_all()


async def _retention(gw: Any) -> None:
    days = gw.options.int("LogRetentionDays")
    if days > 0:
        cutoff = int(time.time()) - days * 86400
        deleted = await models.Log.filter(created_at__lt=cutoff).delete()
        if deleted:
            log.info("log retention: deleted %d logs older than %d days", deleted, days)


async def _test_channels(gw: Any) -> None:
    for channel in list(gw.cache.channels.by_id.values()):
        if channel.status == models.CHANNEL_MANUALLY_DISABLED:
            continue
        await test_channel(gw, channel)
        await asyncio.sleep(gw.settings.POLLING_INTERVAL)


async def _update_balances(gw: Any) -> None:
    for channel in list(gw.cache.channels.by_id.values()):
        adaptor = gw.adaptor(channel.type)
        if adaptor is None or channel.status != models.CHANNEL_ENABLED:
            continue
        try:
            balance = await adaptor.fetch_balance(channel)
        except (RelayError, httpx.HTTPError) as exc:
            log.info("balance of channel %s not updated: %s", channel.id, exc)
        else:
            await models.Channel.filter(id=channel.id).update(
                balance=balance, balance_updated_time=int(time.time())
            )
        await asyncio.sleep(gw.settings.POLLING_INTERVAL)


async def _flush_batch(gw: Any) -> None:
    await gw.ledger.writer.flush()


async def _heartbeat(gw: Any) -> None:
    await heartbeat(gw.ledger)


async def _reconcile(gw: Any) -> None:
    await reconcile(gw.ledger)


async def _checkpoint(gw: Any) -> None:
    await gw.db.checkpoint()


def core_jobs() -> list[Job]:
    """The core's own jobs; they receive the Gateway (plugins' jobs receive Services)."""
    return [
        Job("batch-flush", lambda gw: gw.settings.BATCH_UPDATE_INTERVAL if gw.settings.BATCH_UPDATE_ENABLED
            else 0.0, _flush_batch, master_only=False),
        Job("sync", lambda gw: gw.settings.sync_seconds, _sync, master_only=False),
        Job("ledger-heartbeat", lambda gw: gw.ledger.lease / 4, _heartbeat, master_only=False),
        Job("ledger-reconcile", lambda gw: gw.ledger.lease / 4, _reconcile),
        Job("wal-checkpoint", lambda gw: 1.0 if gw.db.writes_here else 0.0, _checkpoint, master_only=False),
        Job("log-retention", lambda gw: min(3600.0, float(gw.settings.SYNC_FREQUENCY)), _retention),
        Job("channel-test", lambda gw: gw.settings.CHANNEL_TEST_FREQUENCY * 60.0, _test_channels),
        Job("channel-balance", lambda gw: gw.settings.CHANNEL_UPDATE_FREQUENCY * 60.0, _update_balances),
    ]
