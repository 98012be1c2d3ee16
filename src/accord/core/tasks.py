"""Housekeeping jobs of the platform."""

from django.db import connection
from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(hour="3", minute="17"))
def optimize_database():
    """Keep SQLite's query planner statistics current, so it picks the queue indexes as
    tables grow (PostgreSQL's autovacuum does this by itself)."""
    if connection.vendor == "sqlite":
        refresh_sqlite_statistics()


def refresh_sqlite_statistics():
    """ANALYZE on a sample of each index (quick even on millions of rows)."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA analysis_limit=2000")
        cursor.execute("ANALYZE")
