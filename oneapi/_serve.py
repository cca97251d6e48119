"""Serving one process: logging set-up, Hypercorn's config, and a serve loop that stops on
SIGTERM/SIGINT (used by the CLI and by each worker process)."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["StartupFailed", "config", "serve_until_stopped", "setup_logging"]


class StartupFailed(RuntimeError):
    """The app's start-up (its before_serving functions) or shut-down failed; the message says why."""


def setup_logging(log_dir: str | None, debug: bool) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                os.path.join(log_dir, "oneapi.log"), maxBytes=20 * 1024 * 1024, backupCount=5
            )
        )
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


def config(host: str, port: int) -> Any:
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.graceful_timeout = 30
    config.keep_alive_timeout = 75
    config.backlog = 2048
    config.include_server_header = False  # one header less per response; nothing needs it
    # Request headers up to 64 KiB whatever the TCP segmentation: with h11's 16 KiB default a
    # 20-60 KiB header was refused (431) or read depending on how it arrived.
    config.h11_max_incomplete_size = 64 * 1024
    return config


STOP_POLL_SECONDS = 0.2  # how often ``also_stop`` is asked


def serve_until_stopped(app: Any, config: Any, also_stop: Callable[[], bool] | None = None) -> None:
    """Serve ``app`` with hypercorn on uvloop (plain asyncio without it) until SIGTERM/SIGINT,
    or until ``also_stop()`` answers true; then shut down gracefully. Raise StartupFailed when
    the app's start-up fails (hypercorn may otherwise go on serving an app that never started)."""
    from hypercorn.asyncio import serve
    from quart.signals import got_serving_exception

    failed: list[BaseException] = []

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        async def serving_failed(_: Any, exception: BaseException) -> None:
            failed.append(exception)
            stop.set()

        got_serving_exception.connect(serving_failed, app, weak=False)

        async def stopped() -> None:
            while not (stop.is_set() or (also_stop is not None and also_stop())):
                try:
                    await asyncio.wait_for(stop.wait(), STOP_POLL_SECONDS)
                except TimeoutError:
                    pass

        try:
            await serve(app, config, shutdown_trigger=stopped if also_stop is not None else stop.wait)  # type: ignore[arg-type]
        except Exception:
            if not failed:
                raise
        finally:
            got_serving_exception.disconnect(serving_failed, app)

    try:
        import uvloop
    except ImportError:
        asyncio.run(run())
    else:
        uvloop.run(run())
    if failed:
        raise StartupFailed(str(failed[0]) or type(failed[0]).__name__)


