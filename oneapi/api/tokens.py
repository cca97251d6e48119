"""Relay tokens (/api/token/...): a user lists and changes only their own."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator
from quart import Blueprint, request
from quart.typing import ResponseReturnValue
from tortoise.expressions import Q

from .. import models
from ..auth import random_key
from ._common import (
    MAX_QUOTA,
    ApiError,
    Body,
    Id,
    Quota,
    current_user,
    doc,
    gateway,
    now,
    ok,
    page_of,
    parse_body,
    path_id,
    require_role,
    str_arg,
)
from .openapi import PAGE, query_text
from .schemas import TokenOut

__all__ = ["CommaList", "blueprint", "comma_list", "comma_list_schema", "token_dict"]

_ORDERS = {"remain_quota": "-remain_quota", "used_quota": "-used_quota"}


def comma_list(value: Any) -> Any:
    """Models may come as a list or as One API's comma string."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(v.strip() for v in value if v.strip())
    return value


def comma_list_schema(max_length: int) -> dict[str, Any]:
    """A comma-separated text, or a list of its items (joined, then at most ``max_length``)."""
    items = {"type": "array", "items": {"type": "string"},
             "description": f"joined with commas: at most {max_length} characters"}
    return {"anyOf": [{"type": "string", "maxLength": max_length}, items]}


CommaList = Annotated[
    str, BeforeValidator(comma_list), Field(max_length=65535), WithJsonSchema(comma_list_schema(65535))
]
ExpiredTime = Annotated[int, Field(ge=-1, le=MAX_QUOTA)]


class TokenFields(Body):
    name: str | None = Field(None, max_length=30)
    remain_quota: Quota | None = None
    unlimited_quota: bool | None = None
    expired_time: ExpiredTime | None = None
    models: CommaList | None = None
    subnet: str | None = Field(None, max_length=255)

    @classmethod
    def refine_json_schema(cls, schema: dict[str, Any]) -> None:
        super().refine_json_schema(schema)
        props = schema["properties"]
        props["expired_time"]["anyOf"][0]["not"] = {"const": 0}
        props["subnet"]["anyOf"][0]["format"] = "ip-networks"
        props["subnet"]["description"] = (
            "IP addresses or CIDR networks the token may be used from, comma-separated; blank: any"
        )

    @field_validator("subnet")
    @classmethod
    def _subnets(cls, value: str | None) -> str | None:
        if not value:
            return value
        parts = [p.strip() for p in value.split(",") if p.strip()]
        for part in parts:
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or CIDR network") from None
        return ",".join(parts)

    @field_validator("expired_time")
    @classmethod
    def _expiry(cls, value: int | None) -> int | None:
        if value is not None and value == 0:
            raise ValueError("use -1 for a token that never expires, or a unix time")
        return value


class CreateTokenBody(TokenFields):
    name: str = Field(max_length=30)


class UpdateTokenBody(TokenFields):
    id: Id
    status: Literal[1, 2, 3, 4] | None = None


def token_dict(token: models.Token) -> dict[str, Any]:
    return {
        "id": token.id,
        "user_id": token.user_id,
        "key": token.key,
        "status": token.status,
        "name": token.name,
        "created_time": token.created_time,
        "accessed_time": token.accessed_time,
        "expired_time": token.expired_time,
        "remain_quota": token.remain_quota,
        "unlimited_quota": bool(token.unlimited_quota),
        "used_quota": token.used_quota,
        "models": token.models or "",
        "subnet": token.subnet or "",
    }


async def _own(token_id: int) -> models.Token:
    user = await current_user()
    token = await models.Token.filter(id=path_id(token_id, "token"), user_id=user.id).first()
    if token is None:
        raise ApiError(f"token {token_id} not found")
    return token


def _check_enable(token: models.Token) -> None:
    """One API refuses to enable a token that is expired or used up."""
    if token.expired_time != -1 and token.expired_time <= now():
        raise ApiError(
            "the token has expired: change its expiry time (or -1 for never) before enabling it"
        )
    if not token.unlimited_quota and token.remain_quota <= 0:
        raise ApiError("the token's quota is used up: raise its remaining quota before enabling it")


def blueprint() -> Blueprint:
    bp = Blueprint("tokens", __name__)

    @bp.get("/token/")
    @require_role(models.ROLE_USER)
    @doc(
        "Own tokens (?order=remain_quota|used_quota)",
        query={**PAGE, "order": query_text("sort key: remain_quota, used_quota; else id", 32)},
        response=list[TokenOut],
    )
    async def list_tokens() -> ResponseReturnValue:
        user = await current_user()
        order = _ORDERS.get(str_arg("order", 32), "-id")
        query = models.Token.filter(user_id=user.id)
        return await page_of(query, token_dict, order, "-id")

    @bp.get("/token/search")
    @require_role(models.ROLE_USER)
    @doc(
        "Search own tokens by name or key",
        query={**PAGE, "keyword": query_text("text")},
        response=list[TokenOut],
    )
    async def search_tokens() -> ResponseReturnValue:
        user = await current_user()
        keyword = str_arg("keyword")
        query = models.Token.filter(user_id=user.id)
        if keyword:
            match = Q(name__icontains=keyword)
            if len(keyword.removeprefix("sk-")) <= 48:
                match |= Q(key=keyword.removeprefix("sk-"))
            query = query.filter(match)
        return await page_of(query, token_dict, "-id")

    @bp.get("/token/<int:token_id>")
    @require_role(models.ROLE_USER)
    @doc("One own token", response=TokenOut)
    async def get_token(token_id: int) -> ResponseReturnValue:
        return ok(token_dict(await _own(token_id)))

    @bp.post("/token/")
    @require_role(models.ROLE_USER)
    @doc(
        "Create a token (48 random characters; the client sends sk-<key>)",
        CreateTokenBody,
        response=TokenOut,
    )
    async def create_token() -> ResponseReturnValue:
        user = await current_user()
        body = await parse_body(CreateTokenBody)
        token = await models.Token.create(
            user_id=user.id,
            key=random_key(48),
            name=body.name,
            created_time=now(),
            accessed_time=now(),
            expired_time=body.expired_time if body.expired_time is not None else -1,
            remain_quota=body.remain_quota or 0,
            unlimited_quota=bool(body.unlimited_quota),
            models=body.models or "",
            subnet=body.subnet or "",
        )
        return ok(token_dict(token))

    @bp.put("/token/")
    @require_role(models.ROLE_USER)
    @doc(
        "Update an own token; ?status_only=1 changes only its status",
        UpdateTokenBody,
        {
            "status_only": "any value but blank, 0 or false: change only the status (status "
            "then required)"
        },
    )
    async def update_token() -> ResponseReturnValue:
        body = await parse_body(UpdateTokenBody)
        token = await _own(body.id)
        status_only = request.args.get("status_only", "") not in ("", "0", "false")
        fields: list[str] = []
        if not status_only:
            for name in (
                "name",
                "remain_quota",
                "unlimited_quota",
                "expired_time",
                "models",
                "subnet",
            ):
                value = getattr(body, name)
                if value is not None:
                    setattr(token, name, value)
                    fields.append(name)
        if body.status is not None:
            if body.status == models.TOKEN_ENABLED and token.status != models.TOKEN_ENABLED:
                _check_enable(token)  # (an enabled token's whole row sent back stays as it is)
            token.status = body.status
            fields.append("status")
        elif status_only:
            raise ApiError("invalid field status: required with status_only")
        if fields:
            await token.save(update_fields=fields)
        gateway().cache.invalidate_token(token.key)
        return ok(token_dict(token))

    @bp.delete("/token/<int:token_id>")
    @require_role(models.ROLE_USER)
    @doc("Delete an own token")
    async def delete_token(token_id: int) -> ResponseReturnValue:
        token = await _own(token_id)
        await token.delete()
        gateway().cache.invalidate_token(token.key)
        return ok()

    return bp
