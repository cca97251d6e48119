"""A tortoise app for the migration tests: 0001 creates ``schema_notes``, 0002 adds an index.

Its migrations were written by the tortoise CLI (from the repository root)::

    tortoise -c tests.schema_app.config.TORTOISE_ORM makemigrations schema_test
"""
