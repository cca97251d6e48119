"""The background poller (master node): bring unfinished tasks up to date from upstream in
batched ``list-by-condition`` calls per channel, fail (and refund) tasks that upstream
failed, and fail (and refund) tasks that outlive ``MjTaskTimeout`` — including tasks that
upstream stopped returning and tasks whose channel is gone."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict

import httpx

from oneapi.plugin import Job, Services

from ._client import list_by_condition
from ._models import Midjourney
from ._options import poll_interval, task_timeout_ms
from ._relay import MJ_TYPES
from ._tasks import DONE, FINAL, apply_upstream, fail_task, now_ms

__all__ = ["poll_job", "poll_once", "refresh_tasks"]

log = logging.getLogger("oneapi.midjourney")

#: How often the job wakes up to see whether a poll is due.
_TICK = 0.5
_LAST = "midjourney:last_poll"
_CHANNELS_AT_ONCE = 8


async def refresh_tasks(services: Services, channel_id: int, rows: list[Midjourney]) -> tuple[Counter[str], set[int]]:
    """Update these tasks of one channel from upstream; returns what happened to them and
    the ids of the rows that reached a final status."""
    outcome: Counter[str] = Counter()
    finished: set[int] = set()
    channel = services.channel(channel_id)
    if channel is None or channel.type not in MJ_TYPES or not channel.base_url:
        outcome["no_channel"] += len(rows)
        return outcome, finished
    ids = sorted({row.mj_id for row in rows})
    try:
        found = await list_by_condition(services.http, channel, ids)
    except (httpx.HTTPError, RuntimeError) as exc:
        log.warning("midjourney poll of channel %d failed: %s", channel_id, exc)
        outcome["unreachable"] += len(rows)
        return outcome, finished
    for row in rows:
        item = found.get(row.mj_id)
        if item is None:
            outcome["missing"] += 1
            continue
        result = await apply_upstream(services, row, item)
        outcome[result] += 1
        if result in ("failed", "success"):
            finished.add(row.id)
    return outcome, finished


async def poll_once(services: Services) -> Counter[str]:
    """One round over every unfinished task; safe to run on several nodes at once.

    Rows are read once; every write is a compare-and-set on the status read here, so a row
    that changed meanwhile (another poller, a notify callback) is left to the next round.
    """
    outcome: Counter[str] = Counter()
    rows = await Midjourney.exclude(progress=DONE).order_by("id")
    if not rows:
        return outcome
    by_channel: dict[int, list[Midjourney]] = defaultdict(list)
    for row in rows:
        if row.status in FINAL:  # a final row of One API's fork without 100%: just close it
            await Midjourney.filter(id=row.id, status=row.status).update(progress=DONE)
            outcome["closed"] += 1
        elif not row.mj_id:  # never reached upstream, never charged
            outcome["failed" if await fail_task(services, row, "no upstream task id") else "lost"] += 1
        else:
            by_channel[row.channel_id].append(row)
    finished: set[int] = set()
    limit = asyncio.Semaphore(_CHANNELS_AT_ONCE)

    async def refresh(channel_id: int, channel_rows: list[Midjourney]) -> tuple[Counter[str], set[int]]:
        async with limit:  # one slow channel does not hold up the others
            return await refresh_tasks(services, channel_id, channel_rows)

    for result, done in await asyncio.gather(*(refresh(c, r) for c, r in by_channel.items())):
        outcome.update(result)
        finished |= done
    timeout = task_timeout_ms(services)
    if timeout > 0:
        deadline = now_ms() - timeout
        reason = f"upstream task timed out (not finished within {timeout // 1000} s)"
        late = [row.id for rows_of_channel in by_channel.values() for row in rows_of_channel
                if row.id not in finished and 0 < row.submit_time < deadline]
        # read again: this round's updates moved their status, the compare-and-set needs it
        for row in await Midjourney.filter(id__in=late).exclude(progress=DONE) if late else []:
            outcome["timed_out" if await fail_task(services, row, reason) else "lost"] += 1
    return outcome


def _interval(services: Services) -> float:
    """Always a short tick: ``_run`` decides whether a poll is due, so turning the poller
    off and on again (MjPollInterval 0 → 15) never waits for a long sleep."""
    configured = poll_interval(services)
    return min(configured, _TICK) if configured > 0 else _TICK


async def _run(services: Services) -> None:
    interval = poll_interval(services)
    now = time.monotonic()
    if interval <= 0 or now - services.memo.get(_LAST, float("-inf")) < interval:
        return
    services.memo[_LAST] = now
    outcome = await poll_once(services)
    if outcome:
        log.debug("midjourney poll: %s", dict(outcome))


def poll_job() -> Job:
    """The poller as a master-only background job."""
    return Job(name="midjourney-poll", interval=_interval, run=_run, master_only=True)
