from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Midjourney',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.IntField(default=0)),
                ('user_id', fields.IntField(db_index=True)),
                ('token_id', fields.IntField(default=0)),
                ('action', fields.CharField(default='', db_index=True, max_length=40)),
                ('mj_id', fields.CharField(default='', db_index=True, max_length=191)),
                ('task_id', fields.CharField(null=True, unique=True, max_length=64)),
                ('prompt', fields.TextField(null=True, unique=False)),
                ('prompt_en', fields.TextField(null=True, unique=False)),
                ('description', fields.TextField(null=True, unique=False)),
                ('state', fields.TextField(null=True, unique=False)),
                ('submit_time', fields.BigIntField(default=0, db_index=True)),
                ('start_time', fields.BigIntField(default=0)),
                ('finish_time', fields.BigIntField(default=0)),
                ('image_url', fields.TextField(null=True, unique=False)),
                ('status', fields.CharField(default='', db_index=True, max_length=20)),
                ('progress', fields.CharField(default='', max_length=30)),
                ('fail_reason', fields.TextField(null=True, unique=False)),
                ('channel_id', fields.IntField(default=0)),
                ('quota', fields.BigIntField(default=0)),
                ('buttons', fields.TextField(null=True, unique=False)),
                ('properties', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'midjourneys', 'app': 'midjourney', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
