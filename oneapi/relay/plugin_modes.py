"""Relay modes a plugin adds (hook ``register_relay_modes``): kinds of /v1 request the core
relays, prices, reserves and settles like its own, for endpoints it does not know (rerank).

The plugin serves the route itself (``register_blueprints``) and calls
``relay_request(mode.name)``; the core authenticates, checks the token's models, prices the
model, counts ``prompt_texts`` with the exact tokenizer, reserves ``reserve``, picks a channel
of a type the mode ``serves`` (by group and model, with retries), sends the request with that
channel's adaptor (``ctx.mode`` and ``ctx.endpoint`` are the mode's, so an OpenAI-format
adaptor posts to ``{base}/v1{endpoint}``), hands the answer to ``answer`` and charges
``quota`` through the ledger with a consume log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..services import current_services
from .context import RelayContext, Usage

if TYPE_CHECKING:
    from ..adaptor import RelayResult
    from ..gateway import Gateway
    from .context import Price

__all__ = ["RelayMode", "final_usage", "prepare"]


class RelayMode:
    """One kind of relay request a plugin adds; subclass it and override what differs."""

    name: str = ""  # ctx.mode; unique, never a core mode's ("chat", "embeddings", ...)
    endpoint: str = ""  # ctx.endpoint: the path after /v1 an OpenAI-format upstream serves it at
    default_model: str = ""  # when the request names none
    # A plugin mode is JSON in, JSON out (the core's modes also know multipart and binary ones).
    multipart = False
    binary_response = False
    token_priced = True

    def serves(self, channel_type: int) -> bool:
        """Whether channels of this type may be sent this mode's requests (others are skipped,
        as a retryable failure, so a channel of another type is tried)."""
        return True

    def check(self, ctx: RelayContext) -> None:
        """Refuse a malformed request with ``RelayError(400, ..., param=...)``."""

    def prompt_texts(self, ctx: RelayContext) -> list[str]:
        """The texts the request's prompt tokens are counted from (``ctx.prompt_tokens``)."""
        return []

    def reserve(self, ctx: RelayContext, price: Price) -> int:
        """The quota held while the request runs (default: the prompt at the model's price)."""
        return current_services().pricing.text_quota(price, Usage(ctx.prompt_tokens))

    def quota(self, ctx: RelayContext, usage: Usage, price: Price) -> int:
        """The quota charged for ``usage`` (default: the core's token formula, or the call price);
        ``calculate_quota`` hooks still have the last word."""
        return current_services().pricing.text_quota(price, usage)

    def answer(self, ctx: RelayContext, result: RelayResult) -> RelayResult:
        """The upstream's successful answer as the client gets it, with the usage to bill
        (``result.usage``; None: the counted prompt)."""
        return result


def prepare(gw: Gateway, ctx: RelayContext, mode: RelayMode, price: Price) -> int:
    """Check and count the request, fix its pricing; the quota to reserve."""
    mode.check(ctx)
    ctx.prompt_tokens = gw.tokenizer.count_input(ctx.model, mode.prompt_texts(ctx))
    ctx.price = price
    ctx.quota_for = lambda usage: mode.quota(ctx, usage, price)
    return mode.reserve(ctx, price)


def final_usage(ctx: RelayContext) -> Usage:
    """The upstream's usage when it gave one, else the counted prompt."""
    if ctx.usage is not None and (ctx.usage.prompt_tokens or ctx.usage.completion_tokens):
        return ctx.usage
    return Usage(ctx.prompt_tokens, 0)
