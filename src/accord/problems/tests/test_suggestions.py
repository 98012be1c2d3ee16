"""Known-error suggestions for an incident: what matches (service, CI, words) and in
what order, what a user may see, the incident page's panel with "Apply workaround",
the fragment the incident form asks for while the agent types, and the process's word
index staying current as known errors are written."""

import pytest
from django.urls import reverse

from accord.cmdb import actions as cmdb_actions
from accord.cmdb.models import CIType, ConfigurationItem
from accord.cmdb.testing import ensure_starting_types
from accord.core.context import acting_as
from accord.problems import actions, suggestions
from accord.problems.choices import KnownErrorStatus
from accord.problems.models import KnownError

pytestmark = pytest.mark.django_db

SUGGEST = "/problems/known-errors/suggestions/"


@pytest.fixture(autouse=True)
def _fresh_word_index():
    suggestions.forget()
    yield
    suggestions.forget()


@pytest.fixture
def known(world):
    def make(title, *, services=(), customers=(), cis=(), status="open", **fields):
        values = {
            "short_description": title,
            "symptoms": fields.pop("symptoms", f"Users report: {title.lower()}."),
            "workaround": fields.pop("workaround", f"Steps for {title}."),
            "status": status,
            **fields,
        }
        with acting_as(world.admin, "test"):
            k = actions.save_known_error(
                KnownError(**values),
                world.admin,
                services=list(services),
                customers=list(customers),
            )
            for ci in cis:
                cmdb_actions.link_record(ci, k, world.admin)
        return k

    return make


@pytest.fixture
def ci(world):
    ensure_starting_types()
    kind = CIType.objects.exclude(is_location=True).order_by("pk").first()

    def make(name, customers=()):
        with acting_as(world.admin, "test"):
            return cmdb_actions.save_ci(
                ConfigurationItem(name=name, ci_type=kind), customers=list(customers)
            )

    return make


def titles(found):
    return [s.known_error.short_description for s in found]


def test_same_ci_service_and_words_rank_first_and_closed_ones_are_left_out(world, known, ci):
    vpn_gw = ci("vpn-gw-01")
    other_service = world.service_b_only
    best = known("VPN client keeps disconnecting", services=[world.service], cis=[vpn_gw])
    words_and_service = known("VPN client keeps disconnecting on Wi-Fi", services=[world.service])
    words_only = known("VPN client keeps disconnecting at home", services=[other_service])
    service_only = known("Printer shows error 42", services=[world.service])
    ci_only = known("Gateway certificate expired", cis=[vpn_gw])
    known("VPN client keeps disconnecting (fixed)", status=KnownErrorStatus.FIXED)
    known("VPN client keeps disconnecting (retired)", status=KnownErrorStatus.RETIRED)
    known("Scanner jams on thick paper")  # nothing in common

    found = suggestions.suggest(
        world.admin,
        service_id=world.service.pk,
        ci_ids=[vpn_gw.pk],
        short_description="VPN client keeps disconnecting",
        description="The user says the tunnel drops every few minutes.",
    )
    # Service, CI and words first; then service and words; a known error of the
    # same CI or with the same words; the service's other known errors last.
    assert titles(found)[:2] == [best.short_description, words_and_service.short_description]
    assert set(titles(found)[2:4]) == {ci_only.short_description, words_only.short_description}
    assert titles(found)[4] == service_only.short_description
    first = found[0]
    assert first.same_service and first.same_cis == ["vpn-gw-01"]
    assert {"vpn", "disconnecting"} <= set(first.words)
    by_title = {s.known_error.short_description: s for s in found}
    assert by_title[ci_only.short_description].same_cis == ["vpn-gw-01"]
    assert by_title[words_only.short_description].words and not (
        by_title[words_only.short_description].same_service
    )
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)


def test_at_most_five_and_weak_word_matches_alone_are_not_suggested(world, known):
    for i in range(7):
        known(f"Mailbox quota full on shared mailbox {i}", services=[world.service])
    known("Payroll export is slow on Mondays")
    found = suggestions.suggest(world.admin, short_description="Mailbox quota full")
    assert len(found) == 5
    assert all("Mailbox quota" in t for t in titles(found))
    # One common word in a long text is not "similar".
    assert (
        suggestions.suggest(
            world.admin,
            short_description="Monitor flickers",
            description="It is slow to wake up, cable replaced, flickers on every desk we tried.",
        )
        == []
    )
    assert suggestions.suggest(world.admin) == []


def test_an_agent_never_sees_another_customers_known_error(world, known, make_incident):
    alpha = known(
        "Alpha payroll portal rejects logins",
        services=[world.service],
        customers=[world.customer_a],
    )
    shared = known("Payroll portal rejects logins after the update", services=[world.service])
    for user, expected in (
        (world.agent_b, [shared]),
        (world.agent_a, [alpha, shared]),
        (world.admin, [alpha, shared]),
    ):
        found = suggestions.suggest(
            user, service_id=world.service.pk, short_description="payroll portal rejects logins"
        )
        assert sorted(s.known_error.pk for s in found) == sorted(k.pk for k in expected), user
    assert suggestions.suggest(world.customer_user_a, short_description="payroll portal") == []
    # Through the page too.
    beta_incident = make_incident(
        customer=world.customer_b,
        service=world.service,
        short_description="Payroll portal rejects logins",
    )
    from django.test import Client

    client = Client()
    client.force_login(world.agent_b)
    page = client.get(beta_incident.get_absolute_url()).content.decode()
    assert shared.number in page and alpha.number not in page
    response = client.get(SUGGEST, {"short_description": "Alpha payroll portal rejects logins"})
    assert alpha.number not in response.content.decode()


def test_the_incident_page_suggests_and_applies_a_workaround(world, client, known, make_incident):
    ke = known(
        "Outlook asks for the password again",
        services=[world.service],
        workaround="1. Close Outlook.\n2. Run `klist purge`.\n\n<script>alert(1)</script>",
    )
    incident = make_incident(
        service=world.service, short_description="Outlook keeps asking for the password"
    )
    client.force_login(world.agent_a)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Known errors that may match" in page
    assert f'data-known-error="{ke.pk}"' in page
    assert "<code>klist purge</code>" in page and "<script>alert(1)" not in page
    apply_url = reverse("problems:known_error_apply", args=[ke.pk])
    assert f'action="{apply_url}"' in page
    response = client.post(apply_url, {"incident": incident.pk}, follow=True)
    page = response.content.decode()
    assert f"Workaround from {ke.number} applied" in page
    assert f'action="{apply_url}"' not in page  # the button became "Applied"
    panel = page[page.index('id="known-error-suggestions"') :]
    assert "Applied" in panel[: panel.index("</section>")]
    assert "Workaround from KE" in page and "klist purge" in page  # the journal
    assert KnownError.objects.get(pk=ke.pk).use_count == 1


def test_the_panel_is_for_staff_and_read_only_for_auditors(world, client, known, make_incident):
    ke = known("Shared drive is read-only", services=[world.service])
    incident = make_incident(service=world.service, short_description="Shared drive read-only")
    apply_url = reverse("problems:known_error_apply", args=[ke.pk])
    client.force_login(world.auditor)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert ke.number in page and f'action="{apply_url}"' not in page
    client.force_login(world.customer_user_a)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Known errors that may match" not in page and ke.number not in page
    assert client.get(SUGGEST, {"short_description": "shared drive"}).status_code == 403


def test_the_incident_form_asks_for_suggestions_for_staff_only(world, client):
    script = "problems/known_error_suggest.js"
    client.force_login(world.agent_a)
    page = client.get(reverse("incidents:create")).content.decode()
    assert script in page and reverse("problems:known_error_suggestions") in page
    # Service requests and customers' own forms do not.
    assert script not in client.get(reverse("requests:create")).content.decode()
    client.force_login(world.customer_user_a)
    response = client.get(reverse("incidents:create"))
    assert response.status_code == 200 and script not in response.content.decode()


def test_the_form_fragment_answers_while_logging(world, client, known, ci):
    gw = ci("vpn-gw-02", customers=[world.customer_a])
    ke = known("VPN gateway drops tunnels", cis=[gw])
    client.force_login(world.agent_a)
    response = client.get(SUGGEST, {"ci": "vpn-gw-02"})
    assert response.status_code == 200
    text = response.content.decode()
    assert f'data-known-error="{ke.pk}"' in text and "Same CI" in text
    assert "Apply workaround" not in text  # no incident yet
    response = client.get(SUGGEST, {"short_description": "tunnels drop", "format": "json"})
    assert response.json()["results"][0]["number"] == ke.number
    assert "Describe the incident" in client.get(SUGGEST).content.decode()
    # Bad input names the field; a CI still being typed narrows nothing.
    response = client.get(SUGGEST, {"service": "abc"})
    assert response.status_code == 400 and "service" in response.content.decode()
    response = client.get(SUGGEST, {"service": "abc", "format": "json"})
    assert response.status_code == 400 and "service" in response.json()["errors"]
    assert client.get(SUGGEST, {"ci": "vpn-g"}).status_code == 200
    assert client.get(SUGGEST, {"ci": "9" * 30 + ", ²"}).status_code == 200
    assert client.get(SUGGEST, {"incident": "9" * 30}).status_code == 400
    assert client.get(SUGGEST, {"service": "9" * 30}).status_code == 400
    assert client.get(SUGGEST, {"incident": 999999}).status_code == 404
    # Agent B cannot name Alpha's CI.
    client.force_login(world.agent_b)
    assert ke.number not in client.get(SUGGEST, {"ci": "vpn-gw-02"}).content.decode()


def test_the_word_index_follows_writes(world, known):
    def ask():
        return titles(suggestions.suggest(world.admin, short_description="badge reader beeps"))

    known("Unrelated: plotter out of ink")
    assert ask() == []  # the index is built now
    first = known("Badge reader beeps twice and stays locked")
    assert ask() == [first.short_description]
    with acting_as(world.admin, "test"):
        first.short_description = "Door controller reboots at night"
        first.symptoms = "The controller restarts."
        first.workaround = "Power it off and on."
        actions.save_known_error(first, world.admin)
    assert ask() == []
    second = known("Badge reader beeps at the car park")
    assert ask() == [second.short_description]
    with acting_as(world.admin, "test"):
        second.status = KnownErrorStatus.RETIRED
        actions.save_known_error(second, world.admin)
    assert ask() == []
    # Built afresh (a new process) it answers the same.
    suggestions.forget()
    assert ask() == []
    assert suggestions.current().size == 3


def test_words_with_accents_and_case_match(world, known):
    ke = known("Café kiosk shows ÉCRAN NOIR")
    found = suggestions.suggest(world.admin, short_description="cafe kiosk ecran noir")
    assert titles(found) == [ke.short_description]


def test_suggestions_cost_a_few_queries(
    world, known, ci, make_incident, django_assert_max_num_queries
):
    gw = ci("dock-gw")
    for i in range(30):
        known(f"Laptop dock {i} loses the second screen", services=[world.service], cis=[gw])
    incident = make_incident(service=world.service, short_description="Dock loses screen")
    with acting_as(world.admin, "test"):
        cmdb_actions.link_record(gw, incident, world.admin)
    suggestions.suggest(world.agent_a, short_description="dock second screen")
    # The change log, then the candidates as the database has them.
    with django_assert_max_num_queries(2):
        found = suggestions.suggest(
            world.agent_a, service_id=world.service.pk, short_description="dock second screen"
        )
    assert len(found) == 5
    # With the incident's CIs (one query with their links) and "applied" marks.
    with django_assert_max_num_queries(3):
        found = suggestions.for_incident(incident, world.agent_a)
    assert len(found) == 5 and all(s.same_cis == ["dock-gw"] for s in found)
