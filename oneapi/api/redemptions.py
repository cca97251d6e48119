"""Redemption codes (/api/redemption/...) and redeeming one (POST /api/user/topup)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from quart import Blueprint, request
from quart.typing import ResponseReturnValue
from tortoise.expressions import F, Q

from .. import models
from ..auth import random_key
from ..db import write_transaction
from ._common import (
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
from .accounts import record_log
from .openapi import PAGE, query_text
from .schemas import RedemptionOut

__all__ = ["blueprint", "redeem"]


class CreateRedemptionBody(Body):
    name: str = Field(min_length=1, max_length=20)
    quota: Quota
    count: int = Field(1, ge=1, le=100)


class UpdateRedemptionBody(Body):
    id: Id
    name: str | None = Field(None, min_length=1, max_length=20)
    quota: Quota | None = None
    status: Literal[1, 2] | None = None


class RedeemBody(Body):
    key: str = Field(min_length=1, max_length=32)


def redemption_dict(row: models.Redemption) -> dict[str, Any]:
    return {
        "id": row.id,
        "user_id": row.user_id,
        "key": row.key,
        "status": row.status,
        "name": row.name,
        "quota": row.quota,
        "created_time": row.created_time,
        "redeemed_time": row.redeemed_time,
    }


async def _get(redemption_id: int) -> models.Redemption:
    row = await models.Redemption.filter(id=path_id(redemption_id, "redemption code")).first()
    if row is None:
        raise ApiError(f"redemption code {redemption_id} not found")
    return row


async def redeem(key: str, user: models.User) -> int:
    """Use a code exactly once, even under concurrent attempts; returns the quota credited."""
    async with write_transaction():
        row = await models.Redemption.filter(key=key).first()
        if row is None:
            raise ApiError("invalid redemption code")
        if row.status != models.REDEMPTION_ENABLED:
            raise ApiError("this redemption code has been used or is disabled")
        claimed = await models.Redemption.filter(
            id=row.id, status=models.REDEMPTION_ENABLED
        ).update(status=models.REDEMPTION_USED, redeemed_time=now())
        if claimed != 1:
            raise ApiError("this redemption code has been used or is disabled")
        await models.User.filter(id=user.id).update(quota=F("quota") + row.quota)
    await record_log(
        user.id,
        models.LOG_TOPUP,
        f"redeemed code #{row.id} for {row.quota} quota",
        user.username,
        row.quota,
    )
    return int(row.quota)


def blueprint() -> Blueprint:
    bp = Blueprint("redemptions", __name__)

    @bp.get("/redemption/")
    @require_role(models.ROLE_ADMIN)
    @doc("List redemption codes", query=PAGE, response=list[RedemptionOut])
    async def list_codes() -> ResponseReturnValue:
        return await page_of(models.Redemption.all(), redemption_dict, "-id")

    @bp.get("/redemption/search")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Search redemption codes by id, name or key",
        query={**PAGE, "keyword": query_text("text")},
        response=list[RedemptionOut],
    )
    async def search_codes() -> ResponseReturnValue:
        keyword = str_arg("keyword")
        query = models.Redemption.all()
        if keyword:
            match = Q(name__icontains=keyword)
            if len(keyword) <= 32:
                match |= Q(key=keyword)
            if keyword.isdigit() and int(keyword) <= 2**31 - 1:
                match |= Q(id=int(keyword))
            query = query.filter(match)
        return await page_of(query, redemption_dict, "-id")

    @bp.get("/redemption/<int:redemption_id>")
    @require_role(models.ROLE_ADMIN)
    @doc("One redemption code", response=RedemptionOut)
    async def get_code(redemption_id: int) -> ResponseReturnValue:
        return ok(redemption_dict(await _get(redemption_id)))

    @bp.post("/redemption/")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Create 1-100 codes of a quota; returns their keys",
        CreateRedemptionBody,
        response=list[str],
    )
    async def create_codes() -> ResponseReturnValue:
        actor = await current_user()
        body = await parse_body(CreateRedemptionBody)
        keys = []
        for _ in range(body.count):
            row = await models.Redemption.create(
                user_id=actor.id,
                key=random_key(32),
                name=body.name,
                quota=body.quota,
                created_time=now(),
            )
            keys.append(row.key)
        return ok(keys)

    @bp.put("/redemption/")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Update name/quota, or ?status_only=1 to enable/disable",
        UpdateRedemptionBody,
        {
            "status_only": "any value but blank, 0 or false: change only the status (status "
            "then required)"
        },
    )
    async def update_code() -> ResponseReturnValue:
        body = await parse_body(UpdateRedemptionBody)
        row = await _get(body.id)
        status_only = request.args.get("status_only", "") not in ("", "0", "false")
        fields: list[str] = []
        if not status_only:
            for name in ("name", "quota"):
                if (value := getattr(body, name)) is not None:
                    setattr(row, name, value)
                    fields.append(name)
        if body.status is not None:
            if row.status == models.REDEMPTION_USED:
                raise ApiError("this redemption code has been used; its status cannot change")
            row.status = body.status
            fields.append("status")
        elif status_only:
            raise ApiError("invalid field status: required with status_only")
        if fields:
            updated = (
                await models.Redemption.filter(id=row.id)
                .exclude(status=models.REDEMPTION_USED)
                .update(**{f: getattr(row, f) for f in fields})
            )
            # MySQL counts changed rows, not matched ones: 0 may also mean "nothing changed"
            if not updated and not await models.Redemption.filter(id=row.id).exclude(
                status=models.REDEMPTION_USED
            ).exists():
                raise ApiError("this redemption code has been used; it cannot change")
        return ok(redemption_dict(row))

    @bp.delete("/redemption/<int:redemption_id>")
    @require_role(models.ROLE_ADMIN)
    @doc("Delete a redemption code")
    async def delete_code(redemption_id: int) -> ResponseReturnValue:
        row = await _get(redemption_id)
        await row.delete()
        return ok()

    @bp.post("/user/topup")
    @require_role(models.ROLE_USER)
    @doc("Redeem a code: its quota is added to yours", RedeemBody)
    async def topup() -> ResponseReturnValue:
        user = await current_user()
        body = await parse_body(RedeemBody)
        quota = await redeem(body.key.strip(), user)
        gateway().cache.invalidate_user(user.id)
        return ok(quota)

    return bp
