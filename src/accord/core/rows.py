"""Append-only rows written on every save (change log, search entries): one INSERT
whose text is built once per model and column set.

``Model.objects.create`` compiles its SQL anew on every call, which measured as a
tenth of an API create. These rows have no save() logic and no signal receivers, so
they go in directly; each value still passes through its field's own conversion
(``get_db_prep_save``), so JSON, dates and booleans are stored as the ORM would.
"""

from django.db import connections

_sql_cache: dict = {}


def _statement(model, names, connection):
    key = (model, names, connection.vendor)
    cached = _sql_cache.get(key)
    if cached is None:
        meta = model._meta
        fields = tuple(meta.get_field(name) for name in names)
        given = {f.attname for f in fields}
        missing = [
            f.attname for f in meta.concrete_fields if not f.primary_key and f.attname not in given
        ]
        if missing:
            raise ValueError(f"{model.__name__}: no value for {', '.join(missing)}")
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        # Names come from the model's metadata, quoted; values are bound parameters.
        sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
        cached = (sql, fields)
        _sql_cache[key] = cached
    return cached


def insert_row(model, values: dict, using="default") -> None:
    """Insert one row of ``model``; every concrete field but the primary key must be
    given (by attname or name), so nothing is left to a Python-side default."""
    insert_rows(model, [values], using=using)


def insert_rows(model, rows: list, using="default") -> None:
    """Insert rows of ``model`` (dicts with the same keys, as for ``insert_row``) with
    one multi-row INSERT, its text built once per number of rows."""
    if not rows:
        return
    connection = connections[using]
    names = tuple(rows[0])
    sql, fields = _statement(model, names, connection)
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
    """``UPDATE … SET <names> WHERE pk = …`` for many rows in one executemany, the
    statement built once: for derived rows rewritten in bulk (SLA clocks). ``rows`` is
    a list of (pk, {name: value}); each value goes through its field's conversion."""
    if not rows:
        return
    connection = connections[using]
    names = tuple(names)
    key = (model, "update", names, connection.vendor)
    cached = _sql_cache.get(key)
    if cached is None:
        meta = model._meta
        qn = connection.ops.quote_name
        fields = tuple(meta.get_field(name) for name in names)
        assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
        # Names come from the model's metadata, quoted; values are bound parameters.
        sql = f"UPDATE {qn(meta.db_table)} SET {assignments} WHERE {qn(meta.pk.column)} = %s"  # noqa: S608
        cached = (sql, fields)
        _sql_cache[key] = cached
    sql, fields = cached
    params = [
        [f.get_db_prep_save(values[n], connection) for n, f in zip(names, fields, strict=True)]
        + [pk]
        for pk, values in rows
    ]
    with connection.cursor() as cursor:
        if len(params) == 1:
            cursor.execute(sql, params[0])
        else:
            cursor.executemany(sql, params)
