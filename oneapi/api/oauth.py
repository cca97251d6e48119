"""GitHub OAuth login, registration and binding (/api/oauth/state, /api/oauth/github).

The GitHub endpoints can be pointed elsewhere (a loopback fake in tests) with the settings
``GITHUB_OAUTH_URL`` (default https://github.com) and ``GITHUB_API_URL``
(default https://api.github.com).
"""

from __future__ import annotations

import hmac
from typing import Any

from quart import Blueprint, session
from quart.typing import ResponseReturnValue

from .. import models
from ..auth import random_key
from ..gateway import Gateway
from ._common import ApiError, current_user, doc, gateway, login_session, ok, str_arg
from .accounts import create_user
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
        query={"code": "code", "state": "state"},
    )
    async def github() -> ResponseReturnValue:
        gw = gateway()
        code = str_arg("code", 256)
        state = str_arg("state", 64)
        expected = session.get("oauth_state")
        if not code:
            raise ApiError("query parameter code is required")
        if not isinstance(expected, str) or not hmac.compare_digest(expected, state):
            raise ApiError("the OAuth state does not match: start the login again")
        if not gw.options.bool("GitHubOAuthEnabled"):
            raise ApiError("GitHub login is disabled by the administrator")
        profile = await _github_user(gw, code)
        github_id = str(profile["login"])[:191]
        if session.get("id"):
            me = await current_user()
            other = await models.User.filter(github_id=github_id).exclude(id=me.id).first()
            if other is not None:
                raise ApiError("this GitHub account is already bound to another user")
            me.github_id = github_id
            await me.save(update_fields=["github_id"])
            return ok(message="GitHub account bound")
        user = (
            await models.User.filter(github_id=github_id)
            .exclude(status=models.USER_DELETED)
            .first()
        )
        if user is None:
            if not gw.options.bool("RegisterEnabled"):
                raise ApiError("registration of new users is closed by the administrator")
            last = await models.User.all().order_by("-id").first()
            user = await create_user(
                gw,
                f"github_{(last.id if last else 0) + 1}",
                "",
                display_name=str(profile.get("name") or "GitHub User")[:20],
                email=str(profile.get("email") or "")[:50],
                github_id=github_id,
            )
        if user.status != models.USER_ENABLED:
            raise ApiError("this user is disabled")
        login_session(user)
        return ok(
            {
                "id": user.id,
                "username": user.username,
                "display_name": user.display_name,
                "role": user.role,
                "status": user.status,
                "group": user.group,
            }
        )

    return bp
