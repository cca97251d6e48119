"""The core's own hookimpls: One API's options and the default quota formula (trylast)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import httpx

from . import models
from .hookspecs import hookimpl
from .ledger import heartbeat, reconcile
from .options import (
    validate_bool,
    validate_int,
    validate_number,
    validate_ratio_map,
)
from .registry import Job, OptionSpec
from .relay.channel_test import test_channel
from .relay.context import RelayError

if TYPE_CHECKING:
    from .relay.context import RelayContext, Usage

log = logging.getLogger("oneapi.jobs")

_BOOL_OPTIONS = {
    "PasswordLoginEnabled": "true",
    "PasswordRegisterEnabled": "true",
    "RegisterEnabled": "true",
    "EmailVerificationEnabled": "false",
    "EmailDomainRestrictionEnabled": "false",
    "GitHubOAuthEnabled": "false",
    "TurnstileCheckEnabled": "false",
    "AutomaticDisableChannelEnabled": "false",
    "AutomaticEnableChannelEnabled": "false",
    "ApproximateTokenEnabled": "false",
    "LogConsumeEnabled": "true",
    "DisplayInCurrencyEnabled": "true",
    "DisplayTokenStatEnabled": "true",
}
_INT_OPTIONS = {
    "QuotaForNewUser": "0",
    "QuotaForInviter": "0",
    "QuotaForInvitee": "0",
    "QuotaRemindThreshold": "1000",
    "PreConsumedQuota": "500",
    "RetryTimes": "0",
    "SMTPPort": "587",
    "LogRetentionDays": "0",
}
_NUMBER_OPTIONS = {"QuotaPerUnit": "500000", "ChannelDisableThreshold": "5"}
_TEXT_OPTIONS = {
    "EmailDomainWhitelist": "gmail.com,yahoo.com,outlook.com,hotmail.com,qq.com,163.com,126.com,foxmail.com,icloud.com",
    "GitHubClientId": "",
    "GitHubClientSecret": "",
    "TurnstileSiteKey": "",
    "TurnstileSecretKey": "",
    "SMTPServer": "",
    "SMTPAccount": "",
    "SMTPFrom": "",
    "SMTPToken": "",
    "MessagePusherAddress": "",
    "MessagePusherToken": "",
    "TopUpLink": "",
    "ChatLink": "",
    "Notice": "",
    "About": "",
    "HomePageContent": "",
    "Footer": "",
    "SystemName": "One API",
    "Logo": "",
    "ServerAddress": "",
    "Theme": "default",
}
_RATIO_OPTIONS = {"ModelRatio": "{}", "CompletionRatio": "{}", "ModelPrice": "{}"}


@hookimpl(trylast=True)
def register_options() -> list[OptionSpec]:
    specs = [OptionSpec(k, v, validate_bool) for k, v in _BOOL_OPTIONS.items()]
    specs += [OptionSpec(k, v, validate_int) for k, v in _INT_OPTIONS.items()]
    specs += [OptionSpec(k, v, validate_number) for k, v in _NUMBER_OPTIONS.items()]
    specs += [
        OptionSpec(k, v, secret=k.endswith(("Secret", "Token", "Key")))
        for k, v in _TEXT_OPTIONS.items()
    ]
    specs += [OptionSpec(k, v, validate_ratio_map) for k, v in _RATIO_OPTIONS.items()]
    specs.append(OptionSpec("GroupRatio", '{"default": 1, "vip": 1, "svip": 1}', validate_ratio_map))
    return specs


@hookimpl(trylast=True)
def calculate_quota(ctx: RelayContext, usage: Usage) -> int | None:
    """The core formula: the relay stored the priced computation in ``ctx.extra``."""
    compute = ctx.extra.get("quota_for")
    return compute(usage) if compute is not None else None


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


@hookimpl(trylast=True)
def register_jobs() -> list[Job]:
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
