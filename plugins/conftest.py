"""Fixtures shared by the plugins' tests (plugins/*/tests).

``plugin_relay`` is the one way a plugin's test module starts its world (``start_world`` of
tests/conftest.py): a gateway subprocess with the echo test plugin on its path and a database
of its own, its root as an ``Admin``, the module's prices, a user with quota logged in once
(``owner``) and fake upstreams, all started once per module and stopped at its end::

    @pytest.fixture(scope="module")
    def relay(plugin_relay):
        return plugin_relay("azure", prices={TURBO: (2, 3), "gpt-4o": 1})

    @pytest.fixture(scope="module")
    def fake(relay):
        return relay.fake(FakeAzure, expected_key=KEY)

A module that defines ``relay`` gets its ``gateway``, ``admin`` and ``owner`` as fixtures.
Session-wide worlds (Midjourney, EPay) call ``start_world`` from their own fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.conftest import Admin, GatewayWorld, start_world
from tests.gateway import GatewayProcess


@pytest.fixture(scope="module")
def plugin_relay() -> Iterator[Callable[..., GatewayWorld]]:
    """A factory: ``plugin_relay(name, prices=None, owner=True, **env)`` (see ``start_world``);
    what it starts is stopped at the end of the module."""
    with ExitStack() as stack:
        yield lambda name, **kw: start_world(stack, name, **kw)


@pytest.fixture(scope="module")
def gateway(relay: GatewayWorld) -> GatewayProcess:
    return relay.gateway


@pytest.fixture(scope="module")
def admin(relay: GatewayWorld) -> Admin:
    return relay.admin


@pytest.fixture(scope="module")
def owner(relay: GatewayWorld) -> dict[str, Any] | None:
    return relay.owner
