"""The plugin's options (table ``options``) and typed readers of them."""

from __future__ import annotations

from typing import Any

from oneapi.plugin import OptionSpec, Services

__all__ = ["OPTIONS", "option_specs", "poll_interval", "server_address", "task_timeout_ms"]


def _bool(value: str) -> str | None:
    return None if value in ("true", "false") else "must be true or false"


def _seconds(value: str) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return "must be a number of seconds"
    return None if number >= 0 else "must be ≥ 0"


#: key → (default, validator). ``ServerAddress`` is the core's option.
OPTIONS: dict[str, tuple[str, Any]] = {
    # Give upstream the gateway's own per-task notify hook (needs ServerAddress).
    "MjNotifyEnabled": ("false", _bool),
    # Forward the client's accountFilter upstream (else it is dropped).
    "MjAccountFilterEnabled": ("false", _bool),
    # Strip --fast / --relax / --turbo from prompts.
    "MjModeClearEnabled": ("false", _bool),
    # Show images through the gateway (/mj/image/{id}?sig=...) instead of upstream URLs.
    "MjForwardUrlEnabled": ("true", _bool),
    # Follow-up actions need the origin task to be SUCCESS.
    "MjActionCheckSuccessEnabled": ("true", _bool),
    # Seconds between two polls of unfinished tasks (0: the poller is off).
    "MjPollInterval": ("15", _seconds),
    # Seconds after submission when an unfinished task fails (and is refunded).
    "MjTaskTimeout": ("3600", _seconds),
}


def option_specs() -> list[OptionSpec]:
    return [OptionSpec(key, default, check) for key, (default, check) in OPTIONS.items()]


def poll_interval(services: Services) -> float:
    """Seconds between polls; 0 when the poller is off."""
    return max(0.0, float(services.options.float("MjPollInterval", 15.0)))


def task_timeout_ms(services: Services) -> int:
    """Milliseconds after submission when an unfinished task is failed (0: never)."""
    return int(float(services.options.float("MjTaskTimeout", 3600.0)) * 1000)


def server_address(services: Services, fallback: str = "") -> str:
    """``ServerAddress`` without a trailing slash, or ``fallback`` when it is not set."""
    address = (services.options.get("ServerAddress") or "").strip() or fallback
    return address.rstrip("/")
