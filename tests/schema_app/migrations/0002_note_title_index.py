from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('schema_test', '0001_initial')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Note',
            index=Index(fields=['title', 'created_at']),
        ),
    ]
