"""The reference-number allocator: INC0000001, REQ0000001, ...

Never gives the same number twice, even under concurrent creates. On PostgreSQL each
prefix has a real database sequence (no lock held until commit); on SQLite the
counter row is bumped with UPDATE ... RETURNING inside the caller's write transaction,
which SQLite's single writer serialises. A rolled-back create leaves a gap, never a
duplicate; the number column's unique constraint is the last guard.
"""

import re

from django.db import connection, transaction

_PREFIX = re.compile(r"^[A-Z]{2,8}$")


def _pg_sequence(prefix: str) -> str:
    return f"accord_ref_{prefix.lower()}"


def ensure_sequences(using="default", **kwargs):
    """post_migrate: make the PostgreSQL sequence of every numbered record type."""
    from django.apps import apps
    from django.db import connections

    from .records import NumberedRecord

    conn = connections[using]
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cursor:
        for model in apps.get_models():
            if issubclass(model, NumberedRecord) and _PREFIX.match(model.number_prefix):
                cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {_pg_sequence(model.number_prefix)}")


def number_expression(prefix: str, width: int):
    """PostgreSQL: the next reference as an SQL expression for the INSERT itself, so
    drawing the number costs no round trip of its own."""
    from django.db.models import CharField
    from django.db.models.expressions import RawSQL

    if not _PREFIX.match(prefix):
        raise ValueError(f"bad reference prefix {prefix!r}")
    return RawSQL(
        "(SELECT %s || lpad(n::text, greatest(%s, length(n::text)), '0') FROM nextval(%s) n)",
        (prefix, width, _pg_sequence(prefix)),
        output_field=CharField(),
    )


def _pg_next(prefix: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [_pg_sequence(prefix)])
        return cursor.fetchone()[0]


def _sqlite_next(prefix: str) -> int:
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_referencesequence SET last_value = last_value + 1 "
            "WHERE prefix = %s RETURNING last_value",
            [prefix],
        )
        row = cursor.fetchone()
        if row is None:
            cursor.execute(
                "INSERT INTO core_referencesequence (prefix, last_value) VALUES (%s, 1) "
                "ON CONFLICT (prefix) DO UPDATE SET last_value = last_value + 1 "
                "RETURNING last_value",
                [prefix],
            )
            row = cursor.fetchone()
        return row[0]


def next_number(prefix: str) -> int:
    if not _PREFIX.match(prefix):
        raise ValueError(f"bad reference prefix {prefix!r}")
    if connection.vendor == "postgresql":
        return _pg_next(prefix)
    return _sqlite_next(prefix)
