"""Keyset (cursor) pagination for list pages: stable and fast at any depth.

The page after a row is the rows that sort after (its sort value, its id); the cursor
carries those two values, signed so a user cannot forge a different query with it.
"""

import datetime

from django.core import signing
from django.db.models import Q

SALT = "accord.cursor"


def _encode(value):
    if isinstance(value, datetime.datetime):
        return {"dt": value.isoformat()}
    return value


def _decode(value):
    if isinstance(value, dict) and "dt" in value:
        return datetime.datetime.fromisoformat(value["dt"])
    return value


def make_cursor(row, field, direction):
    # The sort field travels too: a cursor of one sort must not be read with another
    # (a date compared with a priority is a server error, not a page).
    return signing.dumps(
        [_encode(getattr(row, field)), row.pk, direction, field], salt=SALT, compress=True
    )


def read_cursor(token, field=None):
    try:
        value, pk, direction, made_for = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if direction not in ("next", "prev") or (field is not None and made_for != field):
        return None
    return _decode(value), pk, direction


def paginate(queryset, field, descending, cursor, size):
    """Returns (rows, next_cursor, prev_cursor) for ``queryset`` ordered by field, id."""
    order = [f"-{field}", "-pk"] if descending else [field, "pk"]
    reverse = [f"{field}", "pk"] if descending else [f"-{field}", "-pk"]
    parsed = read_cursor(cursor, field) if cursor else None
    if parsed:
        value, pk, direction = parsed
        forward = direction == "next"
        after = forward != descending  # move towards larger values?
        op = "gt" if after else "lt"
        cond = Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": pk})
        qs = queryset.filter(cond).order_by(*(order if forward else reverse))
        rows = list(qs[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if not forward:
            rows.reverse()
        has_next = more if forward else True
        has_prev = True if forward else more
    else:
        rows = list(queryset.order_by(*order)[: size + 1])
        has_next = len(rows) > size
        rows = rows[:size]
        has_prev = False
    next_cursor = make_cursor(rows[-1], field, "next") if rows and has_next else None
    prev_cursor = make_cursor(rows[0], field, "prev") if rows and has_prev else None
    return rows, next_cursor, prev_cursor
