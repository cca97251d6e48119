"""``oneapi --port 3000 --log-dir ./logs``: run the gateway on Hypercorn."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys

from ._serve import StartupFailed, serve_until_stopped, setup_logging
from ._serve import config as _config

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
    parser.add_argument("command", nargs="?", choices=("serve", "migrate"), default="serve",
                        help="serve (the default), or migrate: apply pending schema migrations and exit")
    return parser


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
    if args.command == "migrate":
        from .schema.command import run_migrate

        return run_migrate(settings)
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
    try:
        serve_until_stopped(app, config)
    except StartupFailed as exc:
        print(f"oneapi: start-up failed: {exc}", file=sys.stderr)
        return 1
    return 0
