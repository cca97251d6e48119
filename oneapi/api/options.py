"""Options (/api/option/, root only): list (secrets blanked) and validated update."""

from __future__ import annotations

import math

from pydantic import Field, field_validator
from quart import Blueprint
from quart.typing import ResponseReturnValue

from .. import models
from ..gateway import Gateway
from ..options import validate_int, validate_number
from ._common import ApiError, Body, doc, gateway, ok, parse_body, require_role

__all__ = ["blueprint"]

THEMES = ("default", "berry", "air")

#: Turning one of these on needs the other option set first (One API's checks).
_NEEDS = {
    "GitHubOAuthEnabled": ("GitHubClientId", "set GitHubClientId and GitHubClientSecret first"),
    "TurnstileCheckEnabled": (
        "TurnstileSiteKey",
        "set TurnstileSiteKey and TurnstileSecretKey first",
    ),
    "EmailDomainRestrictionEnabled": ("EmailDomainWhitelist", "set EmailDomainWhitelist first"),
    "EmailVerificationEnabled": ("SMTPServer", "set the SMTP options first"),
}


class OptionBody(Body):
    key: str = Field(min_length=1, max_length=191)
    value: str | bool | int | float

    @field_validator("value")
    @classmethod
    def _text(cls, value: str | bool | int | float) -> str:
        """Booleans become One API's "true"/"false"; numbers their decimal text."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        text = str(value)
        if len(text) > 1_000_000:
            raise ValueError("must be at most 1,000,000 characters")
        return text


def check_option(gw: Gateway, key: str, value: str) -> None:
    """Every check for setting ``key`` to ``value``; ApiError with the reason."""
    error = gw.options.validate(key, value)
    if error:
        raise ApiError(error)
    spec = gw.options.specs.get(key)
    if spec is not None and spec.validate in (validate_int, validate_number):
        number = float(value)
        if not math.isfinite(number) or number < 0 or number > 2**53:
            raise ApiError(f"{key} must be a number between 0 and 2^53")
        if key == "QuotaPerUnit" and number <= 0:
            raise ApiError("QuotaPerUnit must be greater than 0")
    if key == "Theme" and value not in THEMES:
        raise ApiError(f"Theme must be one of {', '.join(THEMES)}")
    if key in _NEEDS and value == "true":
        needed, message = _NEEDS[key]
        if not gw.options.get(needed).strip():
            raise ApiError(f"cannot enable {key}: {message}")


def blueprint() -> Blueprint:
    bp = Blueprint("options", __name__)

    @bp.get("/option/")
    @require_role(models.ROLE_ROOT)
    @doc("Every option as {key, value}; values of secrets are blank")
    async def list_options() -> ResponseReturnValue:
        return ok(gateway().options.visible())

    @bp.put("/option/")
    @require_role(models.ROLE_ROOT)
    @doc("Set one option {key, value} after validation", OptionBody)
    async def update_option() -> ResponseReturnValue:
        gw = gateway()
        body = await parse_body(OptionBody)
        value = str(body.value)
        check_option(gw, body.key, value)
        await gw.options.set(body.key, value)
        if body.key == "ApproximateTokenEnabled":
            gw.tokenizer.approximate = gw.options.bool(body.key)
        return ok()

    return bp
