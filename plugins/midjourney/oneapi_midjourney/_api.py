"""``GET /api/mj/`` (admin: every task) and ``GET /api/mj/self`` (the user's own tasks) for the
web UI's gallery, in the management API's envelope with ``total`` at the top level."""

from __future__ import annotations

from quart import Blueprint, jsonify, request
from quart.typing import ResponseReturnValue
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from oneapi.plugin import (
    MAX_ID,
    ROLE_ADMIN,
    ApiError,
    current_services,
    current_user,
    int_arg,
    ok,
    page_params,
    require_role,
    str_arg,
)

from ._models import Midjourney
from ._views import api_dict, image_base

__all__ = ["api_blueprint"]

_TS_MAX = 2**42


def _ms(seconds_or_ms: int) -> int:
    """Timestamps may come in seconds (as the UI sends) or milliseconds (as stored)."""
    return seconds_or_ms if seconds_or_ms > 10**11 else seconds_or_ms * 1000


def _filtered(query: QuerySet[Midjourney], admin: bool) -> QuerySet[Midjourney]:
    if task_id := str_arg("mj_id"):
        match = Q(task_id=task_id) | Q(task_id__isnull=True, mj_id=task_id)
        if admin:
            match |= Q(mj_id=task_id)
        query = query.filter(match)
    if action := str_arg("action", 40):
        query = query.filter(action=action.upper())
    if status := str_arg("status", 20):
        query = query.filter(status=status.upper())
    if start := int_arg("start_timestamp", 0, 0, _TS_MAX):
        query = query.filter(submit_time__gte=_ms(start))
    if end := int_arg("end_timestamp", 0, 0, _TS_MAX):
        query = query.filter(submit_time__lte=_ms(end) + (999 if end <= 10**11 else 0))
    if admin:
        if channel := int_arg("channel_id", 0, 0, MAX_ID) or int_arg("channel", 0, 0, MAX_ID):
            query = query.filter(channel_id=channel)
        if user_id := int_arg("user_id", 0, 0, MAX_ID):
            query = query.filter(user_id=user_id)
    return query


async def _page(query: QuerySet[Midjourney], admin: bool) -> ResponseReturnValue:
    offset, limit = page_params()
    total = await query.count()
    rows = await query.order_by("-id").offset(offset).limit(limit)
    services = current_services()
    base = image_base(services, request.host_url.rstrip("/"))
    return ok([api_dict(services, row, base, admin) for row in rows], total=total)


def api_blueprint() -> Blueprint:
    bp = Blueprint("midjourney_api", __name__, url_prefix="/api/mj")

    @bp.get("/")
    @require_role(ROLE_ADMIN)
    async def all_tasks() -> ResponseReturnValue:
        """Every task; filters mj_id, action, status, start/end_timestamp, channel_id, user_id."""
        return await _page(_filtered(Midjourney.all(), admin=True), admin=True)

    @bp.get("/self")
    async def own_tasks() -> ResponseReturnValue:
        """The user's tasks; filters mj_id, action, status, start/end_timestamp."""
        user = await current_user()
        return await _page(_filtered(Midjourney.filter(user_id=user.id), admin=False), admin=False)

    @bp.errorhandler(ApiError)
    async def api_error(exc: ApiError) -> ResponseReturnValue:
        return jsonify({"success": False, "message": exc.message}), exc.status

    return bp
