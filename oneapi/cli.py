"""``oneapi --port 3000 --log-dir ./logs``: run the gateway on Hypercorn."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="oneapi",
        description="oneapi: an OpenAI-compatible LLM API gateway. "
        "Configuration comes from environment variables (see README).",
    )
    parser.add_argument("--port", type=int, default=None, help="port to listen on (default: $PORT or 3000)")
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"), help="address to bind (default 0.0.0.0)")
    parser.add_argument("--log-dir", default=None, help="also write logs to a rotating file in this folder")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes sharing the port (default 1); use Redis with several")
    parser.add_argument("--version", action="version", version=f"oneapi {__version__}")
    return parser


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


def _config(host: str, port: int) -> Any:
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.graceful_timeout = 30
    config.keep_alive_timeout = 75
    config.backlog = 2048
    config.include_server_header = False  # one header less per response; nothing needs it
    return config


STOP_POLL_SECONDS = 0.2  # how often ``also_stop`` is asked


def serve_until_stopped(app: Any, config: Any, also_stop: Callable[[], bool] | None = None) -> None:
    """Serve ``app`` with hypercorn on uvloop (plain asyncio without it) until SIGTERM/SIGINT,
    or until ``also_stop()`` answers true; then shut down gracefully."""
    from hypercorn.asyncio import serve

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        async def stopped() -> None:
            while not (stop.is_set() or (also_stop is not None and also_stop())):
                try:
                    await asyncio.wait_for(stop.wait(), STOP_POLL_SECONDS)
                except TimeoutError:
                    pass

        await serve(app, config, shutdown_trigger=stopped if also_stop is not None else stop.wait)  # type: ignore[arg-type]

    try:
        import uvloop
    except ImportError:
        asyncio.run(run())
    else:
        uvloop.run(run())


def _run_workers(host: str, port: int, log_dir: str, workers: int) -> int:
    """Several worker processes, each building its own app from the environment."""
    from ._workers import run_workers

    os.environ["PORT"] = str(port)
    os.environ["ONEAPI_WORKERS"] = str(workers)
    if log_dir:
        os.environ["LOG_DIR"] = log_dir
    config = _config(host, port)
    logging.getLogger("oneapi").info("oneapi listening on %s with %d workers", config.bind[0], workers)
    return run_workers(config, workers)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, validate settings, serve until SIGTERM/SIGINT."""
    args = _parser().parse_args(argv)
    from .settings import SettingsError, load_settings

    overrides: dict[str, object] = {}
    if args.port is not None:
        overrides["PORT"] = args.port
    if args.log_dir is not None:
        overrides["LOG_DIR"] = args.log_dir
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(f"oneapi: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.LOG_DIR or None, settings.DEBUG)
    if args.workers > 1:
        return _run_workers(args.host, settings.PORT, settings.LOG_DIR, args.workers)

    from .app import create_app
    from .registry import StartupError

    try:
        app = create_app(settings)
    except (StartupError, ValueError) as exc:
        print(f"oneapi: {exc}", file=sys.stderr)
        return 2
    config = _config(args.host, settings.PORT)
    logging.getLogger("oneapi").info("oneapi listening on %s", config.bind[0])
    serve_until_stopped(app, config)
    return 0
