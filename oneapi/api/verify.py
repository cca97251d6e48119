"""Email verification codes, password reset by email, and the Turnstile check.

Codes live 10 minutes in the shared state (Redis, else the database), so any worker or node
can check a code another one sent. Mail goes out through the SMTP options with smtplib in a
worker thread. Reset links are built from the ServerAddress option only, never from the
request's Host header (which an attacker chooses).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import re
import smtplib
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

from pydantic import Field
from quart import Blueprint, request, session
from quart.typing import ResponseReturnValue

from .. import models
from ..auth import hash_password, random_key
from ..gateway import Gateway
from ..shared import shared_state
from ._common import (
    ApiError,
    Body,
    F,
    current_user,
    doc,
    end_sessions,
    gateway,
    ok,
    parse_body,
    require_role,
    str_arg,
)
from .openapi import query_text
from .ratelimit import critical

__all__ = ["blueprint", "send_email", "turnstile", "verify_code"]

log = logging.getLogger("oneapi.api")

CODE_TTL = 600.0
MAX_GUESSES = 5
# Python's \s and JavaScript's (the pattern in /api/openapi.json) differ: both are excluded.
_EMAIL = re.compile(r"^[^@\s\x1c-\x1f\x85\ufeff]{1,64}@[A-Za-z0-9.-]{1,185}\.[A-Za-z]{2,}$")
TURNSTILE_URL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
_EMAIL_QUERY = {"email": query_text("address", 50, required=True, pattern=_EMAIL.pattern)}


def _code_key(purpose: str, key: str) -> str:
    return f"code:{purpose}:{hashlib.sha256(key.lower().encode()).hexdigest()}"


async def issue_code(gw: Gateway, purpose: str, key: str, length: int = 6) -> str:
    """A fresh code for (purpose, key), valid for 10 minutes; replaces an older one."""
    code = random_key(length)
    await shared_state(gw).put(_code_key(purpose, key), code, CODE_TTL)
    return code


async def verify_code(gw: Gateway, purpose: str, key: str, code: str) -> bool:
    """Whether ``code`` is the live code for (purpose, key); a match is used up, and so is the
    code after MAX_GUESSES misses."""
    shared, name = shared_state(gw), _code_key(purpose, key)
    live = await shared.get(name)
    if live is not None and hmac.compare_digest(live, code):
        return await shared.take(name) == live  # one use, even when two arrive together
    if live is not None and await shared.count(name + ":misses", CODE_TTL) >= MAX_GUESSES:
        await shared.delete(name)
    return False


def check_email(gw: Gateway, email: str) -> str:
    """A plausible address, from an allowed domain when the restriction is on."""
    if not _EMAIL.match(email) or len(email) > 50:
        raise ApiError("invalid email address")
    if gw.options.bool("EmailDomainRestrictionEnabled"):
        domain = email.rsplit("@", 1)[1].lower()
        allowed = {
            d.strip().lower()
            for d in gw.options.get("EmailDomainWhitelist").split(",")
            if d.strip()
        }
        if domain not in allowed:
            raise ApiError("email addresses of this domain are not accepted by the administrator")
    return email


def _deliver(options: dict[str, str], to: str, subject: str, text: str) -> None:
    message = EmailMessage()
    sender = options["SMTPFrom"] or options["SMTPAccount"]
    message["From"] = f"{options['SystemName']} <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    port = int(options["SMTPPort"] or 587)
    client: smtplib.SMTP
    if port == 465:
        client = smtplib.SMTP_SSL(options["SMTPServer"], port, timeout=15)
    else:
        client = smtplib.SMTP(options["SMTPServer"], port, timeout=15)
    with client:
        client.ehlo()
        if port != 465 and client.has_extn("starttls"):
            client.starttls()
            client.ehlo()
        if options["SMTPAccount"] and options["SMTPToken"]:
            client.login(options["SMTPAccount"], options["SMTPToken"])
        client.send_message(message)


async def send_email(gw: Gateway, to: str, subject: str, text: str) -> None:
    """Send a plain-text mail with the SMTP options; ApiError when it cannot be sent."""
    keys = ("SMTPServer", "SMTPPort", "SMTPAccount", "SMTPFrom", "SMTPToken", "SystemName")
    options = {k: gw.options.get(k) for k in keys}
    if not options["SMTPServer"]:
        raise ApiError("sending email is not configured (SMTPServer option)")
    try:
        await asyncio.to_thread(_deliver, options, to, subject, text)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        raise ApiError(f"could not send the email: {exc}") from None


def turnstile(view: F) -> F:
    """Cloudflare Turnstile check (TurnstileCheckEnabled): ``?turnstile=<response>``."""

    @functools.wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        gw = gateway()
        if gw.options.bool("TurnstileCheckEnabled") and not session.get("turnstile"):
            response = str_arg("turnstile", 4096)
            if not response:
                raise ApiError("the Turnstile check is missing: complete the challenge first")
            url = gw.settings.TURNSTILE_VERIFY_URL or TURNSTILE_URL
            try:
                assert gw.http is not None
                answer = await gw.http.post(
                    url,
                    data={
                        "secret": gw.options.get("TurnstileSecretKey"),
                        "response": response,
                        "remoteip": request.remote_addr or "",
                    },
                    timeout=10,
                )
                passed = bool(answer.json().get("success"))
            except Exception:  # noqa: BLE001 - any failure of the verifier is a failed check
                passed = False
            if not passed:
                raise ApiError("the Turnstile check failed; refresh and try again")
            session["turnstile"] = True
        return await view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class ResetBody(Body):
    email: str = Field(min_length=3, max_length=50)
    token: str = Field(min_length=1, max_length=64)


def blueprint() -> Blueprint:
    bp = Blueprint("verify", __name__)

    @bp.get("/verification")
    @critical
    @turnstile
    @doc("Email a verification code (registration, binding)", query=_EMAIL_QUERY)
    async def verification() -> ResponseReturnValue:
        gw = gateway()
        email = check_email(gw, str_arg("email", 50))
        if await models.User.filter(email=email).exists():
            raise ApiError("this email address is already in use")
        code = await issue_code(gw, "verify", email)
        await send_email(
            gw,
            email,
            f"{gw.options.get('SystemName')} email verification",
            f"Your verification code is {code}. It is valid for 10 minutes.",
        )
        return ok(message="the verification code was sent")

    @bp.get("/reset_password")
    @critical
    @turnstile
    @doc("Email a password reset link", query=_EMAIL_QUERY)
    async def reset_password() -> ResponseReturnValue:
        gw = gateway()
        email = str_arg("email", 50)
        if not _EMAIL.match(email):
            raise ApiError("invalid email address")
        if not await models.User.filter(email=email, status=models.USER_ENABLED).exists():
            raise ApiError("no user has this email address")
        base = gw.options.get("ServerAddress").strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            log.warning("a password reset was asked for, but the ServerAddress option is not set: "
                        "reset links are built only from it")
            raise ApiError("password reset by email is not available: the administrator has not "
                           "set the server address (Settings, ServerAddress)")
        token = await issue_code(gw, "reset", email, 32)
        link = f"{base}/user/reset?email={quote(email)}&token={token}"
        await send_email(
            gw,
            email,
            f"{gw.options.get('SystemName')} password reset",
            f"Open this link within 10 minutes to reset your password:\n{link}\n",
        )
        return ok(message="the reset link was sent")

    @bp.post("/user/reset")
    @critical
    @doc("Finish a password reset: returns the new random password", ResetBody)
    async def reset() -> ResponseReturnValue:
        gw = gateway()
        body = await parse_body(ResetBody)
        if not await verify_code(gw, "reset", body.email, body.token):
            raise ApiError("the reset link is wrong or has expired")
        user = await models.User.filter(email=body.email, status=models.USER_ENABLED).first()
        if user is None:
            raise ApiError("no user has this email address")
        password = random_key(12)
        user.password = hash_password(password)
        await user.save(update_fields=["password"])
        await end_sessions(user, access_token=True)
        return ok(password)

    @bp.get("/oauth/email/bind")
    @critical
    @require_role(models.ROLE_USER)
    @doc(
        "Bind an email address with its verification code",
        query={**_EMAIL_QUERY, "code": query_text("the code that was mailed", 32)},
    )
    async def email_bind() -> ResponseReturnValue:
        gw = gateway()
        email = check_email(gw, str_arg("email", 50))
        code = str_arg("code", 32)
        if not await verify_code(gw, "verify", email, code):
            raise ApiError("the verification code is wrong or has expired")
        user = await current_user()
        if await models.User.filter(email=email).exclude(id=user.id).exists():
            raise ApiError("this email address is already in use")
        user.email = email
        await user.save(update_fields=["email"])
        return ok()

    return bp
