"""Options (/api/option/, root only): list (secrets blanked) and validated update."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, field_validator
from quart import Blueprint
from quart.typing import ResponseReturnValue

from .. import models
from ..gateway import Gateway
from ..options import validate_int, validate_number
from . import oauth_oidc
from ._common import ApiError, Body, doc, gateway, ok, parse_body, require_role
from .schemas import OptionItemOut, OptionSpecOut

__all__ = ["blueprint"]

THEMES = ("default", "berry", "air")

#: Turning one of these on needs the other option set first (One API's checks).
_NEEDS = {
    "GitHubOAuthEnabled": ("GitHubClientId", "set GitHubClientId and GitHubClientSecret first"),
    "WeChatAuthEnabled": (
        "WeChatServerAddress",
        "set WeChatServerAddress and WeChatServerToken first",
    ),
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
    if key == "OidcEnabled" and value == "true":
        o = gw.options
        endpoints = all(
            o.get(k).strip()
            for k in ("OidcAuthorizationEndpoint", "OidcTokenEndpoint", "OidcUserinfoEndpoint")
        )
        if not o.get("OidcClientId").strip() or not (endpoints or o.get("OidcWellKnown").strip()):
            raise ApiError(
                "cannot enable OidcEnabled: set OidcClientId, OidcClientSecret and OidcWellKnown "
                "(or the three endpoints) first"
            )


def describe_options(gw: Gateway) -> list[dict[str, Any]]:
    """Every registered option as the settings page renders it (GET /api/option/specs)."""
    out = []
    for key, spec in gw.registry.options.items():  # as registered: the order of a form
        plugin = gw.registry.owners.get(f"option {key}", "")
        info = gw.plugins.get(plugin)
        secret = spec.secret or spec.type == "secret"
        out.append(
            {
                "key": key,
                "plugin": plugin,
                "core": info.core if info is not None else True,
                "default": "" if secret else spec.default,
                "secret": secret,
                "type": "secret" if secret else spec.type,
                "label": dict(spec.label),
                "help": dict(spec.help),
                "section": spec.section,
                "group": spec.group,
                "choices": list(spec.choices),
                "minimum": spec.minimum,
                "maximum": spec.maximum,
            }
        )
    return out


def blueprint() -> Blueprint:
    bp = Blueprint("options", __name__)

    @bp.get("/option/")
    @require_role(models.ROLE_ROOT)
    @doc("Every option as {key, value}; values of secrets are blank", response=list[OptionItemOut])
    async def list_options() -> ResponseReturnValue:
        return ok(gateway().options.visible())

    @bp.get("/option/specs")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "How each option is edited (type, labels and help in en and zh-CN, settings tab and "
        "card, limits) and which plugin registered it",
        response=list[OptionSpecOut],
    )
    async def option_specs() -> ResponseReturnValue:
        return ok(describe_options(gateway()))

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
        if body.key == "OidcWellKnown" and value:
            try:  # fill the endpoints from the discovery document, as One API's form does
                found = await oauth_oidc.discover(gw, value)
            except ApiError as exc:
                return ok(message=f"saved, but {exc.message}")
            return ok(message=f"saved; endpoints discovered: {', '.join(sorted(found))}")
        return ok()

    return bp
