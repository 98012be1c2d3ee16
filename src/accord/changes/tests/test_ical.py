"""The schedule's iCalendar feed: RFC 5545 text (CRLF, folding, escaping, UTC times)
that the icalendar package parses into the right events; its window and filters;
who may read it (a session, an API token in the header or in the address, and only
what that token's user may see); refused parameters and tokens."""

import datetime

import icalendar
import pytest
from django.conf import settings
from django.utils import timezone

from accord.changes import ical
from accord.changes.choices import Status
from accord.changes.models import BlackoutWindow, Change
from accord.changes.views_schedule import quarter_of
from accord.core.context import acting_as
from accord.users.models import ApiToken

from . import test_schedule

at = test_schedule.at
change = test_schedule.change  # the fixture

FEED = "/changes/schedule.ics"
MARCH = "from=2026-03-01&to=2026-03-31"


def events(response):
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    parsed = icalendar.Calendar.from_ical(response.content)
    return {str(e["UID"]): e for e in parsed.walk("VEVENT")}


def lines_of(response):
    body = response.content
    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")  # every line ends with CRLF
    return body.split(b"\r\n")[:-1]


# --- the text itself -------------------------------------------------------------------
def test_text_values_are_escaped():
    assert ical.escape_text("a,b;c\\d\r\ne\nf\rg") == "a\\,b\\;c\\\\d\\ne\\nf\\ng"
    assert ical.escape_text(None) == ""


def test_long_lines_are_folded_at_75_octets_between_characters():
    ascii_line = "DESCRIPTION:" + "x" * 200
    folded = ical.fold(ascii_line)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert parts[0] + "".join(p[1:] for p in parts[1:]) == ascii_line
    wide = "SUMMARY:" + "Überprüfung der Datenbank – 数据库迁移 ✓ " * 6
    folded = ical.fold(wide)
    parts = folded.split("\r\n")
    assert len(parts) > 2
    for p in parts:
        assert len(p.encode()) <= 75
        p.encode().decode()  # no character cut in two
    assert parts[0] + "".join(p[1:] for p in parts[1:]) == wide
    assert ical.fold("SUMMARY:short") == "SUMMARY:short"


def test_times_are_utc():
    summer = datetime.timezone(datetime.timedelta(hours=2))
    berlin = datetime.datetime(2026, 7, 1, 2, 30, tzinfo=summer)
    assert ical.utc(berlin) == "20260701T003000Z"


# --- the feed ---------------------------------------------------------------------------
def test_the_feed_has_one_event_per_change_as_rfc_5545_says(client, world, change):
    with acting_as(world.admin, "test"):
        made = change(
            "2026-03-10T20:00",
            "2026-03-10T22:00",
            short_description="Patch relay; restart, verify",
            description="Line one\nLine two, with a comma; and a semicolon \\ " + "long " * 100,
            kind="emergency",
            emergency_reason="Exploited",
            assignment_team=world.team_a,
            services=[world.service],
        )
    Change.objects.filter(pk=made.pk).update(status=Status.SCHEDULED, risk_class="high")
    tentative = change("2026-03-11T08:00", "2026-03-11T09:00", status=Status.SUBMITTED)
    change("2026-03-12T08:00", "2026-03-12T09:00", status=Status.CANCELLED)
    change("2026-04-02T08:00", "2026-04-02T09:00")  # after the window
    client.force_login(world.admin)
    response = client.get(f"{FEED}?{MARCH}")
    found = events(response)
    host = "127.0.0.1" if "127.0.0.1" in settings.BASE_URL else settings.BASE_URL.split("/")[2]
    assert set(found) == {f"{made.number}@{host}", f"{tentative.number}@{host}"}
    event = found[f"{made.number}@{host}"]
    assert str(event["SUMMARY"]) == f"{made.number} Patch relay; restart, verify"
    assert event.decoded("DTSTART") == at("2026-03-10T20:00")
    assert event.decoded("DTEND") == at("2026-03-10T22:00")
    assert event.decoded("DTSTART").tzinfo is not None
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event["CATEGORIES"].cats == ["Emergency"]
    assert str(event["URL"]) == f"{settings.BASE_URL}/changes/{made.pk}/"
    description = str(event["DESCRIPTION"])
    assert description.startswith("Emergency change, Scheduled.\nRisk: High.\nTeam: Desk A.")
    assert "Services: Email." in description
    assert "Line one\nLine two, with a comma; and a semicolon \\" in description
    assert description.endswith(f"/changes/{made.pk}/")
    assert "DTSTAMP" in event and "SEQUENCE" in event
    assert str(found[f"{tentative.number}@{host}"]["STATUS"]) == "TENTATIVE"
    lines = lines_of(response)
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-1] == b"END:VCALENDAR"
    assert all(len(line) <= 75 for line in lines)
    assert b"DTSTART:20260310T200000Z" in lines
    assert response["Cache-Control"] == "private, no-cache"


def test_blackout_windows_are_events_too(client, world, change):
    with acting_as(world.admin, "test"):
        window = BlackoutWindow(
            name="Year end, finance",
            starts_at=at("2026-03-20T00:00"),
            ends_at=at("2026-03-22T00:00"),
            reason="Books close",
        )
        window.save()
    client.force_login(world.admin)
    found = events(client.get(f"{FEED}?{MARCH}"))
    (event,) = found.values()
    assert str(event["UID"]).startswith(f"blackout-{window.pk}@")
    assert str(event["SUMMARY"]) == "Blackout: Year end, finance"
    assert event["CATEGORIES"].cats == ["Blackout window"]
    assert str(event["TRANSP"]) == "TRANSPARENT"
    assert "Holds for every service." in str(event["DESCRIPTION"])


def test_the_default_window_is_this_quarter(client, world, change):
    first, after = quarter_of(timezone.localdate())
    inside = change(f"{first}T09:00", f"{first}T10:00")
    change(f"{after}T09:00", f"{after}T10:00")
    client.force_login(world.admin)
    found = events(client.get(FEED))
    assert [str(u).split("@")[0] for u in found] == [inside.number]


def test_from_and_to_take_dates_in_the_users_time_zone_or_instants(client, world, change):
    # 16:00 UTC on the 10th is 01:00 on the 11th in Tokyo.
    change("2026-03-10T16:00", "2026-03-10T17:00")
    world.agent_a.time_zone = "Asia/Tokyo"
    world.agent_a.save()
    client.force_login(world.agent_a)
    assert len(events(client.get(f"{FEED}?from=2026-03-10&to=2026-03-10"))) == 0
    assert len(events(client.get(f"{FEED}?from=2026-03-11&to=2026-03-11"))) == 1
    # A time without an offset is the reader's: 01:30 in Tokyo is 16:30 UTC.
    assert len(events(client.get(f"{FEED}?from=2026-03-11T01:30&to=2026-03-11"))) == 1
    assert len(events(client.get(f"{FEED}?from=2026-03-11T02:00&to=2026-03-11"))) == 0
    client.force_login(world.admin)  # UTC
    assert len(events(client.get(f"{FEED}?from=2026-03-10&to=2026-03-10"))) == 1
    assert len(events(client.get(f"{FEED}?from=2026-03-10T17:00Z&to=2026-03-11"))) == 0
    assert len(events(client.get(f"{FEED}?from=2026-03-11T01:30%2B09:00&to=2026-03-11"))) == 1
    # Without ``to``, three months from ``from``.
    assert len(events(client.get(f"{FEED}?from=2025-12-15"))) == 1
    assert len(events(client.get(f"{FEED}?from=2025-12-01"))) == 0


def test_the_feed_takes_the_schedules_filters(client, world, change):
    mine = change("2026-03-10T08:00", "2026-03-10T09:00", services=[world.service])
    change("2026-03-10T10:00", "2026-03-10T11:00")
    client.force_login(world.admin)
    found = events(client.get(f"{FEED}?{MARCH}&service={world.service.pk}"))
    assert [str(u).split("@")[0] for u in found] == [mine.number]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("from=2026-02-30", "from:"),
        ("from=soon", "from:"),
        ("to=2026-03-99", "to:"),
        ("from=2026-03-10&to=2026-03-01", "to:"),
        ("from=2026-01-01&to=2027-12-31", "to:"),
        ("from=2026-01-01T25:00", "from:"),
        ("from=0001-01-01", "from:"),
        ("service=nope", "service:"),
        ("ci=unknown-ci", "ci:"),
    ],
)
def test_bad_parameters_are_refused_naming_them(client, world, query, named):
    client.force_login(world.admin)
    response = client.get(f"{FEED}?{query}")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().startswith(named)


# --- who may read it -------------------------------------------------------------------
@pytest.fixture
def two_customers(world, change):
    alpha = change("2026-03-10T08:00", "2026-03-10T09:00", customers=[world.customer_a])
    beta = change("2026-03-10T10:00", "2026-03-10T11:00", customers=[world.customer_b])
    return alpha, beta


def numbers(response):
    return sorted(str(u).split("@")[0] for u in events(response))


def test_a_token_in_the_address_gives_what_its_user_may_see(client, world, two_customers):
    alpha, beta = two_customers
    _token, key_b = ApiToken.issue(world.agent_b, "Calendar")
    _token, key_a = ApiToken.issue(world.agent_a, "Calendar")
    assert numbers(client.get(f"{FEED}?{MARCH}&token={key_b}")) == [beta.number]
    assert numbers(client.get(f"{FEED}?{MARCH}&token={key_a}")) == [alpha.number]
    # The token is for this feed only: it signs nobody in, and no page takes it.
    assert "_auth_user_id" not in client.session
    response = client.get(f"/changes/schedule/?token={key_b}")
    assert response.status_code == 302 and "/login/" in response["Location"]
    # As a header too (what API clients send), and the token outranks a session.
    assert numbers(client.get(f"{FEED}?{MARCH}", HTTP_AUTHORIZATION=f"Token {key_b}")) == [
        beta.number
    ]
    client.force_login(world.admin)
    assert numbers(client.get(f"{FEED}?{MARCH}&token={key_b}")) == [beta.number]


def test_a_session_sees_what_its_user_may_see(client, world, two_customers):
    alpha, beta = two_customers
    client.force_login(world.agent_b)
    assert numbers(client.get(f"{FEED}?{MARCH}")) == [beta.number]
    client.force_login(world.admin)
    assert numbers(client.get(f"{FEED}?{MARCH}")) == sorted([alpha.number, beta.number])


def test_bad_tokens_and_strangers_are_refused(client, world, two_customers):
    response = client.get(f"{FEED}?{MARCH}")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert "token" in response.content.decode()
    response = client.get(f"{FEED}?token=not-a-real-key")
    assert response.status_code == 401
    assert response.content.decode().startswith("token:")
    assert client.get(FEED, HTTP_AUTHORIZATION="Token not-a-real-key").status_code == 401
    assert client.get(FEED, HTTP_AUTHORIZATION="Basic abc").status_code == 401
    token, key = ApiToken.issue(world.agent_a, "Old", expires=timezone.now())
    response = client.get(f"{FEED}?token={key}")
    assert response.status_code == 401 and "expired" in response.content.decode()
    _token, key = ApiToken.issue(world.agent_a, "Calendar")
    world.agent_a.is_active = False
    world.agent_a.save()
    assert client.get(f"{FEED}?token={key}").status_code == 401
    _token, key = ApiToken.issue(world.customer_user_a, "Calendar")
    response = client.get(f"{FEED}?token={key}")
    assert response.status_code == 403
    # A session does not rescue a bad token.
    client.force_login(world.admin)
    assert client.get(f"{FEED}?token=not-a-real-key").status_code == 401


def test_read_only_and_writing_tokens_both_read_the_feed(client, world, two_customers):
    alpha, beta = two_customers
    _token, read_only = ApiToken.issue(world.agent_b, "Calendar", read_only=True)
    _token, writing = ApiToken.issue(world.agent_b, "Script")
    assert numbers(client.get(f"{FEED}?{MARCH}&token={read_only}")) == [beta.number]
    assert numbers(client.get(f"{FEED}?{MARCH}&token={writing}")) == [beta.number]
    got = client.get(f"{FEED}?{MARCH}", HTTP_AUTHORIZATION=f"Token {read_only}")
    assert numbers(got) == [beta.number]
