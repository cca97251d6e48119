"""Background jobs: each registered job runs in its own loop, on the master only if asked."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import tempfile
import time
from typing import TYPE_CHECKING, Any

from ._core_jobs import core_jobs
from .registry import Job

if TYPE_CHECKING:
    from .gateway import Gateway

__all__ = ["start_jobs"]

log = logging.getLogger("oneapi.jobs")


REPORT_EVERY = 60.0  # seconds between two reports of a job that keeps failing


async def _loop(job: Job, given: Any) -> None:
    """Run ``job`` with ``given`` (the Gateway for the core's jobs, Services for plugins')."""
    failing_since = reported = 0.0
    while True:
        interval = job.interval(given)
        if interval <= 0:
            await asyncio.sleep(30)
            continue
        await asyncio.sleep(interval)
        try:
            await job.run(given)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            now = time.monotonic()
            if not failing_since:  # the first failure with its traceback, then a line now and then
                failing_since = reported = now
                log.exception("job %s failed; it runs again next round", job.name)
            elif now - reported >= REPORT_EVERY:
                reported = now
                log.error("job %s still fails (for %.0f s): %s", job.name, now - failing_since, exc)
        else:
            if failing_since:
                log.warning("job %s works again after %.0f s", job.name, time.monotonic() - failing_since)
                failing_since = 0.0


def _first_worker(gw: Gateway) -> bool:
    """Among worker processes of one node, the one holding the jobs lock runs master jobs."""
    if gw.settings.ONEAPI_WORKERS == 1:
        return True
    path = os.path.join(tempfile.gettempdir(), f"oneapi-jobs-{gw.settings.PORT}.lock")
    handle = open(path, "a")  # noqa: SIM115 - held open for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    gw.memo["jobs-lock"] = handle
    return True


def start_jobs(gw: Gateway) -> list[asyncio.Task[Any]]:
    """Start every job this node should run; a slow job never blocks another."""
    master = gw.settings.is_master and _first_worker(gw)
    jobs = [(j, gw) for j in core_jobs()] + [(j, gw.services) for j in gw.registry.jobs]
    return [asyncio.create_task(_loop(job, given), name=f"job:{job.name}")
            for job, given in jobs if master or not job.master_only]
