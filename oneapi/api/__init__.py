"""The management API under /api: One API's routes and ``{success, message, data}`` envelope.

One sub-blueprint per resource; shared pieces in ``_common``; the global rate limit and the
error handlers here, so that no input ever ends in an HTML page or an unexplained 500.
"""

from __future__ import annotations

import logging

from quart import Blueprint, jsonify, request
from quart.typing import ResponseReturnValue
from tortoise.exceptions import IntegrityError, ValidationError
from werkzeug.exceptions import HTTPException

from ..gateway import gateway
from . import (
    channel_ops,
    channels,
    logs,
    misc,
    oauth,
    oauth_accounts,
    oauth_lark,
    oauth_oidc,
    oauth_wechat,
    openapi,
    options,
    redemptions,
    tokens,
    topup,
    user_self,
    users,
    verify,
)
from ._common import (
    MAX_ID,
    ApiError,
    current_user,
    fail,
    int_arg,
    ok,
    page_params,
    parse_body,
    require_role,
    str_arg,
)
from .csrf import refuse_cross_site
from .ratelimit import check_global
from .status import blueprint as status_blueprint

# Public for plugins that add /api routes of their own.
__all__ = [
    "MAX_ID",
    "ApiError",
    "api_blueprint",
    "current_user",
    "fail",
    "int_arg",
    "ok",
    "page_params",
    "parse_body",
    "require_role",
    "str_arg",
]

log = logging.getLogger("oneapi.api")


def api_blueprint() -> Blueprint:
    """All /api routes, one sub-blueprint per resource."""
    api = Blueprint("api", __name__, url_prefix="/api")
    for module in (
        user_self, verify, oauth, oauth_oidc, oauth_lark, oauth_wechat, oauth_accounts,
        users, tokens, channels, channel_ops,
        logs, redemptions, options, misc, openapi, topup,
    ):  # fmt: skip
        api.register_blueprint(module.blueprint())
    api.register_blueprint(status_blueprint())

    @api.before_request
    async def guard() -> None:
        if "\x00" in request.path:
            raise ApiError("the path must not contain NUL characters", 404)
        await check_global()
        writer = gateway().ledger.writer
        if request.method == "GET" and writer.continuous and len(writer):
            await writer.flush()  # settlements waiting for company show in balances and logs at once
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            # Read the body even when the answer is a refusal, so the connection stays usable.
            await request.get_data(cache=True)
        if "session" in request.cookies and not request.headers.get("Authorization"):
            await refuse_cross_site()

    @api.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def no_route(rest: str) -> ResponseReturnValue:
        """Unknown /api paths answer in the envelope, not with the web UI."""
        raise ApiError(f"no API route {request.method} /api/{rest}", 404)

    @api.errorhandler(ApiError)
    async def api_error(exc: ApiError) -> ResponseReturnValue:
        return jsonify({"success": False, "message": exc.message}), exc.status

    @api.errorhandler(ValidationError)
    async def db_validation(exc: ValidationError) -> ResponseReturnValue:
        return jsonify({"success": False, "message": f"invalid value: {exc}"})

    @api.errorhandler(IntegrityError)
    async def conflict(exc: IntegrityError) -> ResponseReturnValue:
        log.warning("integrity error in %s %s: %s", request.method, request.path, exc)
        return jsonify({"success": False, "message": "this conflicts with an existing record"})

    @api.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> ResponseReturnValue:
        return jsonify({"success": False, "message": exc.description or exc.name}), exc.code or 500

    @api.errorhandler(Exception)
    async def unexpected(exc: Exception) -> ResponseReturnValue:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return jsonify({"success": False, "message": f"internal error: {type(exc).__name__}"}), 500

    return api
