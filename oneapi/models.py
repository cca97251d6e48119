"""Tables and columns of One API (plus the fork's ``top_ups``; plugins own their tables).

Names and meanings follow One API so that SQL_DSN may point at an existing One API database.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

__all__ = [
    "Channel",
    "Log",
    "LedgerFailure",
    "QuotaHold",
    "Option",
    "Redemption",
    "Token",
    "TopUp",
    "User",
    "ROLE_USER",
    "ROLE_ADMIN",
    "ROLE_ROOT",
]

ROLE_GUEST, ROLE_USER, ROLE_ADMIN, ROLE_ROOT = 0, 1, 10, 100
USER_ENABLED, USER_DISABLED, USER_DELETED = 1, 2, 3
TOKEN_ENABLED, TOKEN_DISABLED, TOKEN_EXPIRED, TOKEN_EXHAUSTED = 1, 2, 3, 4
CHANNEL_UNKNOWN, CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, CHANNEL_AUTO_DISABLED = 0, 1, 2, 3
REDEMPTION_ENABLED, REDEMPTION_DISABLED, REDEMPTION_USED = 1, 2, 3
LOG_TOPUP, LOG_CONSUME, LOG_MANAGE, LOG_SYSTEM, LOG_TEST = 1, 2, 3, 4, 5


class _ZeroForNull:
    """A column of One API's that reads NULL as its type's zero value, as GORM does. A column
    One API's AutoMigrate added to an existing table without a default (users.lark_id,
    channels.balance, logs.channel_id, ...) is NULL in every row older than it; One API shows
    "" or 0 there, and so must the gateway (its API promises strings and numbers, and One API's
    front-end calls ``balance.toFixed``). To migrations these are tortoise's own fields: the
    class names are tortoise's and ``deconstruct`` names tortoise's class, so makemigrations
    sees no change."""

    zero: Any = None
    null: bool

    def to_python_value(self, value: Any) -> Any:
        if value is None and not self.null:
            return self.zero
        return super().to_python_value(value)  # type: ignore[misc]

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        _, args, kwargs = super().deconstruct()  # type: ignore[misc]
        base = next(c for c in type(self).__mro__ if c.__module__.startswith("tortoise."))
        return f"{base.__module__}.{base.__name__}", args, kwargs


class IntField(_ZeroForNull, fields.IntField):
    zero = 0


class BigIntField(_ZeroForNull, fields.BigIntField):
    zero = 0


class BooleanField(_ZeroForNull, fields.BooleanField):
    zero = False


class CharField(_ZeroForNull, fields.CharField):
    zero = ""


class TextField(_ZeroForNull, fields.TextField):  # type: ignore[misc]  # index: Field vs str
    zero = ""


class FloatField(_ZeroForNull, fields.FloatField):
    """Also a float however the column holds it: One API's GORM made ``channels.balance`` a
    ``decimal`` on PostgreSQL, which the driver reads as ``Decimal`` and tortoise passes on
    unconverted (a float is "native"): the API would answer ``"12.5"``, a string."""

    zero = 0.0

    def to_python_value(self, value: Any) -> Any:
        value = super().to_python_value(value)
        return value if value is None or type(value) is float else float(value)


class User(Model):
    id = fields.IntField(primary_key=True)
    username = CharField(max_length=191, unique=True)
    password = CharField(max_length=255, default="")
    display_name = CharField(max_length=191, default="", db_index=True)
    role = IntField(default=ROLE_USER)
    status = IntField(default=USER_ENABLED)
    email = CharField(max_length=191, default="", db_index=True)
    github_id = CharField(max_length=191, default="", db_index=True)
    wechat_id = CharField(max_length=191, default="", db_index=True)
    lark_id = CharField(max_length=191, default="", db_index=True)
    oidc_id = CharField(max_length=191, default="", db_index=True)
    access_token = CharField(max_length=32, unique=True, null=True)
    quota = BigIntField(default=0)
    used_quota = BigIntField(default=0)
    request_count = IntField(default=0)
    group = CharField(max_length=32, default="default")
    aff_code = CharField(max_length=32, unique=True, null=True)
    inviter_id = IntField(default=0, db_index=True)
    # Random; changes on logout and password change, which ends every session made before.
    session_epoch = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "users"


class Token(Model):
    id = fields.IntField(primary_key=True)
    user_id = IntField(db_index=True)
    key = CharField(max_length=48, unique=True)
    status = IntField(default=TOKEN_ENABLED)
    name = CharField(max_length=191, default="", db_index=True)
    created_time = BigIntField(default=0)
    accessed_time = BigIntField(default=0)
    expired_time = BigIntField(default=-1)
    remain_quota = BigIntField(default=0)
    unlimited_quota = BooleanField(default=False)
    used_quota = BigIntField(default=0)
    models = TextField(null=True)
    subnet = CharField(max_length=255, default="", null=True)

    class Meta:
        table = "tokens"


class Channel(Model):
    id = fields.IntField(primary_key=True)
    type = IntField(default=0)
    key = TextField()
    status = IntField(default=CHANNEL_ENABLED)
    name = CharField(max_length=191, default="", db_index=True)
    weight = IntField(default=0, null=True)
    created_time = BigIntField(default=0)
    test_time = BigIntField(default=0)
    response_time = IntField(default=0)
    base_url = CharField(max_length=255, default="", null=True)
    other = TextField(null=True)
    balance = FloatField(default=0)
    balance_updated_time = BigIntField(default=0)
    models = TextField(null=True)
    group = CharField(max_length=32, default="default")
    used_quota = BigIntField(default=0)
    model_mapping = CharField(max_length=1024, default="", null=True)
    priority = BigIntField(default=0, null=True)
    config = TextField(null=True)
    system_prompt = TextField(null=True)
    openai_organization = CharField(max_length=191, null=True)
    status_reason = CharField(max_length=255, default="", null=True)

    class Meta:
        table = "channels"


class Log(Model):
    id = fields.IntField(primary_key=True)
    user_id = IntField(db_index=True)
    token_id = IntField(default=0, null=True)  # null: rows written by others
    created_at = BigIntField(db_index=True)
    type = IntField(db_index=True)
    content = TextField(null=True)
    username = CharField(max_length=191, default="", db_index=True)
    token_name = CharField(max_length=191, default="", db_index=True)
    model_name = CharField(max_length=191, default="", db_index=True)
    quota = BigIntField(default=0)
    prompt_tokens = IntField(default=0)
    completion_tokens = IntField(default=0)
    channel_id = IntField(default=0, db_index=True)
    request_id = CharField(max_length=64, default="", db_index=True)
    elapsed_time = BigIntField(default=0)
    is_stream = BooleanField(default=False)
    system_prompt_reset = BooleanField(default=False)

    class Meta:
        table = "logs"


class QuotaHold(Model):
    """Quota reserved for a request in flight (oneapi/ledger): deleted when it is settled or
    released; ``node`` owns it while its lease is extended."""

    # No index but the key: the table holds only requests in flight, and every index would be
    # written twice per request.
    request_id = fields.CharField(max_length=64, primary_key=True)
    user_id = fields.IntField()
    token_id = fields.IntField(default=0)
    token_amount = fields.BigIntField(default=0)
    amount = fields.BigIntField(default=0)
    node = fields.CharField(max_length=128, default="")
    lease_until = fields.BigIntField(default=0)
    created_at = fields.BigIntField(default=0)

    class Meta:
        table = "quota_holds"


class LedgerFailure(Model):
    """A ledger write that could not be made (its data broke a rule), kept for the operator."""

    id = fields.IntField(primary_key=True)
    request_id = fields.CharField(max_length=64, default="", db_index=True)
    kind = fields.CharField(max_length=16, default="")
    payload = fields.TextField(null=True)
    reason = fields.TextField(null=True)
    created_at = fields.BigIntField(default=0)

    class Meta:
        table = "ledger_failures"


class Redemption(Model):
    id = fields.IntField(primary_key=True)
    user_id = IntField(default=0)
    key = CharField(max_length=32, unique=True)
    status = IntField(default=REDEMPTION_ENABLED)
    name = CharField(max_length=191, default="", db_index=True)
    quota = BigIntField(default=100)
    created_time = BigIntField(default=0)
    redeemed_time = BigIntField(default=0)

    class Meta:
        table = "redemptions"


class Option(Model):
    key = fields.CharField(max_length=191, primary_key=True)
    value = TextField(null=True)

    class Meta:
        table = "options"


class Ephemeral(Model):
    """Short-lived state every worker and node must see (email codes, failed-login counts)
    when no Redis is configured; rows past ``expires_at`` are ignored and swept."""

    key = fields.CharField(max_length=191, primary_key=True)
    value = fields.TextField()
    expires_at = fields.BigIntField(db_index=True)

    class Meta:
        table = "ephemerals"


class TopUp(Model):
    id = fields.IntField(primary_key=True)
    user_id = fields.IntField(db_index=True)
    amount = fields.BigIntField(default=0)
    money = fields.DecimalField(max_digits=12, decimal_places=2, default=0)
    trade_no = fields.CharField(max_length=64, unique=True)
    payment_method = fields.CharField(max_length=32, default="")
    payment_provider = fields.CharField(max_length=32, default="")
    provider_trade_no = fields.CharField(max_length=128, default="")
    status = fields.CharField(max_length=16, default="pending")
    create_time = fields.BigIntField(default=0)
    complete_time = fields.BigIntField(default=0)

    class Meta:
        table = "top_ups"

