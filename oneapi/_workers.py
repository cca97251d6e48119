"""``oneapi --workers N``: N worker processes on one port, each listening on a socket of its own.

Hypercorn's own multi-worker mode shares one listening socket, and whichever worker wakes first
accepts a whole burst of connections: behind a keep-alive proxy or a load generator one worker
got 193 of 200 connections while the other idled. Here every worker binds the port with
SO_REUSEPORT, so the kernel spreads new connections over the workers evenly.

The supervisor (this process) starts the workers, restarts one that exits cleanly, stops all
when one fails, and on SIGTERM/SIGINT asks every worker to shut down gracefully (each writes
its pending settlements first). A worker also shuts down gracefully on its own SIGTERM/SIGINT,
and when the supervisor is gone.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from typing import Any

__all__ = ["run_workers"]

log = logging.getLogger("oneapi")


def run_workers(config: Any, workers: int) -> int:
    """Serve ``config`` (a hypercorn Config) from ``workers`` processes until SIGTERM/SIGINT.

    Returns 0 after a requested shutdown, else the exit code of the worker that failed."""
    config.workers = workers  # hypercorn then binds each worker's socket with SO_REUSEPORT
    ctx = multiprocessing.get_context("spawn")
    shutdown = ctx.Event()
    stopping = False
    failed = 0

    def start() -> BaseProcess:
        process = ctx.Process(target=_serve_worker, args=(config, shutdown, os.getpid()), daemon=False)
        process.start()
        return process

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        shutdown.set()

    processes = [start() for _ in range(workers)]
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while processes:
        wait([p.sentinel for p in processes])
        for process in [p for p in processes if p.exitcode is not None]:
            process.join()
            processes.remove(process)
            if stopping:
                continue
            if process.exitcode == 0:
                log.warning("worker %s exited; starting another", process.pid)
                processes.append(start())
            else:
                log.error("worker %s failed with exit code %s; stopping the others", process.pid, process.exitcode)
                failed = failed or process.exitcode or 1
                stop()
    return failed


def _serve_worker(config: Any, shutdown: Event, supervisor: int) -> None:
    """One worker: the app built from the environment, served until told to stop."""
    from ._serve import serve_until_stopped, setup_logging
    from .app import create_app
    from .settings import load_settings

    settings = load_settings()
    setup_logging(settings.LOG_DIR or None, settings.DEBUG)
    app = create_app(settings)

    try:
        serve_until_stopped(app, config, lambda: shutdown.is_set() or os.getppid() != supervisor)
    except Exception:
        # The app may not have shut down (a port that cannot be bound fails after start-up), and
        # its database thread would keep this process alive: report and leave at once.
        log.exception("worker %s failed", os.getpid())
        logging.shutdown()
        os._exit(1)
