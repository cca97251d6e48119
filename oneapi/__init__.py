"""oneapi: a plugin-based, OpenAI-compatible LLM API gateway.

Plugins import from here: ``from oneapi import hookimpl, Adaptor, ChannelType``.
"""

from __future__ import annotations

from .adaptor import Adaptor, RelayResult, error_from_upstream
from .cors import allow_cors
from .hookspecs import hookimpl
from .ledger import Bill
from .registry import (
    ChannelType,
    ConfigField,
    Job,
    ModelPrices,
    OptionSpec,
    PaymentProvider,
)
from .relay.context import ChannelRecord, RelayContext, RelayError, Usage
from .relay.controller import relay as relay_request
from .relay.inbound import Inbound
from .relay.sse import event_data, iter_data, iter_events

__version__ = "0.1.0"

__all__ = [
    "Adaptor",
    "Bill",
    "ChannelRecord",
    "ChannelType",
    "ConfigField",
    "Inbound",
    "Job",
    "ModelPrices",
    "OptionSpec",
    "PaymentProvider",
    "RelayContext",
    "RelayError",
    "RelayResult",
    "Usage",
    "__version__",
    "allow_cors",
    "error_from_upstream",
    "event_data",
    "iter_data",
    "iter_events",
    "hookimpl",
    "relay_request",
]
