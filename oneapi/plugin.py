"""The plugin API: everything a oneapi plugin may import, and nothing else.

A plugin is a distribution with an entry point in group ``oneapi`` naming a module of
``@hookimpl`` functions (the hooks are in ``oneapi.hookspecs``). It declares the core it was
built for as ``oneapi>=1.0,<2`` — the major version is ``PLUGIN_API_VERSION`` — and imports only
from this module::

    from oneapi.plugin import Adaptor, ChannelType, RelayContext, RelayError, hookimpl

What is here is kept compatible within a major version; anything else in ``oneapi`` may change.
``docs/plugins.md`` is the guide.
"""

from __future__ import annotations

from ._http import UpstreamTimeouts
from .adaptor import Adaptor, RelayResult, error_from_upstream
from .api._common import (
    MAX_ID,
    ApiError,
    current_user,
    int_arg,
    ok,
    page_params,
    require_role,
    str_arg,
)
from .cors import allow_cors
from .hookspecs import PLUGIN_API_VERSION, hookimpl
from .ledger import Bill, Hold
from .models import (
    CHANNEL_ENABLED,
    LOG_CONSUME,
    LOG_SYSTEM,
    ROLE_ADMIN,
    ROLE_ROOT,
    ROLE_USER,
)
from .payments import CREDITED, DUPLICATE, PaymentError, PaymentNotice, money_text
from .registry import (
    ChannelType,
    ConfigField,
    Job,
    ModelPrices,
    OptionSpec,
    PaymentProvider,
)
from .relay.context import (
    ChannelRecord,
    Price,
    RelayContext,
    RelayError,
    TokenRecord,
    Usage,
    UserRecord,
)
from .relay.controller import relay as relay_request
from .relay.inbound import Inbound
from .relay.plugin_modes import RelayMode
from .relay.sse import event_data, iter_data, iter_events
from .schema import DialectSQL, ModelApp
from .services import Services, current_services

__all__ = [
    "CHANNEL_ENABLED",
    "CREDITED",
    "DUPLICATE",
    "LOG_CONSUME",
    "LOG_SYSTEM",
    "MAX_ID",
    "PLUGIN_API_VERSION",
    "ROLE_ADMIN",
    "ROLE_ROOT",
    "ROLE_USER",
    "Adaptor",
    "ApiError",
    "Bill",
    "ChannelRecord",
    "ChannelType",
    "ConfigField",
    "DialectSQL",
    "Hold",
    "Inbound",
    "Job",
    "ModelApp",
    "ModelPrices",
    "OptionSpec",
    "PaymentError",
    "PaymentNotice",
    "PaymentProvider",
    "Price",
    "RelayContext",
    "RelayError",
    "RelayMode",
    "RelayResult",
    "Services",
    "TokenRecord",
    "Usage",
    "UpstreamTimeouts",
    "UserRecord",
    "allow_cors",
    "current_services",
    "current_user",
    "error_from_upstream",
    "event_data",
    "hookimpl",
    "int_arg",
    "iter_data",
    "iter_events",
    "money_text",
    "ok",
    "page_params",
    "relay_request",
    "require_role",
    "str_arg",
]
