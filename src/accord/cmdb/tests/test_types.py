"""CI types edited on Accord's own pages: a type with its attribute rows, the rules
that keep existing CIs valid (nothing saved when one refuses), removing values with
the administrator's say-so, deleting a type, who may do it, history and stale
versions."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accord.cmdb import actions, types
from accord.cmdb.models import AttributeDefinition, CIType, ConfigurationItem
from accord.core.context import acting_as
from accord.core.models import ObjectChange

pytestmark = pytest.mark.django_db


def T(key):
    return CIType.objects.get(key=key)


def rows_of(ci_type):
    """The type's definitions as the page shows them."""
    return [
        {
            "id": d.pk,
            "order": d.order,
            "key": d.key,
            "label": d.label,
            "kind": d.kind,
            "required": d.required,
            "choices": list(d.choices),
            "reference_type": d.reference_type_id,
        }
        for d in ci_type.attribute_definitions.all()
    ]


def post_data(ci_type=None, rows=(), **fields):
    """The form a browser would send: the type's fields, then one block per row."""
    data = {}
    if ci_type is not None:
        data.update(
            key=ci_type.key,
            name=ci_type.name,
            description=ci_type.description,
            version=ci_type.version,
        )
        if ci_type.is_location:
            data["is_location"] = "on"
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    initial = sum(1 for r in rows if r.get("id"))
    data["definitions-TOTAL_FORMS"] = str(len(rows))
    data["definitions-INITIAL_FORMS"] = str(initial)
    for i, row in enumerate(rows):
        for name, value in row.items():
            if value is None or value is False:
                continue
            if value is True:
                value = "on"
            elif isinstance(value, list):
                value = "\n".join(value)
            data[f"definitions-{i}-{name}"] = str(value)
    return data


def change_row(rows, which, **changes):
    for row in rows:
        if row["key"] == which:
            row.update(changes)
            return rows
    raise AssertionError(which)


@pytest.fixture
def make_ci(world):
    def make(name, type_key="server", **fields):
        with acting_as(world.admin, "test"):
            ci = ConfigurationItem(name=name, ci_type=T(type_key), **fields)
            return actions.save_ci(ci)

    return make


@pytest.fixture
def admin(client, world):
    client.force_login(world.admin)
    return client


def edit(client, ci_type, rows, **fields):
    return client.post(
        reverse("cmdb:type_edit", args=[ci_type.pk]), post_data(ci_type, rows, **fields)
    )


def page_errors(response):
    return " ".join(response.context["problems"])


# --- creating and editing ------------------------------------------------------------------
def test_admin_creates_a_type_with_attributes(admin, world):
    page = admin.get(reverse("cmdb:type_create"))
    assert page.status_code == 200
    assert page.context["formset"].total_form_count() == 3
    rows = [
        {"key": "vendor", "label": "Vendor", "kind": "text", "order": 1},
        {
            "key": "tier",
            "label": "Tier",
            "kind": "choice",
            "choices": ["gold", " silver ", "", "bronze"],
            "required": True,
        },
        {"key": "host", "label": "Host", "kind": "reference", "reference_type": T("server").pk},
        {},  # a blank row is ignored
    ]
    response = admin.post(
        reverse("cmdb:type_create"),
        post_data(None, rows, key="firewall", name="Firewall", description="Packet filters"),
    )
    assert response.status_code == 302, page_errors(response)
    firewall = T("firewall")
    assert response["Location"] == firewall.get_absolute_url()
    assert firewall.description == "Packet filters"
    got = [(d.key, d.kind, d.required, d.choices) for d in firewall.definitions()]
    assert got == [
        ("vendor", "text", False, []),
        ("tier", "choice", True, ["gold", "silver", "bronze"]),
        ("host", "reference", False, []),
    ]
    assert firewall.attribute_definitions.get(key="host").reference_type == T("server")
    # The history says who created it and which attributes it was given.
    changes = ObjectChange.objects.filter(object_id=firewall.pk, object_repr="Firewall")
    assert {c.action for c in changes} == {"create", "update"}
    assert all(c.actor_id == world.admin.pk for c in changes)
    attributes = changes.get(action="update").changes
    assert attributes["attribute tier"][0] is None
    assert attributes["attribute tier"][1] == (
        "Tier · Choice · position 3 · required · gold / silver / bronze"
    )
    # A CI of the new type gets the fields on its form.
    form = admin.get(reverse("cmdb:ci_create") + "?type=firewall")
    assert "attr_tier" in form.context["form"].fields


def test_admin_edits_a_type_and_its_cis_get_the_new_field(admin, world, make_ci):
    switch = make_ci("sw-01", "network-device", attributes={"firmware": "1.2"})
    device = T("network-device")
    page = admin.get(reverse("cmdb:type_edit", args=[device.pk]))
    assert page.status_code == 200
    assert page.context["form"].fields["key"].disabled  # CIs of the type exist
    assert "cannot change while CIs of this type exist (1 now)" in page.content.decode()
    rows = rows_of(device)
    change_row(rows, "model", label="Hardware model", order=0)
    rows.append({"key": "rack_unit", "label": "Rack unit", "kind": "number", "order": 9})
    response = edit(admin, device, rows, name="Network device", description="Switches etc.")
    assert response.status_code == 302, page_errors(response)
    device.refresh_from_db()
    assert device.description == "Switches etc."
    assert device.version == 3  # its fields, then its attributes: two guarded writes
    assert [d.key for d in device.definitions()][:2] == ["role", "model"]
    assert device.attribute_definitions.get(key="model").label == "Hardware model"
    form = admin.get(reverse("cmdb:ci_edit", args=[switch.pk]))
    assert form.context["form"].fields["attr_rack_unit"].label == "Rack unit"
    change = ObjectChange.objects.filter(object_id=device.pk, object_repr="Network device")
    latest = change.order_by("-pk").first().changes
    assert set(latest) == {"attribute model", "attribute rack_unit"}
    detail = admin.get(device.get_absolute_url()).content.decode()
    # The type's page shows its history.
    assert "Attribute rack_unit: — → Rack unit · Number · position 9" in detail
    switch.refresh_from_db()
    assert switch.attributes == {"firmware": "1.2"}  # its values untouched


def test_add_a_row_shows_one_more_blank_row_and_saves_nothing(admin, world):
    device = T("network-device")
    rows = rows_of(device)
    data = post_data(device, rows, name="Renamed meanwhile", add_row="1")
    response = admin.post(reverse("cmdb:type_edit", args=[device.pk]), data)
    assert response.status_code == 200
    assert response.context["formset"].total_form_count() == len(rows) + 1
    assert response.context["form"]["name"].value() == "Renamed meanwhile"
    assert T("network-device").name == "Network device"


def test_a_kind_change_that_fits_rewrites_the_values_with_history(admin, world, make_ci):
    make_ci("srv-a", attributes={"operating_system": "8"})
    b = make_ci("srv-b", attributes={"operating_system": " 12.5"})
    make_ci("srv-c")
    rows = change_row(rows_of(T("server")), "operating_system", kind="number")
    response = edit(admin, T("server"), rows)
    assert response.status_code == 302, page_errors(response)
    assert ConfigurationItem.objects.get(name="srv-a").attributes["operating_system"] == 8
    assert ConfigurationItem.objects.get(name="srv-b").attributes["operating_system"] == 12.5
    last = ObjectChange.objects.filter(object_id=b.pk, object_repr="srv-b").order_by("-pk")[0]
    assert last.actor_id == world.admin.pk
    assert last.changes["attributes"][1] == {"operating_system": 12.5}


# --- refusals that keep CIs valid ----------------------------------------------------------
def _nothing_saved(ci_type):
    fresh = CIType.objects.get(pk=ci_type.pk)
    assert fresh.version == ci_type.version
    assert rows_of(fresh) == rows_of(ci_type)


def test_a_kind_change_is_refused_naming_three_cis_and_the_count(admin, world, make_ci):
    for name in ("srv-1", "srv-2", "srv-3", "srv-4"):
        make_ci(name, attributes={"operating_system": "Debian"})
    make_ci("srv-5", attributes={"operating_system": "12"})
    server = T("server")
    rows = change_row(rows_of(server), "operating_system", kind="number")
    response = edit(admin, server, rows)
    assert response.status_code == 400
    row = response.context["formset"].forms[2]
    [message] = row.errors["kind"]
    assert message.startswith("Row 3 (Operating system), kind: 4 CIs hold values")
    assert "(srv-1, srv-2, srv-3 and 1 more)" in message
    assert "Operating system must be a number, not “Debian”" in message
    assert message in page_errors(response)
    _nothing_saved(server)
    assert ConfigurationItem.objects.get(name="srv-5").attributes["operating_system"] == "12"


@pytest.mark.parametrize(
    "key, changes, field, words",
    [
        ("environment", {"choices": ["production", "test"]}, "choices", "must be one of"),
        ("hostname", {"required": True}, "required", "Host name is required"),
        ("ip_address", {"kind": "date"}, "kind", "must be a date"),
    ],
)
def test_changes_that_existing_values_would_fail_are_refused(
    admin, world, make_ci, key, changes, field, words
):
    make_ci("srv-1", attributes={"environment": "acceptance", "ip_address": "10.0.0.1"})
    server = T("server")
    response = edit(admin, server, change_row(rows_of(server), key, **changes))
    assert response.status_code == 400
    errors = " ".join(e for f in response.context["formset"].forms for e in f.errors.get(field, []))
    assert "1 CI holds a value the new definition refuses (srv-1)" in errors
    assert words in errors
    _nothing_saved(server)


def test_a_referenced_type_change_is_refused_when_values_name_other_cis(world, make_ci):
    app_type = T("application")
    with acting_as(world.admin, "test"):
        AttributeDefinition.objects.create(
            ci_type=app_type, key="host", label="Host", kind="reference", order=9
        )
    vm = make_ci("vm-1", "virtual-machine")
    make_ci("app-1", "application", attributes={"host": str(vm.pk)})
    rows = change_row(rows_of(app_type), "host", reference_type=T("server"))
    with acting_as(world.admin, "test"), pytest.raises(ValidationError) as caught:
        types.save_type(world.admin, app_type, {}, rows, expected_version=app_type.version)
    [message] = caught.value.message_dict["definitions-4-reference_type"]
    assert message.startswith("Row 5 (Host), referenced type: 1 CI holds a value")
    assert "(app-1)" in message
    _nothing_saved(app_type)


def test_removing_an_attribute_with_values_needs_the_tick(admin, world, make_ci):
    a = make_ci("sw-a", "network-device", attributes={"firmware": "1.0", "model": "X1"})
    make_ci("sw-b", "network-device", attributes={"model": "X2"})
    device = T("network-device")
    page = admin.get(reverse("cmdb:type_edit", args=[device.pk]))
    firmware_row = next(f for f in page.context["formset"].forms if f.initial["key"] == "firmware")
    assert firmware_row.fields["remove_values"].label == "Also remove the values from 1 CIs"
    rows = change_row(rows_of(device), "firmware", DELETE=True)
    refused = edit(admin, device, rows)
    assert refused.status_code == 400
    [message] = refused.context["formset"].forms[3].errors["remove_values"]
    assert message.startswith("Row 4 (Firmware): 1 CI holds a value for this attribute (sw-a)")
    _nothing_saved(device)
    assert ConfigurationItem.objects.get(pk=a.pk).attributes["firmware"] == "1.0"

    response = edit(admin, device, change_row(rows, "firmware", remove_values=True))
    assert response.status_code == 302, page_errors(response)
    assert not T("network-device").attribute_definitions.filter(key="firmware").exists()
    a.refresh_from_db()
    assert a.attributes == {"model": "X1"}
    last = ObjectChange.objects.filter(object_id=a.pk, object_repr="sw-a").order_by("-pk")[0]
    assert last.changes["attributes"] == [{"firmware": "1.0", "model": "X1"}, {"model": "X1"}]
    assert last.actor_id == world.admin.pk


def test_an_unused_attribute_is_removed_without_asking(admin, world, make_ci):
    make_ci("sw-a", "network-device", attributes={"model": "X1"})
    device = T("network-device")
    response = edit(admin, device, change_row(rows_of(device), "firmware", DELETE=True))
    assert response.status_code == 302, page_errors(response)
    assert [d.key for d in T("network-device").definitions()] == ["role", "ip_address", "model"]


@pytest.mark.parametrize(
    "changes, field, words",
    [
        ({"key": "model"}, "key", "Row 4 (Firmware), key: “model” is also the key of row 3."),
        (
            {"kind": "choice", "choices": []},
            "choices",
            "Row 4 (Firmware), choices: A choice attribute needs its choices.",
        ),
        ({"reference_type": 1}, "reference_type", "Only a reference names a type."),
        ({"key": "Not a slug!"}, "key", "Enter a valid “slug”"),
    ],
)
def test_rows_that_break_the_models_rules_are_refused(admin, world, changes, field, words):
    device = T("network-device")
    if "reference_type" in changes:
        changes = {"reference_type": T("server").pk}
    response = edit(admin, device, change_row(rows_of(device), "firmware", **changes))
    assert response.status_code == 400
    assert words in " ".join(response.context["formset"].forms[3].errors[field])
    assert words in page_errors(response)
    _nothing_saved(device)


def test_the_key_cannot_change_once_cis_of_the_type_exist(world, make_ci):
    device = T("network-device")
    with acting_as(world.admin, "test"):
        types.save_type(world.admin, device, {"key": "net"}, rows_of(device))
    assert T("net").name == "Network device"  # no CIs yet: it may change
    make_ci("sw-a", "net")
    device = T("net")
    with acting_as(world.admin, "test"), pytest.raises(ValidationError) as caught:
        types.save_type(world.admin, device, {"key": "network"}, rows_of(device))
    assert caught.value.message_dict["key"] == ["The key cannot change: 1 CI of this type exists."]
    assert T("net")


def test_a_duplicate_type_key_or_name_is_a_field_error(admin, world):
    response = admin.post(
        reverse("cmdb:type_create"), post_data(None, [], key="server", name="Server")
    )
    assert response.status_code == 400
    assert "already exists" in " ".join(response.context["form"].errors["key"])
    assert "already exists" in " ".join(response.context["form"].errors["name"])


# --- deleting ------------------------------------------------------------------------------
def test_a_type_with_cis_is_not_deleted(admin, world, make_ci):
    make_ci("store-1", "storage")
    storage = T("storage")
    page = admin.get(reverse("cmdb:type_delete", args=[storage.pk]))
    assert "cannot be deleted" in page.content.decode()
    response = admin.post(reverse("cmdb:type_delete", args=[storage.pk]))
    assert response.status_code == 400
    assert response.context["errors"] == [
        "1 CI of this type exists; a type with CIs cannot be deleted."
    ]
    assert T("storage")


def test_a_type_without_cis_is_deleted_with_history(admin, world):
    storage = T("storage")
    response = admin.post(reverse("cmdb:type_delete", args=[storage.pk]))
    assert response.status_code == 302
    assert not CIType.objects.filter(pk=storage.pk).exists()
    assert not AttributeDefinition.objects.filter(ci_type_id=storage.pk).exists()
    assert ObjectChange.objects.get(
        object_id=storage.pk, object_repr="Storage", action="delete"
    ).actor_id == (world.admin.pk)


def test_a_type_other_settings_name_is_not_deleted(world):
    with acting_as(world.admin, "test"):
        AttributeDefinition.objects.create(
            ci_type=T("application"),
            key="store",
            label="Store",
            kind="reference",
            reference_type=T("storage"),
        )
        with pytest.raises(ValidationError) as caught:
            types.delete_type(world.admin, T("storage"))
        assert caught.value.messages == [
            "The attribute Store of Application refers to CIs of this type."
        ]
        with pytest.raises(ValidationError) as caught:
            types.delete_type(world.admin, T("server"))  # runs-on joins servers
        assert "“runs on” names this type" in caught.value.messages[0]
    assert CIType.objects.filter(key__in=["storage", "server"]).count() == 2


# --- who may ---------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["agent_a", "manager_a", "owner", "auditor"])
def test_other_staff_read_the_types_but_may_not_change_them(client, world, who):
    client.force_login(getattr(world, who))
    device = T("network-device")
    detail = client.get(device.get_absolute_url())
    assert detail.status_code == 200
    assert reverse("cmdb:type_edit", args=[device.pk]) not in detail.content.decode()
    assert reverse("cmdb:type_create") not in client.get(reverse("cmdb:type_list")).content.decode()
    urls = [
        reverse("cmdb:type_create"),
        reverse("cmdb:type_edit", args=[device.pk]),
        reverse("cmdb:type_delete", args=[device.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post(urls[0], post_data(None, [], key="x", name="X")).status_code == 403
    assert client.post(urls[1], post_data(device, rows_of(device), name="X")).status_code == 403
    assert client.post(urls[2]).status_code == 403
    assert not CIType.objects.filter(key="x").exists()
    assert T("network-device").name == "Network device"
    with acting_as(getattr(world, who), "test"), pytest.raises(PermissionDenied):
        types.save_type(getattr(world, who), device, {"name": "X"}, rows_of(device))


def test_customers_are_refused_and_visitors_sent_to_sign_in(client, world):
    device = T("network-device")
    urls = [
        reverse("cmdb:type_list"),
        reverse("cmdb:type_create"),
        reverse("cmdb:type_edit", args=[device.pk]),
        reverse("cmdb:type_delete", args=[device.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(world.customer_user_a)
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post(urls[3]).status_code == 403
    assert CIType.objects.filter(pk=device.pk).exists()


def test_admin_sees_the_edit_and_new_buttons(admin, world):
    device = T("network-device")
    assert (
        reverse("cmdb:type_edit", args=[device.pk])
        in admin.get(device.get_absolute_url()).content.decode()
    )
    listing = admin.get(reverse("cmdb:type_list")).content.decode()
    assert reverse("cmdb:type_create") in listing
    assert reverse("cmdb:reltype_create") in listing
    assert admin.get("/cmdb/types/999999/edit/").status_code == 404


# --- optimistic locking ----------------------------------------------------------------------
def test_a_stale_version_is_refused_and_nothing_is_lost(admin, world):
    device = T("network-device")
    rows = rows_of(device)
    stale = post_data(device, rows, name="Network gear")
    with acting_as(world.admin, "test"):
        types.save_type(world.admin, T("network-device"), {"description": "Meanwhile"}, rows)
    rows.append({"key": "rack", "label": "Rack", "kind": "text"})
    stale.update(post_data(device, rows, name="Network gear"))
    response = admin.post(reverse("cmdb:type_edit", args=[device.pk]), stale)
    assert response.status_code == 409
    assert "Someone else changed this record" in page_errors(response)
    assert response.context["form"]["name"].value() == "Network gear"  # kept on the page
    fresh = T("network-device")
    assert fresh.name == "Network device" and fresh.description == "Meanwhile"
    assert not fresh.attribute_definitions.filter(key="rack").exists()


def test_a_stale_version_is_refused_when_only_the_attributes_change(world):
    device = T("network-device")
    rows = rows_of(device)
    with acting_as(world.admin, "test"):
        types.save_type(world.admin, T("network-device"), {"description": "Meanwhile"}, rows)
        from accord.core.records import StaleRecordError

        with pytest.raises(StaleRecordError):
            types.save_type(
                world.admin,
                T("network-device"),
                {},
                change_row(rows, "model", label="Hardware"),
                expected_version=device.version,
            )
    assert T("network-device").attribute_definitions.get(key="model").label == "Model"


def test_a_garbled_row_count_adds_one_row_without_an_error(admin, world):
    device = T("network-device")
    for count in ("²", "9" * 5000, "x"):
        data = post_data(device, rows_of(device), add_row="1")
        data["definitions-TOTAL_FORMS"] = count
        response = admin.post(reverse("cmdb:type_edit", args=[device.pk]), data)
        assert response.status_code == 200, count
        assert response.context["formset"].total_form_count() >= 1


def test_a_new_row_may_not_take_the_key_of_an_attribute_left_off_the_page(admin, world):
    """Rows posted without an existing attribute (an old page, a hand-made post) keep
    it; a new row with its key is refused by name, not a server error."""
    device = T("network-device")
    rows = rows_of(device)
    taken = rows[0]["key"]
    rows[0] = {"key": taken, "label": "Again", "kind": "text"}
    before = rows_of(device)
    response = edit(admin, device, rows)
    assert response.status_code == 400
    assert taken in page_errors(response) and "Row 1" in page_errors(response)
    assert rows_of(T("network-device")) == before
