"""Configuration status accounting: counts by type, status, owner and location, the
lists of CIs needing attention, the report of unauthorised changes; each within the
user's scope, each exportable, bad queries refused clearly."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accord.cmdb import accounting, actions
from accord.cmdb.models import CIType, ConfigurationItem, LiveChange, RelationshipType
from accord.core.context import acting_as
from accord.core.policy import scope_for

pytestmark = pytest.mark.django_db

PAST = datetime.date(2020, 1, 1)


def T(key):
    return CIType.objects.get(key=key)


@pytest.fixture
def make_ci(world):
    def make(name, type_key="server", customers=(), services=(), **fields):
        with acting_as(world.admin, "test"):
            ci = ConfigurationItem(name=name, ci_type=T(type_key), **fields)
            return actions.save_ci(ci, customers=list(customers), services=list(services))

    return make


@pytest.fixture
def estate(world, make_ci):
    """Shared: the site dc-1, srv-shared (warranty ended), switch-1 at Beta's site.
    Alpha: payroll (past its retire-by date), payroll-db (no owner, no service).
    Beta: site-b, beta-erp (warranty ended), old-b (retired, everything missing)."""
    A, B = [world.customer_a], [world.customer_b]
    site = make_ci("dc-1", "location")
    site_b = make_ci("site-b", "location", customers=B)
    return {
        "site": site,
        "site_b": site_b,
        "srv": make_ci(
            "srv-shared",
            status="live",
            owner=world.team_a,
            location=site,
            warranty_end=PAST,
            services=[world.service],
        ),
        "switch": make_ci(
            "switch-1",
            "network-device",
            status="live",
            owner=world.team_a,
            location=site_b,
            services=[world.service],
        ),
        "app_a": make_ci(
            "payroll",
            "application",
            customers=A,
            services=[world.service],
            status="live",
            owner=world.team_a,
            retire_by=PAST,
        ),
        "db_a": make_ci("payroll-db", "database", customers=A, status="live"),
        "app_b": make_ci(
            "beta-erp",
            "application",
            customers=B,
            services=[world.service_b_only],
            status="live",
            owner=world.team_b,
            location=site,
            warranty_end=PAST,
        ),
        "old_b": make_ci("old-b", customers=B, status="retired", warranty_end=PAST, retire_by=PAST),
    }


def report(client, user):
    client.force_login(user)
    r = client.get(reverse("cmdb:accounting"))
    assert r.status_code == 200
    counts = {
        key: {row.label: row.count for row in rows}
        for key, _title, _column, rows in r.context["groups"]
    }
    lists = {
        e["key"]: (e["total"], [ci.name for ci, _url in e["rows"]]) for e in r.context["lists"]
    }
    return r, counts, lists


def test_counts_and_lists_cover_every_ci_for_the_administrator(client, world, estate):
    r, counts, lists = report(client, world.admin)
    assert counts["by_type"] == {
        "Application": 2,
        "Database": 1,
        "Location": 2,
        "Network device": 1,
        "Server": 2,
    }
    assert counts["by_status"] == {"Planned": 2, "Live": 5, "Retired": 1}
    assert counts["by_owner"] == {"Desk A": 3, "Desk B": 1, "No owner": 4}
    assert counts["by_location"] == {"dc-1": 2, "site-b": 1, "No location": 5}
    assert r.context["total"] == 8
    # Retired and disposed CIs need nothing any more: old-b is in no list.
    assert lists == {
        "no_owner": (3, ["dc-1", "payroll-db", "site-b"]),
        "no_service": (3, ["dc-1", "payroll-db", "site-b"]),
        "warranty_expired": (2, ["beta-erp", "srv-shared"]),
        "retire_overdue": (1, ["payroll"]),
    }
    page = r.content.decode()
    # Each count links to the CI list filtered the same way.
    ci_list = reverse("cmdb:ci_list")
    assert f'href="{ci_list}?ci_type={T("server").pk}">2<' in page
    assert f'href="{ci_list}?status=live">5<' in page
    assert f'href="{ci_list}?owner={world.team_b.pk}">1<' in page
    assert f'href="{ci_list}?no_owner=true">4<' in page
    assert f'href="{ci_list}?location={estate["site"].pk}">2<' in page
    assert f'href="{estate["db_a"].get_absolute_url()}"' in page
    # The links lead to as many CIs as counted.
    client.force_login(world.admin)
    listed = client.get(f"{ci_list}?owner={world.team_a.pk}")
    assert listed.status_code == 200
    assert listed.context["total"] == 3


def test_counts_and_lists_leave_out_cis_outside_the_users_scope(client, world, estate):
    _r, counts, lists = report(client, world.agent_a)
    assert counts["by_type"] == {
        "Application": 1,
        "Database": 1,
        "Location": 1,
        "Network device": 1,
        "Server": 1,
    }
    assert counts["by_status"] == {"Planned": 1, "Live": 4}
    assert counts["by_owner"] == {"Desk A": 3, "No owner": 2}
    # switch-1 stands at Beta's site: counted, but the site is not named.
    assert counts["by_location"] == {"dc-1": 1, "A location you do not see": 1, "No location": 3}
    assert lists == {
        "no_owner": (2, ["dc-1", "payroll-db"]),
        "no_service": (2, ["dc-1", "payroll-db"]),
        "warranty_expired": (1, ["srv-shared"]),
        "retire_overdue": (1, ["payroll"]),
    }
    r, counts, lists = report(client, world.agent_b)
    assert counts["by_type"] == {"Application": 1, "Location": 2, "Network device": 1, "Server": 2}
    assert counts["by_owner"] == {"Desk A": 2, "Desk B": 1, "No owner": 3}
    assert counts["by_location"] == {"dc-1": 2, "site-b": 1, "No location": 3}
    assert lists["warranty_expired"] == (2, ["beta-erp", "srv-shared"])
    assert lists["retire_overdue"] == (0, [])
    assert "payroll" not in r.content.decode()
    # The auditor sees every customer, as the administrator does.
    _r, audited, _lists = report(client, world.auditor)
    _r, admin, _lists = report(client, world.admin)
    assert audited == admin


def test_customer_users_see_no_status_accounting(client, world, estate):
    for user in (world.customer_user_a, world.customer_user_b):
        client.force_login(user)
        for url in (
            reverse("cmdb:accounting"),
            reverse("cmdb:accounting") + "?export=by_type",
            reverse("cmdb:accounting") + "?export=no_owner",
            reverse("cmdb:unauthorised_changes"),
            reverse("cmdb:unauthorised_changes") + "?export=csv",
        ):
            assert client.get(url).status_code == 403, url
    client.logout()
    assert client.get(reverse("cmdb:accounting")).status_code == 302  # to sign in


def test_each_count_is_one_grouped_query(world, estate, make_ci):
    for user in (world.admin, world.agent_a):
        scope_for(user)  # resolved once per request anyway
        used = {}
        for key in accounting.GROUPS:
            with CaptureQueriesContext(connection) as queries:
                accounting.counts(user, key)
            used[key] = len(queries.captured_queries)
        # The location table also asks which locations the user may see by name.
        assert used == {"by_type": 1, "by_status": 1, "by_owner": 1, "by_location": 2}


def test_the_page_costs_the_same_queries_for_more_cis(client, world, estate, make_ci):
    client.force_login(world.agent_a)
    client.get(reverse("cmdb:accounting"))
    with CaptureQueriesContext(connection) as before:
        client.get(reverse("cmdb:accounting"))
    for i in range(6):
        make_ci(f"more-{i}", "database", customers=[world.customer_a], warranty_end=PAST)
    with CaptureQueriesContext(connection) as after:
        r = client.get(reverse("cmdb:accounting"))
    assert len(after.captured_queries) == len(before.captured_queries)
    assert dict((e["key"], e["total"]) for e in r.context["lists"])["no_owner"] == 8


def read_csv(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_counts_and_lists_export_as_csv_within_scope(client, world, estate, make_ci):
    make_ci("=cmd|calc", "database", customers=[world.customer_b])
    url = reverse("cmdb:accounting")
    client.force_login(world.agent_b)
    rows = read_csv(client.get(url + "?export=by_type"))
    assert rows[0] == ["Type", "CIs"]
    assert dict(rows[1:]) == {
        "Application": "1",
        "Database": "1",
        "Location": "2",
        "Network device": "1",
        "Server": "2",
    }
    rows = read_csv(client.get(url + "?export=no_owner"))
    assert rows[0][:4] == ["CI id", "Name", "Type", "Status"]
    assert [r[1] for r in rows[1:]] == ["'=cmd|calc", "dc-1", "site-b"]  # formula neutralised
    rows = read_csv(client.get(url + "?export=warranty_expired"))
    assert [(r[1], r[3], r[6]) for r in rows[1:]] == [
        ("beta-erp", "Live", "2020-01-01"),
        ("srv-shared", "Live", "2020-01-01"),
    ]
    client.force_login(world.agent_a)
    rows = read_csv(client.get(url + "?export=no_service"))
    assert [r[1] for r in rows[1:]] == ["dc-1", "payroll-db"]


def test_the_lists_show_a_hundred_with_the_total(client, world, make_ci, monkeypatch):
    monkeypatch.setattr(accounting, "LIST_LENGTH", 3)
    for i in range(5):
        make_ci(f"orphan-{i}")
    _r, _counts, lists = report(client, world.admin)
    assert lists["no_owner"] == (5, ["orphan-0", "orphan-1", "orphan-2"])
    rows = read_csv(client.get(reverse("cmdb:accounting") + "?export=no_owner"))
    assert len(rows) == 1 + 5


@pytest.mark.parametrize("export", ["xlsx", "by_nothing", "../etc"])
def test_an_unknown_export_is_a_clear_error(client, world, estate, export):
    client.force_login(world.admin)
    r = client.get(reverse("cmdb:accounting") + f"?export={export}")
    assert r.status_code == 400
    assert "Unknown export" in r.content.decode()


# --- unauthorised changes --------------------------------------------------------------
@pytest.fixture
def changes(world, estate):
    """payroll (Alpha) and beta-erp (Beta) changed with no authorising change;
    srv-shared changed under CHG0000001; payroll linked to the switch unauthorised."""
    with acting_as(world.admin, "test"):
        app_a, app_b, srv = estate["app_a"], estate["app_b"], estate["srv"]
        app_a.serial = "P-1"
        actions.save_ci(app_a)
        app_b.criticality = 1
        actions.save_ci(app_b)
        srv.serial = "S-2"
        actions.save_ci(srv, change_reference="CHG0000001")
        actions.add_relationship(
            world.admin, app_a, estate["switch"], RelationshipType.objects.get(key="connects-to")
        )
    old = LiveChange.objects.get(ci=app_b)
    old.at = datetime.datetime(2020, 5, 1, 12, 0, tzinfo=datetime.UTC)
    old.save()
    return estate


def unauthorised(client, user, query=""):
    client.force_login(user)
    r = client.get(reverse("cmdb:unauthorised_changes") + query)
    return r, [(c.ci.name, c.summary) for c, _url in r.context["rows"]]


def test_unauthorised_changes_are_listed_newest_first_within_scope(client, world, changes):
    r, rows = unauthorised(client, world.admin)
    assert r.status_code == 200
    # The shared switch is seen by Beta's staff too: its record names Alpha's CI by id.
    payroll = changes["app_a"]
    assert rows == [
        ("switch-1", f"Relationship added: connected from configuration item #{payroll.pk}"),
        ("payroll", "Relationship added: connects to switch-1"),
        ("payroll", "Changed: serial number"),
        ("beta-erp", "Changed: criticality"),
    ]
    assert r.context["total"] == 4
    assert "srv-shared" not in r.content.decode()  # it named its change
    _r, rows = unauthorised(client, world.agent_a)
    assert [name for name, _s in rows] == ["switch-1", "payroll", "payroll"]
    r, rows = unauthorised(client, world.agent_b)
    assert [name for name, _s in rows] == ["switch-1", "beta-erp"]
    assert "payroll" not in r.content.decode()
    _r, rows = unauthorised(client, world.auditor)
    assert len(rows) == 4


def test_unauthorised_changes_filter_by_dates_and_owner(client, world, changes):
    _r, rows = unauthorised(client, world.admin, "?date_from=2020-04-30&date_to=2020-05-01")
    assert rows == [("beta-erp", "Changed: criticality")]
    today = timezone.localdate().isoformat()
    _r, rows = unauthorised(client, world.admin, f"?date_from={today}")
    assert len(rows) == 3
    _r, rows = unauthorised(client, world.admin, "?date_to=2020-05-01")
    assert len(rows) == 1
    _r, rows = unauthorised(client, world.admin, f"?owner={world.team_a.pk}")
    assert {name for name, _s in rows} == {"switch-1", "payroll"}
    # Agent A filtering by Beta's team still sees nothing of Beta's.
    _r, rows = unauthorised(client, world.agent_a, f"?owner={world.team_b.pk}")
    assert rows == []


def test_unauthorised_changes_export_as_csv(client, world, changes):
    client.force_login(world.agent_b)
    rows = read_csv(
        client.get(reverse("cmdb:unauthorised_changes") + "?date_to=2020-12-31&export=csv")
    )
    assert rows[0] == ["When", "CI id", "CI", "Type", "Owner", "What changed", "By"]
    assert rows[1:] == [
        [
            "2020-05-01 12:00",
            str(changes["app_b"].pk),
            "beta-erp",
            "Application",
            "Desk B",
            "Changed: criticality",
            "admin",
        ]
    ]


def test_unauthorised_changes_are_paged(client, world, changes, monkeypatch):
    from accord.cmdb import views_baselines

    monkeypatch.setattr(views_baselines.UnauthorisedChangesView, "page_size", 3)
    r, rows = unauthorised(client, world.admin)
    assert len(rows) == 3 and r.context["next_url"]
    r2 = client.get(reverse("cmdb:unauthorised_changes") + r.context["next_url"])
    assert [(c.ci.name, c.summary) for c, _u in r2.context["rows"]] == [
        ("beta-erp", "Changed: criticality")
    ]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("?date_from=2020-13-45", "date_from", "valid date"),
        ("?date_to=yesterday", "date_to", "valid date"),
        ("?date_from=2021-01-02&date_to=2021-01-01", "date_to", "before the start date"),
        ("?owner=abc", "owner", "valid choice"),
        ("?owner=999999", "owner", "valid choice"),
        ("?owner=99999999999999999999999999", "owner", "valid choice"),
        ("?export=pdf", "__all__", "Unknown export"),
    ],
)
def test_bad_report_filters_are_refused_naming_the_field(
    client, world, changes, query, field, words
):
    client.force_login(world.admin)
    r = client.get(reverse("cmdb:unauthorised_changes") + query)
    assert r.status_code == 400
    errors = r.context["form"].errors
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert r.context["rows"] == []


def test_a_forged_cursor_shows_the_first_page(client, world, changes):
    r, rows = unauthorised(client, world.admin, "?cursor=not-a-cursor")
    assert r.status_code == 200 and len(rows) == 4
