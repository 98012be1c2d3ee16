"""Tenancy matrix: what one customer's people and staff may see of another customer.

For every API endpoint registered on the router (read from ``router.registry``, so an
endpoint added later is covered without touching this file), every list page, the
search page and the CSV exports, and for a customer user of A, an agent serving A and
an agent serving B: the other customer's records never appear, cannot be fetched or
edited by id (the answer is the same as for an id that does not exist), and counts
leave them out. The auditor sees both customers and can change nothing; a customer
user never sees work notes or internal events.
"""

import csv
import io

import pytest
from django.core.files.base import ContentFile
from django.urls import NoReverseMatch, reverse

from accord.calendars.models import Calendar
from accord.catalogue.models import Service
from accord.changes import actions as change_actions
from accord.changes import releases as release_actions
from accord.changes.models import Change, Release
from accord.changes.views_changes import ChangeActionView
from accord.changes.views_releases import ReleaseActionView
from accord.cmdb.models import (
    CIType,
    ConfigurationItem,
    ImportRun,
    Relationship,
    RelationshipType,
)
from accord.core import history
from accord.core.context import acting_as
from accord.core.models import Attachment, JournalEntry, ObjectChange
from accord.core.policy import can
from accord.incidents.actions import log_ticket
from accord.incidents.filters import apply_queue
from accord.incidents.models import Incident, ServiceRequest
from accord.incidents.views import TicketActionView
from accord.organizations.models import Customer
from accord.problems import actions as problem_actions
from accord.problems.models import Problem
from accord.problems.views_problems import ProblemActionView
from accord.slas.models import Agreement
from accord.urls import router

USERS = ["customer_user_a", "agent_a", "agent_b"]
# Which customer each user belongs to or serves ("a" or "b"); the other one is foreign.
HOME = {"customer_user_a": "a", "agent_a": "a", "agent_b": "b"}
SECRET_WORD = {"a": "alphaword", "b": "betaword"}

ENDPOINTS = {prefix: viewset for prefix, viewset, _basename in router.registry}
PREFIXES = sorted(ENDPOINTS)

UI_LISTS = [
    pytest.param("incidents:queue", {"queue": "all"}, Incident, id="incidents"),
    pytest.param("requests:queue", {"queue": "all"}, ServiceRequest, id="requests"),
    pytest.param("catalogue:service_list", {}, Service, id="services"),
    pytest.param("organizations:customer_list", {}, Customer, id="customers"),
    pytest.param("slas:agreement_list", {}, Agreement, id="agreements"),
    pytest.param("cmdb:ci_list", {}, ConfigurationItem, id="cis"),
    pytest.param("problems:list", {}, Problem, id="problems"),
    pytest.param("changes:list", {}, Change, id="changes"),
    pytest.param("changes:release_list", {}, Release, id="releases"),
]
TICKET_ACTIONS = sorted(name[3:] for name in dir(TicketActionView) if name.startswith("do_"))
PROBLEM_ACTIONS = sorted(name[3:] for name in dir(ProblemActionView) if name.startswith("do_"))
CHANGE_ACTIONS = sorted(name[3:] for name in dir(ChangeActionView) if name.startswith("do_"))
RELEASE_ACTIONS = sorted(name[3:] for name in dir(ReleaseActionView) if name.startswith("do_"))
# Pages for the provider's staff only: customer users are refused them outright.
STAFF_PAGES = (Customer, Problem, Change, Release)
NOT_FOUND_PK = 987654


# --- the world ------------------------------------------------------------------------
@pytest.fixture
def tenants(world, make_incident, settings, tmp_path):
    """Tickets, journal lines and attachments for both customers, and a service each
    customer uses alone. Every ticket carries its customer's secret word."""
    settings.MEDIA_ROOT = tmp_path
    with acting_as(None, "test"):
        crm = Service.objects.create(name="Alpha CRM", status="live")
        crm.customers.add(world.customer_a)
    with acting_as(world.admin, "test"):
        calendar = Calendar(name="Office", time_zone="UTC")
        calendar.save()
        for key, customer in (("a", world.customer_a), ("b", world.customer_b)):
            sla = Agreement(
                name=f"SLA {SECRET_WORD[key]}",
                customer=customer,
                calendar=calendar,
                status="agreed",
                valid_from="2020-01-01",
            )
            sla.save()
            for p in range(1, 6):
                sla.targets.create(priority=p, metric="resolution", seconds=8 * 3600)
    with acting_as(world.admin, "test"):
        # A CI both customers use, and one of each customer's linked to it.
        both = ConfigurationItem(name="core-switch", ci_type=CIType.objects.get(key="server"))
        both.save()
        both.customers.add(world.customer_a, world.customer_b)
        for key, customer in (("a", world.customer_a), ("b", world.customer_b)):
            ci = ConfigurationItem(
                name=f"ci-{SECRET_WORD[key]}", ci_type=CIType.objects.get(key="server")
            )
            ci.save()
            ci.customers.add(customer)
            Relationship(
                source=ci, target=both, rel_type=RelationshipType.objects.get(key="depends-on")
            ).save()
        ImportRun.objects.create(kind="cis", filename="estate.csv", created_by=world.admin)
    out = {}
    for key, customer, team in (
        ("a", world.customer_a, world.team_a),
        ("b", world.customer_b, world.team_b),
    ):
        word = SECRET_WORD[key]
        plain = make_incident(customer=customer, short_description=f"Zebrafish {word} mail")
        with acting_as(world.admin, "test"):
            log_ticket(
                Incident,
                world.admin,
                {
                    "customer": customer,
                    "short_description": f"Zebrafish {word} queue",
                    "assignment_team": team,
                    "impact": 1,
                    "urgency": 1,
                },
                priority=5,
                priority_reason=f"internal-event-{word}",
            )
        make_incident(
            customer=customer, model=ServiceRequest, short_description=f"Zebrafish {word} laptop"
        )
        with acting_as(world.admin, "test"):
            history.journal(plain, JournalEntry.Kind.WORK_NOTE, f"worknote-{word}")
            history.journal(plain, JournalEntry.Kind.REPLY, f"reply-{word}")
        attachment = Attachment(
            content_type_id=_ct(Incident),
            object_id=plain.pk,
            filename=f"{word}.txt",
            size=5,
            customer_visible=True,
        )
        attachment.file.save(f"{word}.txt", ContentFile(b"hello"), save=False)
        attachment.save()
        with acting_as(world.admin, "test"):
            problem = problem_actions.create_problem(
                world.admin,
                {"short_description": f"Relay fault {word}", "impact": 2, "urgency": 2},
                incidents=[plain],
            )
        with acting_as(world.admin, "test"):
            change = change_actions.create_change(
                world.admin,
                {
                    "short_description": f"Relay patch {word}",
                    "reason": "Fix the relay",
                    "implementation_plan": "upgrade",
                    "backout_plan": "restore",
                    "assignment_team": team,
                },
                customers=[customer],
                problems=[problem],
            )
            release = release_actions.create_release(
                world.admin,
                {
                    "short_description": f"Relay release {word}",
                    "release_version": "2.0",
                    "kind": "minor",
                },
                services=[world.service],
                customers=[customer],
                changes=[change],
            )
        out[key] = {
            "customer": customer,
            "incident": plain,
            "attachment": attachment,
            "problem": problem,
            "change": change,
            "release": release,
        }
    with acting_as(world.admin, "test"):
        # The provider's own problem, naming no customer: every member of staff sees it.
        problem_actions.create_problem(
            world.admin, {"short_description": "Shared relay fault", "impact": 2, "urgency": 2}
        )
        # And the provider's own change and release.
        change_actions.create_change(
            world.admin,
            {"short_description": "Shared relay patch", "reason": "r", "backout_plan": "b"},
        )
        release_actions.create_release(
            world.admin,
            {"short_description": "Shared relay release", "release_version": "1", "kind": "minor"},
            services=[world.service],
        )
    return out


def _ct(model):
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(model).pk


def _customers(world, username):
    home = HOME[username]
    other = "b" if home == "a" else "a"
    by_key = {"a": world.customer_a, "b": world.customer_b}
    return home, other, by_key[home], by_key[other]


def private_records(model, customer, other_customer, user):
    """The records of ``model`` that belong to ``customer`` and not to the other one,
    as far as ``user``'s role is concerned. Every model behind an endpoint must be
    described here, so a new record type forces a decision about its tenancy."""
    field = getattr(model, "customer_field", None)
    if field is not None:
        return model._base_manager.filter(**{field: customer.pk})
    if model is ConfigurationItem:
        return ConfigurationItem.objects.filter(customers=customer).exclude(
            customers=other_customer
        )
    if model is Relationship:
        own = private_records(ConfigurationItem, customer, other_customer, user)
        return Relationship.objects.filter(source__in=own) | Relationship.objects.filter(
            target__in=own
        )
    if model is ImportRun:
        return ImportRun.objects.none()  # the provider's own work: staff only, no customer
    if model is Problem:
        if user.role == "customer":
            return Problem.objects.none()  # the provider's records: customer users see none
        return Problem.objects.filter(customers=customer).exclude(customers=other_customer)
    if model is Change:
        if user.role == "customer":
            return Change.objects.none()  # the provider's records: customer users see none
        return Change.objects.filter(customers=customer).exclude(customers=other_customer)
    if model is Release:
        if user.role == "customer":
            return Release.objects.none()  # the provider's records: customer users see none
        return Release.objects.filter(customers=customer).exclude(customers=other_customer)
    if model is Service:
        if user.role != "customer":
            return Service.objects.none()  # the catalogue is shared reference data for staff
        return Service.objects.filter(customers=customer).exclude(customers=other_customer)
    pytest.fail(f"test_tenancy does not know how {model.__name__} belongs to customers")


def marker(obj):
    """The string that identifies a record on a page or in a response."""
    for attr in ("number", "name", "label"):
        value = getattr(obj, attr, None)
        if value:
            return str(value)
    pytest.fail(f"no identifying string for {type(obj).__name__}")


def assert_absent(text, records, word):
    for obj in records:
        assert marker(obj) not in text, f"{marker(obj)} leaked"
    assert word not in text, f"{word} leaked"


def every_foreign_record(user, own_customer, other_customer):
    """The other customer's records of every type behind an endpoint: none of them
    may show anywhere the user looks (not only on their own list)."""
    return [
        obj
        for prefix in PREFIXES
        for obj in private_records(_model(prefix), other_customer, own_customer, user)
    ]


def assert_present(text, records):
    for obj in records:
        assert marker(obj) in text, f"{marker(obj)} missing"


@pytest.fixture
def ui_as(client):
    def make(user):
        client.force_login(user)
        return client

    return make


def _model(prefix):
    return ENDPOINTS[prefix].queryset.model


def _trail_counts():
    return (ObjectChange.objects.count(), JournalEntry.objects.count(), Attachment.objects.count())


def _detail_actions(prefix):
    """(url suffix, methods) of the endpoint's extra per-record actions."""
    return [
        (action.url_path, sorted(m.upper() for m in action.mapping))
        for action in ENDPOINTS[prefix].get_extra_actions()
        if action.detail
    ]


def action_payload(suffix, obj):
    return {
        "journal": {"kind": "reply", "body": "hello"},
        "transition": {"name": "start", "version": getattr(obj, "version", 1)},
    }.get(suffix, {})


# --- API ------------------------------------------------------------------------------
def test_every_endpoint_model_has_a_tenancy_rule(world):
    for prefix in PREFIXES:
        private_records(_model(prefix), world.customer_a, world.customer_b, world.customer_user_a)


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_api_list_shows_only_own_records(prefix, username, world, tenants, api_as):
    user = getattr(world, username)
    home, other, own_customer, other_customer = _customers(world, username)
    model = _model(prefix)
    foreign = list(private_records(model, other_customer, own_customer, user))
    owned = list(private_records(model, own_customer, other_customer, user))

    r = api_as(user).get(f"/api/{prefix}/", {"page_size": 200})
    if r.status_code == 403:
        # Refused outright: an endpoint for other roles (CMDB imports, say).
        assert not owned, f"{username} is refused {prefix} but owns records there"
        return
    assert r.status_code == 200
    text = r.content.decode()
    assert_absent(
        text, every_foreign_record(user, own_customer, other_customer), SECRET_WORD[other]
    )
    assert_present(text, owned)
    ids = {row["id"] for row in r.json()["results"]}
    assert not ids & {obj.pk for obj in foreign}
    # Everything in this world belongs to A, to B or to both: the count is all but B's.
    assert len(ids) == model._base_manager.count() - len(foreign)


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_api_list_filtered_by_other_customer_is_like_an_unknown_one(
    prefix, username, world, tenants, api_as
):
    """Filtering by the other customer's id answers exactly as for an id that does not
    exist: an empty list or an "unknown choice" error, never their rows."""
    user = getattr(world, username)
    _home, other, own_customer, other_customer = _customers(world, username)
    filterset = getattr(ENDPOINTS[prefix], "filterset_class", None)
    if filterset is None or "customer" not in (filterset.base_filters or {}):
        pytest.skip(f"{prefix} has no customer filter")
    client = api_as(user)
    r = client.get(f"/api/{prefix}/", {"customer": other_customer.pk, "page_size": 200})
    missing = client.get(f"/api/{prefix}/", {"customer": NOT_FOUND_PK, "page_size": 200})
    assert r.status_code == missing.status_code, (r.status_code, missing.status_code)
    assert r.json() == missing.json()
    assert_absent(
        r.content.decode(),
        every_foreign_record(user, own_customer, other_customer),
        SECRET_WORD[other],
    )
    if r.status_code == 403:
        return  # refused outright (an endpoint for staff only): nothing to filter
    # The filter itself works: the user's own customer gives their rows.
    r = client.get(f"/api/{prefix}/", {"customer": own_customer.pk, "page_size": 200})
    assert r.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_api_other_customers_records_cannot_be_fetched_or_edited(
    prefix, username, world, tenants, api_as
):
    user = getattr(world, username)
    _home, other, own_customer, other_customer = _customers(world, username)
    model = _model(prefix)
    foreign = list(private_records(model, other_customer, own_customer, user))
    if not foreign:
        pytest.skip(f"{prefix}: no records private to a customer for this role")
    client = api_as(user)
    missing = f"/api/{prefix}/{NOT_FOUND_PK}/"
    before = _trail_counts()

    for obj in foreign:
        url = f"/api/{prefix}/{obj.pk}/"
        r = client.get(url)
        assert r.status_code == 404, (url, r.status_code)
        assert marker(obj) not in r.content.decode()

        patch = {"version": getattr(obj, "version", 1), "description": "hijacked"}
        r = client.patch(url, patch, format="json")
        expected = client.patch(missing, patch, format="json").status_code
        assert r.status_code == expected, (url, r.status_code, expected)
        # Not found for a role that may edit this type; refused outright for the others;
        # an endpoint that edits only through its actions allows no PATCH at all.
        if not can(user, "change", model):
            assert r.status_code == 403
        else:
            assert r.status_code == (404 if hasattr(ENDPOINTS[prefix], "partial_update") else 405)

        for suffix, methods in _detail_actions(prefix):
            action_url = f"{url}{suffix}/"
            for method in methods:
                payload = action_payload(suffix, obj) if method != "GET" else None
                r = client.generic(method, action_url, _json(payload), "application/json")
                expected = client.generic(
                    method, f"{missing}{suffix}/", _json(payload), "application/json"
                ).status_code
                assert r.status_code == expected == 404, (method, action_url, r.status_code)

        fresh = model._base_manager.get(pk=obj.pk)
        assert getattr(fresh, "version", None) == getattr(obj, "version", None)
        assert getattr(fresh, "description", "") != "hijacked"
    assert _trail_counts() == before


def _json(payload):
    import json

    return json.dumps(payload) if payload is not None else ""


# --- pages ----------------------------------------------------------------------------
def _body(response):
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("export", [False, True], ids=["page", "csv"])
@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize(("url_name", "params", "model"), UI_LISTS)
def test_list_pages_and_exports_show_only_own_records(
    url_name, params, model, username, export, world, tenants, ui_as
):
    user = getattr(world, username)
    _home, other, own_customer, other_customer = _customers(world, username)
    foreign = list(private_records(model, other_customer, own_customer, user))
    owned = list(private_records(model, own_customer, other_customer, user))
    params = {**params, **({"export": "csv"} if export else {})}

    r = ui_as(user).get(reverse(url_name), params)
    if model in STAFF_PAGES and user.role == "customer":
        assert r.status_code == 403  # customer users have no such pages at all
        return
    assert r.status_code == 200
    text = _body(r)
    assert_absent(
        text, every_foreign_record(user, own_customer, other_customer), SECRET_WORD[other]
    )
    assert_present(text, owned)
    expected = model._base_manager.count() - len(foreign)

    if export and r.get("Content-Type", "").startswith("text/csv"):
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) - 1 == expected
    elif r.context is not None and "total" in r.context:
        assert r.context["total"] == expected
        assert len(r.context["rows"]) == expected
    else:
        # The customer's catalogue page lists services without a count.
        assert user.role == "customer" and model is Service
        assert len(r.context["services"]) == expected

    if not export and r.context is not None and "queues" in r.context:
        own_rows = model._base_manager.filter(customer=own_customer)
        for queue in r.context["queues"]:
            if queue["count"] is not None:
                assert queue["count"] == apply_queue(own_rows, queue["key"], user).count(), queue


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERS)
def test_queue_badges_count_only_own_records(username, world, tenants, ui_as):
    """The unassigned/open badges would grow if the other customer's tickets leaked."""
    user = getattr(world, username)
    _home, _other, own_customer, _other_customer = _customers(world, username)
    r = ui_as(user).get(reverse("incidents:queue"), {"queue": "open"})
    assert r.status_code == 200
    counts = {q["key"]: q["count"] for q in r.context["queues"]}
    own_open = Incident.objects.filter(customer=own_customer).count()
    assert counts["open"] == own_open == 2
    if user.role != "customer":
        assert counts["unassigned"] == own_open
    assert r.context["total"] == own_open


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERS)
def test_search_shows_only_own_records(username, world, tenants, ui_as):
    user = getattr(world, username)
    _home, other, own_customer, other_customer = _customers(world, username)
    r = ui_as(user).get(reverse("search"), {"q": "zebrafish"})
    assert r.status_code == 200
    text = r.content.decode()
    foreign = [
        *private_records(Incident, other_customer, own_customer, user),
        *private_records(ServiceRequest, other_customer, own_customer, user),
    ]
    owned = [
        *private_records(Incident, own_customer, other_customer, user),
        *private_records(ServiceRequest, own_customer, other_customer, user),
    ]
    assert_absent(text, foreign, SECRET_WORD[other])
    assert_absent(text, every_foreign_record(user, own_customer, other_customer), "\0")
    assert_present(text, owned)
    assert len(r.context["results"]) == len(owned) == 3

    # Asking for the other customer's word finds nothing.
    r = ui_as(user).get(reverse("search"), {"q": SECRET_WORD[other]})
    assert r.context["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERS)
def test_create_forms_offer_only_own_customer_and_services(username, world, tenants, ui_as):
    user = getattr(world, username)
    _home, other, own_customer, other_customer = _customers(world, username)
    url_names = ["incidents:create", "requests:create"]
    if user.role != "customer":
        url_names.append("problems:create")
    for url_name in url_names:
        r = ui_as(user).get(reverse(url_name))
        assert r.status_code == 200
        text = r.content.decode()
        assert_absent(
            text, every_foreign_record(user, own_customer, other_customer), SECRET_WORD[other]
        )


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["agent_a", "agent_b"])
def test_other_customers_people_are_not_offered_or_accepted_as_callers(
    username, world, tenants, ui_as, api_as
):
    from accord.users.models import User

    user = getattr(world, username)
    _home, _other, own_customer, other_customer = _customers(world, username)
    theirs = User.objects.get(contact__customer=other_customer)
    ours = User.objects.get(contact__customer=own_customer)

    text = ui_as(user).get(reverse("incidents:create")).content.decode()
    assert f'value="{theirs.pk}">{theirs}<' not in text
    assert f'value="{ours.pk}">{ours}<' in text

    client = api_as(user)
    data = {"customer": own_customer.pk, "short_description": "On behalf"}
    r = client.post("/api/incidents/", {**data, "caller": theirs.pk}, format="json")
    assert r.status_code == 400
    assert "caller" in r.json()
    r = client.post("/api/incidents/", {**data, "caller": ours.pk}, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["caller"] == ours.pk


def _edit_url_name(detail_url_name):
    name = detail_url_name.replace("detail", "edit")
    try:
        reverse(name, args=[1])
    except NoReverseMatch:
        return None
    return name


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_pages_of_other_customers_records_are_not_found(prefix, username, world, tenants, ui_as):
    user = getattr(world, username)
    _home, _other, own_customer, other_customer = _customers(world, username)
    model = _model(prefix)
    detail_name = getattr(model, "detail_url_name", None)
    if detail_name is None:
        pytest.skip(f"{model.__name__} has no page of its own")
    foreign = list(private_records(model, other_customer, own_customer, user))
    if not foreign:
        pytest.skip(f"{prefix}: no records private to a customer for this role")
    client = ui_as(user)
    before = _trail_counts()
    refused = 403 if (model is Customer and user.role == "customer") else 404

    for obj in foreign:
        r = client.get(reverse(detail_name, args=[obj.pk]))
        assert r.status_code == refused, (detail_name, r.status_code)
        assert r.status_code == client.get(reverse(detail_name, args=[NOT_FOUND_PK])).status_code

        edit_name = _edit_url_name(detail_name)
        if edit_name:
            url = reverse(edit_name, args=[obj.pk])
            assert client.get(url).status_code == 404
            r = client.post(url, {"short_description": "hijacked", "name": "hijacked"})
            assert r.status_code == 404

        namespace = detail_name.split(":")[0]
        if issubclass(model, (Incident, ServiceRequest)):
            for action in TICKET_ACTIONS:
                url = reverse(f"{namespace}:action", args=[obj.pk, action])
                r = client.post(url, {"version": obj.version, "body": "x", "kind": "reply"})
                assert r.status_code == 404, (action, r.status_code)
            upload = reverse("attachment_upload", args=[_ct(model), obj.pk])
            r = client.post(upload, {"file": ContentFile(b"data", name="x.txt")})
            assert r.status_code == 404
        if model is Problem:
            for action in PROBLEM_ACTIONS:
                url = reverse("problems:action", args=[obj.pk, action])
                r = client.post(url, {"version": obj.version, "name": "investigate"})
                assert r.status_code == 404, (action, r.status_code)
            r = client.post(
                reverse("cmdb:affected", args=[_ct(model), obj.pk]), {"ci": "core-switch"}
            )
            assert r.status_code == 404
        if model is Change:
            for action in CHANGE_ACTIONS:
                url = reverse("changes:action", args=[obj.pk, action])
                r = client.post(url, {"version": obj.version, "name": "submit", "ci": "x"})
                assert r.status_code == 404, (action, r.status_code)
        if model is Release:
            for action in RELEASE_ACTIONS:
                url = reverse("changes:release_action", args=[obj.pk, action])
                r = client.post(url, {"version": obj.version, "name": "start_build"})
                assert r.status_code == 404, (action, r.status_code)

        fresh = model._base_manager.get(pk=obj.pk)
        assert fresh.version == obj.version
    assert _trail_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("username", USERS)
def test_attachments_of_other_customers_records_cannot_be_downloaded(
    username, world, tenants, ui_as
):
    user = getattr(world, username)
    home, other, _own, _other_customer = _customers(world, username)
    client = ui_as(user)
    own = client.get(reverse("attachment_download", args=[tenants[home]["attachment"].pk]))
    assert own.status_code == 200
    r = client.get(reverse("attachment_download", args=[tenants[other]["attachment"].pk]))
    assert r.status_code == 404


# --- auditor --------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("prefix", PREFIXES)
def test_auditor_sees_both_customers_in_the_api(prefix, world, tenants, api_as):
    model = _model(prefix)
    r = api_as(world.auditor).get(f"/api/{prefix}/", {"page_size": 200})
    assert r.status_code == 200
    text = r.content.decode()
    for customer, other in ((world.customer_a, world.customer_b), (world.customer_b, None)):
        assert_present(text, private_records(model, customer, other, world.auditor))
    assert len(r.json()["results"]) == model._base_manager.count()


@pytest.mark.django_db
@pytest.mark.parametrize(("url_name", "params", "model"), UI_LISTS)
def test_auditor_sees_both_customers_on_pages(url_name, params, model, world, tenants, ui_as):
    r = ui_as(world.auditor).get(reverse(url_name), params)
    assert r.status_code == 200
    text = r.content.decode()
    for customer, other in ((world.customer_a, world.customer_b), (world.customer_b, None)):
        assert_present(text, private_records(model, customer, other, world.auditor))
    assert r.context["total"] == model._base_manager.count()


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", PREFIXES)
def test_auditor_cannot_write_through_the_api(prefix, world, tenants, api_as):
    model = _model(prefix)
    client = api_as(world.auditor)
    before = (_trail_counts(), model._base_manager.count())
    obj = model._base_manager.order_by("pk").first()
    assert obj is not None

    r = client.post(
        f"/api/{prefix}/",
        {"customer": world.customer_a.pk, "short_description": "x", "name": "x"},
        format="json",
    )
    assert r.status_code == 403, r.content
    r = client.patch(
        f"/api/{prefix}/{obj.pk}/",
        {"version": getattr(obj, "version", 1), "description": "x"},
        format="json",
    )
    # Refused; or, for a kind of record nobody edits through the API, not offered.
    assert r.status_code in (403, 405), r.content
    for suffix, methods in _detail_actions(prefix):
        if "POST" in methods:
            r = client.post(
                f"/api/{prefix}/{obj.pk}/{suffix}/", action_payload(suffix, obj), format="json"
            )
            assert r.status_code == 403, (suffix, r.content)
    assert (_trail_counts(), model._base_manager.count()) == before
    assert getattr(model._base_manager.get(pk=obj.pk), "version", None) == getattr(
        obj, "version", None
    )


def _ui_writes(world, tenants):
    """(url, POST data, status for a writer) of every form the pages offer, with valid
    data read afresh (so versions are current). The major incident actions come first
    after the declaration, which they need."""
    incident = Incident.objects.get(pk=tenants["a"]["incident"].pk)
    request = ServiceRequest.objects.filter(customer=world.customer_a).first()
    other_incident = Incident.objects.filter(customer=world.customer_a).exclude(pk=incident.pk)
    service = Service.objects.get(pk=world.service.pk)
    ticket = {
        "customer": world.customer_a.pk,
        "short_description": "Written here",
        "impact": 2,
        "urgency": 2,
    }
    writes = [
        (reverse("incidents:create"), ticket, 302),
        (reverse("requests:create"), ticket, 302),
        (
            reverse("incidents:edit", args=[incident.pk]),
            {**ticket, "version": incident.version},
            302,
        ),
        (reverse("requests:edit", args=[request.pk]), {**ticket, "version": request.version}, 302),
        (reverse("catalogue:service_create"), {"name": "Written svc", "status": "live"}, 302),
        (
            reverse("catalogue:service_edit", args=[service.pk]),
            {"name": "Renamed", "status": "live", "version": service.version},
            302,
        ),
        (
            reverse("attachment_upload", args=[_ct(Incident), incident.pk]),
            {"file": ContentFile(b"data", name="x.txt")},
            302,
        ),
    ]
    problem = (
        Problem.objects.filter(customers=world.customer_a)
        .exclude(customers=world.customer_b)
        .order_by("pk")
        .first()
    )
    problem_fields = {"short_description": "Problem written here", "impact": 2, "urgency": 2}
    writes += [
        (reverse("problems:create"), problem_fields, 302),
        (
            reverse("problems:edit", args=[problem.pk]),
            {
                **problem_fields,
                "priority": problem.priority,
                "customers": [world.customer_a.pk],
                "version": problem.version,
            },
            302,
        ),
        (
            reverse("problems:action", args=[problem.pk, "transition"]),
            {"name": "investigate", "version": problem.version},
            200,
        ),
        (
            reverse("problems:action", args=[problem.pk, "add_row"]),
            {"part": "factor", "kind": "process", "description": "No alert"},
            200,
        ),
        (
            reverse("problems:action", args=[problem.pk, "review"]),
            {"summary": "Reviewed"},
            200,
        ),
        (
            reverse("problems:incident_link", args=[other_incident.first().pk]),
            {"number": problem.number},
            302,
        ),
    ]
    change = Change.objects.get(pk=tenants["a"]["change"].pk)
    change_fields = {
        "kind": "normal",
        "short_description": "Change written here",
        "reason": "Needed",
        "implementation_plan": "do it",
        "backout_plan": "undo it",
        "planned_start": "2031-01-01T10:00",
        "planned_end": "2031-01-01T11:00",
    }
    writes += [
        (reverse("changes:create"), change_fields, 302),
        (
            reverse("changes:edit", args=[change.pk]),
            {**change_fields, "customers": [world.customer_a.pk], "version": change.version},
            302,
        ),
        (
            reverse("changes:action", args=[change.pk, "transition"]),
            {"name": "submit", "version": change.version},
            200,
        ),
    ]
    for namespace, record, link_to in (
        ("incidents", incident, request),
        ("requests", request, other_incident.first()),
    ):
        action_data = {
            "assign_me": {"version": record.version},
            "transition": {"version": record.version, "name": "start"},
            "comment": {"kind": "reply", "body": "hello"},
            "declare_major": {
                "version": record.version,
                "major_reason": "Everything is down",
                "major_manager": world.manager_a.pk,
            },
            "link": {"number": link_to.number},
            "major_update": {"body": "update"},
            "communication": {
                "channel": "email",
                "audience": "all",
                "subject": "Outage",
                "body": "We are on it",
            },
            "review": {"summary": "Root cause found"},
        }
        for action in sorted(TICKET_ACTIONS, key=lambda a: (a != "declare_major", a)):
            url = reverse(f"{namespace}:action", args=[record.pk, action])
            offered = namespace == "incidents" or action not in TicketActionView.incident_only
            writes.append((url, action_data.get(action, {}), 200 if offered else 404))
    return writes


@pytest.mark.django_db
def test_auditor_cannot_write_through_the_pages(world, tenants, ui_as):
    client = ui_as(world.auditor)
    before = (
        _trail_counts(),
        Incident.objects.count(),
        ServiceRequest.objects.count(),
        Service.objects.count(),
    )
    for url, data, writer_status in _ui_writes(world, tenants):
        r = client.post(url, data, HTTP_HX_REQUEST="true")
        # Refused; an action that does not exist for the record type is simply not found.
        assert r.status_code == (404 if writer_status == 404 else 403), (url, r.status_code)
    after = (
        _trail_counts(),
        Incident.objects.count(),
        ServiceRequest.objects.count(),
        Service.objects.count(),
    )
    assert after == before


@pytest.mark.django_db
def test_the_same_writes_work_for_an_administrator(world, tenants, ui_as):
    """The auditor's refusals above are about the role, not about broken form data."""
    client = ui_as(world.admin)
    before = _trail_counts()
    for i in range(len(_ui_writes(world, tenants))):
        url, data, expected = _ui_writes(world, tenants)[i]
        r = client.post(url, data, HTTP_HX_REQUEST="true")
        errors = r.context.get("errors") if r.context else None
        assert r.status_code == expected, (url, r.status_code, errors)
    assert all(after > was for after, was in zip(_trail_counts(), before, strict=True))
    assert Incident.objects.filter(short_description="Written here").exists()
    assert Incident.objects.get(pk=tenants["a"]["incident"].pk).is_major


# --- work notes -----------------------------------------------------------------------
@pytest.mark.django_db
def test_customer_user_never_sees_work_notes_or_internal_events(world, tenants, ui_as, api_as):
    incident = tenants["a"]["incident"]
    overridden = Incident.objects.get(short_description__contains="alphaword queue")

    page = ui_as(world.customer_user_a).get(incident.get_absolute_url())
    assert page.status_code == 200
    text = page.content.decode()
    assert "reply-alphaword" in text
    assert "worknote-alphaword" not in text
    assert all(
        item.customer_visible for kind, _at, item in page.context["timeline"] if kind == "journal"
    )
    page = ui_as(world.customer_user_a).get(overridden.get_absolute_url())
    assert "internal-event-alphaword" not in page.content.decode()

    client = api_as(world.customer_user_a)
    bodies = [e["body"] for e in client.get(f"/api/incidents/{incident.pk}/journal/").json()]
    assert "reply-alphaword" in bodies
    assert "worknote-alphaword" not in bodies
    bodies = " ".join(
        e["body"] for e in client.get(f"/api/incidents/{overridden.pk}/journal/").json()
    )
    assert "internal-event-alphaword" not in bodies

    # Staff do see them, so the checks above are about the role.
    staff = ui_as(world.agent_a).get(incident.get_absolute_url()).content.decode()
    assert "worknote-alphaword" in staff
    staff = ui_as(world.agent_a).get(overridden.get_absolute_url()).content.decode()
    assert "internal-event-alphaword" in staff
