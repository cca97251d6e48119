"""Logs (/api/log/...): admin list/search/stat/delete, own logs and stats, the dashboard."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from quart import Blueprint
from quart.typing import ResponseReturnValue
from tortoise.expressions import Q
from tortoise.functions import Coalesce, Sum
from tortoise.queryset import QuerySet

from .. import models
from ..gateway import Gateway
from ._common import (
    MAX_ID,
    ApiError,
    current_user,
    doc,
    gateway,
    int_arg,
    ok,
    page_of,
    require_role,
    str_arg,
)
from .openapi import PAGE, query_int, query_text
from .schemas import LogOut, LogStatOut

__all__ = ["blueprint", "log_dict"]

_TS_MAX = 2**40
_FILTERS = {
    "type": query_int("log type: 1 topup, 2 consume, 3 manage, 4 system, 5 test; 0 all", 0, 5),
    "start_timestamp": query_int("unix seconds; 0 none", 0, _TS_MAX),
    "end_timestamp": query_int("unix seconds; 0 none", 0, _TS_MAX),
    "token_name": query_text("exact token name"),
    "model_name": query_text("exact model name"),
}
_ADMIN_FILTERS = {
    **_FILTERS,
    "username": query_text("exact username"),
    "channel": query_int("channel id; 0 all", 0, MAX_ID),
}
_KEYWORD = {"keyword": query_text("text")}


def log_dict(row: models.Log, admin: bool) -> dict[str, Any]:
    data = {
        "id": row.id,
        "user_id": row.user_id,
        "created_at": row.created_at,
        "type": row.type,
        "content": row.content or "",
        "username": row.username,
        "token_name": row.token_name,
        "model_name": row.model_name,
        "quota": row.quota,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "request_id": row.request_id,
        "elapsed_time": row.elapsed_time,
        "is_stream": bool(row.is_stream),
        "system_prompt_reset": bool(row.system_prompt_reset),
    }
    if admin:
        data["channel"] = data["channel_id"] = row.channel_id
    return data


def _filtered(admin: bool, user_id: int | None) -> QuerySet[models.Log]:
    """Logs matching the query's filters (an admin may filter by user and channel)."""
    query = models.Log.all() if user_id is None else models.Log.filter(user_id=user_id)
    if kind := int_arg("type", 0, 0, 5):
        query = query.filter(type=kind)
    if start := int_arg("start_timestamp", 0, 0, _TS_MAX):
        query = query.filter(created_at__gte=start)
    if end := int_arg("end_timestamp", 0, 0, _TS_MAX):
        query = query.filter(created_at__lte=end)
    if token_name := str_arg("token_name"):
        query = query.filter(token_name=token_name)
    if model_name := str_arg("model_name"):
        query = query.filter(model_name=model_name)
    if admin:
        if username := str_arg("username"):
            query = query.filter(username=username)
        if channel := int_arg("channel", 0, 0, MAX_ID):
            query = query.filter(channel_id=channel)
    return query


def _keyword(query: QuerySet[models.Log], admin: bool) -> QuerySet[models.Log]:
    keyword = str_arg("keyword")
    if not keyword:
        return query
    match = (
        Q(model_name__icontains=keyword)
        | Q(token_name__icontains=keyword)
        | Q(content__icontains=keyword)
    )
    if admin:
        match |= Q(username__icontains=keyword)
    return query.filter(match)


async def _page(query: QuerySet[models.Log], admin: bool) -> ResponseReturnValue:
    return await page_of(query, lambda row: log_dict(row, admin), "-id")


async def _stat(query: QuerySet[models.Log]) -> ResponseReturnValue:
    """Sums over consume logs (One API's ``quota``, plus tokens and count)."""
    query = query.filter(type=models.LOG_CONSUME)
    row = await query.annotate(
        quota=Coalesce(Sum("quota"), 0),
        prompt=Coalesce(Sum("prompt_tokens"), 0),
        completion=Coalesce(Sum("completion_tokens"), 0),
    ).values("quota", "prompt", "completion")
    count = await query.count()
    sums = row[0] if row else {}
    return ok(
        {
            "quota": int(sums.get("quota") or 0),
            "prompt_tokens": int(sums.get("prompt") or 0),
            "completion_tokens": int(sums.get("completion") or 0),
            "request_count": count,
        }
    )


async def dashboard(gw: Gateway, user_id: int, days: int = 7) -> list[dict[str, Any]]:
    """Per-day, per-model sums of the user's consume logs (local days of the server)."""
    offset = time.localtime().tm_gmtoff
    since = int(time.time()) - days * 86400
    div = "DIV" if gw.db.dialect == "mysql" else "/"
    rows = await gw.db.fetch(
        f"SELECT (created_at + ?) {div} 86400 AS day, model_name, COUNT(*) AS request_count, "
        "SUM(quota) AS quota, SUM(prompt_tokens) AS prompt_tokens, "
        "SUM(completion_tokens) AS completion_tokens FROM logs "
        "WHERE user_id = ? AND type = ? AND created_at >= ? "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        [offset, user_id, models.LOG_CONSUME, since],
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return [
        {
            "Day": (epoch + timedelta(days=int(r["day"]))).strftime("%Y-%m-%d"),
            "ModelName": r["model_name"],
            "RequestCount": int(r["request_count"]),
            "Quota": int(r["quota"] or 0),
            "PromptTokens": int(r["prompt_tokens"] or 0),
            "CompletionTokens": int(r["completion_tokens"] or 0),
        }
        for r in rows
    ]


def _failure_dict(row: models.LedgerFailure) -> dict[str, Any]:
    return {"id": row.id, "request_id": row.request_id, "kind": row.kind, "payload": row.payload or "",
            "reason": row.reason or "", "created_at": row.created_at}


def _hold_dict(row: models.QuotaHold) -> dict[str, Any]:
    return {"request_id": row.request_id, "user_id": row.user_id, "token_id": row.token_id,
            "amount": row.amount, "token_amount": row.token_amount, "node": row.node,
            "lease_until": row.lease_until, "created_at": row.created_at}


def blueprint() -> Blueprint:
    bp = Blueprint("logs", __name__)

    @bp.get("/log/")
    @require_role(models.ROLE_ADMIN)
    @doc("All logs, filtered", query={**PAGE, **_ADMIN_FILTERS}, response=list[LogOut])
    async def list_logs() -> ResponseReturnValue:
        return await _page(_filtered(True, None), True)

    @bp.get("/log/search")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Search all logs by keyword (and filters)",
        query={**PAGE, **_ADMIN_FILTERS, **_KEYWORD},
        response=list[LogOut],
    )
    async def search_logs() -> ResponseReturnValue:
        return await _page(_keyword(_filtered(True, None), True), True)

    @bp.get("/log/stat")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Quota and tokens used, over the filtered consume logs",
        query=_ADMIN_FILTERS,
        response=LogStatOut,
    )
    async def stat() -> ResponseReturnValue:
        return await _stat(_filtered(True, None))

    @bp.delete("/log/")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Delete logs older than target_timestamp; returns how many",
        query={"target_timestamp": query_int("unix seconds", 1, _TS_MAX, required=True)},
    )
    async def delete_logs() -> ResponseReturnValue:
        target = int_arg("target_timestamp", None, 1, _TS_MAX)
        if target is None:
            raise ApiError("query parameter target_timestamp is required")
        count = await models.Log.filter(created_at__lt=target).delete()
        return ok(count)

    @bp.get("/log/ledger_failures")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Ledger writes the database refused (their holds were given back), newest first",
        query=PAGE,
    )
    async def ledger_failures() -> ResponseReturnValue:
        return await page_of(models.LedgerFailure.all(), _failure_dict, "-id")

    @bp.get("/log/holds")
    @require_role(models.ROLE_ADMIN)
    @doc(
        "Quota held for requests in flight (or left by a stopped node, until the reconciler runs)",
        query=PAGE,
    )
    async def open_holds() -> ResponseReturnValue:
        return await page_of(models.QuotaHold.all(), _hold_dict, "created_at")

    @bp.get("/log/self")
    @require_role(models.ROLE_USER)
    @doc("Own logs, filtered", query={**PAGE, **_FILTERS}, response=list[LogOut])
    async def self_logs() -> ResponseReturnValue:
        user = await current_user()
        return await _page(_filtered(False, user.id), False)

    @bp.get("/log/self/search")
    @require_role(models.ROLE_USER)
    @doc(
        "Search own logs by keyword",
        query={**PAGE, **_FILTERS, **_KEYWORD},
        response=list[LogOut],
    )
    async def self_search() -> ResponseReturnValue:
        user = await current_user()
        return await _page(_keyword(_filtered(False, user.id), False), False)

    @bp.get("/log/self/stat")
    @require_role(models.ROLE_USER)
    @doc("Own quota and tokens used", query=_FILTERS, response=LogStatOut)
    async def self_stat() -> ResponseReturnValue:
        user = await current_user()
        return await _stat(_filtered(False, user.id))

    @bp.get("/user/dashboard")
    @require_role(models.ROLE_USER)
    @doc("Own usage of the last 7 days by day and model")
    async def user_dashboard() -> ResponseReturnValue:
        user = await current_user()
        return ok(await dashboard(gateway(), user.id))

    return bp
