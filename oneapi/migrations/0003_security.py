"""Sessions that logout and password changes end (users.session_epoch); short-lived state
shared by workers without Redis (ephemerals)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0002_abilities')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Ephemeral',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=191)),
                ('value', fields.TextField(unique=False)),
                ('expires_at', fields.BigIntField(db_index=True)),
            ],
            options={'table': 'ephemerals', 'app': 'models', 'pk_attr': 'key', 'table_description': 'Short-lived state every worker and node must see (email codes, failed-login counts)'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='session_epoch',
            field=fields.CharField(null=True, max_length=32),
        ),
    ]
