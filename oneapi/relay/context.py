"""One typed record per relayed request, and the plain cached records it refers to."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .inbound import Inbound

__all__ = [
    "ChannelRecord",
    "Price",
    "RelayContext",
    "RelayError",
    "TokenRecord",
    "Usage",
    "UserRecord",
]


@dataclass(frozen=True, slots=True)
class Price:
    """What one model costs for one group: a ratio pair or a fixed per-call price."""

    model_ratio: float
    completion_ratio: float
    group_ratio: float
    per_call_usd: float | None = None


@dataclass(slots=True)
class TokenRecord:
    """A token as the hot path needs it (cached; quota is only advisory here)."""

    id: int
    user_id: int
    key: str
    name: str
    status: int
    expired_time: int
    remain_quota: int
    unlimited_quota: bool
    models: frozenset[str] | None
    subnets: tuple[Any, ...]


@dataclass(slots=True)
class UserRecord:
    """A user as the hot path needs it (cached)."""

    id: int
    username: str
    role: int
    status: int
    group: str
    quota: int


@dataclass(slots=True)
class ChannelRecord:
    """A channel as selection and the adaptors need it (cached)."""

    id: int
    type: int
    name: str
    key: str
    status: int
    base_url: str
    models: tuple[str, ...]
    groups: tuple[str, ...]
    model_mapping: dict[str, str]
    priority: int
    weight: int
    config: dict[str, Any]
    other: str
    system_prompt: str
    organization: str


@dataclass(slots=True)
class Usage:
    """Token usage of one request, in OpenAI's terms."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RelayError(Exception):
    """An error answered to the client in OpenAI's shape ``{"error": {...}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "one_api_error",
        code: str | int | None = None,
        param: str | None = None,
        *,
        retryable: bool = False,
        disable_channel: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.retryable = retryable
        self.disable_channel = disable_channel

    def body(self, request_id: str = "") -> dict[str, Any]:
        message = f"{self.message} (request id: {request_id})" if request_id else self.message
        return {"error": {"message": message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass(slots=True)
class RelayContext:
    """Everything known about one relayed request, passed to adaptors and hooks."""

    request_id: str
    mode: str
    endpoint: str
    token: TokenRecord
    user: UserRecord
    model: str
    body: bytes
    content_type: str
    payload: dict[str, Any] | None = None
    form: dict[str, str] | None = None
    is_stream: bool = False
    channel: ChannelRecord | None = None
    upstream_model: str = ""
    client_wants_usage: bool = False
    prompt_tokens: int = 0
    usage: Usage | None = None
    completion_text: list[str] = field(default_factory=list)
    completion_events: list[bytes] = field(default_factory=list)  # raw SSE, read only without usage
    completion_events_size: int = 0
    delivered: bool = False
    started: float = field(default_factory=time.monotonic)
    price: Price | None = None  # what the charge is computed with, named in the consume log
    quota_for: Callable[[Usage], int] | None = None  # the core's formula for this request
    raw_body: bytes | None = None  # the client's JSON body, forwarded as is while unchanged
    inbound: Inbound | None = None  # the non-OpenAI format the client spoke, if any
    inbound_payload: dict[str, Any] | None = None  # the client's request in that format
    system_prompt_reset: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # plugins' own notes; the core reads none

    @property
    def group(self) -> str:
        return self.user.group
