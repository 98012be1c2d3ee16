"""The known error database's pages: the list with its words, service, CI and status
filters; create and edit with clear errors and optimistic locking; the page with its
workaround rendered from Markdown (safely), the incidents it served and its history;
applying a workaround from an incident; who may see and do what."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from accord.cmdb import actions as cmdb_actions
from accord.cmdb.models import CILink, CIType, ConfigurationItem
from accord.cmdb.testing import ensure_starting_types
from accord.core.context import acting_as
from accord.core.models import JournalEntry
from accord.problems import actions, suggestions
from accord.problems.choices import KnownErrorStatus
from accord.problems.models import KnownError, KnownErrorUse
from accord.problems.views_known_errors import render_workaround

pytestmark = pytest.mark.django_db

LIST = "/problems/known-errors/"


@pytest.fixture(autouse=True)
def _fresh_word_index():
    suggestions.forget()
    yield
    suggestions.forget()


@pytest.fixture
def make_known(world):
    def make(user=None, services=(), customers=(), cis=(), **fields):
        user = user or world.admin
        values = {
            "short_description": "Mail client asks for the password again",
            "symptoms": "Outlook prompts for credentials every few minutes.",
            "workaround": "1. Close Outlook.\n2. Run `klist purge`.",
            **fields,
        }
        with acting_as(user, "test"):
            known = actions.save_known_error(
                KnownError(**values), user, services=list(services), customers=list(customers)
            )
            for ci in cis:
                cmdb_actions.link_record(ci, known, user)
        return known

    return make


@pytest.fixture
def cis(world):
    ensure_starting_types()
    kind = CIType.objects.exclude(is_location=True).order_by("pk").first()
    out = {}
    with acting_as(world.admin, "test"):
        for name, customers in (
            ("mail-01", [world.customer_a]),
            ("mail-02", []),
            ("erp-b", [world.customer_b]),
        ):
            ci = ConfigurationItem(name=name, ci_type=kind)
            out[name] = cmdb_actions.save_ci(ci, customers=customers)
    return out


def numbers(response):
    text = response.content.decode()
    return sorted({k.number for k in KnownError.objects.all() if k.number in text})


# --- list ------------------------------------------------------------------------------
def test_the_list_searches_words_and_filters_by_service_ci_and_status(
    world, client, make_known, cis
):
    mail = make_known(services=[world.service], cis=[cis["mail-01"]])
    printer = make_known(
        short_description="Label printer prints garbled pages",
        symptoms="Labels come out with random characters.",
        workaround="Reinstall the driver.",
        status=KnownErrorStatus.FIXED,
    )
    beta = make_known(
        short_description="ERP export times out",
        symptoms="Payroll export stops after 30 minutes.",
        services=[world.service_b_only],
        cis=[cis["erp-b"]],
    )
    client.force_login(world.admin)
    response = client.get(LIST)
    assert response.status_code == 200
    assert numbers(response) == sorted([mail.number, printer.number, beta.number])
    text = response.content.decode()
    assert "Incidents served" in text and "Email" in text

    assert numbers(client.get(LIST, {"q": "garbled"})) == [printer.number]
    assert numbers(client.get(LIST, {"q": "password outlook"})) == [mail.number]
    assert numbers(client.get(LIST, {"service": world.service_b_only.pk})) == [beta.number]
    assert numbers(client.get(LIST, {"ci": "mail-01"})) == [mail.number]
    assert numbers(client.get(LIST, {"ci": str(cis["erp-b"].pk)})) == [beta.number]
    assert numbers(client.get(LIST, {"status": "fixed"})) == [printer.number]
    # An unknown CI is named next to its field, not a 500 and not "everything".
    response = client.get(LIST, {"ci": "no-such-ci"})
    assert response.status_code == 200
    assert "No configuration item “no-such-ci”." in response.content.decode()
    assert numbers(response) == []


def test_the_list_shows_an_agent_only_the_known_errors_of_their_customers(
    world, client, make_known
):
    alpha = make_known(short_description="Alpha only", customers=[world.customer_a])
    beta = make_known(short_description="Beta only", customers=[world.customer_b])
    shared = make_known(short_description="For everyone")
    client.force_login(world.agent_b)
    assert numbers(client.get(LIST)) == sorted([beta.number, shared.number])
    assert client.get(reverse("problems:known_error_detail", args=[alpha.pk])).status_code == 404
    client.force_login(world.customer_user_a)
    assert client.get(LIST).status_code == 403


def test_the_list_names_a_problem_only_to_those_who_may_see_it(world, client, make_known):
    with acting_as(world.admin, "test"):
        beta_problem = actions.create_problem(
            world.admin,
            {"short_description": "Beta ERP stalls", "impact": 2, "urgency": 2},
            customers=[world.customer_b],
        )
    known = make_known(problem=beta_problem)
    client.force_login(world.admin)
    assert beta_problem.number in client.get(LIST).content.decode()
    client.force_login(world.agent_a)
    page = client.get(LIST).content.decode()
    assert known.number in page and beta_problem.number not in page
    assert beta_problem.number not in client.get(known.get_absolute_url()).content.decode()
    assert beta_problem.number not in client.get(LIST, {"export": "csv"}).getvalue().decode()


def test_the_list_costs_the_same_few_queries_for_many_rows(
    world, client, make_known, django_assert_max_num_queries
):
    for i in range(12):
        make_known(short_description=f"Known error {i}", services=[world.service])
    client.force_login(world.agent_a)
    client.get(LIST)
    with django_assert_max_num_queries(14):
        response = client.get(LIST)
    assert response.content.decode().count("<tr data-href") == 12


# --- create and edit ---------------------------------------------------------------------
def form_data(world, **changes):
    data = {
        "short_description": "VPN drops every ten minutes",
        "symptoms": "The tunnel closes and reconnects.",
        "root_cause": "The concentrator's idle timeout is too short.",
        "workaround": "1. Open the VPN client.\n2. Tick **Keep alive**.",
        "status": "open",
        "problem": "",
        "services": [world.service.pk],
        "customers": [],
        "cis": "",
    }
    data.update(changes)
    return data


def test_create_then_edit_with_cis_services_and_customers(world, client, cis):
    client.force_login(world.agent_a)
    response = client.post(
        reverse("problems:known_error_create"),
        form_data(world, customers=[world.customer_a.pk], cis="mail-01, mail-02"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    known = KnownError.objects.get()
    assert response["Location"] == known.get_absolute_url()
    assert known.number.startswith("KE")
    assert list(known.services.all()) == [world.service]
    assert list(known.customers.all()) == [world.customer_a]
    ct = ContentType.objects.get_for_model(KnownError)
    linked = set(
        CILink.objects.filter(content_type=ct, object_id=known.pk).values_list(
            "ci__name", flat=True
        )
    )
    assert linked == {"mail-01", "mail-02"}

    edit = reverse("problems:known_error_edit", args=[known.pk])
    page = client.get(edit).content.decode()
    assert "mail-01" in page and "mail-02" in page
    response = client.post(
        edit,
        form_data(
            world,
            short_description="VPN drops every ten minutes (laptops)",
            customers=[world.customer_a.pk],
            cis="mail-02",
            version=known.version,
        ),
    )
    assert response.status_code == 302
    known.refresh_from_db()
    assert known.short_description.endswith("(laptops)")
    assert set(
        CILink.objects.filter(content_type=ct, object_id=known.pk).values_list(
            "ci__name", flat=True
        )
    ) == {"mail-02"}
    detail = client.get(known.get_absolute_url()).content.decode()
    assert "(laptops)" in detail and "mail-02" in detail


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"short_description": ""}, "short_description", "This field is required."),
        ({"workaround": ""}, "workaround", "This field is required."),
        ({"symptoms": ""}, "symptoms", "This field is required."),
        ({"status": "broken"}, "status", "Select a valid choice"),
        ({"problem": "PRB9999999"}, "problem", "No problem PRB9999999."),
        ({"cis": "mail-01, nowhere"}, "cis", "No configuration item “nowhere”."),
        ({"cis": "9" * 30}, "cis", "No configuration item “999"),
        ({"short_description": "x" * 161}, "short_description", "at most 160 characters"),
        ({"services": ["999999"]}, "services", "Select a valid choice"),
    ],
)
def test_bad_input_is_refused_naming_the_field(world, client, cis, changes, field, message):
    client.force_login(world.agent_a)
    response = client.post(reverse("problems:known_error_create"), form_data(world, **changes))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert any(message in str(e) for e in errors[field]), errors[field]
    assert not KnownError.objects.exists()


def test_an_agent_cannot_name_another_customers_ci_or_customer(world, client, cis):
    client.force_login(world.agent_a)
    response = client.post(
        reverse("problems:known_error_create"),
        form_data(world, cis="erp-b", customers=[world.customer_b.pk]),
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "No configuration item “erp-b”." in errors["cis"][0]
    assert "customers" in errors


def test_a_stale_edit_is_refused_and_the_input_kept(world, client, make_known):
    known = make_known()
    client.force_login(world.agent_a)
    edit = reverse("problems:known_error_edit", args=[known.pk])
    version = known.version
    with acting_as(world.admin, "test"):
        known.symptoms = "Changed meanwhile."
        actions.save_known_error(known, world.admin)
    response = client.post(edit, form_data(world, short_description="My edit", version=version))
    assert response.status_code == 409
    assert "Someone else changed this record" in response.content.decode()
    assert 'value="My edit"' in response.content.decode()
    assert KnownError.objects.get(pk=known.pk).short_description != "My edit"


def test_editing_keeps_the_customers_cis_and_problem_the_editor_cannot_see(
    world, client, make_known, cis
):
    with acting_as(world.admin, "test"):
        beta_problem = actions.create_problem(
            world.admin,
            {"short_description": "Beta ERP stalls", "impact": 2, "urgency": 2},
            customers=[world.customer_b],
        )
    known = make_known(
        customers=[world.customer_a, world.customer_b], cis=[cis["erp-b"]], problem=beta_problem
    )
    client.force_login(world.agent_a)
    page = client.get(reverse("problems:known_error_edit", args=[known.pk])).content.decode()
    assert beta_problem.number not in page
    response = client.post(
        reverse("problems:known_error_edit", args=[known.pk]),
        form_data(world, customers=[world.customer_a.pk], cis="mail-01", version=known.version),
    )
    assert response.status_code == 302
    known.refresh_from_db()
    assert known.problem_id == beta_problem.pk
    assert set(known.customers.all()) == {world.customer_a, world.customer_b}
    ct = ContentType.objects.get_for_model(KnownError)
    assert set(
        CILink.objects.filter(content_type=ct, object_id=known.pk).values_list(
            "ci__name", flat=True
        )
    ) == {"mail-01", "erp-b"}


def test_auditors_and_customers_cannot_write(world, client, make_known):
    known = make_known()
    client.force_login(world.auditor)
    assert client.get(reverse("problems:known_error_create")).status_code == 403
    assert client.get(reverse("problems:known_error_edit", args=[known.pk])).status_code == 403
    assert client.get(known.get_absolute_url()).status_code == 200
    client.force_login(world.customer_user_a)
    assert client.get(known.get_absolute_url()).status_code == 403


# --- the page ------------------------------------------------------------------------------
def test_markdown_is_rendered_and_html_in_it_is_escaped(world, client, make_known):
    known = make_known(
        workaround=(
            "1. Run `ipconfig /flushdns`\n"
            "2. **Restart** the client\n\n"
            '<script>alert("x")</script>\n\n'
            '<b onmouseover="alert(1)">bold</b> [docs](https://example.com/kb) '
            "[bad](javascript:alert(1)) ![img](https://example.com/x.png)"
        )
    )
    client.force_login(world.agent_a)
    page = client.get(known.get_absolute_url()).content.decode()
    assert "<ol>" in page and "<code>ipconfig /flushdns</code>" in page
    assert "<strong>Restart</strong>" in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<b onmouseover" not in page and "&lt;b onmouseover=" in page
    assert '<a href="https://example.com/kb" rel="nofollow noopener">docs</a>' in page
    assert 'href="javascript:' not in page
    assert "<img" not in page
    assert "style=" not in render_workaround(known.workaround)


def test_the_page_lists_the_incidents_served_that_the_user_may_see(
    world, client, make_known, make_incident
):
    known = make_known()
    alpha = make_incident(short_description="Alpha caller cannot read mail")
    beta = make_incident(customer=world.customer_b, short_description="Beta caller too")
    for incident in (alpha, beta):
        with acting_as(world.admin, "test"):
            actions.apply_workaround(known, incident, world.admin)
    client.force_login(world.agent_a)
    page = client.get(known.get_absolute_url()).content.decode()
    assert "Its workaround has served 2 incidents." in page
    served = page[page.index('id="served-h"') : page.index('id="hist-h"')]
    assert alpha.number in served and beta.number not in served
    assert "Workaround applied to an incident." in page  # history, naming no incident
    assert beta.number not in page


# --- applying a workaround -------------------------------------------------------------------
def test_applying_a_workaround_twice_is_refused_with_a_clear_message(
    world, client, make_known, make_incident
):
    known = make_known(services=[world.service])
    incident = make_incident(service=world.service)
    client.force_login(world.agent_a)
    url = reverse("problems:known_error_apply", args=[known.pk])
    response = client.post(url, {"incident": incident.pk}, follow=True)
    assert response.redirect_chain[-1][0] == incident.get_absolute_url()
    page = response.content.decode()
    assert f"Workaround from {known.number} applied" in page
    assert KnownErrorUse.objects.filter(known_error=known, incident=incident).count() == 1
    ct = ContentType.objects.get_for_model(type(incident))
    notes = JournalEntry.objects.filter(content_type=ct, object_id=incident.pk, kind="work_note")
    assert any("klist purge" in n.body for n in notes)
    assert KnownError.objects.get(pk=known.pk).use_count == 1

    response = client.post(url, {"incident": incident.pk}, follow=True)
    assert "This workaround is already applied to this incident." in response.content.decode()
    assert KnownErrorUse.objects.filter(known_error=known, incident=incident).count() == 1
    assert KnownError.objects.get(pk=known.pk).use_count == 1


def test_applying_to_an_incident_or_known_error_out_of_scope_is_not_found(
    world, client, make_known, make_incident
):
    shared = make_known()
    alpha_only = make_known(customers=[world.customer_a])
    alpha_incident = make_incident()
    beta_incident = make_incident(customer=world.customer_b)
    client.force_login(world.agent_b)
    url = reverse("problems:known_error_apply", args=[shared.pk])
    assert client.post(url, {"incident": alpha_incident.pk}).status_code == 404
    assert client.post(url, {"incident": "x"}).status_code == 404
    assert client.post(url, {"incident": "9" * 30}).status_code == 404
    other = reverse("problems:known_error_apply", args=[alpha_only.pk])
    assert client.post(other, {"incident": beta_incident.pk}).status_code == 404
    assert not KnownErrorUse.objects.exists()
    client.force_login(world.auditor)
    assert client.post(url, {"incident": beta_incident.pk}, follow=True).status_code == 403
