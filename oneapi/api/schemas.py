"""Shapes of what /api answers in ``data`` (for /api/openapi.json and the web UI's types).

Named by ``@doc(response=...)``; ``frontend/src/api-types.ts`` is generated from the document
(``scripts/openapi-snapshot.py``, ``npm run gen:api``). ``tests/api/test_response_shapes.py``
checks real answers against these models, so a serializer cannot drift away from them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChannelOut",
    "ChannelTypeOut",
    "ConfigFieldOut",
    "LogOut",
    "LogStatOut",
    "ModelCardOut",
    "OptionItemOut",
    "OptionSpecOut",
    "OrderOut",
    "PayMethodOut",
    "PluginOut",
    "RedemptionOut",
    "StatusOut",
    "TokenOut",
    "TopUpInfoOut",
    "UserOut",
]


class Out(BaseModel):
    """Base of response shapes: every key is listed (an unlisted one fails the shape test)."""

    model_config = ConfigDict(extra="forbid")


class UserOut(Out):
    id: int
    username: str
    display_name: str
    role: int = Field(description="1 user, 10 admin, 100 root")
    status: int = Field(description="1 enabled, 2 disabled, 3 deleted")
    email: str
    github_id: str
    wechat_id: str
    lark_id: str
    oidc_id: str
    quota: int
    used_quota: int
    request_count: int
    group: str
    aff_code: str
    inviter_id: int
    root_password_unchanged: bool | None = Field(
        None, description="GET /api/user/self of root: still the default password"
    )


class TokenOut(Out):
    id: int
    user_id: int
    key: str = Field(description="48 characters, without the sk- prefix")
    status: int = Field(description="1 enabled, 2 disabled, 3 expired, 4 exhausted")
    name: str
    created_time: int
    accessed_time: int
    expired_time: int = Field(description="Unix seconds; -1 never")
    remain_quota: int
    unlimited_quota: bool
    used_quota: int
    models: str = Field(description="allowed models, comma-separated; blank: all")
    subnet: str


class ChannelOut(Out):
    id: int
    type: int
    type_name: str
    key: str = Field(description="masked in lists")
    status: int = Field(description="1 enabled, 2 disabled by hand, 3 disabled automatically")
    status_reason: str
    name: str
    weight: int
    created_time: int
    test_time: int
    response_time: int = Field(description="milliseconds")
    base_url: str
    other: str
    balance: float
    balance_updated_time: int
    models: str
    group: str
    used_quota: int
    model_mapping: str
    priority: int
    config: str = Field(description="JSON object of the type's config fields")
    system_prompt: str
    openai_organization: str


class ConfigFieldOut(Out):
    key: str
    label: str
    label_zh: str
    type: str = Field(description="string, number or bool")
    default: Any = None
    required: bool
    help: str


class ChannelTypeOut(Out):
    id: int
    name: str
    default_base_url: str
    default_models: list[str]
    config_fields: list[ConfigFieldOut]


class ModelCardOut(Out):
    """A model as OpenAI's list shows it (One API's channel editor reads ``id``)."""

    id: str
    object: str = "model"
    created: int
    owned_by: str = Field(description="the channel type that lists it")
    permission: list[Any]
    root: str
    parent: str | None


class LogOut(Out):
    id: int
    user_id: int
    created_at: int
    type: int = Field(description="1 top-up, 2 consume, 3 manage, 4 system, 5 error")
    content: str
    username: str
    token_name: str
    model_name: str
    quota: int
    prompt_tokens: int
    completion_tokens: int
    request_id: str
    elapsed_time: int = Field(description="milliseconds")
    is_stream: bool
    system_prompt_reset: bool
    channel: int | None = Field(None, description="administrators only")
    channel_id: int | None = Field(None, description="administrators only")


class LogStatOut(BaseModel):
    quota: int


class RedemptionOut(Out):
    id: int
    user_id: int
    key: str
    status: int = Field(description="1 enabled, 2 disabled, 3 used")
    name: str
    quota: int
    created_time: int
    redeemed_time: int


class OptionItemOut(Out):
    key: str
    value: str


class OptionSpecOut(Out):
    key: str
    plugin: str = Field(description="the plugin that registered it")
    core: bool = Field(description="registered by the core (not a plugin)")
    default: str = Field(description="blank for secrets")
    secret: bool = Field(description="write-only: its value is never shown")
    type: str = Field(description="string, text, number, bool, json, secret or select")
    label: dict[str, str] = Field(description='by language: {"en": ..., "zh-CN": ...}')
    help: dict[str, str]
    section: str = Field(description="the settings tab")
    group: str = Field(description="the card within the tab")
    choices: list[str]
    minimum: float | None
    maximum: float | None


class PluginOut(Out):
    name: str
    version: str
    provides: list[str] = Field(
        description="what it registers: channel_types, prices, options, routes, jobs, payment"
    )


class PayMethodOut(Out):
    type: str
    name: str
    provider: str
    color: str | None = None
    min_topup: int | None = None


class StatusOut(BaseModel):
    """Public site status; extra keys may appear (plugins, diagnostics)."""

    model_config = ConfigDict(extra="allow")

    version: str
    start_time: int
    system_name: str
    logo: str
    footer_html: str
    server_address: str
    quota_per_unit: float
    display_in_currency: bool
    display_token_stat: bool
    top_up_link: str
    chat_link: str
    email_verification: bool
    github_oauth: bool
    github_client_id: str
    wechat_login: bool
    wechat_qrcode: str = Field(description="image URL of the WeChat official account's QR code")
    lark_client_id: str = Field(description="Lark login is on when this is set")
    oidc: bool
    oidc_client_id: str
    oidc_well_known: str
    oidc_authorization_endpoint: str
    oidc_token_endpoint: str
    oidc_userinfo_endpoint: str
    turnstile_check: bool
    turnstile_site_key: str
    register_enabled: bool
    password_login_enabled: bool
    password_register_enabled: bool
    root_password_unchanged: bool
    pay_methods: list[PayMethodOut]
    min_topup: int
    enable_online_topup: bool = Field(description="some payment method is offered")
    plugins: list[PluginOut] = Field(description="the loaded plugins (not the core)")
    # New API's names (its front-end reads them); features not here are reported off
    oidc_enabled: bool
    price: float
    usd_exchange_rate: float
    quota_display_type: str
    enable_drawing: bool
    enable_task: bool
    setup: bool


class TopUpInfoOut(Out):
    enable_online_topup: bool
    pay_methods: list[PayMethodOut]
    min_topup: int
    price: str
    group_ratio: float
    quota_per_unit: float


class OrderOut(Out):
    id: int
    user_id: int
    amount: int = Field(description="USD of quota")
    money: float = Field(description="what was paid, in the provider's currency")
    trade_no: str
    payment_method: str
    payment_provider: str
    provider_trade_no: str
    status: str = Field(description="pending, success, failed or expired")
    create_time: int
    complete_time: int


