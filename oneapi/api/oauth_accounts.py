"""What every third-party sign-in shares: the OAuth state, calling the provider, signing in
(registering on first sight), binding to the signed-in user, and unbinding.

One API's rules: a provider's account id (GitHub login, WeChat openid, Lark open_id, OIDC
``sub``) is stored on the user (``github_id``, ``wechat_id``, ``lark_id``, ``oidc_id``); a
browser that comes back from the provider while signed in (session cookie) binds the account
to that user (answer ``{"success": true, "message": "bind"}``), otherwise it signs in as the
user holding the id, or registers one when ``RegisterEnabled``. One id belongs to at most one
user (deleted users hold nothing).

Unbinding (routes of New API's shape): ``DELETE /api/user/self/bindings/{type}`` for the
signed-in user (refused when it would leave no way to sign in) and
``DELETE /api/user/{id}/bindings/{type}`` for admins (New API's ``AdminClearUserBinding``);
``type`` is one of github, wechat, lark, oidc, email.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from quart import Blueprint, request, session
from quart.typing import ResponseReturnValue

from .. import models
from ..auth import random_key
from ..gateway import Gateway
from ._common import (
    ApiError,
    current_user,
    doc,
    gateway,
    ok,
    outranks,
    path_id,
    require_role,
    signed_in,
    str_arg,
)
from .accounts import create_user, record_log
from .openapi import query_enum, query_text

__all__ = [
    "BINDINGS",
    "CODE",
    "CODE_STATE",
    "blueprint",
    "check_state",
    "code_arg",
    "finish",
    "provider_detail",
    "provider_json",
    "redirect_uri",
    "sign_in",
]

#: binding type (New API's names, plus lark) -> (users column, what the UI calls it)
BINDINGS: dict[str, tuple[str, str]] = {
    "github": ("github_id", "GitHub"),
    "wechat": ("wechat_id", "WeChat"),
    "lark": ("lark_id", "Lark"),
    "oidc": ("oidc_id", "OIDC"),
    "email": ("email", "email"),
}
#: The query of a provider's redirect back: ``code`` (``code_arg``) and ``state`` (``check_state``).
CODE = {"code": query_text("the code the provider sent", 512, required=True)}
CODE_STATE = {**CODE, "state": query_text("the state /api/oauth/state gave", 64, required=True)}
_BINDING = {"binding_type": query_enum("the binding", *BINDINGS, blank=False)}
#: The columns a user can sign in with besides a password.
_LOGIN_COLUMNS = ("github_id", "wechat_id", "lark_id", "oidc_id")


def code_arg() -> str:
    """The ``code`` query parameter, required."""
    code = str_arg("code", 512)
    if not code:
        raise ApiError("query parameter code is required")
    return code


def check_state() -> None:
    """The ``state`` query parameter must be the one ``/api/oauth/state`` put in the session."""
    state = str_arg("state", 64)
    expected = session.get("oauth_state")
    if not state or not isinstance(expected, str) or not hmac.compare_digest(expected, state):
        raise ApiError("the OAuth state does not match: start the login again")


def redirect_uri(gw: Gateway, provider: str) -> str:
    """Where the provider sent the browser back: ``{ServerAddress}/oauth/{provider}`` (the
    address this request came to when ServerAddress is not set)."""
    base = gw.options.get("ServerAddress").strip() or request.host_url
    return f"{base.rstrip('/')}/oauth/{provider}"


async def provider_json(
    gw: Gateway, label: str, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    """(HTTP status, parsed JSON or None) of a call to an identity provider; an ApiError
    naming ``label`` when it cannot be reached."""
    assert gw.http is not None
    try:
        answer = await gw.http.request(method, url, timeout=15, **kwargs)
    except Exception as exc:  # noqa: BLE001 - network trouble or a bad URL: tell the user
        raise ApiError(f"could not reach {label}: {type(exc).__name__}") from None
    try:
        return answer.status_code, answer.json()
    except ValueError:
        return answer.status_code, None


def provider_detail(status: int, data: Any) -> str:
    """The provider's own words for a failure (OAuth ``error``/``error_description``, or
    ``message``/``msg``), else its HTTP status."""
    if isinstance(data, dict):
        words = [
            str(data[key])
            for key in ("error", "error_description", "message", "msg")
            if isinstance(data.get(key), str | int) and str(data[key]) not in ("", "0")
        ]
        if words:
            return ": ".join(words)[:300]
    return f"HTTP {status}"


async def _free_username(prefix: str, preferred: str = "") -> str:
    """``preferred`` (spaces removed, at most 12 characters) if no user has it, else One API's
    ``{prefix}_{max id + 1}`` (a random tail if that is taken too)."""
    name = re.sub(r"[\s\x00-\x1f]+", "", preferred)[:12]
    if name and not await models.User.filter(username=name).exists():
        return name
    last = await models.User.all().order_by("-id").only("id").first()
    name = f"{prefix}_{(last.id if last else 0) + 1}"
    while await models.User.filter(username=name).exists():
        name = f"{prefix}_{random_key(6)}"
    return name


async def sign_in(
    gw: Gateway,
    column: str,
    account_id: str,
    *,
    prefix: str,
    display_name: str,
    preferred_username: str = "",
    email: str = "",
) -> ResponseReturnValue:
    """Sign in as the user holding ``account_id`` in ``column``, registering one if none does."""
    user = (
        await models.User.filter(**{column: account_id})
        .exclude(status=models.USER_DELETED)
        .order_by("id")
        .first()
    )
    if user is None:
        if not gw.options.bool("RegisterEnabled"):
            raise ApiError("registration of new users is closed by the administrator")
        email = email.strip()
        if (
            len(email) > 50
            or "@" not in email
            or await models.User.filter(email=email).exclude(status=models.USER_DELETED).exists()
        ):
            email = ""  # an address another user has stays theirs
        user = await create_user(
            gw,
            await _free_username(prefix, preferred_username),
            "",
            display_name=display_name.strip()[:20],
            email=email,
            bindings={column: account_id},
        )
    return signed_in(user)


async def bind(gw: Gateway, column: str, account_id: str, label: str) -> ResponseReturnValue:
    """Bind ``account_id`` to the signed-in user (One API answers ``message: "bind"``)."""
    me = await current_user()
    if getattr(me, column) != account_id:
        taken = (
            await models.User.filter(**{column: account_id})
            .exclude(id=me.id)
            .exclude(status=models.USER_DELETED)
            .exists()
        )
        if taken:
            raise ApiError(f"this {label} account is already bound to another user")
        setattr(me, column, account_id)
        await me.save(update_fields=[column])
        gw.cache.invalidate_user(me.id)
    return ok(message="bind")


async def finish(
    gw: Gateway, column: str, account_id: str, label: str, **new_user: Any
) -> ResponseReturnValue:
    """The end of an OAuth redirect: bind when signed in (session cookie), else sign in."""
    if session.get("id"):
        return await bind(gw, column, account_id, label)
    return await sign_in(gw, column, account_id, **new_user)


def _binding(binding_type: str) -> tuple[str, str]:
    found = BINDINGS.get(binding_type.strip().lower())
    if found is None:
        raise ApiError(f"unknown binding type {binding_type}: one of {', '.join(BINDINGS)}")
    return found


async def _unbind(gw: Gateway, user: models.User, column: str, label: str) -> None:
    if not getattr(user, column):
        raise ApiError(f"no {label} account is bound to this user")
    setattr(user, column, "")
    await user.save(update_fields=[column])
    gw.cache.invalidate_user(user.id)


def blueprint() -> Blueprint:
    bp = Blueprint("oauth_bindings", __name__)

    @bp.delete("/user/self/bindings/<binding_type>")
    @require_role(models.ROLE_USER)
    @doc(
        "Unbind one of your sign-in accounts (github, wechat, lark, oidc) or your email; "
        "refused when nothing else would let you sign in (set a password first)",
        path=_BINDING,
    )
    async def unbind_self(binding_type: str) -> ResponseReturnValue:
        gw = gateway()
        column, label = _binding(binding_type)
        me = await current_user()
        if column in _LOGIN_COLUMNS and getattr(me, column):
            others = [c for c in _LOGIN_COLUMNS if c != column and getattr(me, c)]
            if not me.password and not others:
                raise ApiError(
                    f"the {label} account is your only way to sign in: set a password first"
                )
        await _unbind(gw, me, column, label)
        return ok(message="unbound")

    @bp.delete("/user/<int:user_id>/bindings/<binding_type>")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Clear a user's binding (New API's AdminClearUserBinding): github, wechat, lark, oidc, email",
        path=_BINDING,
    )
    async def unbind_user(user_id: int, binding_type: str) -> ResponseReturnValue:
        gw = gateway()
        column, label = _binding(binding_type)
        actor = await current_user()
        user = await models.User.filter(id=path_id(user_id, "user")).first()
        if user is None or user.status == models.USER_DELETED:
            raise ApiError(f"user {user_id} not found")
        if actor.role < models.ROLE_ROOT:
            outranks(actor, user)
        await _unbind(gw, user, column, label)
        await record_log(
            user.id,
            models.LOG_MANAGE,
            f"{actor.username} cleared the {label} binding",
            user.username,
        )
        return ok(message="success")

    return bp
