from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Note',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(default='', max_length=100)),
                ('created_at', fields.BigIntField(default=0)),
            ],
            options={'table': 'schema_notes', 'app': 'schema_test', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
