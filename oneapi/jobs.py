"""Background jobs: each registered job runs in its own loop, on the master only if asked."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .registry import Job

if TYPE_CHECKING:
    from .app import Gateway

__all__ = ["start_jobs"]

log = logging.getLogger("oneapi.jobs")


async def _loop(gw: Gateway, job: Job) -> None:
    while True:
        interval = job.interval(gw)
        if interval <= 0:
            await asyncio.sleep(30)
            continue
        await asyncio.sleep(interval)
        try:
            await job.run(gw)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %s failed; it runs again next round", job.name)


def start_jobs(gw: Gateway) -> list[asyncio.Task[Any]]:
    """Start every job this node should run; a slow job never blocks another."""
    jobs = [j for j in gw.registry.jobs if gw.settings.is_master or not j.master_only]
    return [asyncio.create_task(_loop(gw, job), name=f"job:{job.name}") for job in jobs]
