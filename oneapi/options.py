"""Options (table ``options``): defaults from the registry, values from the database."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from . import crypto, models
from .db import write_transaction
from .registry import OptionSpec

__all__ = ["Options", "validate_bool", "validate_int", "validate_json_object", "validate_url"]

log = logging.getLogger("oneapi.options")


def validate_bool(value: str) -> str | None:
    return None if value in ("true", "false") else "must be true or false"


def validate_int(value: str) -> str | None:
    try:
        int(value)
    except ValueError:
        return "must be an integer"
    return None


def validate_number(value: str) -> str | None:
    try:
        float(value)
    except ValueError:
        return "must be a number"
    return None


def validate_url(value: str) -> str | None:
    """Empty, or an absolute http(s) URL without spaces."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        return "must be an http:// or https:// URL"
    return None


def validate_json_object(value: str) -> str | None:
    try:
        data = json.loads(value or "{}")
    except json.JSONDecodeError as exc:
        return f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if not isinstance(data, dict):
        return "must be a JSON object"
    return None


def validate_ratio_map(value: str) -> str | None:
    error = validate_json_object(value)
    if error:
        return error
    for key, number in json.loads(value or "{}").items():
        if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
            return f"value of {key!r} must be a number ≥ 0"
    return None


class Options:
    """Current option values as strings, with typed and parsed views cached per value."""

    def __init__(self, specs: dict[str, OptionSpec]) -> None:
        self.specs = specs
        self.values: dict[str, str] = {k: s.default for k, s in specs.items()}
        self._parsed: dict[str, tuple[str, Any]] = {}
        self.version = 0
        self.on_change: Callable[[], None] | None = None

    async def load(self) -> None:
        """Read every stored option (unknown keys are kept as they are)."""
        for row in await models.Option.all():  # secrets decrypted here, once per load
            self.values[row.key] = crypto.reveal(row.value or "", crypto.option_context(row.key),
                                                 f"option {row.key}")
        self._parsed.clear()
        self.version += 1

    def validate(self, key: str, value: str) -> str | None:
        """An error message for setting ``key`` to ``value``, or None."""
        spec = self.specs.get(key)
        if spec is None:
            return f"unknown option {key}"
        if spec.validate is not None:
            error = spec.validate(value)
            if error:
                return f"{key} {error}"
        return None

    async def set(self, key: str, value: str) -> None:
        """Store a validated value (callers validate first)."""
        async with write_transaction():  # update_or_create reads, then writes
            await models.Option.update_or_create(defaults={"value": self._stored(key, value)}, key=key)
        self.values[key] = value
        self._parsed.pop(key, None)
        self.version += 1
        if self.on_change is not None:
            self.on_change()

    def _stored(self, key: str, value: str) -> str:
        """A secret option is stored encrypted (with CRYPTO_SECRET): the core's SECRET_OPTIONS
        and every option declared secret (write-only), a plugin's too."""
        spec = self.specs.get(key)
        if key in crypto.SECRET_OPTIONS or (spec is not None and spec.secret):
            return crypto.seal(value, crypto.option_context(key))
        return value

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)

    def bool(self, key: str) -> bool:
        return self.values.get(key, "false") == "true"

    def int(self, key: str, default: int = 0) -> int:
        try:
            return int(float(self.values.get(key, default)))
        except ValueError:
            return default

    def float(self, key: str, default: float = 0.0) -> float:
        try:
            return float(self.values.get(key, default))
        except ValueError:
            return default

    def json(self, key: str) -> Any:
        """The parsed JSON value of an option (cached until the value changes)."""
        raw = self.values.get(key, "")
        cached = self._parsed.get(key)
        if cached is not None and cached[0] == raw:
            return cached[1]
        try:
            parsed = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            log.warning("option %s holds invalid JSON; ignoring it", key)
            parsed = {}
        self._parsed[key] = (raw, parsed)
        return parsed

    def visible(self) -> list[dict[str, str]]:
        """Options as the API lists them: secret values are blanked."""
        out = []
        for key, value in sorted(self.values.items()):
            spec = self.specs.get(key)
            secret = (spec.secret if spec else False) or key.endswith(("Token", "Secret", "Key"))
            out.append({"key": key, "value": "" if secret else value})
        return out
