"""GitHub OAuth login, registration and binding (/api/oauth/state, /api/oauth/github); what
every provider shares is in ``oauth_accounts``, the others in ``oauth_oidc``, ``oauth_lark``
and ``oauth_wechat``.

The GitHub endpoints can be pointed elsewhere (a loopback fake in tests) with the settings
``GITHUB_OAUTH_URL`` (default https://github.com) and ``GITHUB_API_URL``
(default https://api.github.com).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, session
from quart.typing import ResponseReturnValue

from ..auth import random_key
from ..gateway import Gateway
from ._common import ApiError, doc, gateway, ok
from .oauth_accounts import CODE_STATE, check_state, code_arg, finish
from .ratelimit import critical

__all__ = ["blueprint"]


async def _github_user(gw: Gateway, code: str) -> dict[str, Any]:
    """Exchange the code for a token, then read the GitHub user; ApiError on failure."""
    oauth_base = (gw.settings.GITHUB_OAUTH_URL or "https://github.com").rstrip("/")
    api_base = (gw.settings.GITHUB_API_URL or "https://api.github.com").rstrip("/")
    assert gw.http is not None
    try:
        answer = await gw.http.post(
            f"{oauth_base}/login/oauth/access_token",
            json={
                "client_id": gw.options.get("GitHubClientId"),
                "client_secret": gw.options.get("GitHubClientSecret"),
                "code": code,
            },
            headers={"Accept": "application/json"},
            timeout=15,
        )
        token = answer.json().get("access_token") if answer.status_code == 200 else None
        if not token:
            raise ApiError("GitHub refused the login code; try logging in again")
        answer = await gw.http.get(
            f"{api_base}/user",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=15,
        )
        data = answer.json() if answer.status_code == 200 else None
    except ApiError:
        raise
    except Exception as exc:  # noqa: BLE001 - network or JSON trouble: tell the user, not a 500
        raise ApiError(f"could not reach GitHub: {type(exc).__name__}") from None
    if not isinstance(data, dict) or not data.get("login"):
        raise ApiError("GitHub returned no user; try again")
    return data


def blueprint() -> Blueprint:
    bp = Blueprint("oauth", __name__)

    @bp.get("/oauth/state")
    @critical
    @doc("A random OAuth state, remembered in the session")
    async def state() -> ResponseReturnValue:
        session["oauth_state"] = random_key(12)
        return ok(session["oauth_state"])

    @bp.get("/oauth/github")
    @critical
    @doc(
        "Finish GitHub login: log in, register, or (signed in) bind",
        query=CODE_STATE,
    )
    async def github() -> ResponseReturnValue:
        gw = gateway()
        code = code_arg()
        check_state()
        if not gw.options.bool("GitHubOAuthEnabled"):
            raise ApiError("GitHub login is disabled by the administrator")
        profile = await _github_user(gw, code)
        return await finish(
            gw,
            "github_id",
            str(profile["login"])[:191],
            "GitHub",
            prefix="github",
            display_name=str(profile.get("name") or "GitHub User"),
            email=str(profile.get("email") or ""),
        )

    return bp
