"""Filter types shared by every record type's filterset."""

import datetime

import django_filters as filters
from django import forms


class DateTimeFromFilter(filters.IsoDateTimeFilter):
    """A date (read in the user's time zone) or an ISO 8601 date-time, compared in UTC:
    Python accepts offsets PostgreSQL refuses (beyond ±15:59), so the value is
    converted before it reaches the database."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        return super().filter(qs, value)
