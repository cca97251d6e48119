"""The plugin's tortoise app (label ``midjourney``): the ``midjourneys`` table, named and laid
out as in One API's Midjourney forks so that their rows stay readable. A row is a
Midjourney-Proxy task: ``mj_id`` is upstream's id, ``task_id`` the one clients see.

(No class docstring: tortoise stores it as the table's comment, and a migration would follow
each rewording.)
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

__all__ = ["Midjourney"]


class Midjourney(Model):
    id = fields.IntField(primary_key=True)
    code = fields.IntField(default=0)
    user_id = fields.IntField(db_index=True)
    token_id = fields.IntField(default=0)
    action = fields.CharField(max_length=40, default="", db_index=True)
    mj_id = fields.CharField(max_length=191, default="", db_index=True)
    task_id = fields.CharField(max_length=64, null=True, unique=True)
    prompt = fields.TextField(null=True)
    prompt_en = fields.TextField(null=True)
    description = fields.TextField(null=True)
    state = fields.TextField(null=True)
    submit_time = fields.BigIntField(default=0, db_index=True)
    start_time = fields.BigIntField(default=0)
    finish_time = fields.BigIntField(default=0)
    image_url = fields.TextField(null=True)
    status = fields.CharField(max_length=20, default="", db_index=True)
    progress = fields.CharField(max_length=30, default="")
    fail_reason = fields.TextField(null=True)
    channel_id = fields.IntField(default=0)
    quota = fields.BigIntField(default=0)
    buttons = fields.TextField(null=True)
    properties = fields.TextField(null=True)

    class Meta:
        table = "midjourneys"
