"""Lark (Feishu, 飞书) login, registration and binding (``GET /api/oauth/lark?code=&state=``).

One API's flow: the front-end sends the browser to Feishu's authorize page with
``app_id={LarkClientId}`` and ``redirect_uri={ServerAddress}/oauth/lark``; here the code is
exchanged at ``{LARK_OAUTH_URL}/suite/passport/oauth/token`` (JSON: client id and secret,
code, ``grant_type=authorization_code``, redirect_uri) and the user read from
``{LARK_OAUTH_URL}/suite/passport/oauth/userinfo``; the user is matched by its ``open_id``
(column ``lark_id``). ``LARK_OAUTH_URL`` defaults to https://passport.feishu.cn. As in One
API there is no enable switch: Lark login is on when ``LarkClientId`` is set.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart.typing import ResponseReturnValue

from ..gateway import Gateway
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

__all__ = ["blueprint"]

LABEL = "Lark"


async def _lark_user(gw: Gateway, code: str) -> dict[str, Any]:
    """Exchange the code for a user access token, then read the user; ApiError on failure."""
    base = (gw.settings.LARK_OAUTH_URL or "https://passport.feishu.cn").rstrip("/")
    status, data = await provider_json(
        gw,
        LABEL,
        "POST",
        f"{base}/suite/passport/oauth/token",
        json={
            "client_id": gw.options.get("LarkClientId"),
            "client_secret": gw.options.get("LarkClientSecret"),
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri(gw, "lark"),
        },
        headers={"Accept": "application/json"},
    )
    token = data.get("access_token") if isinstance(data, dict) and status == 200 else None
    if not isinstance(token, str) or not token:
        raise ApiError(
            f"Lark refused the login code ({provider_detail(status, data)}); try logging in again"
        )
    status, data = await provider_json(
        gw,
        LABEL,
        "GET",
        f"{base}/suite/passport/oauth/userinfo",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    if status != 200 or not isinstance(data, dict):
        raise ApiError(f"Lark returned no user ({provider_detail(status, data)})")
    if not isinstance(data.get("open_id"), str) or not data["open_id"].strip():
        raise ApiError("Lark returned a user without an open_id")
    return data


def blueprint() -> Blueprint:
    bp = Blueprint("oauth_lark", __name__)

    @bp.get("/oauth/lark")
    @critical
    @doc(
        "Finish Lark (Feishu) login: log in, register, or (signed in) bind",
        query=CODE_STATE,
    )
    async def lark() -> ResponseReturnValue:
        gw = gateway()
        code = code_arg()
        check_state()
        if not gw.options.get("LarkClientId").strip():
            raise ApiError("Lark login is not set up by the administrator (LarkClientId)")
        profile = await _lark_user(gw, code)
        name = profile.get("name")
        return await finish(
            gw,
            "lark_id",
            profile["open_id"].strip()[:191],
            LABEL,
            prefix="lark",
            display_name=name if isinstance(name, str) and name else "Lark User",
        )

    return bp
