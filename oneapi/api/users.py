"""Admin user management (/api/user/...): list, search, get, create, update, manage, delete."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from quart import Blueprint
from quart.typing import ResponseReturnValue
from tortoise.expressions import Q

from .. import models
from ..auth import hash_password
from ._common import (
    ApiError,
    Body,
    Id,
    Quota,
    current_user,
    doc,
    gateway,
    ok,
    outranks,
    page_of,
    parse_body,
    path_id,
    require_role,
    str_arg,
    user_dict,
)
from .accounts import DisplayName, Password, Username, create_user, soft_delete_user
from .openapi import PAGE, query_text
from .schemas import UserOut

__all__ = ["blueprint"]

_ORDERS = {"quota": "-quota", "used_quota": "-used_quota", "request_count": "-request_count"}
Group = str


class CreateUserBody(Body):
    username: Username
    password: Password
    display_name: DisplayName = ""


class UpdateUserBody(Body):
    id: Id
    username: Username | None = None
    display_name: DisplayName | None = None
    password: Password | Literal[""] | None = None
    group: str | None = Field(None, min_length=1, max_length=32, pattern=r"^[^,\s]+$")
    quota: Quota | None = None
    role: Literal[1, 10] | None = None
    email: str | None = Field(None, max_length=50)


class ManageBody(Body):
    id: Id | None = None
    username: str | None = Field(None, min_length=1, max_length=191)
    action: Literal["disable", "enable", "delete", "promote", "demote"]

    @classmethod
    def refine_json_schema(cls, schema: dict[str, Any]) -> None:
        super().refine_json_schema(schema)
        schema["anyOf"] = [  # one of them given, and not null
            {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
            for name in ("id", "username")
        ]

    @model_validator(mode="after")
    def _target(self) -> ManageBody:
        if self.id is None and self.username is None:
            raise ValueError("give the user's id or username")
        return self


def _listed() -> Q:
    return ~Q(status=models.USER_DELETED)


async def _target(user_id: int) -> models.User:
    user = await models.User.filter(id=path_id(user_id, "user")).first()
    if user is None or user.status == models.USER_DELETED:
        raise ApiError(f"user {user_id} not found")
    return user


def blueprint() -> Blueprint:
    bp = Blueprint("users", __name__)

    @bp.get("/user/")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "List users (?order=quota|used_quota|request_count)",
        query={
            **PAGE,
            "order": query_text("sort key: quota, used_quota or request_count; else id", 32),
        },
        response=list[UserOut],
    )
    async def list_users() -> ResponseReturnValue:
        order = _ORDERS.get(str_arg("order", 32), "-id")
        query = models.User.filter(_listed())
        return await page_of(query, user_dict, order, "-id")

    @bp.get("/user/search")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Search users by id, username, display name or email",
        query={**PAGE, "keyword": query_text("text"), "group": query_text("exact group", 32)},
        response=list[UserOut],
    )
    async def search_users() -> ResponseReturnValue:
        keyword = str_arg("keyword")
        group = str_arg("group", 32)
        query = models.User.filter(_listed())
        if keyword:
            match = (
                Q(username__icontains=keyword)
                | Q(display_name__icontains=keyword)
                | Q(email__icontains=keyword)
            )
            if keyword.isdigit() and int(keyword) <= 2**31 - 1:
                match |= Q(id=int(keyword))
            query = query.filter(match)
        if group:
            query = query.filter(group=group)
        return await page_of(query, user_dict, "-id")

    @bp.get("/user/<int:user_id>")
    @require_role(models.ROLE_ADMIN)
    @doc("One user (of a lower role than yours)", response=UserOut)
    async def get_user(user_id: int) -> ResponseReturnValue:
        target = await _target(user_id)
        outranks(await current_user(), target)
        return ok(user_dict(target))

    @bp.post("/user/")
    @require_role(models.ROLE_ADMIN)
    @doc("Create a common user", CreateUserBody)
    async def create() -> ResponseReturnValue:
        body = await parse_body(CreateUserBody)
        user = await create_user(
            gateway(), body.username, body.password, display_name=body.display_name
        )
        return ok(user_dict(user))

    @bp.put("/user/")
    @require_role(models.ROLE_ADMIN)
    @doc("Update a user: username, display name, password, group, quota, role", UpdateUserBody)
    async def update() -> ResponseReturnValue:
        gw = gateway()
        actor = await current_user()
        body = await parse_body(UpdateUserBody)
        target = await _target(body.id)
        outranks(actor, target)
        if body.role is not None and body.role >= actor.role:
            raise ApiError("you cannot give a user a role equal to or higher than yours")
        fields: list[str] = []
        if body.username is not None and body.username != target.username:
            if await models.User.filter(username=body.username).exists():
                raise ApiError(f"the username {body.username} is already taken")
            target.username = body.username
            fields.append("username")
        for name in ("display_name", "group", "quota", "role", "email"):
            value = getattr(body, name)
            if value is not None:
                setattr(target, name, value)
                fields.append(name)
        if body.password:
            target.password = hash_password(body.password)
            fields.append("password")
        if fields:
            await target.save(update_fields=fields)
            gw.cache.invalidate_user(target.id)
        return ok(user_dict(target))

    @bp.post("/user/manage")
    @require_role(models.ROLE_ADMIN)
    @doc("disable / enable / delete / promote (root only) / demote a user", ManageBody)
    async def manage() -> ResponseReturnValue:
        gw = gateway()
        actor = await current_user()
        body = await parse_body(ManageBody)
        if body.id is not None:
            target = await _target(body.id)
        else:
            found = await models.User.filter(username=body.username).first()
            if found is None or found.status == models.USER_DELETED:
                raise ApiError(f"user {body.username} not found")
            target = found
        outranks(actor, target)
        if body.action == "disable":
            target.status = models.USER_DISABLED
        elif body.action == "enable":
            target.status = models.USER_ENABLED
        elif body.action == "delete":
            await soft_delete_user(gw, target)
            return ok({"role": target.role, "status": target.status})
        elif body.action == "promote":
            if actor.role < models.ROLE_ROOT:
                raise ApiError("only the root user can promote users to administrators")
            if target.role >= models.ROLE_ADMIN:
                raise ApiError("this user is already an administrator")
            target.role = models.ROLE_ADMIN
        else:
            if target.role <= models.ROLE_USER:
                raise ApiError("this user is already a common user")
            target.role = models.ROLE_USER
        await target.save(update_fields=["status", "role"])
        gw.cache.invalidate_user(target.id)
        return ok({"role": target.role, "status": target.status})

    @bp.delete("/user/<int:user_id>")
    @require_role(models.ROLE_ADMIN)
    @doc("Delete a user of a lower role")
    async def delete(user_id: int) -> ResponseReturnValue:
        target = await _target(user_id)
        outranks(await current_user(), target)
        await soft_delete_user(gateway(), target)
        return ok()

    return bp
