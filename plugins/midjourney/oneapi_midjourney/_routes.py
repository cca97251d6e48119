"""The ``/mj`` blueprint: Midjourney-Proxy's routes (also under ``/mj-fast``, ``/mj-turbo`` and
``/mj-relax``), authenticated with the gateway's tokens; answers in Midjourney-Proxy's shapes."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson
from quart import Blueprint, Response, request
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from oneapi.plugin import RelayError, TokenRecord, UserRecord, allow_cors, current_services

from ._client import call
from ._image import notify_signature, proxy_image, sign, verify
from ._poller import refresh_tasks
from ._relay import mj_json, pinned_channel, relay_submit
from ._submit import ROUTES, MjError, plan_submit
from ._tasks import FINAL, find_for_user, find_many_for_user, find_public, public_id
from ._views import image_base, task_dto

__all__ = ["mj_blueprint"]

log = logging.getLogger("oneapi.midjourney")

PREFIXES = {"": "", "/mj-fast": "fast", "/mj-turbo": "turbo", "/mj-relax": "relax"}
MAX_LIST_IDS = 1000


def _error(status: int, code: int, description: str) -> Response:
    body = {"code": code, "description": description, "result": None, "properties": {}}
    return mj_json(body, status)


def _client_key() -> str:
    """``Authorization: Bearer sk-...``; if absent (or the placeholder ``midjourney-proxy``),
    the ``mj-api-secret`` header, as MJ clients send it."""
    header = request.headers.get("Authorization", "").strip()
    if header.removeprefix("Bearer ").strip() in ("", "midjourney-proxy"):
        return request.headers.get("mj-api-secret", "").strip()
    return header


async def _auth() -> tuple[TokenRecord, UserRecord, int | None]:
    return await current_services().authenticate(_client_key(), request.remote_addr or "")


async def _json_body() -> dict[str, Any]:
    raw = await request.get_data(cache=False)
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        raise MjError(400, 4, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise MjError(400, 4, "the request body must be a JSON object")
    return data


def _base() -> str:
    return image_base(current_services(), request.host_url.rstrip("/"))


async def submit(route: str, mode: str = "") -> ResponseReturnValue:
    """``POST /mj/submit/{route}`` and ``/mj/insight-face/swap``."""
    services = current_services()
    token, user, pinned = await _auth()
    body = await _json_body()
    plan = await plan_submit(user.id, route, body, services.options.bool("MjActionCheckSuccessEnabled"))
    return await relay_submit(services, plan, token, user, pinned, mode, request.host_url.rstrip("/"))


async def fetch(task_id: str, mode: str = "") -> ResponseReturnValue:
    """``GET /mj/task/{id}/fetch``: the user's task from the gateway's table."""
    _, user, _ = await _auth()
    row = await find_for_user(user.id, task_id)
    if row is None:
        raise MjError(404, 3, f"task_not_found: no task {task_id}")
    return mj_json(task_dto(current_services(), row, _base()))


async def list_by_condition(mode: str = "") -> ResponseReturnValue:
    """``POST /mj/task/list-by-condition {"ids": [...]}``: the user's tasks among the ids."""
    _, user, _ = await _auth()
    body = await _json_body()
    ids = body.get("ids")
    if ids is None:
        return mj_json([])
    if not isinstance(ids, list) or not all(isinstance(i, str | int) for i in ids):
        raise MjError(400, 4, "ids must be a list of task ids")
    if len(ids) > MAX_LIST_IDS:
        raise MjError(400, 4, f"at most {MAX_LIST_IDS} ids per request")
    rows = await find_many_for_user(user.id, [str(i) for i in ids])
    services, base = current_services(), _base()
    return mj_json([task_dto(services, row, base) for row in rows])


async def image_seed(task_id: str, mode: str = "") -> ResponseReturnValue:
    """``GET /mj/task/{id}/image-seed``: asked of the task's own channel, not charged."""
    services = current_services()
    _, user, _ = await _auth()
    row = await find_for_user(user.id, task_id)
    if row is None:
        raise MjError(404, 3, f"task_not_found: no task {task_id}")
    channel = pinned_channel(services, row.channel_id, "the task")
    assert services.http is not None
    try:
        reply = await call(services.http, channel, "GET", f"/mj/task/{row.mj_id}/image-seed", timeout=30)
    except httpx.HTTPError as exc:
        raise MjError(502, 9, f"channel {channel.id}: upstream request failed: {type(exc).__name__}") from None
    if reply.status in (401, 403):
        raise MjError(502, 9, f"channel {channel.id}: the Midjourney-Proxy refused the channel key")
    return Response(reply.body, reply.status, content_type=reply.content_type)


async def image(task_id: str, mode: str = "") -> ResponseReturnValue:
    """``GET /mj/image/{id}?sig=...``: the task's image through the gateway."""
    services = current_services()
    if not verify(sign(services.session_secret, task_id), request.args.get("sig")):
        return mj_json({"error": "invalid_signature"}, 403)
    row = await find_public(task_id)
    if row is None or not row.image_url:
        return mj_json({"error": "midjourney_task_not_found"}, 404)
    assert services.http is not None
    return await proxy_image(services.http, row.image_url, row.status in FINAL)


async def notify(mode: str = "") -> ResponseReturnValue:
    """``POST /mj/notify?id=...&sig=...``: upstream says a task changed. The body is not
    trusted: the task is fetched again from its channel."""
    services = current_services()
    task_id = request.args.get("id", "")
    await request.get_data(cache=False)
    if not verify(notify_signature(services.session_secret, task_id), request.args.get("sig")):
        return mj_json({"code": 4, "description": "invalid_signature"}, 403)
    row = await find_public(task_id)
    if row is None:
        return mj_json({"code": 3, "description": "task_not_found"}, 404)
    if row.status not in FINAL and row.mj_id:
        outcome, _ = await refresh_tasks(services, row.channel_id, [row])
        log.debug("midjourney notify for %s: %s", public_id(row), dict(outcome))
    return mj_json({"code": 1, "description": "ok"})


async def unknown(rest: str = "", mode: str = "") -> ResponseReturnValue:
    return _error(404, 4, f"unknown Midjourney route: {request.method} {request.path}")


def _add(bp: Blueprint, rule: str, name: str, view: Any, methods: list[str], **defaults: str) -> None:
    for prefix, mode in PREFIXES.items():
        suffix = prefix.replace("/", "_").replace("-", "_")
        bp.add_url_rule(prefix + rule, f"{name}{suffix}", view, methods=methods,
                        defaults={**defaults, "mode": mode})


def mj_blueprint() -> Blueprint:
    """Every /mj route, with MJ-shaped errors and CORS for browser clients."""
    bp = Blueprint("midjourney", __name__)
    for route, path in ROUTES.items():
        _add(bp, path, f"submit_{route.replace('-', '_')}", submit, ["POST"], route=route)
    _add(bp, "/mj/task/<task_id>/fetch", "fetch", fetch, ["GET"])
    _add(bp, "/mj/task/list-by-condition", "list_by_condition", list_by_condition, ["POST"])
    _add(bp, "/mj/task/<task_id>/image-seed", "image_seed", image_seed, ["GET"])
    _add(bp, "/mj/image/<task_id>", "image", image, ["GET"])
    _add(bp, "/mj/notify", "notify", notify, ["POST"])
    _add(bp, "/mj/<path:rest>", "unknown", unknown, ["GET", "POST", "PUT", "DELETE", "PATCH"])

    @bp.errorhandler(MjError)
    async def mj_error(exc: MjError) -> ResponseReturnValue:
        return _error(exc.status, exc.code, exc.description)

    @bp.errorhandler(RelayError)
    async def relay_error(exc: RelayError) -> ResponseReturnValue:
        return _error(exc.status, 4, exc.message)

    @bp.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> ResponseReturnValue:
        return _error(exc.code or 500, 4, exc.description or exc.name)

    @bp.errorhandler(Exception)
    async def unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return _error(500, 9, f"internal error: {type(exc).__name__}")

    allow_cors(bp, "GET, POST, OPTIONS")

    return bp
