"""Client wire formats other than OpenAI's (another vendor's chat API), converted at the edge.

A plugin subclasses ``Inbound`` and serves its route with ``relay("chat", inbound=...)``:
the core then relays an OpenAI chat request to any channel and converts the answer back.
An adaptor listing the format in ``native_inbound`` receives the client's original payload
(``ctx.inbound_payload``) and answers in the client's format itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from ..adaptor import RelayResult
    from .context import RelayContext, RelayError

__all__ = ["Inbound"]


class Inbound:
    """Converts one client format to OpenAI chat and back."""

    name: str = ""

    def to_openai(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The client's request as an OpenAI chat payload; RelayError 400 when malformed."""
        raise NotImplementedError("The 'to_openai' method must be implemented.")

    def result(self, ctx: RelayContext, result: RelayResult) -> RelayResult:
        """An OpenAI chat completion as the client's response."""
        raise NotImplementedError("The 'result' method must be implemented.")

    def stream(self, ctx: RelayContext, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """OpenAI chat.completion.chunk SSE as the client's stream."""
        raise NotImplementedError("The 'stream' method must be implemented.")

    def error_body(self, err: RelayError, request_id: str) -> bytes:
        """An error in the client's shape (default: OpenAI's)."""
        return orjson.dumps(err.body(request_id))
