"""The /v1 blueprint: OpenAI's routes, CORS, and OpenAI-shaped errors for everything else."""

from __future__ import annotations

import time

import orjson
from quart import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ..auth import authenticate_relay
from ..cors import allow_cors
from ..models import Token, User
from .context import RelayError
from .controller import client_key, error_response, new_request_id, relay
from .modes import RELAY_ROUTES
from .proxy import proxy

__all__ = ["relay_blueprint"]

# OpenAI endpoints the gateway does not relay (yet): 404 as OpenAI answers an unknown URL, so SDKs
# do not retry (they retry a 501); the message says which it is.
_NOT_SERVED = (
    "images/edits", "images/variations", "files", "fine_tuning", "fine-tunes", "assistants",
    "threads", "batches", "uploads", "vector_stores", "responses", "realtime", "evals",
    "containers", "conversations", "chatkit", "videos",
)


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, content_type="application/json")


def relay_blueprint() -> Blueprint:
    bp = Blueprint("relay", __name__)

    for rule, mode in RELAY_ROUTES.items():
        bp.add_url_rule(rule, f"relay_{mode}", _view(mode), methods=["POST"])

    @bp.post("/v1/engines/<path:model>/embeddings")
    async def engine_embeddings(model: str) -> Response:
        return await relay("embeddings", model)

    @bp.get("/v1/models")
    async def list_models() -> Response:
        return await _models(None)

    @bp.get("/v1/models/<path:model>")
    async def get_model(model: str) -> Response:
        return await _models(model)

    @bp.delete("/v1/models/<path:model>")
    async def delete_model(model: str) -> Response:
        err = RelayError(501, "API not implemented: deleting a model", "one_api_error", "api_not_implemented")
        return error_response(err, new_request_id())

    bp.add_url_rule("/v1/oneapi/proxy/<int:channel_id>/<path:target>", "proxy", proxy,
                    methods=["GET", "POST", "PUT", "DELETE", "PATCH"])

    for prefix in ("", "/v1"):
        bp.add_url_rule(f"{prefix}/dashboard/billing/subscription", f"subscription{prefix}",
                        _subscription, methods=["GET"])
        bp.add_url_rule(f"{prefix}/dashboard/billing/usage", f"usage{prefix}", _usage, methods=["GET"])

    @bp.route("/v1/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def other(rest: str) -> Response:
        if rest.startswith(_NOT_SERVED):
            message = f"Invalid URL ({request.method} /v1/{rest}): this gateway does not serve this OpenAI endpoint"
        else:
            message = f"Invalid URL ({request.method} /v1/{rest}): unknown endpoint"
        err = RelayError(404, message, "invalid_request_error", "unknown_url")
        return error_response(err, new_request_id())

    @bp.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = "request body too large" if status == 413 else (exc.description or exc.name)
        err = RelayError(status, message, "invalid_request_error", "request_too_large" if status == 413 else None)
        return error_response(err, new_request_id())

    allow_cors(bp, "GET, POST, PUT, DELETE, PATCH, OPTIONS")

    return bp


def _view(mode: str):  # type: ignore[no-untyped-def]
    async def view() -> Response:
        return await relay(mode)

    view.__name__ = f"relay_{mode}"
    return view


async def _authed():  # type: ignore[no-untyped-def]
    gw = current_app.extensions["oneapi"]
    token, user, _ = await authenticate_relay(gw.cache, client_key(), request.remote_addr or "")
    return gw, token, user


async def _models(model: str | None) -> Response:
    try:
        gw, token, user = await _authed()
    except RelayError as err:
        return error_response(err, new_request_id())
    names = sorted(token.models) if token.models is not None else gw.cache.channels.models_for(user.group)
    types = gw.registry.channel_types
    table = gw.cache.channels
    created = gw.start_time

    def owner(name: str) -> str:
        """The channel type that serves the model to this user; unserved: a type listing it."""
        served_by = table.serving_type(user.group, name)
        if served_by in types:
            return types[served_by].name.lower()
        return next((ct.name.lower() for _, ct in sorted(types.items()) if name in ct.models), "custom")

    def card(name: str) -> dict[str, object]:
        return {"id": name, "object": "model", "created": created, "owned_by": owner(name)}

    if model is None:
        return _json({"object": "list", "data": [card(n) for n in names]})
    if model not in names:
        unknown = RelayError(404, f"the model '{model}' does not exist or this token may not use it",
                         "invalid_request_error", "model_not_found", "model")
        return error_response(unknown, new_request_id())
    return _json(card(model))


async def _subscription() -> Response:
    try:
        gw, token, user = await _authed()
    except RelayError as err:
        return error_response(err, new_request_id())
    per_unit = gw.options.float("QuotaPerUnit", 500000)
    if gw.options.bool("DisplayTokenStatEnabled"):
        if token.unlimited_quota:
            limit = 100000000.0
        else:
            token_row = await Token.get(id=token.id)
            limit = (token_row.remain_quota + token_row.used_quota) / per_unit
    else:
        user_row = await User.get(id=user.id)
        limit = (user_row.quota + user_row.used_quota) / per_unit
    expires = token.expired_time if token.expired_time > 0 else 0
    return _json({"object": "billing_subscription", "has_payment_method": True, "soft_limit_usd": limit,
                  "hard_limit_usd": limit, "system_hard_limit_usd": limit, "access_until": expires})


async def _usage() -> Response:
    try:
        gw, token, user = await _authed()
    except RelayError as err:
        return error_response(err, new_request_id())
    per_unit = gw.options.float("QuotaPerUnit", 500000)
    if gw.options.bool("DisplayTokenStatEnabled"):
        used = (await Token.get(id=token.id)).used_quota
    else:
        used = (await User.get(id=user.id)).used_quota
    return _json({"object": "list", "total_usage": used / per_unit * 100, "timestamp": int(time.time())})

