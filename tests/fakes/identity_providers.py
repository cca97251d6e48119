"""Fake sign-in services on 127.0.0.1: an OpenID Connect provider, Lark's (Feishu) passport
OAuth and One API's WeChat server, all in one aiohttp app served from a background thread.

Routes, in each service's wire format:

- OIDC: ``GET /.well-known/openid-configuration`` (discovery, naming the routes below),
  ``GET /oidc/authorize`` (approves at once: redirects to ``redirect_uri`` with
  ``code={authorize_code}`` and the ``state``),
  ``POST /oidc/token`` (form: client_id, client_secret, code, grant_type
  ``authorization_code``, redirect_uri; errors ``400 {"error", "error_description"}``),
  ``GET /oidc/userinfo`` (``Authorization: Bearer <access token>``; claims ``sub``,
  ``preferred_username``, ``name``, ``email``).
- Lark: ``POST /suite/passport/oauth/token`` (JSON: client_id, client_secret, code,
  grant_type, redirect_uri) and ``GET /suite/passport/oauth/userinfo`` (Bearer; ``open_id``,
  ``union_id``, ``name``...).
- WeChat server: ``GET /api/wechat/user?code=`` with ``Authorization: <token>``, answering
  ``{"success", "message", "data": "<openid>"}``; ``GET /wechat/qrcode.png`` (an image).

Knobs (``reset()`` restores them): ``oidc_users`` / ``lark_users`` map a login code to the
claims the userinfo endpoint returns, ``wechat_users`` a code to an openid; the credentials
each service expects (``oidc_client_id``/``oidc_client_secret``, ``lark_client_id``/
``lark_client_secret``, ``wechat_token``). ``fail(status, body)`` makes every route answer
with that status (an outage). Every request is recorded (``requests``).
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from tests.fakes._server import PNG_1X1, UpstreamFake

__all__ = ["FakeIdentityProviders"]

_KNOBS: dict[str, Any] = {
    "oidc_client_id": "oidc-client",
    "oidc_client_secret": "oidc-secret",
    "oidc_users": {},
    "authorize_code": None,
    "lark_client_id": "cli_lark",
    "lark_client_secret": "lark-secret",
    "lark_users": {},
    "wechat_token": "wechat-token",
    "wechat_users": {},
    "fail_status": None,
    "fail_body": None,
    "fail_times": None,
}


class FakeIdentityProviders(UpstreamFake):
    oidc_client_id: str
    oidc_client_secret: str
    oidc_users: dict[str, dict[str, Any]]
    authorize_code: str | None
    lark_client_id: str
    lark_client_secret: str
    lark_users: dict[str, dict[str, Any]]
    wechat_token: str
    wechat_users: dict[str, str]
    _knobs = _KNOBS

    def __init__(self, port: int = 0, **knobs: Any) -> None:
        self._tokens: dict[str, dict[str, Any]] = {}  # access token -> claims
        super().__init__(port, **knobs)

    def _fresh(self, name: str, value: Any) -> Any:
        return dict(value) if isinstance(value, dict) else value

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/.well-known/openid-configuration", self._discovery)
        router.add_get("/oidc/authorize", self._authorize)
        router.add_post("/oidc/token", self._oidc_token)
        router.add_get("/oidc/userinfo", self._userinfo)
        router.add_post("/suite/passport/oauth/token", self._lark_token)
        router.add_get("/suite/passport/oauth/userinfo", self._userinfo)
        router.add_get("/api/wechat/user", self._wechat_user)
        router.add_get("/wechat/qrcode.png", self._qrcode)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        await self._record(request)
        failure = self._failure(
            lambda status: {"error": "server_error", "error_description": f"HTTP {status}"}
        )
        return failure if failure is not None else await handler(request)

    # ----- OIDC --------------------------------------------------------------------------
    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.base_url,
                "authorization_endpoint": f"{self.base_url}/oidc/authorize",
                "token_endpoint": f"{self.base_url}/oidc/token",
                "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def _authorize(self, request: web.Request) -> web.Response:
        """The user "approves" at once: back to redirect_uri with ``authorize_code``."""
        q = request.query
        if q.get("client_id") != self.oidc_client_id or q.get("response_type") != "code":
            return web.Response(text="invalid_request", status=400)
        if "openid" not in q.get("scope", "").split() or not self.authorize_code:
            return web.Response(text="access_denied", status=400)
        target = URL(q.get("redirect_uri", "")).update_query(
            code=self.authorize_code, state=q.get("state", "")
        )
        raise web.HTTPFound(str(target))

    def _grant(
        self, params: Any, client_id: str, secret: str, users: dict[str, dict[str, Any]]
    ) -> web.Response:
        if params.get("client_id") != client_id or params.get("client_secret") != secret:
            return web.json_response(
                {"error": "invalid_client", "error_description": "Client authentication failed."},
                status=401,
            )
        if params.get("grant_type") != "authorization_code" or not params.get("redirect_uri"):
            return web.json_response({"error": "invalid_request"}, status=400)
        claims = users.get(str(params.get("code")))
        if claims is None:
            return web.json_response(
                {
                    "error": "invalid_grant",
                    "error_description": "The authorization code is invalid or expired.",
                },
                status=400,
            )
        token = secrets.token_hex(12)
        self._tokens[token] = claims
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        )

    async def _oidc_token(self, request: web.Request) -> web.Response:
        return self._grant(
            await request.post(), self.oidc_client_id, self.oidc_client_secret, self.oidc_users
        )

    async def _userinfo(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        claims = self._tokens.get(token)
        if claims is None:
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response(claims)

    # ----- Lark --------------------------------------------------------------------------
    async def _lark_token(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "invalid_request"}, status=400)
        return self._grant(body, self.lark_client_id, self.lark_client_secret, self.lark_users)

    # ----- WeChat server -----------------------------------------------------------------
    async def _qrcode(self, request: web.Request) -> web.Response:
        return web.Response(body=PNG_1X1, content_type="image/png")

    async def _wechat_user(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != self.wechat_token:
            return web.json_response({"success": False, "message": "无权进行此操作，token 无效"})
        openid = self.wechat_users.get(request.query.get("code", ""))
        if openid is None:
            return web.json_response({"success": False, "message": "验证码错误或已过期"})
        return web.json_response({"success": True, "message": "", "data": openid})
