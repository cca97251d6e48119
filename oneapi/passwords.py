"""Password hashes: bcrypt, as One API stores them (its rows verify here and ours there)."""

from __future__ import annotations

import bcrypt

__all__ = ["check_password", "hash_password"]


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def check_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False
