"""Secrets at rest: channel keys and secret options, encrypted with a key from CRYPTO_SECRET.

A stored secret is ``enc:v1:`` + base64url(nonce ‖ AES-256-GCM ciphertext and tag); the
key is derived from CRYPTO_SECRET with HKDF-SHA256, and what the value is (``channels.key``,
``options.SMTPToken``, ...) is bound to it as associated data, so a value copied into
another column does not decrypt. Values without the prefix are plaintext, as One API stores
them: they are read as they are and encrypted when next written. Without CRYPTO_SECRET
nothing is encrypted (a One API database stays readable by One API).

Values are decrypted where they are loaded (the channel table of the cache, the options),
never per request; ``verify_stored`` checks at start-up that every stored secret decrypts.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "CHANNEL_KEY",
    "PREFIX",
    "SECRET_OPTIONS",
    "SecretError",
    "configure",
    "enabled",
    "is_sealed",
    "option_context",
    "reveal",
    "seal",
    "verify_stored",
]

PREFIX = "enc:v1:"
CHANNEL_KEY = "channels.key"
_NONCE = 12

#: The core's options that hold secrets. Also encrypted: every option a plugin declares with
#: ``OptionSpec(secret=True)`` (EpayKey of the EPay plugin, say), as every option the options
#: API treats as write-only.
SECRET_OPTIONS = frozenset({
    "SMTPToken",  # the SMTP password
    "GitHubClientSecret",
    "LarkClientSecret",
    "OidcClientSecret",
    "WeChatServerToken",
    "TurnstileSecretKey",
    "MessagePusherToken",
})


class SecretError(Exception):
    """A stored secret that cannot be decrypted with this CRYPTO_SECRET (or without one)."""


class _Box:
    def __init__(self, secret: str) -> None:
        self.aead: AESGCM | None = None
        if secret:
            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"oneapi",
                       info=b"oneapi secrets at rest v1").derive(secret.encode())
            self.aead = AESGCM(key)


_box = _Box("")


def configure(secret: str) -> None:
    """Use ``secret`` (CRYPTO_SECRET; empty: store plaintext) from now on, in this process."""
    global _box
    _box = _Box(secret)


def enabled() -> bool:
    """Whether new secrets are stored encrypted."""
    return _box.aead is not None


def is_sealed(value: str | None) -> bool:
    return bool(value) and str(value).startswith(PREFIX)


def option_context(key: str) -> str:
    return f"options.{key}"


def seal(value: str, context: str) -> str:
    """``value`` as it is to be stored: encrypted when CRYPTO_SECRET is set (empty stays empty)."""
    aead = _box.aead
    if aead is None or not value:
        return value
    nonce = os.urandom(_NONCE)
    data = nonce + aead.encrypt(nonce, value.encode(), context.encode())
    return PREFIX + base64.urlsafe_b64encode(data).decode().rstrip("=")


def reveal(value: str, context: str, what: str = "a stored secret") -> str:
    """The plaintext of a stored value (a plaintext one as it is). ``what`` names it in the
    error: "the key of channel 3", say."""
    if not value.startswith(PREFIX):
        return value
    aead = _box.aead
    if aead is None:
        raise SecretError(f"{what} is encrypted, but CRYPTO_SECRET is not set: start with the "
                          "CRYPTO_SECRET it was written with")
    text = value[len(PREFIX):]
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        if len(data) <= _NONCE:
            raise ValueError("too short")
        return aead.decrypt(data[:_NONCE], data[_NONCE:], context.encode()).decode()
    except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError):
        raise SecretError(f"CRYPTO_SECRET does not decrypt {what}: it was encrypted with another "
                          "CRYPTO_SECRET (or changed in the database); start with the one it was "
                          "written with") from None


def _problems(items: Iterable[tuple[str, str, str]]) -> list[str]:
    found = []
    for value, context, what in items:
        try:
            reveal(value, context, what)
        except SecretError:
            found.append(what)
    return found


async def verify_stored() -> None:
    """Start-up: every encrypted value in the database decrypts with this CRYPTO_SECRET, or one
    SecretError names CRYPTO_SECRET and what does not (instead of failing request after request)."""
    from . import models

    channels = await models.Channel.filter(key__startswith=PREFIX).values_list("id", "key")
    options = await models.Option.filter(value__startswith=PREFIX).values_list("key", "value")
    items = [(str(key), CHANNEL_KEY, f"the key of channel {cid}") for cid, key in channels]
    items += [(str(value), option_context(str(key)), f"option {key}") for key, value in options]
    bad = _problems(items)
    if not bad:
        return
    shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    if not enabled():
        raise SecretError(f"{len(bad)} stored secret(s) are encrypted ({shown}), but CRYPTO_SECRET "
                          "is not set: start with the CRYPTO_SECRET they were written with")
    raise SecretError(f"CRYPTO_SECRET does not decrypt {len(bad)} stored secret(s) ({shown}): they "
                      "were encrypted with another CRYPTO_SECRET; start with the one they were "
                      "written with")
