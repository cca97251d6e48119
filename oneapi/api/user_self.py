"""Login, logout, registration and the signed-in user's own account (/api/user/...)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field
from quart import Blueprint, session
from quart.typing import ResponseReturnValue

from .. import models
from ..auth import check_password, hash_password, random_key
from ._common import (
    ApiError,
    Body,
    current_user,
    doc,
    end_sessions,
    gateway,
    logged_in_recently,
    login_session,
    ok,
    parse_body,
    require_role,
    signed_in,
    signed_in_user,
    user_dict,
)
from .accounts import DisplayName, Password, Username, create_user, soft_delete_user
from .ratelimit import critical, login_allowed, login_failed, login_succeeded
from .schemas import UserOut
from .status import root_password_unchanged
from .verify import turnstile, verify_code

__all__ = ["blueprint"]


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=191)
    password: str = Field(min_length=1, max_length=191)


class RegisterBody(Body):
    username: Username
    password: Password
    display_name: DisplayName = ""
    email: str = Field("", max_length=50)
    verification_code: str = Field("", max_length=32)
    aff_code: str = Field("", max_length=32)


def _empty_is_not_given(value: object) -> object:
    return None if value == "" else value


class SelfUpdateBody(Body):
    """One API's profile form sends every field; an empty password or username means "keep"."""

    username: Annotated[Username | Literal[""] | None, BeforeValidator(_empty_is_not_given)] = None
    display_name: DisplayName | None = None
    password: Annotated[Password | Literal[""] | None, BeforeValidator(_empty_is_not_given)] = None
    original_password: str | None = Field(None, max_length=191)


def blueprint() -> Blueprint:
    bp = Blueprint("user_self", __name__)

    @bp.post("/user/login")
    @critical
    @doc("Log in with username (or email) and password; sets the session cookie", LoginBody)
    async def login() -> ResponseReturnValue:
        gw = gateway()
        if not gw.options.bool("PasswordLoginEnabled"):
            raise ApiError("password login is disabled by the administrator")
        body = await parse_body(LoginBody)
        await login_allowed(gw, body.username)
        user = await models.User.filter(username=body.username).first()
        if user is None and "@" in body.username:
            user = await models.User.filter(email=body.username).first()
        if (
            user is None
            or user.status == models.USER_DELETED
            or not user.password
            or not check_password(body.password, user.password)
        ):
            await login_failed(gw, body.username)
            raise ApiError("wrong username or password")
        await login_succeeded(gw, body.username)
        return signed_in(user)

    @bp.get("/user/logout")
    @doc("End the web session")
    async def logout() -> ResponseReturnValue:
        """Ends every session of the user, also cookies copied before (One API ended only
        this one)."""
        user = await signed_in_user()
        if user is not None and "id" in session:
            await end_sessions(user)
        session.clear()
        return ok()

    @bp.post("/user/register")
    @critical
    @turnstile
    @doc(
        "Register with a password (RegisterEnabled, PasswordRegisterEnabled; aff_code of an inviter)",
        RegisterBody,
    )
    async def register() -> ResponseReturnValue:
        gw = gateway()
        if not gw.options.bool("RegisterEnabled"):
            raise ApiError("registration of new users is closed by the administrator")
        if not gw.options.bool("PasswordRegisterEnabled"):
            raise ApiError("registration with a password is closed: use a third-party login")
        body = await parse_body(RegisterBody)
        email = ""
        if gw.options.bool("EmailVerificationEnabled"):
            if not body.email or not body.verification_code:
                raise ApiError(
                    "email verification is on: give an email address and its verification code"
                )
            if not await verify_code(gw, "verify", body.email, body.verification_code):
                raise ApiError("the verification code is wrong or has expired")
            email = body.email
            if await models.User.filter(email=email).exists():
                raise ApiError("this email address is already in use")
        inviter = None
        if body.aff_code:
            inviter = await models.User.filter(
                aff_code=body.aff_code, status=models.USER_ENABLED
            ).first()
        await create_user(
            gw,
            body.username,
            body.password,
            display_name=body.display_name,
            email=email,
            inviter=inviter,
        )
        return ok(message="registered")

    @bp.get("/user/self")
    @require_role(models.ROLE_USER)
    @doc("The signed-in user", response=UserOut)
    async def get_self() -> ResponseReturnValue:
        user = await current_user()
        data = user_dict(user)
        if user.role >= models.ROLE_ROOT:
            data["root_password_unchanged"] = await root_password_unchanged(gateway())
        return ok(data)

    @bp.put("/user/self")
    @require_role(models.ROLE_USER)
    @doc("Change own username, display name or password", SelfUpdateBody)
    async def update_self() -> ResponseReturnValue:
        gw = gateway()
        user = await current_user()
        body = await parse_body(SelfUpdateBody)
        fields: list[str] = []
        if body.username is not None and body.username != user.username:
            if await models.User.filter(username=body.username).exists():
                raise ApiError(f"the username {body.username} is already taken")
            user.username = body.username
            fields.append("username")
        if body.display_name is not None:
            user.display_name = body.display_name
            fields.append("display_name")
        if body.password is not None:
            if user.password:
                if not body.original_password or not check_password(body.original_password, user.password):
                    raise ApiError("give your current password (original_password) to change it")
            elif not logged_in_recently():
                raise ApiError("to set a password, log in again first (within 10 minutes)")
            user.password = hash_password(body.password)
            fields.append("password")
        if fields:
            await user.save(update_fields=fields)
            gw.cache.invalidate_user(user.id)
        if "password" in fields:  # other sessions and the scripts' access token end
            await end_sessions(user, access_token=True)
            if "id" in session:
                login_session(user)
        return ok(user_dict(user))

    @bp.delete("/user/self")
    @require_role(models.ROLE_USER)
    @doc("Delete own account (not root)")
    async def delete_self() -> ResponseReturnValue:
        user = await current_user()
        await soft_delete_user(gateway(), user)
        session.clear()
        return ok()

    @bp.get("/user/token")
    @require_role(models.ROLE_USER)
    @doc("Generate a new access token for scripts (Authorization: Bearer <token>)")
    async def access_token() -> ResponseReturnValue:
        user = await current_user()
        user.access_token = random_key(32)
        await user.save(update_fields=["access_token"])
        return ok(user.access_token)

    @bp.get("/user/aff")
    @require_role(models.ROLE_USER)
    @doc("Own invitation code (created on first use)")
    async def aff_code() -> ResponseReturnValue:
        user = await current_user()
        if not user.aff_code:
            from .accounts import unique_aff_code

            user.aff_code = await unique_aff_code()
            await user.save(update_fields=["aff_code"])
        return ok(user.aff_code)

    return bp
