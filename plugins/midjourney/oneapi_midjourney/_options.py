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


def _flag(key: str, default: str, en: str, zh: str, help_en: str, help_zh: str) -> OptionSpec:
    return OptionSpec(
        key, default, _bool, label={"en": en, "zh-CN": zh},
        help={"en": help_en, "zh-CN": help_zh}, type="bool",
    )  # fmt: skip


def _secs(key: str, default: str, en: str, zh: str, help_en: str, help_zh: str) -> OptionSpec:
    return OptionSpec(
        key, default, _seconds, label={"en": en, "zh-CN": zh},
        help={"en": help_en, "zh-CN": help_zh}, type="number", minimum=0,
    )  # fmt: skip


#: The plugin's options; ``ServerAddress`` is the core's. Shown on the settings page in a
#: tab of the plugin's own.
SPECS: tuple[OptionSpec, ...] = (
    _flag(
        "MjNotifyEnabled", "false", "Let clients set a notify hook", "允许客户端设置回调地址",
        "Give upstream the gateway's own per-task notify hook (needs ServerAddress)",
        "向上游提交网关自己的任务回调地址（需要设置服务器地址）",
    ),
    _flag(
        "MjAccountFilterEnabled", "false", "Let clients choose an account", "允许客户端指定账号",
        "Forward the client's accountFilter upstream (else it is dropped)",
        "把客户端的 accountFilter 转发给上游（否则丢弃）",
    ),
    _flag(
        "MjModeClearEnabled", "false", "Strip --fast/--relax/--turbo from prompts",
        "清除提示词中的 --fast/--relax/--turbo",
        "The mode is the channel's, not the client's", "速度模式由渠道决定，而不是客户端",
    ),
    _flag(
        "MjForwardUrlEnabled", "true", "Serve images through this site", "通过本站转发图片",
        "Image links point to /mj/image/{id} here instead of the upstream's URLs",
        "图片链接指向本站的 /mj/image/{id}，而不是上游的地址",
    ),
    _flag(
        "MjActionCheckSuccessEnabled", "true", "Actions need a finished task",
        "操作需要任务已完成",
        "Follow-up actions (upscale, variation, ...) need the origin task to be SUCCESS",
        "后续操作（放大、变换等）要求原任务已成功",
    ),
    _secs(
        "MjPollInterval", "15", "Poll interval (seconds)", "轮询间隔（秒）",
        "Seconds between two polls of unfinished tasks; 0 turns the poller off",
        "两次轮询未完成任务之间的秒数；0 关闭轮询",
    ),
    _secs(
        "MjTaskTimeout", "3600", "Task timeout (seconds)", "任务超时（秒）",
        "An unfinished task fails (and is refunded) this many seconds after submission",
        "提交后超过这么多秒仍未完成的任务记为失败（并退款）",
    ),
)  # fmt: skip

#: key → (default, validator).
OPTIONS: dict[str, tuple[str, Any]] = {s.key: (s.default, s.validate) for s in SPECS}


def option_specs() -> list[OptionSpec]:
    return list(SPECS)


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
