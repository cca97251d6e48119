"""Groups, model lists, and the admin top-up (/api/group/, /api/models, /api/topup)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from quart import Blueprint
from quart.typing import ResponseReturnValue
from tortoise.expressions import F

from .. import models
from ._common import (
    MAX_QUOTA,
    ApiError,
    Body,
    Id,
    current_user,
    doc,
    gateway,
    ok,
    outranks,
    parse_body,
    require_role,
)
from .accounts import record_log
from .channels import models_by_type

__all__ = ["blueprint"]


class AdminTopUpBody(Body):
    user_id: Id
    quota: int = Field(ge=-MAX_QUOTA, le=MAX_QUOTA)
    remark: str = Field("", max_length=255)

    @classmethod
    def refine_json_schema(cls, schema: dict[str, Any]) -> None:
        super().refine_json_schema(schema)
        schema["properties"]["quota"]["not"] = {"const": 0}

    @field_validator("quota")
    @classmethod
    def _nonzero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        return value


def blueprint() -> Blueprint:
    bp = Blueprint("misc", __name__)

    @bp.get("/group/")
    @require_role(models.ROLE_ADMIN)
    @doc("Group names (keys of the GroupRatio option)")
    async def groups() -> ResponseReturnValue:
        ratios = gateway().options.json("GroupRatio")
        return ok(sorted(ratios) if isinstance(ratios, dict) else [])

    @bp.get("/models")
    @require_role(models.ROLE_USER)
    @doc("Default models of every channel type: {type_id: [models]}")
    async def all_models() -> ResponseReturnValue:
        return ok(models_by_type(gateway()))

    @bp.get("/user/available_models")
    @require_role(models.ROLE_USER)
    @doc("Models the signed-in user's group can use now")
    async def available_models() -> ResponseReturnValue:
        user = await current_user()
        return ok(gateway().cache.channels.models_for(user.group or "default"))

    @bp.post("/topup")
    @require_role(models.ROLE_ADMIN)
    @doc("Add (or with a negative quota, take) quota to a user; writes a log", AdminTopUpBody)
    async def admin_topup() -> ResponseReturnValue:
        gw = gateway()
        actor = await current_user()
        body = await parse_body(AdminTopUpBody)
        target = await models.User.filter(id=body.user_id).first()
        if target is None or target.status == models.USER_DELETED:
            raise ApiError(f"user {body.user_id} not found")
        outranks(actor, target)
        query = models.User.filter(id=target.id)
        if body.quota < 0:
            query = query.filter(quota__gte=-body.quota)
        elif body.quota > 0:
            query = query.filter(quota__lte=MAX_QUOTA - body.quota)
        if not await query.update(quota=F("quota") + body.quota):
            raise ApiError("the user's quota would leave the range 0 .. 2^53")
        gw.cache.invalidate_user(target.id)
        remark = f" ({body.remark})" if body.remark else ""
        await record_log(
            target.id,
            models.LOG_TOPUP,
            f"administrator {actor.username} added {body.quota} quota{remark}",
            target.username,
            body.quota,
        )
        row = await models.User.filter(id=target.id).only("quota").first()
        return ok({"quota": row.quota if row else 0})

    return bp
