"""The forward schedule page: changes on the right days of the week and month grids
in the user's own time zone, over several days, blackout windows and conflicts
marked, filters by service, team and CI, what each user may see, refused
parameters."""

import datetime
import re

import pytest
from django.utils import timezone

from accord.changes import actions
from accord.changes.choices import ConflictKind, Status
from accord.changes.models import BlackoutWindow, Change, Conflict
from accord.core.context import acting_as

UTC = datetime.UTC


def at(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def change(world):
    """make(start, end, **fields): a change planned in [start, end) (UTC texts)."""

    def make(start, end, *, user=None, customers=(), services=(), cis=(), status=None, **fields):
        user = user or world.admin
        data = {
            "short_description": fields.pop("short_description", "Patch the mail relay"),
            "reason": "Security fix",
            "implementation_plan": "apt upgrade",
            "backout_plan": "restore snapshot",
            "planned_start": at(start),
            "planned_end": at(end),
            **fields,
        }
        with acting_as(user, "test"):
            made = actions.create_change(
                user, data, customers=customers, services=services, cis=cis
            )
        if status:
            Change.objects.filter(pk=made.pk).update(status=status)
            made.refresh_from_db()
        return made

    return make


def days_of(response):
    """{date: [change numbers]} from the grid the page showed."""
    return {
        day.iso: [e.change.number for e in day.entries]
        for week in response.context["weeks"]
        for day in week
    }


def cell(html, iso):
    found = re.search(rf'<td data-date="{iso}"[^>]*>(.*?)</td>', html, re.S)
    assert found, f"no cell for {iso}"
    return found.group(1)


def test_the_week_places_changes_on_the_users_own_days(client, world, change):
    evening = change("2026-03-10T20:00", "2026-03-10T22:00", short_description="Evening patch")
    long = change("2026-03-12T22:00", "2026-03-14T02:00", short_description="Storage move")
    change("2026-03-17T10:00", "2026-03-17T11:00")  # the next week
    client.force_login(world.agent_a)  # UTC
    response = client.get("/changes/schedule/?view=week&date=2026-03-11")
    assert response.status_code == 200
    days = days_of(response)
    assert list(days) == [f"2026-03-{d:02d}" for d in range(9, 16)]  # Monday to Sunday
    assert days["2026-03-10"] == [evening.number]
    assert days["2026-03-11"] == []
    # Over three days: from its start, the whole day between, until its end.
    assert days["2026-03-12"] == days["2026-03-13"] == days["2026-03-14"] == [long.number]
    html = response.content.decode()
    assert "20:00–22:00" in cell(html, "2026-03-10")
    assert "from 22:00" in cell(html, "2026-03-12")
    assert "all day (continued)" in cell(html, "2026-03-13")
    assert "until 02:00" in cell(html, "2026-03-14")
    assert f'href="/changes/{evening.pk}/"' in cell(html, "2026-03-10")
    assert "Week 11: 9 March to 15 March 2026" in html

    # Tokyo is nine hours ahead: the evening change is on Wednesday morning there.
    world.agent_a.time_zone = "Asia/Tokyo"
    world.agent_a.save()
    response = client.get("/changes/schedule/?view=week&date=2026-03-11")
    days = days_of(response)
    assert days["2026-03-10"] == [] and days["2026-03-11"] == [evening.number]
    assert "05:00–07:00" in cell(response.content.decode(), "2026-03-11")
    assert days["2026-03-13"] == days["2026-03-14"] == [long.number]
    assert days["2026-03-12"] == []  # 22:00 UTC is 07:00 on Friday in Tokyo


def test_the_month_grid_covers_whole_weeks_and_limits_a_busy_day(client, world, change):
    first = change("2026-02-28T09:00", "2026-02-28T10:00")  # the Saturday before March
    made = [change("2026-03-19T08:00", "2026-03-19T09:00") for _ in range(8)]
    client.force_login(world.admin)
    response = client.get("/changes/schedule/?view=month&date=2026-03-19")
    weeks = response.context["weeks"]
    # March 2026 starts on a Sunday: the grid runs from Monday 23 February to Sunday 5 April.
    assert weeks[0][0].date == datetime.date(2026, 2, 23)
    assert weeks[-1][-1].date == datetime.date(2026, 4, 5)
    assert len(weeks) == 6 and all(len(w) == 7 for w in weeks)
    days = days_of(response)
    assert days["2026-02-28"] == [first.number]
    assert not weeks[0][5].in_range  # February's day, shown greyed
    busy = next(d for w in weeks for d in w if d.iso == "2026-03-19")
    assert len(busy.entries) == 6 and busy.more == 2
    assert [e.change.number for e in busy.entries] == [c.number for c in made[:6]]
    html = response.content.decode()
    assert "and 2 more" in cell(html, "2026-03-19")
    assert "March 2026" in html
    assert response.context["count"] == 9


def test_blackout_windows_and_conflicts_are_marked(client, world, change):
    clash = change("2026-03-10T08:00", "2026-03-10T09:00", status=Status.SUBMITTED)
    other = change("2026-03-10T08:30", "2026-03-10T10:00", status=Status.SUBMITTED)
    quiet = change("2026-03-11T08:00", "2026-03-11T09:00")
    Conflict.objects.create(
        change=other, other=clash, kind=ConflictKind.SAME_CI, explanation="Both change db-01"
    )
    with acting_as(world.admin, "test"):
        window = BlackoutWindow(
            name="Quarter close",
            starts_at=at("2026-03-12T00:00"),
            ends_at=at("2026-03-14T00:00"),
            reason="Finance closes the books",
        )
        window.save()
        email_only = BlackoutWindow(
            name="Email migration freeze",
            starts_at=at("2026-03-15T00:00"),
            ends_at=at("2026-03-15T12:00"),
        )
        email_only.save()
        email_only.services.set([world.service])
    client.force_login(world.admin)
    response = client.get("/changes/schedule/?view=week&date=2026-03-10")
    html = response.content.decode()
    tuesday = cell(html, "2026-03-10")
    # Both sides of the overlap are marked; the explanation names the kind of conflict.
    assert tuesday.count("has-conflict") == 2
    assert "Overlaps a change on the same CI" in tuesday
    assert "has-conflict" not in cell(html, "2026-03-11") and quiet.number in html
    assert response.context["conflicted"] == 2
    for iso in ("2026-03-12", "2026-03-13"):
        assert "Blackout: Quarter close" in cell(html, iso)
    assert "Blackout" not in cell(html, "2026-03-14")  # it ends at midnight
    assert "Blackout: Email migration freeze" in cell(html, "2026-03-15")
    assert "(Email)" in cell(html, "2026-03-15")
    # Filtered to a service the freeze does not name: only the global window shows.
    response = client.get(
        f"/changes/schedule/?view=week&date=2026-03-10&service={world.service_b_only.pk}"
    )
    html = response.content.decode()
    assert "Quarter close" in html and "Email migration freeze" not in html


def test_filters_by_service_team_and_ci(client, world, change):
    from accord.cmdb import actions as cmdb_actions
    from accord.cmdb.models import CIType, ConfigurationItem

    with acting_as(world.admin, "test"):
        relay = cmdb_actions.save_ci(
            ConfigurationItem(name="mail-relay-01", ci_type=CIType.objects.get(key="server"))
        )
    by_service = change("2026-03-10T08:00", "2026-03-10T09:00", services=[world.service])
    by_team = change("2026-03-10T10:00", "2026-03-10T11:00", assignment_team=world.team_b)
    by_ci = change("2026-03-10T12:00", "2026-03-10T13:00", cis=[relay])
    client.force_login(world.admin)
    base = "/changes/schedule/?view=week&date=2026-03-10"

    def shown(query):
        response = client.get(f"{base}&{query}")
        assert response.status_code == 200, response.content[:500]
        return days_of(response)["2026-03-10"]

    assert shown("") == [by_service.number, by_team.number, by_ci.number]
    assert shown(f"service={world.service.pk}") == [by_service.number]
    assert shown(f"team={world.team_b.pk}") == [by_team.number]
    assert shown("ci=mail-relay-01") == [by_ci.number]
    assert shown(f"ci={relay.pk}") == [by_ci.number]
    # The navigation keeps the filters.
    response = client.get(f"{base}&team={world.team_b.pk}")
    nav = response.context["nav"]
    assert f"team={world.team_b.pk}" in nav["next"] and "date=2026-03-17" in nav["next"]
    assert "view=month" in nav["month"] and f"team={world.team_b.pk}" in nav["month"]


def test_an_agent_sees_only_the_changes_of_the_customers_they_serve(client, world, change):
    alpha = change("2026-03-10T08:00", "2026-03-10T09:00", customers=[world.customer_a])
    beta = change("2026-03-10T10:00", "2026-03-10T11:00", customers=[world.customer_b])
    shared = change("2026-03-10T12:00", "2026-03-10T13:00")
    # Alpha's change overlaps Beta's: agent B must not learn of it through a marker.
    Conflict.objects.create(
        change=beta, other=alpha, kind=ConflictKind.SAME_CI, explanation=f"{alpha.number}"
    )
    url = "/changes/schedule/?view=week&date=2026-03-10"
    client.force_login(world.agent_b)
    response = client.get(url)
    assert days_of(response)["2026-03-10"] == [beta.number, shared.number]
    html = response.content.decode()
    assert alpha.number not in html and "has-conflict" not in html
    client.force_login(world.agent_a)
    assert days_of(client.get(url))["2026-03-10"] == [alpha.number, shared.number]
    client.force_login(world.customer_user_a)
    assert client.get(url).status_code == 403
    client.logout()
    assert client.get(url).status_code == 302  # to the sign-in page


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("date=2026-13-01", "date:"),
        ("date=yesterday", "date:"),
        ("date=0001-01-01", "date:"),
        ("view=year", "view:"),
        ("service=999999", "service:"),
        ("service=abc", "service:"),
        ("team=999999", "team:"),
        ("ci=no-such-ci", "ci:"),
    ],
)
def test_bad_parameters_are_refused_naming_them(client, world, query, named):
    client.force_login(world.admin)
    response = client.get(f"/changes/schedule/?{query}")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html and named in html


def test_the_page_explains_how_to_subscribe(client, world):
    client.force_login(world.agent_a)
    response = client.get(f"/changes/schedule/?team={world.team_a.pk}")
    html = response.content.decode()
    feed = response.context["feed"]
    assert feed["download"] == f"/changes/schedule.ics?team={world.team_a.pk}"
    assert feed["subscribe"].endswith(
        f"/changes/schedule.ics?team={world.team_a.pk}&token=YOUR-TOKEN"
    )
    assert feed["subscribe"].startswith("http")
    assert "your profile page" in html and 'href="/profile/"' in html
    assert "Make a <strong>read-only</strong> one" in html and "tick “Read only”" in html


def test_the_week_of_today_is_the_default(client, world, change):
    now = timezone.now()
    today = change(
        (now - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        (now + datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
    )
    client.force_login(world.admin)
    response = client.get("/changes/schedule/")
    assert response.context["view"] == "week"
    assert today.number in response.content.decode()
    assert 'aria-current="date"' in response.content.decode()


def test_the_grid_costs_a_fixed_number_of_queries(
    client, world, change, django_assert_max_num_queries
):
    for day in range(9, 16):
        for hour in (8, 12):
            change(f"2026-03-{day:02d}T{hour:02d}:00", f"2026-03-{day:02d}T{hour + 1:02d}:00")
    client.force_login(world.agent_a)
    client.get("/changes/schedule/?view=week&date=2026-03-10")  # session, scope cached
    with django_assert_max_num_queries(12):
        response = client.get("/changes/schedule/?view=month&date=2026-03-10")
    assert response.context["count"] == 14


def test_conflicts_are_found_from_the_cis_and_their_neighbours(world, change):
    """The conflicts the grid marks, found from the change's CIs: the same CI, a CI
    one step away either way; not two steps away, not outside the slot, not a change
    that holds no slot (a draft, a closed one)."""
    from accord.changes import conflicts
    from accord.cmdb import actions as cmdb_actions
    from accord.cmdb.models import CIType, ConfigurationItem, RelationshipType

    server = CIType.objects.get(key="server")
    with acting_as(world.admin, "test"):
        made = {
            name: cmdb_actions.save_ci(ConfigurationItem(name=name, ci_type=server))
            for name in ("app", "db", "storage", "web", "cdn", "other")
        }
        depends = RelationshipType.objects.get(key="depends-on")
        # web -> app -> db -> storage, and cdn -> web (each "depends on" the next).
        for source, target in (("web", "app"), ("app", "db"), ("db", "storage"), ("cdn", "web")):
            cmdb_actions.add_relationship(world.admin, made[source], made[target], depends)
    slot = ("2026-03-10T08:00", "2026-03-10T10:00")
    mine = change(*slot, cis=[made["app"]], status=Status.SUBMITTED)
    same = change(*slot, cis=[made["app"]], status=Status.SCHEDULED)
    below = change(*slot, cis=[made["db"]], status=Status.APPROVED)
    above = change(*slot, cis=[made["web"]], status=Status.IMPLEMENTING)
    change(*slot, cis=[made["storage"]], status=Status.SCHEDULED)  # two steps away
    change(*slot, cis=[made["cdn"]], status=Status.SCHEDULED)  # two steps up
    change(*slot, cis=[made["app"]])  # a draft holds no slot
    change(*slot, cis=[made["app"]], status=Status.CLOSED)
    change("2026-03-10T10:00", "2026-03-10T11:00", cis=[made["app"]], status=Status.SCHEDULED)
    change(*slot, cis=[made["other"]], status=Status.SCHEDULED)
    found = conflicts.find(mine)
    assert [(f.kind, f.other_id) for f in found] == [
        (ConflictKind.SAME_CI, same.pk),
        (ConflictKind.DEPENDENT_CI, above.pk),
        (ConflictKind.DEPENDENT_CI, below.pk),
    ]
    assert found[0].explanation == f"{same.number} also changes app in this time."
    assert found[1].explanation == (
        f"{above.number} changes web, which depends on app (changed here)."
    )
    assert found[2].explanation == (
        f"{below.number} changes db, which app (changed here) depends on."
    )
    # Moved to an empty hour, it has none.
    later = (at("2026-03-10T12:00"), at("2026-03-10T13:00"))
    assert conflicts.find(mine, *later) == []
