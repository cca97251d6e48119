"""Fixtures of the relay tests (the session's gateway and fake OpenAI upstream, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import Admin
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess


@pytest.fixture(scope="module")
def priced(admin: Admin) -> None:
    """Simple prices so expected quota is easy to compute by hand (set again by each module:
    a module before may have changed them)."""
    admin.option("ModelRatio", '{"test-model": 2, "cheap-model": 0.5, "gpt-4o-mini": 0.075}')
    admin.option("CompletionRatio", '{"test-model": 3}')
    admin.option("ModelPrice", '{"flat-model": 0.01}')
    admin.option("GroupRatio", '{"default": 1, "vip": 1.5, "svip": 1}')


@pytest.fixture
def setup(admin: Admin, upstream: FakeOpenAI, priced: None) -> Iterator[dict[str, Any]]:
    """A channel of the priced models, a user and a limited token of theirs."""
    channel = admin.channel(upstream.base_url, "test-model,cheap-model,flat-model,gpt-4o-mini")
    user = admin.user(quota=10_000_000)
    token = admin.token(user, remain_quota=5_000_000)
    yield {"channel": channel, "user": user, "token": token}
    admin.delete_channel(channel["id"])


def client_for(gateway: GatewayProcess, token: dict[str, Any], **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-" + token["key"], base_url=gateway.base_url + "/v1", max_retries=0, **kw)
