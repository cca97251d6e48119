"""The ``abilities`` table, One API's (group, model) -> channel index, kept by the core in raw
SQL (no model: its key is the three columns). ``IF NOT EXISTS``: One API made it already."""

from tortoise import migrations

from oneapi.schema import DialectSQL

_COLUMNS = ('"group" VARCHAR(32) NOT NULL, model VARCHAR(191) NOT NULL, channel_id {int} NOT NULL, '
            'enabled {bool}, priority BIGINT DEFAULT 0, PRIMARY KEY ("group", model, channel_id)')


class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        DialectSQL(
            {
                "sqlite": "CREATE TABLE IF NOT EXISTS abilities ("
                + _COLUMNS.format(int="INTEGER", bool="BOOLEAN") + ")",
                "postgres": "CREATE TABLE IF NOT EXISTS abilities ("
                + _COLUMNS.format(int="BIGINT", bool="BOOLEAN") + ")",
                "mysql": "CREATE TABLE IF NOT EXISTS abilities ("
                + _COLUMNS.format(int="BIGINT", bool="TINYINT(1)").replace('"', "`") + ")",
            },  # no reverse: a downgrade must not drop One API's table
        ),
    ]
