"""Full-text index of SearchEntry: an FTS5 table on SQLite, a GIN index on PostgreSQL."""

from django.db import migrations

SQLITE_UP = [
    "CREATE VIRTUAL TABLE core_searchentry_fts USING fts5("
    "title, body, content='core_searchentry', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER core_searchentry_ai AFTER INSERT ON core_searchentry BEGIN "
    "INSERT INTO core_searchentry_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER core_searchentry_ad AFTER DELETE ON core_searchentry BEGIN "
    "INSERT INTO core_searchentry_fts(core_searchentry_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER core_searchentry_au AFTER UPDATE OF title, body ON core_searchentry BEGIN "
    "INSERT INTO core_searchentry_fts(core_searchentry_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO core_searchentry_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS core_searchentry_au",
    "DROP TRIGGER IF EXISTS core_searchentry_ad",
    "DROP TRIGGER IF EXISTS core_searchentry_ai",
    "DROP TABLE IF EXISTS core_searchentry_fts",
]
PG_UP = [
    "CREATE INDEX core_searchentry_fts ON core_searchentry "
    "USING gin (to_tsvector('simple', title || ' ' || body))",
]
PG_DOWN = ["DROP INDEX IF EXISTS core_searchentry_fts"]


def forwards(apps, schema_editor):
    statements = SQLITE_UP if schema_editor.connection.vendor == "sqlite" else PG_UP
    for sql in statements:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    statements = SQLITE_DOWN if schema_editor.connection.vendor == "sqlite" else PG_DOWN
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
