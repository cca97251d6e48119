"""The tortoise CLI's configuration for this app (the database is never opened by makemigrations)."""

TORTOISE_ORM = {
    "connections": {"default": "sqlite://:memory:"},
    "apps": {"schema_test": {"models": ["tests.schema_app.models"], "migrations": "tests.schema_app.migrations"}},
}
