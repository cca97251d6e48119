"""Creating, validating and soft-deleting users: shared by registration, admin and OAuth."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field
from tortoise.exceptions import IntegrityError

from .. import models
from ..auth import hash_password, random_key
from ..gateway import Gateway
from ._common import ApiError, now

__all__ = ["DisplayName", "Password", "Username", "create_user", "record_log", "soft_delete_user"]


def _password_bytes(value: str) -> str:
    if len(value.encode("utf-8")) > 72:
        raise ValueError("must be at most 72 bytes in UTF-8")
    return value


Username = Annotated[str, Field(min_length=1, max_length=12, pattern=r"^\S+$")]
Password = Annotated[str, Field(min_length=8, max_length=20), AfterValidator(_password_bytes)]
DisplayName = Annotated[str, Field(max_length=20)]


async def record_log(
    user_id: int, kind: int, content: str, username: str | None = None, quota: int = 0
) -> None:
    """Write a topup/manage/system log row (quota clamped to the 32-bit column)."""
    if username is None:
        row = await models.User.filter(id=user_id).only("username").first()
        username = row.username if row else ""
    await models.Log.create(
        user_id=user_id,
        created_at=now(),
        type=kind,
        content=content,
        username=username,
        quota=max(min(quota, 2**31 - 1), -(2**31)),
    )


async def unique_aff_code() -> str:
    for _ in range(20):
        code = random_key(4)
        if not await models.User.filter(aff_code=code).exists():
            return code
    return random_key(8)


async def create_user(
    gw: Gateway,
    username: str,
    password: str,
    *,
    display_name: str = "",
    email: str = "",
    github_id: str = "",
    inviter: models.User | None = None,
    bindings: dict[str, str] | None = None,
) -> models.User:
    """Insert a common user with One API's welcome quota, invitation rewards and default token.

    ``bindings``: sign-in account ids to store, e.g. ``{"oidc_id": sub}``."""
    if await models.User.filter(username=username).exists():
        raise ApiError(f"the username {username} is already taken")
    options = gw.options
    quota = max(options.int("QuotaForNewUser"), 0)
    invitee_bonus = max(options.int("QuotaForInvitee"), 0) if inviter else 0
    row: dict[str, Any] = {
        "username": username,
        "password": hash_password(password) if password else "",
        "display_name": display_name or username,
        "email": email,
        "github_id": github_id,
        **(bindings or {}),
        "quota": quota + invitee_bonus,
        "aff_code": await unique_aff_code(),
        "inviter_id": inviter.id if inviter else 0,
    }
    try:
        user = await models.User.create(**row)
    except IntegrityError:
        raise ApiError(f"the username {username} is already taken") from None
    if quota:
        await record_log(
            user.id, models.LOG_SYSTEM, f"new user bonus: {quota} quota", username, quota
        )
    if inviter is not None:
        if invitee_bonus:
            await record_log(
                user.id,
                models.LOG_SYSTEM,
                f"invitation code bonus: {invitee_bonus} quota",
                username,
                invitee_bonus,
            )
        inviter_bonus = max(options.int("QuotaForInviter"), 0)
        if inviter_bonus:
            from tortoise.expressions import F

            await models.User.filter(id=inviter.id).update(quota=F("quota") + inviter_bonus)
            gw.cache.invalidate_user(inviter.id)
            await record_log(
                inviter.id,
                models.LOG_SYSTEM,
                f"invited user {username}: {inviter_bonus} quota",
                quota=inviter_bonus,
            )
    await models.Token.create(
        user_id=user.id,
        key=random_key(48),
        name="default",
        created_time=now(),
        unlimited_quota=True,
        expired_time=-1,
    )
    return user


async def soft_delete_user(gw: Gateway, user: models.User) -> None:
    """One API deletes softly: the row stays (logs refer to it), the name is freed."""
    if user.role >= models.ROLE_ROOT:
        raise ApiError("the root user cannot be deleted")
    user.username = f"deleted_{random_key(24)}"
    user.status = models.USER_DELETED
    user.access_token = None
    await user.save(update_fields=["username", "status", "access_token"])
    await models.Token.filter(user_id=user.id).update(status=models.TOKEN_DISABLED)
    gw.cache.invalidate_user(user.id)
