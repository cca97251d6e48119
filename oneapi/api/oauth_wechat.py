"""WeChat login and binding through One API's WeChat server (songquanpeng/wechat-server).

The user follows the official account shown by ``WeChatAccountQRCodeImageURL``, sends it
"验证码" and types the code it answers into the login form. ``GET /api/oauth/wechat?code=``
asks ``{WeChatServerAddress}/api/wechat/user?code=`` (header ``Authorization:
{WeChatServerToken}``), which answers ``{"success", "message", "data": "<openid>"}``; the
openid is the user's ``wechat_id``. ``GET /api/oauth/wechat/bind?code=`` binds it to the
signed-in user instead. Both need ``WeChatAuthEnabled``.
"""

from __future__ import annotations

from quart import Blueprint
from quart.typing import ResponseReturnValue

from .. import models
from ..gateway import Gateway
from ._common import ApiError, doc, gateway, require_role
from .oauth_accounts import CODE, bind, code_arg, provider_detail, provider_json, sign_in
from .ratelimit import critical

__all__ = ["blueprint"]

LABEL = "WeChat"


def _enabled(gw: Gateway) -> None:
    if not gw.options.bool("WeChatAuthEnabled"):
        raise ApiError("WeChat login is disabled by the administrator")
    if not gw.options.get("WeChatServerAddress").strip():
        raise ApiError("WeChat login is not set up: WeChatServerAddress is empty")


async def _wechat_id(gw: Gateway, code: str) -> str:
    """The openid the WeChat server gives for ``code``; ApiError with its reason otherwise."""
    address = gw.options.get("WeChatServerAddress").strip().rstrip("/")
    status, data = await provider_json(
        gw,
        "the WeChat server",
        "GET",
        f"{address}/api/wechat/user",
        params={"code": code},
        headers={
            "Authorization": gw.options.get("WeChatServerToken"),
            "Accept": "application/json",
        },
    )
    if not isinstance(data, dict) or status != 200:
        raise ApiError(f"the WeChat server did not answer ({provider_detail(status, data)})")
    if not data.get("success"):
        reason = data.get("message") or "it refused the code"
        raise ApiError(f"the WeChat server refused the code: {reason}")
    openid = data.get("data")
    if not isinstance(openid, str) or not openid.strip():
        raise ApiError("the verification code is wrong or has expired")
    return openid.strip()[:191]


def blueprint() -> Blueprint:
    bp = Blueprint("oauth_wechat", __name__)

    @bp.get("/oauth/wechat")
    @critical
    @doc(
        "Log in (or register) with the code the WeChat official account sent",
        query=CODE,
    )
    async def wechat() -> ResponseReturnValue:
        gw = gateway()
        code = code_arg()
        _enabled(gw)
        return await sign_in(
            gw, "wechat_id", await _wechat_id(gw, code), prefix="wechat", display_name="WeChat User"
        )

    @bp.get("/oauth/wechat/bind")
    @critical
    @require_role(models.ROLE_USER)
    @doc(
        "Bind WeChat to the signed-in user with the code the official account sent",
        query=CODE,
    )
    async def wechat_bind() -> ResponseReturnValue:
        gw = gateway()
        code = code_arg()
        _enabled(gw)
        return await bind(gw, "wechat_id", await _wechat_id(gw, code), LABEL)

    return bp
