"""Shared pieces of the /api views: the envelope, pagination, input checks, who is asking."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from quart import g, jsonify, request, session
from quart.typing import ResponseReturnValue
from tortoise.queryset import QuerySet

from .. import models
from ..auth import random_key
from ..gateway import gateway

__all__ = [
    "MAX_ID",
    "MAX_QUOTA",
    "ApiError",
    "Body",
    "Id",
    "Quota",
    "check_text",
    "current_user",
    "doc",
    "end_sessions",
    "fail",
    "gateway",
    "int_arg",
    "logged_in_recently",
    "login_session",
    "now",
    "ok",
    "page_of",
    "page_of",
    "page_params",
    "parse_body",
    "path_id",
    "require_role",
    "signed_in",
    "signed_in_user",
    "str_arg",
    "user_dict",
]

T = TypeVar("T", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Awaitable[ResponseReturnValue]])

#: Ids are 32-bit in One API's schema (PostgreSQL ``integer``): larger ones can match nothing.
MAX_ID = 2**31 - 1
#: Quota amounts stay exact in JavaScript and fit every database's BIGINT.
MAX_QUOTA = 2**53 - 1

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Quota = Annotated[int, Field(ge=0, le=MAX_QUOTA)]


def _optional_is_nullable(schema: dict[str, Any]) -> None:
    """In the JSON schema of a body, an optional field also takes ``null`` (not given)."""
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        branches = prop.get("anyOf", [prop])
        if name in required or any(b.get("type") == "null" for b in branches):
            continue
        notes = {k: prop.pop(k) for k in ("title", "description", "default") if k in prop}
        schema["properties"][name] = {"anyOf": [prop, {"type": "null"}], **notes}


class Body(BaseModel):
    """Base of request bodies: unknown keys are ignored (One API's UI sends whole rows), and
    ``null`` for an optional field means "not given", as in One API (Go's zero value).

    Types are strict, as Go's JSON decoding into One API's structs is: a number is no text, a
    boolean no number (``"quota": false`` or ``"unlimited_quota": 0`` are refused); a number
    with a zero fraction is an integer (``5.0``), as in JSON Schema."""

    model_config = ConfigDict(
        extra="ignore",
        str_strip_whitespace=False,
        strict=True,
        json_schema_extra=lambda schema, model: model.refine_json_schema(schema),
    )

    @classmethod
    def refine_json_schema(cls, schema: dict[str, Any]) -> None:
        """Add to the body's JSON schema what its validators enforce (override, call super)."""
        _optional_is_nullable(schema)

    @model_validator(mode="before")
    @classmethod
    def _null_is_not_given(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {
            key: int(value) if isinstance(value, float) and value.is_integer() else value
            for key, value in data.items()
            if value is not None or key not in fields or fields[key].is_required()
        }


class ApiError(Exception):
    """Answered as ``{"success": false, "message": ...}``.

    One API's convention, which its front-ends rely on: HTTP 200 for everything the user can
    fix (bad input, not found, not allowed); 401 only when no credentials came at all, 404
    for a route that does not exist, 429 for the rate limit."""

    def __init__(self, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def ok(data: Any = None, message: str = "", **extra: Any) -> ResponseReturnValue:
    """The success envelope; ``extra`` keys (e.g. ``total``) go to the top level."""
    return jsonify({"success": True, "message": message, "data": data, **extra})


def fail(message: str, status: int = 200) -> ResponseReturnValue:
    return jsonify({"success": False, "message": message}), status


def now() -> int:
    return int(time.time())


def doc(
    summary: str = "",
    body: type[BaseModel] | None = None,
    query: dict[str, Any] | None = None,
    response: Any = None,
    path: dict[str, Any] | None = None,
) -> Callable[[F], F]:
    """Describe a view for /api/openapi.json: summary, JSON body model, query parameters (a
    description, or ``openapi.query_int``/``query_text``/``query_enum`` with the constraints
    the view enforces), the type of ``data`` in the answer (a model of ``schemas``, or e.g.
    ``list[Model]``), and path parameters that are more than the route says (same helpers)."""

    def decorate(view: F) -> F:
        api_doc = {"summary": summary, "body": body, "query": query or {}, "response": response,
                   "path": path or {}}
        view.api_doc = api_doc  # type: ignore[attr-defined]
        return view

    return decorate


def check_text(value: str, name: str) -> str:
    """Refuse what no database stores: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ApiError(f"{name} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(f"{name} is not valid Unicode text") from None
    return value


def _check_tree(value: Any, where: str) -> None:
    if isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(str(key), where)
            _check_tree(item, f"{where}.{key}" if where != "body" else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_tree(item, f"{where}[{index}]")


def _single_arg(name: str) -> str:
    """A query parameter given at most once (which of several would be meant is a guess)."""
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ApiError(f"query parameter {name} must be given once")
    return values[0] if values else ""


def int_arg(name: str, default: int | None = None, low: int = 0, high: int = 2**62) -> int | None:
    """An integer query parameter within [low, high]; ApiError naming it otherwise."""
    raw = _single_arg(name).strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(f"query parameter {name} must be an integer") from None
    if value < low or value > high:
        raise ApiError(f"query parameter {name} must be between {low} and {high}")
    return value


def str_arg(name: str, max_length: int = 191) -> str:
    """A text query parameter, stripped, at most ``max_length`` characters."""
    value = check_text(_single_arg(name).strip(), f"query parameter {name}")
    if len(value) > max_length:
        raise ApiError(f"query parameter {name} must be at most {max_length} characters")
    return value


def page_params() -> tuple[int, int]:
    """(offset, limit) from ``p`` (0-based page) and ``page_size`` (default 10, at most 100)."""
    page = int_arg("p", 0, 0, 10_000_000) or 0
    size = int_arg("page_size", 10, 1, 100) or 10
    return page * size, size


def path_id(value: int, what: str = "record") -> int:
    """A path id that can exist; "not found" for ids beyond the 32-bit range."""
    if value < 1 or value > MAX_ID:
        raise ApiError(f"{what} {value} not found")
    return value


async def page_of(query: QuerySet[Any], serialize: Callable[[Any], Any], *order: str) -> ResponseReturnValue:
    """One page of ``query`` (``p``/``page_size``) as ``ok(items, total=N)``."""
    offset, limit = page_params()
    total = await query.count()
    rows = await query.order_by(*order).offset(offset).limit(limit)
    return ok([serialize(row) for row in rows], total=total)


async def parse_body(model: type[T]) -> T:
    """The JSON body validated by ``model``; ApiError naming the bad field otherwise."""
    raw = await request.get_data(cache=True, as_text=False)
    assert isinstance(raw, bytes)
    try:
        data = json.loads(raw.decode("utf-8")) if raw else None
    except (ValueError, RecursionError):
        raise ApiError("the request body is not valid JSON (UTF-8)") from None
    if not isinstance(data, dict):
        raise ApiError("the request body must be a JSON object")
    _check_tree(data, "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ApiError(f"invalid field {where}: {message}") from None


async def signed_in_user() -> models.User | None:
    """The user behind the ``Authorization`` access token or the session cookie."""
    if "user" in g:
        return g.user  # type: ignore[no-any-return]
    user: models.User | None = None
    header = request.headers.get("Authorization", "").strip()
    if header:
        token = header.removeprefix("Bearer ").strip()
        if token and len(token) <= 32 and "\x00" not in token:
            user = await models.User.filter(access_token=token).first()
    elif isinstance(session.get("id"), int) and 0 < session["id"] <= MAX_ID:
        user = await models.User.filter(id=session["id"]).first()
        if user is not None and session.get("epoch") != (user.session_epoch or ""):
            user = None  # the user logged out or changed the password since
    g.user = user
    return user


def login_session(user: models.User) -> None:
    """Start a web session for ``user`` (signed cookie, valid until ``end_sessions``)."""
    session.clear()
    session["id"] = user.id
    session["epoch"] = user.session_epoch or ""
    session["login_at"] = now()
    session.permanent = True


def signed_in(user: models.User) -> ResponseReturnValue:
    """Start ``user``'s web session (refused for a disabled user) and answer as One API's
    login does: who is signed in."""
    if user.status != models.USER_ENABLED:
        raise ApiError("this user is disabled")
    login_session(user)
    return ok({"id": user.id, "username": user.username, "display_name": user.display_name,
               "role": user.role, "status": user.status, "group": user.group})


async def end_sessions(user: models.User, *, access_token: bool = False) -> None:
    """End every web session of ``user`` (copied cookies too); with ``access_token`` also
    revoke the scripts' access token (a password change)."""
    user.session_epoch = random_key(32)
    fields = ["session_epoch"]
    if access_token:
        user.access_token = None
        fields.append("access_token")
    await user.save(update_fields=fields)
    gateway().cache.invalidate_user(user.id)


def logged_in_recently(seconds: int = 600) -> bool:
    """Whether this web session began with a login less than ``seconds`` ago."""
    started = session.get("login_at")
    return isinstance(started, int) and now() - started < seconds


async def current_user() -> models.User:
    """The authenticated, enabled user; ApiError otherwise (401 only without any credentials,
    which One API's front-end takes for "session expired")."""
    user = await signed_in_user()
    if user is None and request.headers.get("Authorization", "").strip():
        raise ApiError("the access token is invalid")
    if user is None:
        raise ApiError("not logged in and no access token given", 401)
    if user.status != models.USER_ENABLED:
        raise ApiError("this user is disabled")
    return user


def require_role(role: int) -> Callable[[F], F]:
    """Let the view run only for an enabled user with at least ``role``."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = await current_user()
            if user.role < role:
                raise ApiError("permission denied: this needs a higher role")
            return await view(*args, **kwargs)

        wrapper.min_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def user_dict(user: models.User) -> dict[str, Any]:
    """A user as the API shows it: never the password hash nor the access token."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "status": user.status,
        "email": user.email,
        "github_id": user.github_id,
        "wechat_id": user.wechat_id,
        "lark_id": user.lark_id,
        "oidc_id": user.oidc_id,
        "quota": user.quota,
        "used_quota": user.used_quota,
        "request_count": user.request_count,
        "group": user.group,
        "aff_code": user.aff_code or "",
        "inviter_id": user.inviter_id,
    }


def outranks(actor: models.User, target: models.User) -> None:
    """An admin may act only on users of a lower role."""
    if actor.role <= target.role:
        raise ApiError(
            "permission denied: you cannot act on a user of an equal or higher role"
        )


__all__ += ["outranks"]
