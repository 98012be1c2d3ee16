"""The generic list machinery: keyset pages, sorting, CSV export, saved filters, search."""

import csv
import io

import pytest
from django.urls import reverse

from accord.core.context import acting_as
from accord.core.exports import safe_cell
from accord.core.models import SavedFilter
from accord.core.pagination import make_cursor, read_cursor
from accord.incidents.models import Incident


@pytest.fixture
def many(world, make_incident):
    made = []
    for i in range(23):
        made.append(
            make_incident(
                short_description=f"Printer {i}", impact=1 + i % 3, urgency=1 + (i // 3) % 3
            )
        )
    return made


def _numbers(response):
    rows = response.context["rows"]
    return [r.number for r in rows]


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["priority", "-priority", "number", "-updated", "created"])
def test_keyset_pages_cover_every_row_once_both_ways(client, world, many, sort):
    client.force_login(world.admin)
    url = reverse("incidents:queue")
    from accord.core.views import RecordListView

    RecordListView.page_size = 5
    try:
        response = client.get(url, {"queue": "all", "sort": sort})
        pages = [_numbers(response)]
        while response.context["next_url"]:
            response = client.get(url + response.context["next_url"])
            pages.append(_numbers(response))
        seen = [n for page in pages for n in page]
        assert sorted(seen) == sorted(i.number for i in many)
        assert len(pages) == 5 and len(pages[-1]) == 3
        # Walking back from the last page gives the same pages in reverse.
        back = []
        while response.context["prev_url"]:
            response = client.get(url + response.context["prev_url"])
            back.append(_numbers(response))
        assert back == list(reversed(pages[:-1]))
    finally:
        RecordListView.page_size = 50
    field = sort.lstrip("-")
    ordered = sorted(
        Incident.objects.all(), key=lambda i: (getattr(i, field), i.pk), reverse=sort[0] == "-"
    )
    assert seen == [i.number for i in ordered]


def test_cursor_is_signed():
    assert read_cursor("garbage") is None

    class Row:
        pk = 3
        priority = 2

    token = make_cursor(Row(), "priority", "next")
    assert read_cursor(token) == (2, 3, "next")
    assert read_cursor(token[:-2] + "xx") is None


@pytest.mark.django_db
def test_bad_cursor_and_unknown_sort_fall_back_instead_of_failing(client, world, many):
    client.force_login(world.admin)
    r = client.get(reverse("incidents:queue"), {"queue": "all", "cursor": "nope", "sort": "bogus"})
    assert r.status_code == 200
    assert len(r.context["rows"]) == 23


@pytest.mark.django_db
def test_csv_export_streams_the_filtered_set_and_neutralises_formulas(client, world, make_incident):
    make_incident(short_description='=HYPERLINK("http://evil")')
    make_incident(short_description="Plain one")
    make_incident(customer=world.customer_b, short_description="Other customer's")
    client.force_login(world.agent_a)
    r = client.get(reverse("incidents:queue"), {"queue": "all", "export": "csv"})
    assert r.status_code == 200
    assert r["Content-Disposition"].startswith("attachment;")
    body = b"".join(r.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][0] == "Number"
    descriptions = [row[2] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil")' in descriptions
    assert "Plain one" in descriptions
    assert "Other customer's" not in descriptions


@pytest.mark.parametrize(
    "value,expected",
    [
        ("=1+1", "'=1+1"),
        ("+3", "'+3"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("ok", "ok"),
        (None, ""),
        (5, "5"),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


@pytest.mark.django_db
def test_saved_filters_are_per_user(client, world):
    client.force_login(world.agent_a)
    r = client.post(
        reverse("saved_filter"),
        {
            "name": "P1 open",
            "list_name": "incidents",
            "query": "queue=open&priority=1",
            "next": "/incidents/?queue=open",
        },
    )
    assert r.status_code == 302 and r["Location"] == "/incidents/?queue=open"
    saved = SavedFilter.objects.get(user=world.agent_a)
    page = client.get(reverse("incidents:queue"), {"queue": "open"}).content.decode()
    assert "P1 open" in page and "queue=open&amp;priority=1" in page
    client.force_login(world.agent_b)
    assert (
        "P1 open" not in client.get(reverse("incidents:queue"), {"queue": "open"}).content.decode()
    )
    # Another user cannot delete it.
    client.post(reverse("saved_filter"), {"delete": saved.pk})
    assert SavedFilter.objects.filter(pk=saved.pk).exists()
    # An open redirect is refused.
    r = client.post(
        reverse("saved_filter"),
        {"name": "x", "list_name": "incidents", "next": "https://evil.example/"},
    )
    assert r["Location"] == "/"


@pytest.mark.django_db
def test_search_finds_words_and_numbers_within_scope(client, world, make_incident):
    a = make_incident(short_description="Printer jams on floor three")
    b = make_incident(customer=world.customer_b, short_description="Printer offline in Beta")
    client.force_login(world.agent_a)
    page = client.get(reverse("search"), {"q": "printer"}).content.decode()
    assert a.number in page and b.number not in page
    page = client.get(reverse("search"), {"q": a.number}).content.decode()
    assert a.number in page
    page = client.get(reverse("search"), {"q": "prin"}).content.decode()
    assert a.number in page  # prefix match
    # An edit re-indexes the record.
    with acting_as(world.admin, "test"):
        from accord.incidents.actions import update_ticket

        update_ticket(
            a, world.admin, {"short_description": "Scanner broken"}, expected_version=a.version
        )
    assert a.number not in client.get(reverse("search"), {"q": "printer"}).content.decode()
    assert a.number in client.get(reverse("search"), {"q": "scanner"}).content.decode()
    # The customer user of B finds B's record only.
    client.force_login(world.customer_user_b)
    page = client.get(reverse("search"), {"q": "printer"}).content.decode()
    assert b.number in page and a.number not in page
    # Punctuation-only input is no query, not an error.
    assert client.get(reverse("search"), {"q": '"*()'}).status_code == 200
