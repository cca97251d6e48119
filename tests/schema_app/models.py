"""The app's one table."""

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class Note(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=100, default="")
    created_at = fields.BigIntField(default=0)

    class Meta:
        table = "schema_notes"
        indexes = (Index(fields=("title", "created_at")),)
