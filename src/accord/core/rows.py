"""Rows read and written in bulk, by SQL built once.

Append-only rows written on every save (change log, search entries): one INSERT
whose text is built once per model and column set.

``Model.objects.create`` compiles its SQL anew on every call, which measured as a
tenth of an API create. These rows have no save() logic and no signal receivers, so
they go in directly; each value still passes through its field's own conversion
(``get_db_prep_save``), so JSON, dates and booleans are stored as the ORM would.

Also: the lookups every API request makes (``fetch_one``), many rows updated by key
in one statement (``update_rows``), the ``__any`` lookup, and ``WriteBehind`` for
batch jobs.
"""

import itertools
import queue
import threading

from django.db import connections, transaction
from django.db.models import Lookup

_sql_cache: dict = {}


def _statement(model, names, connection):
    key = (model, names, connection.vendor)
    cached = _sql_cache.get(key)
    if cached is None:
        meta = model._meta
        fields = tuple(meta.get_field(name) for name in names)
        _require_all(model, fields)
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        # Names come from the model's metadata, quoted; values are bound parameters.
        sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
        cached = (sql, fields)
        _sql_cache[key] = cached
    return cached


def _require_all(model, fields):
    given = {f.attname for f in fields}
    missing = [
        f.attname
        for f in model._meta.concrete_fields
        if not f.primary_key and f.attname not in given
    ]
    if missing:
        raise ValueError(f"{model.__name__}: no value for {', '.join(missing)}")


def insert_row(model, values: dict, using="default") -> None:
    """Insert one row of ``model``; every concrete field but the primary key must be
    given (by attname or name), so nothing is left to a Python-side default."""
    insert_rows(model, [values], using=using)


def insert_rows(model, rows: list, using="default") -> None:
    """Insert rows of ``model`` (dicts with the same keys, as for ``insert_row``) with
    one statement: on PostgreSQL ``INSERT … SELECT FROM unnest(arrays)``, one array
    per column bound on the server (see ``update_rows``); elsewhere a multi-row
    INSERT, its text built once per number of rows."""
    if not rows:
        return
    connection = connections[using]
    names = tuple(rows[0])
    sql, fields = _statement(model, names, connection)
    if len(rows) > 1 and connection.vendor == "postgresql":
        _insert_arrays(model, names, fields, rows, connection)
        return
    if len(rows) > 1:
        key = (model, names, connection.vendor, len(rows))
        many = _sql_cache.get(key)
        if many is None:
            one = sql[sql.index(" VALUES ") + len(" VALUES ") :]
            many = sql + ", " + ", ".join([one] * (len(rows) - 1))
            _sql_cache[key] = many
        sql = many
    pairs = list(zip(names, fields, strict=True))
    params = [f.get_db_prep_save(values[n], connection) for values in rows for n, f in pairs]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _insert_arrays(model, names, fields, rows, connection):
    key = (model, "insert-arrays", names)
    sql = _sql_cache.get(key)
    if sql is None:
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in fields)
        arrays = ", ".join(f"%b::{f.db_type(connection)}[]" for f in fields)
        # Names come from the model's metadata, quoted; values are bound arrays.
        sql = f"INSERT INTO {qn(model._meta.db_table)} ({columns}) SELECT * FROM unnest({arrays})"  # noqa: S608
        _sql_cache[key] = sql
    columns = [
        [f.get_db_prep_save(values[n], connection) for values in rows]
        for n, f in zip(names, fields, strict=True)
    ]
    with _bound_cursor(connection) as cursor:
        cursor.execute(sql, columns)


def fetch_one(model, field_name, value, *, join=None, using="default"):
    """The row of ``model`` whose unique ``field_name`` equals ``value`` as an
    instance (None if there is none), with the row of the foreign key ``join``
    loaded alongside, through a SELECT whose text is built once: for the lookups every
    API request makes (its token and user, the customers and services it names).
    ``value`` must already be of the field's type."""
    connection = connections[using]
    key = (model, field_name, join, connection.vendor)
    cached = _sql_cache.get(key)
    if cached is None:
        cached = _select(model, field_name, join, connection)
        _sql_cache[key] = cached
    sql, where_field, parts = cached
    with connection.cursor() as cursor:
        cursor.execute(sql, [where_field.get_db_prep_value(value, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    instances, offset = [], 0
    for part_model, names, cols in parts:
        values = list(row[offset : offset + len(cols)])
        offset += len(cols)
        for i, col in enumerate(cols):
            for convert in connection.ops.get_db_converters(col) + col.get_db_converters(
                connection
            ):
                values[i] = convert(values[i], col, connection)
        instances.append(part_model.from_db(using, names, values))
    obj = instances[0]
    if join is not None:
        setattr(obj, join, instances[1])
    return obj


def _select(model, field_name, join, connection):
    qn = connection.ops.quote_name
    meta = model._meta
    where_field = meta.pk if field_name == "pk" else meta.get_field(field_name)
    models_ = [(model, "t")]
    if join is not None:
        models_.append((meta.get_field(join).related_model, "j"))
    columns, parts = [], []
    for part_model, alias in models_:
        fields = part_model._meta.concrete_fields
        columns += [f"{alias}.{qn(f.column)}" for f in fields]
        parts.append((part_model, [f.attname for f in fields], [f.get_col(alias) for f in fields]))
    # Names come from the models' metadata, quoted; the value is a bound parameter.
    sql = f"SELECT {', '.join(columns)} FROM {qn(meta.db_table)} t"  # noqa: S608
    if join is not None:
        fk = meta.get_field(join)
        target = fk.related_model._meta
        sql += (
            f" JOIN {qn(target.db_table)} j ON j.{qn(fk.target_field.column)} = t.{qn(fk.column)}"
        )
    sql += f" WHERE t.{qn(where_field.column)} = %s"
    return sql, where_field, parts


def fetch_by_pk(model, pk, using="default"):
    """``fetch_one`` by primary key."""
    return fetch_one(model, "pk", pk, using=using)


def update_rows(model, names, rows, using="default") -> None:
    """Set ``names`` on many rows by primary key: ``rows`` is a list of
    (pk, {name: value}); each value goes through its field's conversion.

    On PostgreSQL one ``UPDATE … FROM unnest(arrays)``: a parameter per column, bound
    on the server, so the statement's text is the same whatever the number of rows
    (a text with thousands of placeholders, or of quoted values, costs more on the
    client than the update takes on the server). Elsewhere one
    ``UPDATE … FROM (VALUES …)`` per slice of rows, its text built once per slice
    size."""
    if not rows:
        return
    connection = connections[using]
    names = tuple(names)
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in names)
    if connection.vendor == "postgresql" and len(rows) > 1:
        _update_arrays(model, names, fields, rows, connection)
        return
    per_row = len(fields) + 1
    limit = max(1, min(500, 999 // per_row))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), limit):
            part = rows[start : start + limit]
            sql = _update_sql(model, names, fields, len(part), connection)
            params = []
            for pk, values in part:
                converted = [
                    f.get_db_prep_save(values[n], connection)
                    for n, f in zip(names, fields, strict=True)
                ]
                # One row: SET the values WHERE the key; several: (key, values) rows.
                params += [*converted, pk] if len(part) == 1 else [pk, *converted]
            cursor.execute(sql, params)


def _update_sql(model, names, fields, count, connection):
    key = (model, "update", names, connection.vendor, count)
    sql = _sql_cache.get(key)
    if sql is None:
        meta = model._meta
        qn = connection.ops.quote_name
        table = qn(meta.db_table)
        if count == 1:
            sets = ", ".join(f"{qn(f.column)} = %s" for f in fields)
            # Names come from the model's metadata, quoted; values are bound parameters.
            sql = f"UPDATE {table} SET {sets} WHERE {qn(meta.pk.column)} = %s"  # noqa: S608
        else:
            row = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
            sets = ", ".join(f"{qn(f.column)} = v.column{i + 2}" for i, f in enumerate(fields))
            sql = (
                f"UPDATE {table} SET {sets} FROM (VALUES {', '.join([row] * count)}) AS v "  # noqa: S608
                f"WHERE {table}.{qn(meta.pk.column)} = v.column1"
            )
        _sql_cache[key] = sql
    return sql


def _update_arrays(model, names, fields, rows, connection):
    key = (model, "update-arrays", names)
    sql = _sql_cache.get(key)
    if sql is None:
        meta = model._meta
        qn = connection.ops.quote_name
        table = qn(meta.db_table)
        arrays = ", ".join(f"%b::{f.db_type(connection)}[]" for f in (meta.pk, *fields))
        columns = ", ".join(["k", *(f"c{i}" for i in range(len(fields)))])
        sets = ", ".join(f"{qn(f.column)} = v.c{i}" for i, f in enumerate(fields))
        # Names come from the model's metadata, quoted; values are bound arrays.
        sql = (
            f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v({columns}) "  # noqa: S608
            f"WHERE {table}.{qn(meta.pk.column)} = v.k"
        )
        _sql_cache[key] = sql
    columns = [[pk for pk, _ in rows]]
    for name, field in zip(names, fields, strict=True):
        columns.append([field.get_db_prep_save(values[name], connection) for _, values in rows])
    with _bound_cursor(connection) as cursor:
        cursor.execute(sql, columns)


def _bound_cursor(connection):
    """A PostgreSQL cursor that sends the parameters apart from the statement.
    Django's cursors bind on the client, quoting each value into the text, which for
    arrays of thousands of JSON documents costs more than the update itself. Wrapped
    as Django wraps its own (errors translated, queries logged when logging is on)."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(psycopg.Cursor(connection.connection))


class AnyOf(Lookup):
    """``field__any=[…]``: the field is one of the values. Unlike ``__in``, one array
    parameter on PostgreSQL (``= ANY(%s)``), so the statement's text does not grow
    with the list: for jobs that read rows by the thousand. Elsewhere an IN list."""

    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        field = self.lhs.output_field
        return ("%s", [[field.get_db_prep_value(v, connection) for v in value]])

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        _, (values,) = self.process_rhs(compiler, connection)
        if not values:
            return "1 = 0", []
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]


class WriteBehind:
    """Writes made by a second thread, on a connection of its own, while the caller
    reads and computes the next part: for jobs that read, compute and write in
    batches, so the database's work and Python's overlap (the SLA recalculation).

    ``submit(fn, *args)`` queues a call; calls run in order, each in a transaction of
    its own; at most ``depth`` wait, which bounds memory. ``drain()`` waits until all
    have run. A failed call stops the rest and is raised in the caller at its next
    ``submit``, ``drain`` or on leaving the block. Inside a transaction the caller
    holds (a caller's atomic block, or a test's) a second connection could not see
    the caller's rows, so then each call runs at once, in line."""

    def __init__(self, using="default", depth=2):
        self.using = using
        self.depth = depth
        self.error = None
        self.thread = None

    def __enter__(self):
        if not connections[self.using].in_atomic_block:
            self.queue = queue.Queue(maxsize=self.depth)
            self.thread = threading.Thread(target=self._work, name="write-behind", daemon=True)
            self.thread.start()
        return self

    def submit(self, fn, *args):
        if self.thread is None:
            with transaction.atomic(using=self.using):
                fn(*args)
            return
        self._raise()
        self.queue.put((fn, args))

    def drain(self):
        if self.thread is not None:
            self.queue.join()
            self._raise()

    def __exit__(self, exc_type, exc, tb):
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
            if exc is None:
                self._raise()

    def _raise(self):
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _work(self):
        try:
            while True:
                item = self.queue.get()
                try:
                    if item is None:
                        return
                    if self.error is None:
                        fn, args = item
                        with transaction.atomic(using=self.using):
                            fn(*args)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self.error = exc
                finally:
                    self.queue.task_done()
        finally:
            connections[self.using].close()


# Field types stored as the Python value itself, on SQLite and PostgreSQL alike.
_PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "PositiveBigIntegerField",
        "CharField",
        "TextField",
        "SlugField",
        "BooleanField",
    }
)
_MEMO_TYPES = frozenset({"DateTimeField", "DateField"})
_insert_cache: dict = {}
_sqlite_texts: dict = {}


def _plain_field(field):
    if field.is_relation:
        return field.target_field.get_internal_type() in _PLAIN_TYPES
    return field.get_internal_type() in _PLAIN_TYPES


def insert_many(model, rows, using="default"):
    """Rows of one model (dicts with the same keys, every concrete field but an
    auto primary key) written in bulk, for writers of thousands of rows such as an
    import: as ``core.rows.insert_rows``, but on SQLite in multi-row INSERTs within
    its parameter limit, on PostgreSQL through COPY. Values of fields stored as
    given (text, integers, booleans, keys) skip the per-value field conversion,
    which for a wide row costs more than the INSERT; dates and times are converted
    once per distinct value (a batch shares its timestamps); the rest go through
    ``get_db_prep_save``."""
    from django.db import connections

    if not rows:
        return
    connection = connections[using]
    names = tuple(rows[0])
    key = (model, names, connection.vendor)
    cached = _insert_cache.get(key)
    if cached is None:
        meta = model._meta
        fields = tuple(meta.get_field(name) for name in names)
        _require_all(model, fields)
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in fields)
        # Names come from the model's metadata, quoted; values are bound parameters.
        head = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES "  # noqa: S608
        kinds = tuple(
            None
            if _plain_field(f)
            else ("memo" if f.get_internal_type() in _MEMO_TYPES else "each")
            for f in fields
        )
        cached = (head, fields, kinds)
        _insert_cache[key] = cached
    head, fields, kinds = cached
    columns = []
    for name, field, kind in zip(names, fields, kinds, strict=True):
        values = [row[name] for row in rows]
        if kind == "each":
            values = [field.get_db_prep_save(v, connection) for v in values]
        elif kind == "memo":
            memo = {}
            for i, v in enumerate(values):
                if v not in memo:
                    memo[v] = field.get_db_prep_save(v, connection)
                values[i] = memo[v]
        columns.append(values)
    if connection.vendor == "postgresql":
        _copy_rows(connection, model, fields, columns)
        return
    _insert_sqlite(connection, head, len(fields), columns)


def _sqlite_parameter_limit(connection):
    import sqlite3

    connection.ensure_connection()
    try:
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except AttributeError:  # Python before 3.11
        return connection.features.max_query_params or 999


def _insert_sqlite(connection, head, width, columns):
    """SQLite: multi-row INSERTs as large as its parameter limit allows. Run on the
    driver's own cursor with its ``?`` placeholders: the text of a statement with
    thousands of them is built once per size, not rewritten on every call. (Not one
    row per statement: a full-text index flushes its pending terms after each
    statement.)"""
    import sqlite3

    count = len(columns[0])
    size = max(1, _sqlite_parameter_limit(connection) // width)
    one = "(" + ", ".join(["?"] * width) + ")"
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for start in range(0, count, size):
            n = min(size, count - start)
            key = (head, n)
            sql = _sqlite_texts.get(key)
            if sql is None:
                sql = _sqlite_texts[key] = head + ", ".join([one] * n)
            part = zip(*(c[start : start + n] for c in columns), strict=True)
            with connection.wrap_database_errors:
                sqlite3.Cursor.execute(raw, sql, list(itertools.chain.from_iterable(part)))


def _copy_rows(connection, model, fields, columns):
    """PostgreSQL: COPY … FROM STDIN, in the caller's transaction. A multi-row INSERT
    of thousands of rows costs more to quote on the client and to parse on the server
    than the rows take to store."""
    qn = connection.ops.quote_name
    names = ", ".join(qn(f.column) for f in fields)
    # Names come from the model's metadata, quoted; the rows travel as COPY data.
    sql = f"COPY {qn(model._meta.db_table)} ({names}) FROM STDIN"
    with connection.cursor() as cursor:
        with connection.wrap_database_errors:
            with cursor.cursor.copy(sql) as copy:
                for row in zip(*columns, strict=True):
                    copy.write_row(row)
