"""Passwords, random keys, and relay-token authentication."""

from __future__ import annotations

import secrets
import string
import time
from ipaddress import ip_address

from . import models
from .cache import Cache
from .passwords import check_password, hash_password
from .relay.context import RelayError, TokenRecord, UserRecord

__all__ = ["MAX_KEY_LENGTH", "authenticate_relay", "check_password", "hash_password", "random_key"]

_ALPHABET = string.ascii_letters + string.digits


def random_key(length: int = 48) -> str:
    """A random key from a CSPRNG (letters and digits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


#: A token's key is at most this long (One API's char(48) column): longer ones are refused
#: before any lookup.
MAX_KEY_LENGTH = 48
# "Bearer sk-" + key + "-" + a channel id, with room for spaces around it.
_MAX_CREDENTIAL = MAX_KEY_LENGTH + 64


def _invalid_key() -> RelayError:
    return RelayError(401, "invalid API key", "invalid_request_error", "invalid_api_key")


def split_relay_key(raw: str) -> tuple[str, int | None]:
    """``sk-KEY`` or ``sk-KEY-CHANNELID`` → (KEY, channel id or None); RelayError 401 for a
    key longer than any token's (never looked up, never quoted)."""
    if len(raw) > _MAX_CREDENTIAL:
        raise _invalid_key()
    key = raw.strip().removeprefix("Bearer ").strip().removeprefix("sk-")
    base, _, tail = key.partition("-")
    if len(base) > MAX_KEY_LENGTH:
        raise _invalid_key()
    if tail:
        if not tail.isdigit() or len(tail) > 18:
            raise RelayError(401, "invalid token format: expected sk-KEY or sk-KEY-CHANNELID",
                             "invalid_request_error", "invalid_api_key")
        return base, int(tail)
    return base, None


async def authenticate_relay(cache: Cache, raw_key: str, client_ip: str) -> tuple[TokenRecord, UserRecord, int | None]:
    """Check a relay token and its owner; RelayError 401/403 with a reason otherwise."""
    if not raw_key.strip():
        raise RelayError(401, "no API key provided: send Authorization: Bearer sk-...",
                         "invalid_request_error", "missing_api_key")
    key, channel_id = split_relay_key(raw_key)
    token = await cache.token(key)
    if token is None:
        raise _invalid_key()
    if token.status == models.TOKEN_EXHAUSTED:
        raise RelayError(401, "this token's quota is used up", "insufficient_quota", "token_exhausted")
    if token.status == models.TOKEN_EXPIRED or (token.expired_time != -1 and token.expired_time < time.time()):
        raise RelayError(401, "this token has expired", "invalid_request_error", "token_expired")
    if token.status != models.TOKEN_ENABLED:
        raise RelayError(401, "this token is disabled", "invalid_request_error", "token_disabled")
    if not token.unlimited_quota and token.remain_quota <= 0:
        raise RelayError(401, "this token's quota is used up", "insufficient_quota", "token_exhausted")
    if token.subnets:
        try:
            address = ip_address(client_ip)
        except ValueError:
            address = None
        if address is None or not any(address in net for net in token.subnets):
            raise RelayError(403, f"this token may not be used from {client_ip}",
                             "permission_error", "ip_not_allowed")
    user = await cache.user(token.user_id)
    if user is None or user.status != models.USER_ENABLED:
        raise RelayError(403, "the user owning this token is disabled", "permission_error", "user_disabled")
    if channel_id is not None and user.role < models.ROLE_ADMIN:
        raise RelayError(403, "only administrators' tokens may pin a channel (sk-KEY-CHANNELID)",
                         "permission_error", "channel_pin_forbidden")
    return token, user, channel_id
