"""Fixtures of the in-process unit tests: no gateway process, no HTTP server."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from tests.unit.ledger_kit import memory_db


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    """An in-memory database with the gateway's schema and nothing in it."""
    db = memory_db()
    yield db
    db.close()
