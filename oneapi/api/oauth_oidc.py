"""OpenID Connect login, registration and binding (``GET /api/oauth/oidc?code=&state=``).

Options as in One API: ``OidcEnabled``, ``OidcClientId``, ``OidcClientSecret``,
``OidcWellKnown`` (the discovery document, ``.../.well-known/openid-configuration``) and the
endpoints ``OidcAuthorizationEndpoint``, ``OidcTokenEndpoint``, ``OidcUserinfoEndpoint``.
Endpoints left empty are filled from the discovery document: when ``OidcWellKnown`` is saved,
and again at login if they are still missing. The front-end sends the browser to the
authorization endpoint with ``redirect_uri={ServerAddress}/oauth/oidc`` and
``scope=openid profile email``; here the code is exchanged at the token endpoint
(``client_secret_post``), the user read from the userinfo endpoint and matched by ``sub``.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart.typing import ResponseReturnValue

from ..gateway import Gateway
from ..options import validate_url
from ._common import ApiError, doc, gateway
from .oauth_accounts import (
    CODE_STATE,
    check_state,
    code_arg,
    finish,
    provider_detail,
    provider_json,
    redirect_uri,
)
from .ratelimit import critical

__all__ = ["blueprint", "discover"]

LABEL = "the OIDC provider"
#: discovery document key -> option
ENDPOINTS = {
    "authorization_endpoint": "OidcAuthorizationEndpoint",
    "token_endpoint": "OidcTokenEndpoint",
    "userinfo_endpoint": "OidcUserinfoEndpoint",
}


async def discover(gw: Gateway, url: str | None = None) -> dict[str, str]:
    """Read the discovery document and store its endpoints as options; ApiError saying what
    is wrong with it otherwise."""
    url = (url if url is not None else gw.options.get("OidcWellKnown")).strip()
    if not url:
        raise ApiError("OIDC is not configured: set OidcWellKnown or the three endpoints")
    status, data = await provider_json(
        gw, LABEL, "GET", url, headers={"Accept": "application/json"}
    )
    if status != 200 or not isinstance(data, dict):
        raise ApiError(
            f"the OIDC discovery document {url} could not be read: {provider_detail(status, data)}"
        )
    found = {
        option: data[key]
        for key, option in ENDPOINTS.items()
        if isinstance(data.get(key), str) and validate_url(data[key]) is None
    }
    if "OidcTokenEndpoint" not in found or "OidcUserinfoEndpoint" not in found:
        raise ApiError(f"the OIDC discovery document {url} names no token or userinfo endpoint")
    for option, value in found.items():
        if gw.options.get(option) != value:
            await gw.options.set(option, value)
    return found


async def _endpoints(gw: Gateway) -> tuple[str, str]:
    """(token endpoint, userinfo endpoint), discovering them if they are not set."""
    token, info = gw.options.get("OidcTokenEndpoint"), gw.options.get("OidcUserinfoEndpoint")
    if not token or not info:
        found = await discover(gw)
        token, info = found["OidcTokenEndpoint"], found["OidcUserinfoEndpoint"]
    return token, info


async def _oidc_user(gw: Gateway, code: str) -> dict[str, Any]:
    """Exchange the code for an access token, then read the userinfo; ApiError on failure."""
    token_url, info_url = await _endpoints(gw)
    status, data = await provider_json(
        gw,
        LABEL,
        "POST",
        token_url,
        data={
            "client_id": gw.options.get("OidcClientId"),
            "client_secret": gw.options.get("OidcClientSecret"),
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri(gw, "oidc"),
        },
        headers={"Accept": "application/json"},
    )
    token = data.get("access_token") if isinstance(data, dict) and status == 200 else None
    if not isinstance(token, str) or not token:
        raise ApiError(
            f"the OIDC provider refused the login code ({provider_detail(status, data)}); "
            "try logging in again"
        )
    status, data = await provider_json(
        gw,
        LABEL,
        "GET",
        info_url,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    if status != 200 or not isinstance(data, dict):
        raise ApiError(f"the OIDC provider returned no user ({provider_detail(status, data)})")
    sub = data.get("sub")
    if not isinstance(sub, str | int) or isinstance(sub, bool) or not str(sub).strip():
        raise ApiError("the OIDC provider returned a user without a subject (sub)")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def blueprint() -> Blueprint:
    bp = Blueprint("oauth_oidc", __name__)

    @bp.get("/oauth/oidc")
    @critical
    @doc(
        "Finish OIDC login: log in, register, or (signed in) bind",
        query=CODE_STATE,
    )
    async def oidc() -> ResponseReturnValue:
        gw = gateway()
        code = code_arg()
        check_state()
        if not gw.options.bool("OidcEnabled"):
            raise ApiError("OIDC login is disabled by the administrator")
        profile = await _oidc_user(gw, code)
        email = _text(profile, "email")
        return await finish(
            gw,
            "oidc_id",
            str(profile["sub"]).strip()[:191],
            "OIDC",
            prefix="oidc",
            preferred_username=_text(profile, "preferred_username") or email.split("@")[0],
            display_name=_text(profile, "name") or "OIDC User",
            email=email,
        )

    return bp
