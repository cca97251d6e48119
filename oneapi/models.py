"""Tables and columns of One API (plus the fork's ``top_ups``; plugins own their tables).

Names and meanings follow One API so that SQL_DSN may point at an existing One API database.
"""

from __future__ import annotations

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


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=191, unique=True)
    password = fields.CharField(max_length=255, default="")
    display_name = fields.CharField(max_length=191, default="", db_index=True)
    role = fields.IntField(default=ROLE_USER)
    status = fields.IntField(default=USER_ENABLED)
    email = fields.CharField(max_length=191, default="", db_index=True)
    github_id = fields.CharField(max_length=191, default="", db_index=True)
    wechat_id = fields.CharField(max_length=191, default="", db_index=True)
    lark_id = fields.CharField(max_length=191, default="", db_index=True)
    oidc_id = fields.CharField(max_length=191, default="", db_index=True)
    access_token = fields.CharField(max_length=32, unique=True, null=True)
    quota = fields.BigIntField(default=0)
    used_quota = fields.BigIntField(default=0)
    request_count = fields.IntField(default=0)
    group = fields.CharField(max_length=32, default="default")
    aff_code = fields.CharField(max_length=32, unique=True, null=True)
    inviter_id = fields.IntField(default=0, db_index=True)

    class Meta:
        table = "users"


class Token(Model):
    id = fields.IntField(primary_key=True)
    user_id = fields.IntField(db_index=True)
    key = fields.CharField(max_length=48, unique=True)
    status = fields.IntField(default=TOKEN_ENABLED)
    name = fields.CharField(max_length=191, default="", db_index=True)
    created_time = fields.BigIntField(default=0)
    accessed_time = fields.BigIntField(default=0)
    expired_time = fields.BigIntField(default=-1)
    remain_quota = fields.BigIntField(default=0)
    unlimited_quota = fields.BooleanField(default=False)
    used_quota = fields.BigIntField(default=0)
    models = fields.TextField(null=True)
    subnet = fields.CharField(max_length=255, default="", null=True)

    class Meta:
        table = "tokens"


class Channel(Model):
    id = fields.IntField(primary_key=True)
    type = fields.IntField(default=0)
    key = fields.TextField()
    status = fields.IntField(default=CHANNEL_ENABLED)
    name = fields.CharField(max_length=191, default="", db_index=True)
    weight = fields.IntField(default=0, null=True)
    created_time = fields.BigIntField(default=0)
    test_time = fields.BigIntField(default=0)
    response_time = fields.IntField(default=0)
    base_url = fields.CharField(max_length=255, default="", null=True)
    other = fields.TextField(null=True)
    balance = fields.FloatField(default=0)
    balance_updated_time = fields.BigIntField(default=0)
    models = fields.TextField(null=True)
    group = fields.CharField(max_length=32, default="default")
    used_quota = fields.BigIntField(default=0)
    model_mapping = fields.CharField(max_length=1024, default="", null=True)
    priority = fields.BigIntField(default=0, null=True)
    config = fields.TextField(null=True)
    system_prompt = fields.TextField(null=True)
    openai_organization = fields.CharField(max_length=191, null=True)
    status_reason = fields.CharField(max_length=255, default="", null=True)

    class Meta:
        table = "channels"


class Log(Model):
    id = fields.IntField(primary_key=True)
    user_id = fields.IntField(db_index=True)
    token_id = fields.IntField(default=0, null=True)  # null: rows written by others
    created_at = fields.BigIntField(db_index=True)
    type = fields.IntField(db_index=True)
    content = fields.TextField(null=True)
    username = fields.CharField(max_length=191, default="", db_index=True)
    token_name = fields.CharField(max_length=191, default="", db_index=True)
    model_name = fields.CharField(max_length=191, default="", db_index=True)
    quota = fields.BigIntField(default=0)
    prompt_tokens = fields.IntField(default=0)
    completion_tokens = fields.IntField(default=0)
    channel_id = fields.IntField(default=0, db_index=True)
    request_id = fields.CharField(max_length=64, default="", db_index=True)
    elapsed_time = fields.BigIntField(default=0)
    is_stream = fields.BooleanField(default=False)
    system_prompt_reset = fields.BooleanField(default=False)

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
    user_id = fields.IntField(default=0)
    key = fields.CharField(max_length=32, unique=True)
    status = fields.IntField(default=REDEMPTION_ENABLED)
    name = fields.CharField(max_length=191, default="", db_index=True)
    quota = fields.BigIntField(default=100)
    created_time = fields.BigIntField(default=0)
    redeemed_time = fields.BigIntField(default=0)

    class Meta:
        table = "redemptions"


class Option(Model):
    key = fields.CharField(max_length=191, primary_key=True)
    value = fields.TextField(null=True)

    class Meta:
        table = "options"


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

