"""The ``midjourneys`` table: our own task ids, lookups scoped to a user, the client view of a
task, updates from upstream, and failure with an exactly-once refund (compare-and-set).

Every write to a task is conditional on the status read before it, and a task in a final
status is never written again; so of two pollers (or a poller and a notify callback) that
both see a task fail, exactly one moves it to FAILURE and refunds it. The refund is a credit
of the ledger (a consume log of negative quota) in the same transaction as the move.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import orjson
from tortoise.expressions import Q

from oneapi.plugin import Services

from ._actions import model_for
from ._models import Midjourney

__all__ = [
    "FINAL",
    "apply_upstream",
    "fail_task",
    "find_public",
    "find_for_user",
    "new_task_id",
    "now_ms",
    "public_id",
    "refund_request_id",
    "token_id_of",
    "with_token_id",
]

log = logging.getLogger("oneapi.midjourney")

SUCCESS, FAILURE, CANCEL = "SUCCESS", "FAILURE", "CANCEL"
FINAL = (SUCCESS, FAILURE, CANCEL)
DONE = "100%"
_PUBLIC_PROPERTIES = ("finalPrompt", "finalZhPrompt")


def now_ms() -> int:
    return int(time.time() * 1000)


def new_task_id() -> str:
    """A numeric id like Midjourney-Proxy's (ms epoch + random digits), unique in practice;
    the column's unique index makes sure."""
    return f"{now_ms()}{secrets.randbelow(10**6):06d}"


def public_id(row: Midjourney) -> str:
    """The id clients see: ours, or the upstream id of a row written by One API's fork."""
    return row.task_id or row.mj_id


def _by_public_id(task_id: str) -> Q:
    return Q(task_id=task_id) | Q(task_id__isnull=True, mj_id=task_id)


async def find_for_user(user_id: int, task_id: str) -> Midjourney | None:
    """The user's task with this id; another user's task is not found."""
    if not task_id or len(task_id) > 191:
        return None
    return await Midjourney.filter(_by_public_id(task_id), user_id=user_id).order_by("-id").first()


async def find_many_for_user(user_id: int, task_ids: list[str]) -> list[Midjourney]:
    """The user's tasks among these ids (unknown and foreign ids are skipped), in id order."""
    wanted = [t for t in dict.fromkeys(task_ids) if t and len(t) <= 191]
    if not wanted:
        return []
    rows = await Midjourney.filter(
        Q(task_id__in=wanted) | Q(task_id__isnull=True, mj_id__in=wanted), user_id=user_id
    ).order_by("id")
    return list(rows)


async def find_public(task_id: str) -> Midjourney | None:
    """A task by its public id, whoever owns it (image proxy and notify: signed requests)."""
    if not task_id or len(task_id) > 191:
        return None
    return await Midjourney.filter(_by_public_id(task_id)).order_by("-id").first()


def _json_dict(text: str | None) -> dict[str, Any]:
    try:
        value = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _json_list(text: str | None) -> list[Any]:
    try:
        value = orjson.loads(text) if text else []
    except orjson.JSONDecodeError:
        return []
    return value if isinstance(value, list) else []


def token_id_of(row: Midjourney) -> int:
    """The id of the token the task was charged to (0 if unknown)."""
    return int(row.token_id or 0)


def with_token_id(fields: dict[str, Any], token_id: int) -> dict[str, Any]:
    """Row fields for a new task that record the charged token."""
    return {**fields, "token_id": token_id}


def public_properties(row: Midjourney) -> dict[str, Any]:
    props = _json_dict(row.properties)
    return {k: props[k] for k in _PUBLIC_PROPERTIES if k in props}


def buttons_of(row: Midjourney) -> list[Any]:
    return _json_list(row.buttons)


def _properties_json(row: Midjourney, upstream: Any) -> str:
    """Upstream's client-facing properties."""
    props = {k: upstream[k] for k in _PUBLIC_PROPERTIES if isinstance(upstream, dict) and k in upstream}
    return orjson.dumps(props).decode()


def _ms(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _text(value: Any, limit: int = 65_000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def fields_from_upstream(row: Midjourney, item: dict[str, Any]) -> dict[str, Any]:
    """The columns an upstream Task object sets (our submit time and prompt are kept)."""
    buttons = item.get("buttons")
    return {
        "code": 1,
        "status": _text(item.get("status"), 20),
        "progress": _text(item.get("progress"), 30),
        "prompt_en": _text(item.get("promptEn")) or row.prompt_en,
        "description": _text(item.get("description")) or row.description,
        "image_url": _text(item.get("imageUrl"), 4000),
        "fail_reason": _text(item.get("failReason"), 4000),
        "start_time": _ms(item.get("startTime")) or row.start_time,
        "finish_time": _ms(item.get("finishTime")) or row.finish_time,
        "buttons": orjson.dumps(buttons).decode() if isinstance(buttons, list) else row.buttons,
        "properties": _properties_json(row, item.get("properties")),
    }


async def apply_upstream(services: Services, row: Midjourney, item: dict[str, Any]) -> str:
    """Bring a task up to date with upstream's view of it.

    Returns ``"failed"`` (this call failed and refunded it), ``"success"``, ``"updated"``,
    ``"unchanged"`` or ``"lost"`` (someone else changed the task first).
    """
    if row.status in FINAL:
        return "unchanged"
    values = fields_from_upstream(row, item)
    status, progress, reason = values["status"], values["progress"], values["fail_reason"]
    if status in (FAILURE, CANCEL) or (progress != DONE and reason):
        if status not in (FAILURE, CANCEL):
            values["status"] = FAILURE
        won = await fail_task(services, row, reason or f"upstream task {status.lower() or 'failed'}", values)
        return "failed" if won else "lost"
    if status == SUCCESS:
        values["progress"] = DONE
        values["finish_time"] = values["finish_time"] or now_ms()
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if not changed:
        return "unchanged"
    updated = await Midjourney.filter(id=row.id, status=row.status).update(**changed)
    if not updated:
        return "lost"
    return "success" if status == SUCCESS else "updated"


async def fail_task(services: Services, row: Midjourney, reason: str, values: dict[str, Any] | None = None) -> bool:
    """Move a task to FAILURE (or CANCEL) and refund its quota, unless someone did first.

    The status read in ``row`` is the compare-and-set condition; the move and the refund (a
    ledger credit) are one transaction, so a refund happens exactly once and never without
    the move.
    """
    if row.status in FINAL:
        return False
    update = dict(values or {})
    update["status"] = update.get("status") if update.get("status") in (FAILURE, CANCEL) else FAILURE
    update["progress"] = DONE
    update["fail_reason"] = (reason or "failed")[:4000]
    update["finish_time"] = update.get("finish_time") or now_ms()
    async with services.transaction() as conn:
        won = await Midjourney.filter(id=row.id, status=row.status).update(**update)
        if not won:
            return False
        if row.quota > 0:
            await _refund(services, conn, row, update["fail_reason"])
    if row.quota > 0:
        services.forget_user(row.user_id)
    return True


def refund_request_id(row: Midjourney) -> str:
    """The request id of a task's refund: one per task (a row of One API's fork, which has
    no task id of ours and may share its upstream id, by its row id)."""
    return (f"{row.task_id}:refund" if row.task_id else f"mj-row-{row.id}:refund")[:64]


async def _refund(services: Services, conn: Any, row: Midjourney, reason: str) -> None:
    """Give a failed task's quota back through the ledger, inside the caller's transaction
    ``conn``: to its user and token (a limited one), off their and the channel's used quota,
    with a consume log of negative quota."""
    amount = int(row.quota)
    token_id = token_id_of(row)
    await services.ledger.credit_in(
        conn, request_id=refund_request_id(row), of_request=(row.task_id or "")[:64],
        user_id=row.user_id, token_id=token_id,
        channel_id=row.channel_id or 0, amount=amount, created_at=int(time.time()),
        content=f"Midjourney task {public_id(row)} ({row.action}) failed: {reason[:300]}; "
                f"refunded {amount} quota",
        model_name=model_for(row.action) if row.action else "",
    )
    log.info("refunded %d quota of midjourney task %s to user %d", amount, public_id(row), row.user_id)
