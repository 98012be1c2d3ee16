"""Relationship types edited on Accord's own pages: a type with its allowed pairs, the
rules that keep existing relationships valid (nothing saved when one refuses),
deleting a type, who may do it, history and stale versions."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accord.cmdb import actions, reltypes
from accord.cmdb.models import AllowedPair, CIType, ConfigurationItem, RelationshipType
from accord.core.context import acting_as
from accord.core.models import ObjectChange

pytestmark = pytest.mark.django_db


def T(key):
    return CIType.objects.get(key=key)


def R(key):
    return RelationshipType.objects.get(key=key)


def pairs_of(rel_type):
    return sorted(
        (p.source_type.key, p.target_type.key)
        for p in rel_type.allowed_pairs.select_related("source_type", "target_type")
    )


def rows_of(rel_type):
    """The type's pairs as the page shows them."""
    return [
        {"id": p.pk, "source_type": p.source_type_id, "target_type": p.target_type_id}
        for p in rel_type.allowed_pairs.order_by("pk")
    ]


def post_data(rel_type=None, rows=(), **fields):
    """The form a browser would send: the type's fields, then one block per row."""
    data = {}
    if rel_type is not None:
        data.update(
            key=rel_type.key,
            name=rel_type.name,
            reverse_name=rel_type.reverse_name,
            impact=rel_type.impact,
            version=rel_type.version,
        )
        if rel_type.acyclic:
            data["acyclic"] = "on"
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    data["pairs-TOTAL_FORMS"] = str(len(rows))
    data["pairs-INITIAL_FORMS"] = str(sum(1 for r in rows if r.get("id")))
    for i, row in enumerate(rows):
        for name, value in row.items():
            if value is None or value is False:
                continue
            data[f"pairs-{i}-{name}"] = "on" if value is True else str(value)
    return data


@pytest.fixture
def admin(client, world):
    client.force_login(world.admin)
    return client


@pytest.fixture
def ci(world):
    def make(name, type_key):
        with acting_as(world.admin, "test"):
            return actions.save_ci(ConfigurationItem(name=name, ci_type=T(type_key)))

    return make


@pytest.fixture
def link(world):
    def make(source, target, key):
        with acting_as(world.admin, "test"):
            return actions.add_relationship(world.admin, source, target, R(key))

    return make


def edit(client, rel_type, rows, **fields):
    return client.post(
        reverse("cmdb:reltype_edit", args=[rel_type.pk]), post_data(rel_type, rows, **fields)
    )


def page_errors(response):
    return " ".join(response.context["problems"])


def _unchanged(rel_type):
    fresh = RelationshipType.objects.get(pk=rel_type.pk)
    assert fresh.version == rel_type.version
    assert (fresh.name, fresh.acyclic, fresh.key) == (
        rel_type.name,
        rel_type.acyclic,
        rel_type.key,
    )
    return fresh


# --- creating and editing ------------------------------------------------------------------
def test_admin_creates_a_type_with_pairs_and_history(admin, world):
    page = admin.get(reverse("cmdb:reltype_create"))
    assert page.status_code == 200
    assert page.context["formset"].total_form_count() == 2
    rows = [
        {"source_type": T("application").pk, "target_type": T("database").pk},
        {},  # a blank row is ignored
    ]
    response = admin.post(
        reverse("cmdb:reltype_create"),
        post_data(
            None,
            rows,
            key="reads-from",
            name="reads from",
            reverse_name="read by",
            impact="to_source",
            acyclic="on",
        ),
    )
    assert response.status_code == 302, page_errors(response)
    reads = R("reads-from")
    assert (reads.reverse_name, reads.impact, reads.acyclic) == ("read by", "to_source", True)
    assert pairs_of(reads) == [("application", "database")]
    changes = ObjectChange.objects.filter(object_id=reads.pk, object_repr="reads from")
    assert {c.action for c in changes} == {"create", "update"}
    assert all(c.actor_id == world.admin.pk for c in changes)
    assert changes.get(action="update").changes == {
        "allowed pairs": ["any types", "Application → Database"]
    }
    # The new type is offered when linking CIs, and its rule holds there.
    with acting_as(world.admin, "test"):
        app = actions.save_ci(ConfigurationItem(name="crm", ci_type=T("application")))
        srv = actions.save_ci(ConfigurationItem(name="srv-9", ci_type=T("server")))
        with pytest.raises(ValidationError, match="cannot reads from"):
            actions.add_relationship(world.admin, app, srv, reads)


def test_admin_edits_a_type_adds_and_removes_pairs(admin, world):
    runs_on = R("runs-on")
    rows = rows_of(runs_on)
    vm_server = next(r for r in rows if r["source_type"] == T("virtual-machine").pk)
    vm_server["DELETE"] = True
    rows.append({"source_type": T("application").pk, "target_type": T("storage").pk})
    response = edit(admin, runs_on, rows, reverse_name="is host of", impact="both")
    assert response.status_code == 302, page_errors(response)
    assert response["Location"].endswith("#relationships")
    runs_on = R("runs-on")
    assert (runs_on.reverse_name, runs_on.impact) == ("is host of", "both")
    assert ("virtual-machine", "server") not in pairs_of(runs_on)
    assert ("application", "storage") in pairs_of(runs_on)
    latest = ObjectChange.objects.filter(object_id=runs_on.pk, object_repr="runs on")
    latest = latest.order_by("-pk").first()
    before, after = latest.changes["allowed pairs"]
    assert "Virtual machine → Server" in before and "Virtual machine → Server" not in after
    assert "Application → Storage" in after
    # The edit page shows its history.
    page = admin.get(reverse("cmdb:reltype_edit", args=[runs_on.pk])).content.decode()
    assert "Application → Storage" in page and "is host of" in page


def test_add_a_row_shows_one_more_blank_row_and_saves_nothing(admin, world):
    runs_on = R("runs-on")
    data = post_data(runs_on, rows_of(runs_on), name="renamed meanwhile", add_row="1")
    response = admin.post(reverse("cmdb:reltype_edit", args=[runs_on.pk]), data)
    assert response.status_code == 200
    assert response.context["formset"].total_form_count() == len(rows_of(runs_on)) + 1
    assert response.context["form"]["name"].value() == "renamed meanwhile"
    _unchanged(runs_on)


def test_a_garbled_row_count_adds_one_row_without_an_error(admin, world):
    runs_on = R("runs-on")
    for count in ("²", "9" * 5000, "x"):
        data = post_data(runs_on, rows_of(runs_on), add_row="1")
        data["pairs-TOTAL_FORMS"] = count
        response = admin.post(reverse("cmdb:reltype_edit", args=[runs_on.pk]), data)
        assert response.status_code == 200, count
        assert response.context["formset"].total_form_count() >= 1


# --- rules that keep existing relationships valid -------------------------------------------
def test_removing_a_pair_in_use_is_refused_naming_three_and_the_count(admin, world, ci, link):
    servers = [ci(f"srv-{i}", "server") for i in range(2)]
    for i in range(4):
        link(ci(f"app-{i}", "application"), servers[i % 2], "runs-on")
    runs_on = R("runs-on")
    before = pairs_of(runs_on)
    rows = rows_of(runs_on)
    app_server = next(
        i
        for i, r in enumerate(rows)
        if (r["source_type"], r["target_type"]) == (T("application").pk, T("server").pk)
    )
    rows[app_server]["DELETE"] = True
    response = edit(admin, runs_on, rows, reverse_name="hosts now")
    assert response.status_code == 400
    errors = page_errors(response)
    assert f"Row {app_server + 1} (Application → Server): 4 relationships" in errors
    assert "app-0 runs on srv-0, app-1 runs on srv-1, app-2 runs on srv-0 and 1 more" in errors
    assert response.context["formset"].forms[app_server].errors["DELETE"]
    assert pairs_of(R("runs-on")) == before
    assert _unchanged(runs_on).reverse_name == "hosts"


def test_changing_a_pair_in_use_is_refused_on_its_row(admin, world, ci, link):
    link(ci("db-1", "database"), ci("vm-1", "virtual-machine"), "runs-on")
    runs_on = R("runs-on")
    rows = rows_of(runs_on)
    index = next(
        i
        for i, r in enumerate(rows)
        if r["source_type"] == T("database").pk and r["target_type"] == T("virtual-machine").pk
    )
    rows[index]["target_type"] = T("storage").pk
    response = edit(admin, runs_on, rows)
    assert response.status_code == 400
    assert (
        f"Row {index + 1} (Database → Virtual machine, now Database → Storage): "
        "1 relationship of this type joins these types and would no longer be allowed "
        "(db-1 runs on vm-1)."
    ) in page_errors(response)
    assert response.context["formset"].forms[index].errors["target_type"]
    assert ("database", "storage") not in pairs_of(R("runs-on"))


def test_first_pairs_on_a_type_in_use_must_allow_its_relationships(admin, world, ci, link):
    link(ci("sw-1", "network-device"), ci("sw-2", "network-device"), "connects-to")
    connects = R("connects-to")
    rows = [{"source_type": T("server").pk, "target_type": T("network-device").pk}]
    response = edit(admin, connects, rows)
    assert response.status_code == 400
    assert (
        "Allowed pairs: 1 relationship of this type joins a Network device to a Network "
        "device, which no row allows (sw-1 connects to sw-2)."
    ) in page_errors(response)
    assert pairs_of(R("connects-to")) == []
    # With that pair too, the same rows save.
    rows.append({"source_type": T("network-device").pk, "target_type": T("network-device").pk})
    assert edit(admin, connects, rows).status_code == 302
    assert len(pairs_of(R("connects-to"))) == 2


def test_a_loop_already_recorded_refuses_may_not_close_a_loop(admin, world, ci, link):
    a, b, c = ci("sw-a", "network-device"), ci("sw-b", "network-device"), ci("sw-c", "server")
    link(a, b, "connects-to")
    link(b, c, "connects-to")
    link(c, a, "connects-to")
    connects = R("connects-to")
    response = edit(admin, connects, [], acyclic="on")
    assert response.status_code == 400
    errors = response.context["form"].errors["acyclic"]
    assert len(errors) == 1
    assert "already form a loop through sw-a (sw-a connects to sw-b connects to sw-c" in errors[0]
    assert "May not close a loop:" in page_errors(response)
    assert not _unchanged(connects).acyclic
    # Without the loop, it is turned on.
    with acting_as(world.admin, "test"):
        actions.remove_relationship(world.admin, c.outgoing.get())
    assert edit(admin, connects, [], acyclic="on").status_code == 302
    assert R("connects-to").acyclic


def test_find_loop():
    assert reltypes.find_loop({}) == []
    assert reltypes.find_loop({1: [2], 2: [3], 3: []}) == []
    assert reltypes.find_loop({1: [2, 3], 2: [4], 3: [4], 4: []}) == []  # a diamond
    assert reltypes.find_loop({1: [2], 2: [3], 3: [2]}) == [2, 3]
    long_chain = {i: [i + 1] for i in range(5000)}
    assert reltypes.find_loop(long_chain) == []
    long_chain[5000] = [0]
    assert len(reltypes.find_loop(long_chain)) == 5001


def test_duplicate_and_incomplete_pairs_are_refused_by_row(admin, world):
    backed = R("backed-up-by")
    server, storage = T("server").pk, T("storage").pk
    rows = [
        {"source_type": server, "target_type": storage},
        {"source_type": T("database").pk, "target_type": storage},
        {"source_type": server, "target_type": storage},
        {"source_type": server},
    ]
    response = edit(admin, backed, rows)
    assert response.status_code == 400
    errors = page_errors(response)
    assert "Row 3 (Server → Storage): the same pair as row 1." in errors
    assert "Row 4, target type: choose a CI type." in errors
    assert pairs_of(R("backed-up-by")) == []
    _unchanged(backed)


def test_key_and_name_clashes_are_field_errors(admin, world):
    backed = R("backed-up-by")
    response = edit(admin, backed, [], key="runs-on", name="depends on")
    assert response.status_code == 400
    assert "already exists" in " ".join(response.context["form"].errors["key"])
    assert "already exists" in " ".join(response.context["form"].errors["name"])
    response = admin.post(
        reverse("cmdb:reltype_create"),
        post_data(None, [], key="Not a key!", name="x", reverse_name="y", impact="none"),
    )
    assert response.status_code == 400
    assert response.context["form"].errors["key"]
    assert not RelationshipType.objects.filter(name="x").exists()


def test_the_key_is_locked_once_relationships_of_the_type_exist(admin, world, ci, link):
    link(ci("doc-1", "document"), ci("doc-2", "document"), "part-of")
    part_of = R("part-of")
    page = admin.get(reverse("cmdb:reltype_edit", args=[part_of.pk]))
    assert page.context["form"].fields["key"].disabled
    assert "cannot change while relationships of this type exist (1 now)" in (page.content.decode())
    # A key posted anyway is ignored by the page, and refused by the rules.
    assert edit(admin, part_of, [], key="member-of").status_code == 302
    assert R("part-of")
    with acting_as(world.admin, "test"), pytest.raises(ValidationError) as caught:
        reltypes.save_reltype(world.admin, R("part-of"), {"key": "member-of"}, [])
    assert caught.value.message_dict["key"] == [
        "The key cannot change: 1 relationship of this type exists."
    ]


def test_a_pair_row_of_another_type_is_refused(admin, world):
    other = AllowedPair.objects.filter(rel_type=R("runs-on")).first()
    backed = R("backed-up-by")
    rows = [{"id": other.pk, "source_type": T("server").pk, "target_type": T("storage").pk}]
    response = edit(admin, backed, rows)
    assert response.status_code == 400
    assert "no longer part of the type" in page_errors(response)
    assert AllowedPair.objects.filter(pk=other.pk, rel_type=R("runs-on")).exists()


# --- deleting ------------------------------------------------------------------------------
def test_a_type_in_use_is_not_deleted(admin, world, ci, link):
    link(ci("app-1", "application"), ci("srv-1", "server"), "runs-on")
    runs_on = R("runs-on")
    page = admin.get(reverse("cmdb:reltype_delete", args=[runs_on.pk]))
    assert "a type in use cannot be deleted" in page.content.decode()
    response = admin.post(reverse("cmdb:reltype_delete", args=[runs_on.pk]))
    assert response.status_code == 400
    assert response.context["errors"] == [
        "1 relationship of this type exists; a type in use cannot be deleted."
    ]
    assert pairs_of(R("runs-on"))


def test_a_type_not_in_use_is_deleted_with_history(admin, world):
    runs_on = R("runs-on")
    response = admin.post(reverse("cmdb:reltype_delete", args=[runs_on.pk]))
    assert response.status_code == 302
    assert not RelationshipType.objects.filter(pk=runs_on.pk).exists()
    assert not AllowedPair.objects.filter(rel_type_id=runs_on.pk).exists()
    deleted = ObjectChange.objects.get(object_id=runs_on.pk, object_repr="runs on", action="delete")
    assert deleted.actor_id == world.admin.pk


# --- who may ---------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["agent_a", "manager_a", "owner", "auditor"])
def test_other_staff_read_the_types_but_may_not_change_them(client, world, who):
    client.force_login(getattr(world, who))
    runs_on = R("runs-on")
    listing = client.get(reverse("cmdb:type_list"))
    assert listing.status_code == 200
    assert "runs on" in listing.content.decode()
    assert reverse("cmdb:reltype_edit", args=[runs_on.pk]) not in listing.content.decode()
    assert reverse("cmdb:reltype_create") not in listing.content.decode()
    urls = [
        reverse("cmdb:reltype_create"),
        reverse("cmdb:reltype_edit", args=[runs_on.pk]),
        reverse("cmdb:reltype_delete", args=[runs_on.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 403
    new = post_data(None, [], key="x", name="x", reverse_name="y", impact="none")
    assert client.post(urls[0], new).status_code == 403
    assert client.post(urls[1], post_data(runs_on, [], name="X")).status_code == 403
    assert client.post(urls[2]).status_code == 403
    assert not RelationshipType.objects.filter(key="x").exists()
    assert R("runs-on").name == "runs on" and pairs_of(R("runs-on"))
    with acting_as(getattr(world, who), "test"), pytest.raises(PermissionDenied):
        reltypes.save_reltype(getattr(world, who), runs_on, {"name": "X"}, [])
    with pytest.raises(PermissionDenied):
        reltypes.delete_reltype(getattr(world, who), runs_on)


def test_customers_are_refused_and_visitors_sent_to_sign_in(client, world):
    runs_on = R("runs-on")
    urls = [
        reverse("cmdb:reltype_create"),
        reverse("cmdb:reltype_edit", args=[runs_on.pk]),
        reverse("cmdb:reltype_delete", args=[runs_on.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(world.customer_user_a)
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post(urls[2]).status_code == 403
    assert RelationshipType.objects.filter(pk=runs_on.pk).exists()


def test_admin_sees_the_edit_links_and_the_new_button(admin, world):
    listing = admin.get(reverse("cmdb:type_list")).content.decode()
    assert reverse("cmdb:reltype_create") in listing
    for rel_type in RelationshipType.objects.all():
        assert reverse("cmdb:reltype_edit", args=[rel_type.pk]) in listing
    assert "back office" not in listing
    assert admin.get("/cmdb/relationship-types/999999/edit/").status_code == 404
    assert admin.get("/cmdb/relationship-types/999999/delete/").status_code == 404


# --- optimistic locking ----------------------------------------------------------------------
def test_a_stale_version_is_refused_and_nothing_is_lost(admin, world):
    runs_on = R("runs-on")
    rows = rows_of(runs_on)
    stale = post_data(runs_on, rows, name="is deployed on")
    with acting_as(world.admin, "test"):
        reltypes.save_reltype(world.admin, R("runs-on"), {"reverse_name": "carries"}, rows)
    rows.append({"source_type": T("application").pk, "target_type": T("storage").pk})
    stale.update(post_data(runs_on, rows, name="is deployed on"))
    response = admin.post(reverse("cmdb:reltype_edit", args=[runs_on.pk]), stale)
    assert response.status_code == 409
    assert "Someone else changed this record" in page_errors(response)
    assert response.context["form"]["name"].value() == "is deployed on"  # kept on the page
    fresh = R("runs-on")
    assert (fresh.name, fresh.reverse_name) == ("runs on", "carries")
    assert ("application", "storage") not in pairs_of(fresh)


def test_a_stale_version_is_refused_when_only_the_pairs_change(world):
    runs_on = R("runs-on")
    rows = rows_of(runs_on)
    with acting_as(world.admin, "test"):
        reltypes.save_reltype(world.admin, R("runs-on"), {"reverse_name": "carries"}, rows)
        from accord.core.records import StaleRecordError

        with pytest.raises(StaleRecordError):
            reltypes.save_reltype(
                world.admin,
                R("runs-on"),
                {},
                rows[1:],
                expected_version=runs_on.version,
            )
    assert len(pairs_of(R("runs-on"))) == len(rows)
