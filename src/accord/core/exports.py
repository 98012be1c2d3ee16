"""CSV export that streams (memory stays flat) and neutralises spreadsheet formulas."""

import csv

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """A cell a spreadsheet will not execute: a leading =, +, -, @ gets a quote."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Echo:
    def write(self, value):
        return value


def stream_csv(filename, header, rows):
    """rows: an iterable of lists of values."""
    writer = csv.writer(_Echo())

    def generate():
        yield "\ufeff"  # so spreadsheet programs read UTF-8
        yield writer.writerow([safe_cell(h) for h in header])
        for row in rows:
            yield writer.writerow([safe_cell(v) for v in row])

    response = StreamingHttpResponse(generate(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
