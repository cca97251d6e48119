"""EPay's MD5 signature ("V1", the same in go-epay and the PHP SDKs).

Drop ``sign``, ``sign_type`` and every empty value; sort the keys by ASCII; join ``k=v`` with
``&`` using the raw (not URL-encoded) values; append the merchant key directly (no ``&key=``);
MD5, 32 lowercase hex digits.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["sign", "signing_string", "verify"]

_UNSIGNED = frozenset({"sign", "sign_type"})


def signing_string(params: Mapping[str, object]) -> str:
    """The text that is signed (without the key)."""
    pairs = sorted(
        (str(k), str(v))
        for k, v in params.items()
        if k not in _UNSIGNED and v is not None and str(v) != ""
    )
    return "&".join(f"{k}={v}" for k, v in pairs)


def sign(params: Mapping[str, object], key: str) -> str:
    """The MD5 signature of ``params`` under the merchant ``key``."""
    return hashlib.md5((signing_string(params) + key).encode("utf-8")).hexdigest()


def verify(params: Mapping[str, object], key: str) -> bool:
    """True when ``params["sign"]`` is the signature of the other parameters (constant time)."""
    given = params.get("sign")
    if not key or not isinstance(given, str) or not given:
        return False
    expected = sign(params, key)
    return hmac.compare_digest(expected.encode("ascii"), given.lower().encode("utf-8"))
