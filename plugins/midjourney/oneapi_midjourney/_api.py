"""``GET /api/mj/`` (admin: every task) and ``GET /api/mj/self`` (the user's own tasks) for the
web UI's gallery, in the management API's envelope with ``total`` at the top level."""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint, jsonify, request
from quart.typing import ResponseReturnValue
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from werkzeug.exceptions import HTTPException

from oneapi.plugin import (
    MAX_ID,
    ROLE_ADMIN,
    ROLE_USER,
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

log = logging.getLogger("oneapi.midjourney")

_TS_MAX = 2**42


def _int(description: str, high: int) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "integer", "minimum": 0, "maximum": high}}


def _text(description: str, max_length: int) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string", "maxLength": max_length}}


# What /api/openapi.json says of the query (``api_doc``, as ``@doc`` of the core's views).
_QUERY = {
    "p": _int("page, 0-based", 10_000_000),
    "page_size": {"description": "rows per page (default 10)",
                  "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    "mj_id": _text("task id", 191),
    "action": _text("IMAGINE, UPSCALE, ...", 40),
    "status": _text("SUCCESS, FAILURE, IN_PROGRESS, ...", 20),
    "start_timestamp": _int("seconds or milliseconds; 0 none", _TS_MAX),
    "end_timestamp": _int("seconds or milliseconds; 0 none", _TS_MAX),
}
_ADMIN_QUERY = {
    **_QUERY,
    "channel_id": _int("channel id; 0 all", MAX_ID),
    "channel": _int("channel id (channel_id wins); 0 all", MAX_ID),
    "user_id": _int("user id; 0 all", MAX_ID),
}


def _ms(seconds_or_ms: int) -> int:
    """Timestamps may come in seconds (as the UI sends) or milliseconds (as stored)."""
    return seconds_or_ms if seconds_or_ms > 10**11 else seconds_or_ms * 1000


def _filtered(query: QuerySet[Midjourney], admin: bool) -> QuerySet[Midjourney]:
    if task_id := str_arg("mj_id"):
        match = Q(task_id__isnull=True, mj_id=task_id)
        if len(task_id) <= 64:  # the task_id column's length: a longer one is none (and a 500)
            match |= Q(task_id=task_id)
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
    @require_role(ROLE_USER)
    async def own_tasks() -> ResponseReturnValue:
        """The user's tasks; filters mj_id, action, status, start/end_timestamp."""
        user = await current_user()
        return await _page(_filtered(Midjourney.filter(user_id=user.id), admin=False), admin=False)

    all_tasks.api_doc = {"query": _ADMIN_QUERY}  # type: ignore[attr-defined]
    own_tasks.api_doc = {"query": _QUERY}  # type: ignore[attr-defined]

    @bp.errorhandler(ApiError)
    async def api_error(exc: ApiError) -> ResponseReturnValue:
        return jsonify({"success": False, "message": exc.message}), exc.status

    @bp.errorhandler(Exception)
    async def unexpected(exc: Exception) -> ResponseReturnValue:
        """As the core's /api: a bug answers in the envelope, not with an HTML page."""
        if isinstance(exc, HTTPException):
            return jsonify({"success": False, "message": exc.description or exc.name}), exc.code or 500
        log.exception("unexpected error in %s %s", request.method, request.path)
        return jsonify({"success": False, "message": f"internal error: {type(exc).__name__}"}), 500

    return bp
