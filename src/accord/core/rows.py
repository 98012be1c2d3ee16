"""Rows read and written in bulk, by SQL built once.

Append-only rows written on every save (change log, search entries): one INSERT
whose text is built once per model and column set.

``Model.objects.create`` compiles its SQL anew on every call, which measured as a
tenth of an API create. These rows have no save() logic and no signal receivers, so
they go in directly; each value still passes through its field's own conversion
(``get_db_prep_save``), so JSON, dates and booleans are stored as the ORM would.

Also: the lookups every API request makes (``fetch_one``), many rows updated by key
in one statement (``update_rows``), the ``__any`` lookup, and for batch jobs:
thousands of rows inserted at once (``insert_many``: COPY on PostgreSQL), rows
looked up by the thousand through an index (``matching``), writes prepared on one
thread and made on another (``deferred``, ``run_all``), and ``WriteBehind``, which
makes them on a second connection, a transaction per call or one for them all.
"""

import contextvars
import datetime
import itertools
import json
import queue
import struct
import threading
from contextlib import contextmanager

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
        _update_arrays(model, names, fields, rows, connection, using)
        return
    per_row = len(fields) + 1
    limit = max(1, min(500, 999 // per_row))
    statements = []
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
        statements.append((sql, params))
    defer(_execute, using, statements)


def _execute(using, statements):
    with connections[using].cursor() as cursor:
        for sql, params in statements:
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


def _update_arrays(model, names, fields, rows, connection, using):
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
    defer(_execute_bound, using, sql, columns)


def _execute_bound(using, sql, params):
    with _bound_cursor(connections[using]) as cursor:
        cursor.execute(sql, params)


def _bound_cursor(connection):
    """A PostgreSQL cursor that sends the parameters apart from the statement.
    Django's cursors bind on the client, quoting each value into the text, which for
    arrays of thousands of JSON documents costs more than the update itself. Wrapped
    as Django wraps its own (errors translated, queries logged when logging is on)."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(psycopg.Cursor(connection.connection))


def matching(model, field_name, values, names=("pk",), *, nonempty=False, using="default"):
    """The rows of ``model`` whose ``field_name`` is one of ``values``, as tuples of
    the fields ``names``, in no particular order; ``nonempty`` leaves out the rows
    where it is "" (as an index that holds only the others does).

    For jobs that look rows up by the thousand in a table they are filling (an
    import). On PostgreSQL the values are one array that reaches the condition
    through a subquery, so the planner cannot see its length, reckons with a few
    values and reads the field's index (one scan for all of them). ``field =
    ANY(array)`` with a long array in sight, on a table without statistics yet (one
    filled by a running transaction), makes it reckon the array matches most of the
    table and read all of it, once per batch. Elsewhere ``IN`` lists within SQLite's
    parameter limit. Values come back as stored: meant for keys, text and numbers."""
    connection = connections[using]
    meta = model._meta
    field = meta.pk if field_name == "pk" else meta.get_field(field_name)
    wanted = [field.get_db_prep_value(v, connection) for v in dict.fromkeys(values)]
    if nonempty:
        wanted = [v for v in wanted if v != ""]
    if not wanted:
        return []
    key = (model, "matching", field_name, tuple(names), nonempty, connection.vendor)
    sql = _sql_cache.get(key)
    if sql is None:
        qn = connection.ops.quote_name
        fields = [meta.pk if n == "pk" else meta.get_field(n) for n in names]
        columns = ", ".join(qn(f.column) for f in fields)
        column = qn(field.column)
        blank = f" AND NOT {column} = ''" if nonempty else ""
        table = qn(meta.db_table)
        if connection.vendor == "postgresql":
            array = f"{field.db_type(connection)}[]"
            # Names come from the model's metadata, quoted; the values are one array.
            sql = (
                f"SELECT {columns} FROM {table} "  # noqa: S608
                f"WHERE {column} = ANY((SELECT %s::{array})::{array}){blank}"
            )
        else:
            sql = f"SELECT {columns} FROM {table} WHERE {blank[5:] or '1 = 1'} AND {column} IN "  # noqa: S608
        _sql_cache[key] = sql
    out = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql, [wanted])
            return cursor.fetchall()
        size = max(1, _sqlite_parameter_limit(connection))
        for start in range(0, len(wanted), size):
            part = wanted[start : start + size]
            cursor.execute(sql + "(" + ", ".join(["%s"] * len(part)) + ")", part)
            out += cursor.fetchall()
    return out


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
    batches, so the database's work and Python's overlap (the SLA recalculation, the
    CMDB import).

    ``submit(fn, *args)`` queues a call; calls run in order, in the caller's context
    (its actor) and language; at most ``depth`` wait, which bounds memory. ``call(fn,
    *args)`` runs one after those queued and returns its result: a read that must see
    the writes before it, or take its locks in their transaction. ``drain()`` waits
    until all have run. A failed call stops the rest and is raised in the caller at
    its next ``submit``, ``call``, ``drain`` or on leaving the block.

    Each call runs in a transaction of its own; with ``one_transaction`` all of them
    run in one, committed when the block is left without an error and rolled back
    otherwise (a failed call, or an exception in the caller's block): for a job that
    must be all or nothing. The caller's own connection must not write meanwhile (its
    writes would not be part of that transaction, and on SQLite would wait for its
    lock), and its reads see what was committed before the block, not the writes
    queued here.

    Inside a transaction the caller holds (a caller's atomic block, or a test's) a
    second connection could not see the caller's rows, so then each call runs at once,
    in line: in a savepoint of its own, or with ``one_transaction`` all in one
    savepoint for the block."""

    def __init__(self, using="default", depth=2, *, one_transaction=False):
        self.using = using
        self.depth = depth
        self.one_transaction = one_transaction
        self.error = None
        self.thread = None
        self._atomic = None

    def __enter__(self):
        if connections[self.using].in_atomic_block:
            if self.one_transaction:
                self._atomic = transaction.atomic(using=self.using)
                self._atomic.__enter__()
            return self
        self.queue = queue.Queue(maxsize=self.depth)
        self.thread = threading.Thread(target=self._work, name="write-behind", daemon=True)
        if self.one_transaction:
            # Wait until the transaction is open (on SQLite, its write lock taken).
            self.started = threading.Event()
            self.thread.start()
            self.started.wait()
            if self.error is not None:
                self.thread.join()
                self.thread = None
                self._raise()
        else:
            self.thread.start()
        return self

    def submit(self, fn, *args):
        if self.thread is None:
            self._in_line(fn, args)
            return
        self._raise()
        self.queue.put(_Call(fn, args))

    def call(self, fn, *args):
        if self.thread is None:
            return self._in_line(fn, args)
        self._raise()
        item = _Call(fn, args, wanted=True)
        self.queue.put(item)
        item.done.wait()
        self._raise()
        return item.result

    def drain(self):
        if self.thread is not None:
            self.queue.join()
            self._raise()

    def __exit__(self, exc_type, exc, tb):
        if self._atomic is not None:
            atomic, self._atomic = self._atomic, None
            return atomic.__exit__(exc_type, exc, tb)
        if self.thread is not None:
            self.queue.put(_STOP if exc is None else _ABORT)
            self.thread.join()
            self.thread = None
            if exc is None:
                self._raise()
        return False

    def _in_line(self, fn, args):
        token = _deferred.set(None)  # made now, as on the writer's connection
        try:
            if self.one_transaction:
                return fn(*args)
            with transaction.atomic(using=self.using):
                return fn(*args)
        finally:
            _deferred.reset(token)

    def _raise(self):
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _work(self):
        try:
            if self.one_transaction:
                try:
                    with transaction.atomic(using=self.using):
                        self.started.set()
                        if not self._run_calls() or self.error is not None:
                            raise _Abort
                except _Abort:
                    pass
            else:
                self._run_calls()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            if self.error is None:
                self.error = exc
        finally:
            if self.one_transaction:
                self.started.set()
            connections[self.using].close()

    def _run_calls(self):
        """Run the queued calls until told to stop: True to keep the work, False to
        drop it. After a failure the rest are taken off the queue, not run."""
        while True:
            item = self.queue.get()
            try:
                if item is _STOP or item is _ABORT:
                    return item is _STOP
                if self.error is None:
                    try:
                        if self.one_transaction:
                            item.run()
                        else:
                            with transaction.atomic(using=self.using):
                                item.run()
                    except BaseException as exc:  # noqa: BLE001 - handed to the caller
                        self.error = exc
            finally:
                if item is not _STOP and item is not _ABORT:
                    item.done.set()
                self.queue.task_done()


class _Call:
    """A queued call with the context it was made in."""

    __slots__ = ("fn", "args", "context", "language", "done", "result")

    def __init__(self, fn, args, wanted=False):
        from django.utils import translation

        self.fn, self.args = fn, args
        self.context = contextvars.copy_context()
        self.language = translation.get_language()
        self.done = threading.Event() if wanted else _NO_WAIT
        self.result = None

    def run(self):
        self.context.run(self._run)

    def _run(self):
        from django.utils import translation

        _deferred.set(None)  # in this copy of the caller's context only
        with translation.override(self.language):
            self.result = self.fn(*self.args)


class _NoWait:
    @staticmethod
    def set():
        pass


class _Abort(Exception):
    """Leaves the writer's transaction, rolling it back."""


_NO_WAIT = _NoWait()
_STOP = object()
_ABORT = object()


# --- writes prepared on one thread, made on another ----------------------------------
_deferred: contextvars.ContextVar = contextvars.ContextVar("accord_rows_deferred", default=None)


class _Write:
    __slots__ = ("fn", "args")

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def run(self):
        self.fn(*self.args)


@contextmanager
def deferred():
    """Within this block the bulk writes of this module (``insert_many``,
    ``update_rows``) and those handed to ``defer()`` are prepared (values converted,
    statements and COPY data built) but not made: the block gives the list they are
    added to, and ``run_all()`` makes them later, in order, on the connection of the
    thread it runs on. So a job can do the Python side of its writes on one thread
    while a ``WriteBehind`` makes the previous ones. Reads in the block do not see
    them."""
    writes = []
    token = _deferred.set(writes)
    try:
        yield writes
    finally:
        _deferred.reset(token)


def defer(fn, *args):
    """Call ``fn(*args)``; within ``deferred()``, add the call to its writes."""
    writes = _deferred.get()
    if writes is None:
        fn(*args)
    else:
        writes.append(_Write(fn, args))


def run_all(writes):
    for write in writes:
        write.run()


# --- many rows of one model ---------------------------------------------------------
# How insert_many passes each field's values on: "text", "int" and "bool" as given
# (on SQLite and PostgreSQL alike), "time" (dates and times) converted once per
# distinct value, "json" encoded here, "each" through the field's own conversion.
_KINDS = {
    "AutoField": "int",
    "BigAutoField": "int",
    "SmallAutoField": "int",
    "IntegerField": "int",
    "BigIntegerField": "int",
    "SmallIntegerField": "int",
    "PositiveIntegerField": "int",
    "PositiveSmallIntegerField": "int",
    "PositiveBigIntegerField": "int",
    "CharField": "text",
    "TextField": "text",
    "SlugField": "text",
    "BooleanField": "bool",
    "DateTimeField": "time",
    "DateField": "time",
    "JSONField": "json",
}
_insert_cache: dict = {}
_sqlite_texts: dict = {}
# COPY's text format: a backslash, tab, newline or carriage return in a value is
# written as an escape; NULL as \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"
# JSON as json.dumps writes it by default (the cycle check left out).
_json_encode = json.JSONEncoder(check_circular=False).encode


def _kind(field):
    if field.is_relation:
        field = field.target_field
    return _KINDS.get(field.get_internal_type(), "each")


def _json_encoder(field):
    if field.encoder is None:
        return _json_encode
    return field.encoder().encode  # as json.dumps(value, cls=encoder)


def insert_many(model, rows, using="default"):
    """Rows of one model (dicts with the same keys, every concrete field but an
    auto primary key) written in bulk, for writers of thousands of rows such as an
    import: as ``core.rows.insert_rows``, but on SQLite in multi-row INSERTs within
    its parameter limit, on PostgreSQL through COPY, its data built here as text.
    Values of fields stored as given (text, integers, booleans, keys) skip the
    per-value field conversion, which for a wide row costs more than the INSERT;
    dates and times are converted once per distinct value (a batch shares its
    timestamps); JSON is encoded as ``json.dumps`` (or the field's encoder) would;
    the rest go through ``get_db_prep_save``. Within ``deferred()`` the rows are
    prepared here and written later."""
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
        kinds = tuple(_kind(f) for f in fields)
        if connection.vendor == "postgresql":
            # Names come from the model's metadata, quoted; the rows travel as COPY data.
            head = f"COPY {qn(meta.db_table)} ({columns}) FROM STDIN"
            formats = tuple(_binary_format(f, connection) for f in fields)
            if None in formats:
                formats = None
        else:
            # Names come from the model's metadata, quoted; values are bound parameters.
            head = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES "  # noqa: S608
            formats = None
        cached = (head, fields, kinds, formats)
        _insert_cache[key] = cached
    head, fields, kinds, formats = cached
    if formats is not None:
        try:
            data = _binary_rows(names, fields, formats, rows, connection)
        except (_NotBinary, struct.error, TypeError):
            pass  # a value of another type than its column's: COPY's text format
        else:
            defer(_copy_data, using, head + " (FORMAT binary)", data)
            return
    as_text = connection.vendor == "postgresql" and "each" not in kinds
    columns = []
    for name, field, kind in zip(names, fields, kinds, strict=True):
        values = [row[name] for row in rows]
        if as_text:
            values = _copy_column(values, field, kind, connection)
        elif kind == "json":
            encode = _json_encoder(field)
            values = [None if v is None else encode(v) for v in values]
        elif kind == "each":
            values = [field.get_db_prep_save(v, connection) for v in values]
        elif kind == "time":
            memo = {}
            for i, v in enumerate(values):
                if v not in memo:
                    memo[v] = field.get_db_prep_save(v, connection)
                values[i] = memo[v]
        columns.append(values)
    if as_text:
        data = "".join([line + "\n" for line in map("\t".join, zip(*columns, strict=True))])
        defer(_copy_data, using, head, data.encode())
    elif connection.vendor == "postgresql":
        defer(_copy_rows, using, head, columns)
    else:
        defer(_insert_sqlite, using, _sqlite_statements(connection, head, len(fields), columns))


# --- COPY's binary format: values as the server stores them, nothing to parse -------
_PACK_INT = {"smallint": struct.Struct("!ih"), "integer": struct.Struct("!ii")}
_PACK_INT["bigint"] = struct.Struct("!iq")
_PACK_LENGTH = struct.Struct("!i").pack
_BINARY_NULL = _PACK_LENGTH(-1)
_BINARY_HEAD = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_BINARY_TAIL = struct.pack("!h", -1)
_EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
_EPOCH_DATE = datetime.date(2000, 1, 1)


class _NotBinary(Exception):
    """A value the binary format is not written for here (a naive time)."""


def _binary_format(field, connection):
    """How a field's values are written in COPY's binary format, from its column
    type; None for a type not handled here."""
    db_type = field.db_type(connection) or ""
    if db_type.startswith("varchar(") or db_type == "text":
        return "text"
    if db_type in _PACK_INT or db_type in ("boolean", "date", "jsonb"):
        return db_type
    if db_type == "timestamp with time zone":
        return "timestamptz"
    return None


def _binary_rows(names, fields, formats, rows, connection):
    columns = []
    for name, field, form in zip(names, fields, formats, strict=True):
        columns.append(_binary_column([row[name] for row in rows], field, form, connection))
    count = struct.pack("!h", len(fields))
    columns[0] = [count + v for v in columns[0]]
    return b"".join([_BINARY_HEAD, *map(b"".join, zip(*columns, strict=True)), _BINARY_TAIL])


def _binary_column(values, field, form, connection):
    """A column's values in COPY's binary format (each with its length)."""
    null, length = _BINARY_NULL, _PACK_LENGTH
    if form == "text":
        out = []
        for v in values:
            if v is None:
                out.append(null)
            else:
                data = (v if type(v) is str else str(v)).encode()
                out.append(length(len(data)) + data)
        return out
    if form in _PACK_INT:
        pack, size = _PACK_INT[form].pack, _PACK_INT[form].size - 4
        return [null if v is None else pack(size, v) for v in values]
    if form == "boolean":
        true, false = length(1) + b"\x01", length(1) + b"\x00"
        return [null if v is None else (true if v else false) for v in values]
    if form == "jsonb":
        encode = _json_encoder(field)
        out = []
        for v in values:
            if v is None:
                out.append(null)
            else:
                data = encode(v).encode()
                out.append(length(len(data) + 1) + b"\x01" + data)
        return out
    # Dates and times, converted once per distinct value: days and microseconds
    # since 2000-01-01 (UTC).
    memo = {None: null}
    out = []
    for v in values:
        data = memo.get(v)
        if data is None:
            data = memo[v] = _binary_time(field.get_db_prep_save(v, connection), form)
        out.append(data)
    return out


def _binary_time(value, form):
    if form == "date":
        if type(value) is not datetime.date:
            raise _NotBinary
        return struct.pack("!ii", 4, (value - _EPOCH_DATE).days)
    if not isinstance(value, datetime.datetime) or value.tzinfo is None:
        raise _NotBinary
    delta = value - _EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return struct.pack("!iq", 8, micros)


def _copy_column(values, field, kind, connection):
    """A column's values in COPY's text format."""
    null = _NULL
    if kind == "int":
        return [null if v is None else str(int(v)) for v in values]
    if kind == "bool":
        return [null if v is None else ("t" if v else "f") for v in values]
    if kind == "text":
        texts = [v if type(v) is str else "" if v is None else str(v) for v in values]
    elif kind == "json":
        encode = _json_encoder(field)
        texts = ["" if v is None else encode(v) for v in values]
    else:  # dates and times, converted once per distinct value
        memo = {None: ""}
        texts = []
        for v in values:
            text = memo.get(v)
            if text is None:
                prepared = field.get_db_prep_save(v, connection)
                text = memo[v] = "" if prepared is None else str(prepared)
            texts.append(text)
    joined = "".join(texts)
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        texts = [text.translate(_COPY_ESCAPES) for text in texts]
    if None in values:
        texts = [null if v is None else text for v, text in zip(values, texts, strict=True)]
    return texts


def _sqlite_parameter_limit(connection):
    import sqlite3

    connection.ensure_connection()
    try:
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except AttributeError:  # Python before 3.11
        return connection.features.max_query_params or 999


def _sqlite_statements(connection, head, width, columns):
    """SQLite: multi-row INSERTs as large as its parameter limit allows, as (text,
    parameters) in the driver's own ``?`` style: the text of a statement with
    thousands of placeholders is built once per size, not rewritten on every call.
    (Not one row per statement: a full-text index flushes its pending terms after
    each statement.)"""
    count = len(columns[0])
    size = max(1, _sqlite_parameter_limit(connection) // width)
    one = "(" + ", ".join(["?"] * width) + ")"
    statements = []
    for start in range(0, count, size):
        n = min(size, count - start)
        key = (head, n)
        sql = _sqlite_texts.get(key)
        if sql is None:
            sql = _sqlite_texts[key] = head + ", ".join([one] * n)
        part = zip(*(c[start : start + n] for c in columns), strict=True)
        statements.append((sql, list(itertools.chain.from_iterable(part))))
    return statements


def _insert_sqlite(using, statements):
    import sqlite3

    connection = connections[using]
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for sql, params in statements:
            with connection.wrap_database_errors:
                sqlite3.Cursor.execute(raw, sql, params)


def _copy_data(using, sql, data):
    """PostgreSQL: COPY … FROM STDIN of data already in the statement's format, in
    the caller's transaction. (A multi-row INSERT of thousands of rows costs more to
    quote on the client and to parse on the server than the rows take to store.)"""
    connection = connections[using]
    with connection.cursor() as cursor:
        with connection.wrap_database_errors:
            with cursor.cursor.copy(sql) as copy:
                copy.write(data)


def _copy_rows(using, sql, columns):
    """PostgreSQL: COPY of values the driver formats (fields of other kinds)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        with connection.wrap_database_errors:
            with cursor.cursor.copy(sql) as copy:
                for row in zip(*columns, strict=True):
                    copy.write_row(row)
