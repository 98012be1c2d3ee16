"""PostgreSQL: a stored tsvector column instead of an expression index, so matching a
row costs no parsing at query time and the planner has statistics for the words."""

from django.db import migrations

PG_UP = [
    "DROP INDEX IF EXISTS core_searchentry_fts",
    "ALTER TABLE core_searchentry ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || body)) STORED",
    "CREATE INDEX core_searchentry_vector ON core_searchentry USING gin (search_vector)",
]
PG_DOWN = [
    "DROP INDEX IF EXISTS core_searchentry_vector",
    "ALTER TABLE core_searchentry DROP COLUMN IF EXISTS search_vector",
    "CREATE INDEX core_searchentry_fts ON core_searchentry "
    "USING gin (to_tsvector('simple', title || ' ' || body))",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in PG_UP:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in PG_DOWN:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("core", "0003_search_index")]
    operations = [migrations.RunPython(forwards, backwards)]
