"""Work on a change after it is raised: work notes in its journal, further problems
and incidents it fixes (linked and unlinked, journalled on both records), and the
CMDB's changes to live CIs that name it as their authorising change."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accord.changes import actions
from accord.changes.choices import Status
from accord.core.context import acting_as
from accord.core.models import JournalEntry

from . import test_pages as pages
from .test_pages import act, fresh, step

# The page tests' fixtures, shared.
slot, new_change, make_ci, as_user = pages.slot, pages.new_change, pages.make_ci, pages.as_user

pytestmark = pytest.mark.django_db


def journal(record):
    from django.contrib.contenttypes.models import ContentType

    return list(
        JournalEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
        )
        .order_by("pk")
        .values_list("kind", "body")
    )


def make_problem(world, user=None, customers=(), **fields):
    from accord.problems import actions as problem_actions

    user = user or world.admin
    with acting_as(user, "test"):
        problem = problem_actions.create_problem(
            user,
            {"short_description": "Relay drops mail", "impact": 2, "urgency": 2, **fields},
        )
    if customers:
        problem.customers.set(customers)
    return problem


def approved(change, user):
    """The change as if its approver had said yes (the approval rules have their tests)."""
    step(change, user, "submit")
    change = fresh(change)
    change.risk_class, change.approver_kind = "low", "none"
    change.save()
    step(change, user, "assess")
    return fresh(change)


# --- work notes -------------------------------------------------------------------------------
def test_a_work_note_goes_in_the_changes_history(world, new_change, as_user):
    change = new_change()
    client = as_user(world.agent_a)
    page = client.get(change.get_absolute_url())
    assert 'id="note-body"' in page.content.decode()
    assert 'for="note-body"' in page.content.decode()

    r = act(client, change, "note", {"body": "   "})
    assert r.status_code == 400
    assert r.context["note_form"].errors["body"] == ["This field is required."]
    r = act(client, change, "note", {"body": "Vendor confirmed the patch is signed."})
    assert r.status_code == 200
    assert ("work_note", "Vendor confirmed the patch is signed.") in journal(change)
    assert "Vendor confirmed the patch is signed." in r.content.decode()
    entry = JournalEntry.objects.get(body="Vendor confirmed the patch is signed.")
    assert entry.author_id == world.agent_a.pk and not entry.customer_visible

    # The action refuses an empty or overlong note by itself too.
    with acting_as(world.agent_a, "test"), pytest.raises(ValidationError) as exc:
        actions.add_work_note(change, world.agent_a, "x" * 20001)
    assert "body" in exc.value.message_dict


def test_who_may_write_work_notes(world, new_change, as_user):
    change = new_change()
    # The auditor reads the page, without the form, and may not post.
    client = as_user(world.auditor)
    assert client.get(change.get_absolute_url()).context["note_form"] is None
    assert act(client, change, "note", {"body": "Audited"}).status_code == 403
    # Staff of another customer do not reach a change of customer A.
    change.customers.add(world.customer_a)
    assert act(as_user(world.agent_b), change, "note", {"body": "x"}).status_code == 404
    # Customer users have no change pages at all.
    r = act(as_user(world.customer_user_a), change, "note", {"body": "x"})
    assert r.status_code in (403, 404)
    assert not [k for k, _b in journal(change) if k == "work_note"]


# --- fixes after creation ---------------------------------------------------------------------
def test_problems_and_incidents_are_linked_and_unlinked_on_the_page(
    world, new_change, make_incident, as_user
):
    change = new_change()
    problem = make_problem(world, customers=[world.customer_a])
    incident = make_incident(short_description="Mail bounces")
    beta_incident = make_incident(customer=world.customer_b, short_description="Beta secret")
    beta_problem = make_problem(world, customers=[world.customer_b], short_description="Beta p")
    client = as_user(world.agent_a)
    page = client.get(change.get_absolute_url())
    assert page.context["fix_form"] is not None

    # Records the user may not see are refused on their field, without naming them.
    r = act(client, change, "link_fixes", {"problems": beta_problem.number})
    assert r.status_code == 400
    assert r.context["fix_form"].errors["problems"] == [f"No such problem: {beta_problem.number}."]
    r = act(client, change, "link_fixes", {"incidents": f"{incident.number}, {beta_incident.pk}"})
    assert r.status_code == 400
    assert r.context["fix_form"].errors["incidents"] == [f"No such incident: {beta_incident.pk}."]
    assert "Beta secret" not in r.content.decode()
    r = act(client, change, "link_fixes", {"problems": "", "incidents": ""})
    assert r.status_code == 400
    assert "Name a problem or an incident it fixes." in r.content.decode()
    assert not change.fixes.exists()

    # Numbers are read whatever their case.
    r = act(
        client,
        change,
        "link_fixes",
        {"problems": problem.number.lower(), "incidents": incident.number},
    )
    assert r.status_code == 200
    assert {(f.problem_id, f.incident_id) for f in change.fixes.all()} == {
        (problem.pk, None),
        (None, incident.pk),
    }
    assert r.context["problems"] == [problem] and r.context["incidents"] == [incident]
    assert list(fresh(change).customers.all()) == [world.customer_a]
    assert ("event", f"Change {change.number} fixes it.") in journal(problem)
    assert ("event", f"Change {change.number} fixes it.") in journal(incident)
    assert ("event", f"Fixes problem {problem.number}.") in journal(change)
    # The problem's page lists the change among those fixing it.
    assert change.number in client.get(problem.get_absolute_url()).content.decode()
    # Linking it again is refused.
    r = act(client, change, "link_fixes", {"problems": problem.number})
    assert r.status_code == 400
    assert r.context["fix_form"].errors["problems"] == [
        f"{change.number} already fixes {problem.number}."
    ]

    r = act(client, change, "unlink_fix", {"problem": problem.pk})
    assert r.status_code == 200
    assert list(change.fixes.values_list("incident_id", flat=True)) == [incident.pk]
    assert ("event", f"Change {change.number} no longer fixes it.") in journal(problem)
    assert ("event", f"No longer fixes problem {problem.number}.") in journal(change)
    # Unlinking what is not linked, or what the user may not see, is refused.
    r = act(client, change, "unlink_fix", {"problem": problem.pk})
    assert r.status_code == 400
    assert f"{change.number} does not fix {problem.number}." in r.content.decode()
    r = act(client, change, "unlink_fix", {"incident": beta_incident.pk})
    assert r.status_code == 400 and "No such incident." in r.content.decode()
    r = act(client, change, "unlink_fix", {"incident": "x1"})
    assert r.status_code == 400


def test_a_closed_change_fixes_nothing_more(world, new_change, make_incident, as_user):
    change = new_change()
    incident = make_incident()
    step(change, world.agent_a, "cancel", note="Not needed")
    client = as_user(world.agent_a)
    assert client.get(change.get_absolute_url()).context["fix_form"] is None
    r = act(client, change, "link_fixes", {"incidents": incident.number})
    assert r.status_code == 400
    assert "A change cancelled fixes nothing more." in r.content.decode()
    assert not change.fixes.exists()


# --- the CMDB's authorising change ------------------------------------------------------------
def test_only_a_change_that_allows_the_work_authorises_it(world, new_change):
    draft = new_change()
    with pytest.raises(ValidationError) as exc:
        actions.authorising_change(world.agent_a, draft.number)
    assert exc.value.message_dict["change_reference"] == [
        f"Authorising change: {draft.number} is draft; only an approved, scheduled, "
        "implementing or implemented change authorises work on a live configuration item."
    ]
    change = approved(new_change(), world.agent_a)
    assert change.status == Status.APPROVED
    # Case and spaces do not matter.
    typed = f"  {change.number.lower()} "
    assert actions.authorising_reference(world.agent_a, typed) == change.number
    assert actions.authorising_reference(world.agent_a, "") == ""
    with pytest.raises(ValidationError) as exc:
        actions.authorising_change(world.agent_a, "CHG9999999", field="reference")
    assert exc.value.message_dict["reference"] == [
        "Authorising change: there is no change CHG9999999 that you may see."
    ]
    # A change of a customer the user does not serve is as good as none.
    change.customers.add(world.customer_a)
    with pytest.raises(ValidationError):
        actions.authorising_change(world.agent_b, change.number)
    for status in (Status.SCHEDULED, Status.IMPLEMENTING, Status.IMPLEMENTED):
        type(change).objects.filter(pk=change.pk).update(status=status)
        assert actions.authorising_reference(world.agent_a, change.number) == change.number
    for status in (Status.CLOSED, Status.REJECTED, Status.CANCELLED, Status.AWAITING_APPROVAL):
        type(change).objects.filter(pk=change.pk).update(status=status)
        with pytest.raises(ValidationError):
            actions.authorising_change(world.agent_a, change.number)


def test_ci_form_relationships_and_api_name_a_real_change(world, new_change, make_ci, as_user):
    from accord.cmdb.models import LiveChange, Relationship, RelationshipType

    change = approved(new_change(), world.agent_a)
    draft = new_change(short_description="Not yet approved")
    srv = make_ci("srv-live")
    db = make_ci("db-live", "database")
    for ci in (srv, db):
        type(ci).objects.filter(pk=ci.pk).update(status="live")
    srv.refresh_from_db()
    client = as_user(world.admin)
    edit = reverse("cmdb:ci_edit", args=[srv.pk])
    data = {
        "name": "srv-live-2",
        "status": "live",
        "criticality": srv.criticality,
        "version": srv.version,
    }
    r = client.post(edit, {**data, "change_reference": draft.number})
    assert r.status_code == 400
    assert r.context["form"].errors["change_reference"] == [
        f"Authorising change: {draft.number} is draft; only an approved, scheduled, "
        "implementing or implemented change authorises work on a live configuration item."
    ]
    r = client.post(edit, {**data, "change_reference": "CHG0000999"})
    assert r.status_code == 400 and "change_reference" in r.context["form"].errors
    assert not LiveChange.objects.exists()
    r = client.post(edit, {**data, "change_reference": f" {change.number.lower()}"})
    assert r.status_code == 302, r.context["form"].errors
    assert LiveChange.objects.get().change_reference == change.number

    # A relationship added on the page: a made-up change is refused, naming the field.
    depends = RelationshipType.objects.get(key="depends-on")
    add = reverse("cmdb:ci_relationship_add", args=[srv.pk])
    r = client.post(
        add,
        {"rel_type": f"out:{depends.pk}", "other": "db-live", "change_reference": "CHG42"},
        follow=True,
    )
    assert "Authorising change: there is no change CHG42" in r.content.decode()
    assert not Relationship.objects.exists()
    client.post(
        add,
        {"rel_type": f"out:{depends.pk}", "other": "db-live", "change_reference": change.number},
    )
    link = Relationship.objects.get()
    assert set(LiveChange.objects.values_list("change_reference", flat=True)) == {change.number}
    # Removing it on the page with a made-up change is refused, the link kept.
    remove = reverse("cmdb:ci_relationship_remove", args=[srv.pk, link.pk])
    r = client.post(remove, {"side": "out", "change_reference": "nonsense"}, follow=True)
    assert "Authorising change: there is no change NONSENSE" in r.content.decode()
    assert Relationship.objects.filter(pk=link.pk).exists()

    # The API: the same rule, the same message on the field.
    from accord.users.testing import api_client_for

    api = api_client_for(world.admin)
    srv.refresh_from_db()
    url = f"/api/cis/{srv.pk}/"
    r = api.patch(url, {"description": "x", "change_reference": draft.number}, format="json")
    assert r.status_code == 400 and "change_reference" in r.json()
    r = api.patch(
        url,
        {"description": "x", "version": srv.version, "change_reference": change.number.lower()},
        format="json",
    )
    assert r.status_code == 200, r.json()
    r = api.delete(f"/api/relationships/{link.pk}/?change_reference=CHG1")
    assert r.status_code == 400 and "change_reference" in r.json()
    assert Relationship.objects.filter(pk=link.pk).exists()

    # The change's page lists the CIs changed under it, for those who may see them.
    rows = LiveChange.objects.filter(change_reference=change.number)
    assert rows.count() == 4
    page = as_user(world.agent_a).get(change.get_absolute_url())
    assert [r.pk for r in page.context["live_changes"]] == list(
        rows.order_by("-at", "-pk").values_list("pk", flat=True)
    )
    text = page.content.decode()
    assert "Configuration items changed under this change" in text
    assert srv.get_absolute_url() in text
    # A CI of a customer the user does not serve is counted, not shown.
    db.customers.add(world.customer_a)
    page = as_user(world.agent_b).get(change.get_absolute_url())
    assert {r.ci_id for r in page.context["live_changes"]} == {srv.pk}
    assert page.context["hidden_live_changes"] == 1
    assert db.get_absolute_url() not in page.content.decode()


# --- status badges and the change pages' navigation -------------------------------------------
def test_every_change_status_has_a_badge_colour(world, new_change, as_user):
    from accord.core.tables import BADGES, badge_html

    for _value, label in Status.choices:
        assert str(label) in BADGES, label
    colours = {value: BADGES[str(label)] for value, label in Status.choices}
    assert colours[Status.DRAFT] == "secondary"
    assert colours[Status.AWAITING_APPROVAL] == "warning"
    assert colours[Status.IMPLEMENTING] == "primary"
    assert colours[Status.REJECTED] == "danger"
    assert 'class="badge text-bg-warning text-dark">Awaiting approval<' in badge_html(
        Status.AWAITING_APPROVAL.label
    )
    change = new_change()
    page = as_user(world.agent_a).get(change.get_absolute_url()).content.decode()
    assert 'class="badge text-bg-secondary">Draft<' in page


def test_the_change_pages_share_one_navigation(world, as_user):
    client = as_user(world.agent_a)
    links = [
        ("changes:list", "All changes"),
        ("changes:schedule", "Forward schedule"),
        ("changes:my_approvals", "My approvals"),
        ("changes:board_list", "Advisory boards"),
        ("changes:reports", "Reports"),
    ]
    for name, label in links:
        html = client.get(reverse(name)).content.decode()
        nav = html[html.index('aria-label="Change management"') :]
        nav = nav[: nav.index("</nav>")]
        for other, _label in links:
            assert f'href="{reverse(other)}"' in nav, (name, other)
        # The page's own link, and only it, is marked current.
        assert nav.count('aria-current="page"') == 1
        start = nav[: nav.index('aria-current="page"')].rindex("<a")
        assert nav[start : nav.index("</a>", start)].endswith(f">{label}") or (
            f">{label} <span" in nav[start : nav.index("</a>", start)]
        )
