"""The prebuilt-SQL helpers the write path uses (core.rows), the policy's row-level
check that must agree with restrict(), and values computed by the INSERT itself."""

import contextlib
import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone

from accord.catalogue.models import Service
from accord.core import history
from accord.core.context import acting_as
from accord.core.models import ObjectChange
from accord.core.policy import restrict, scope_for, visible_by_pk
from accord.core.rows import fetch_by_pk, fetch_one, insert_row
from accord.incidents.models import Incident, PriorityRule
from accord.organizations.models import Customer
from accord.users.models import ApiToken, User

pytestmark = pytest.mark.django_db


def test_insert_row_stores_values_as_the_orm_would(world):
    when = timezone.now().replace(microsecond=123456)
    ct = ContentType.objects.get_for_model(Customer)
    insert_row(
        ObjectChange,
        {
            "time": when,
            "content_type_id": ct.pk,
            "object_id": world.customer_a.pk,
            "object_repr": "Alpha Ltd",
            "action": "update",
            "actor_id": world.admin.pk,
            "actor_label": "Admin",
            "via": "rows-test",
            "changes": {"name": ["Old", "Alpha Ltd"], "nested": {"n": 1, "ok": True}},
        },
    )
    row = ObjectChange.objects.get(content_type=ct, object_id=world.customer_a.pk, via="rows-test")
    assert row.time == when
    assert row.changes == {"name": ["Old", "Alpha Ltd"], "nested": {"n": 1, "ok": True}}
    assert row.actor == world.admin


def test_insert_row_refuses_to_leave_a_column_out():
    with pytest.raises(ValueError, match="no value for"):
        insert_row(ObjectChange, {"object_id": 1, "action": "create"})
    assert not ObjectChange.objects.filter(object_id=1, action="create").exists()


def test_fetch_by_pk_gives_the_same_instance_the_orm_does(world):
    fetched = fetch_by_pk(Service, world.service.pk)
    expected = Service.objects.get(pk=world.service.pk)
    for f in Service._meta.concrete_fields:
        assert getattr(fetched, f.attname) == getattr(expected, f.attname), f.name
    assert isinstance(fetched.created, datetime.datetime)
    assert fetched.created.tzinfo is not None
    # Loaded rows remember their values, so a later save writes only what changed.
    fetched.description = "Mail for everyone"
    assert fetched.tracked_changes() == {"description": ["", "Mail for everyone"]}
    assert fetch_by_pk(Service, 10**9) is None


def test_fetch_one_with_a_join_loads_the_related_row(world):
    token, _key = ApiToken.issue(world.agent_a, "t")
    fetched = fetch_one(ApiToken, "digest", token.digest, join="user")
    assert fetched.pk == token.pk
    with django_assert_no_queries():
        assert fetched.user.username == "agent_a"
        assert fetched.user.role == world.agent_a.role
    assert fetch_one(ApiToken, "digest", "0" * 64, join="user") is None


class django_assert_no_queries:
    def __enter__(self):
        from django.test.utils import CaptureQueriesContext

        self.ctx = CaptureQueriesContext(connection)
        self.ctx.__enter__()

    def __exit__(self, *exc):
        self.ctx.__exit__(*exc)
        assert len(self.ctx.captured_queries) == 0, self.ctx.captured_queries


@pytest.mark.parametrize("model", [Customer, Service])
def test_row_level_scope_check_agrees_with_restrict_for_every_user(world, model):
    Service.objects.create(name="Retired thing", status="retired").customers.add(world.customer_a)
    Service.objects.create(name="Open to all", status="live")
    for user in User.objects.all():
        scope = scope_for(user)
        seen = set(restrict(model.objects.all(), user).values_list("pk", flat=True))
        allowed = {obj.pk for obj in model.objects.all() if model.scope_allows(scope, obj)}
        assert allowed == seen, (user.username, model.__name__)
        by_pk = {obj.pk for obj in model.objects.all() if visible_by_pk(model, user, obj.pk)}
        assert by_pk == seen, (user.username, model.__name__)


def test_served_customers_follow_every_change_of_the_set(world):
    service = Service.objects.get(pk=world.service.pk)
    assert service.served_customer_ids() == {world.customer_a.pk, world.customer_b.pk}
    # Through Accord (the edit form and the API): the version moves, the set follows.
    before = history.m2m_snapshot(service, ["customers"])
    service.customers.remove(world.customer_b)
    with acting_as(world.admin, "test"):
        history.record_m2m(service, before)
    assert Service.objects.get(pk=service.pk).served_customer_ids() == {world.customer_a.pk}
    # Directly in this process: the change signal clears what was kept.
    service.customers.add(world.customer_b)
    assert Service.objects.get(pk=service.pk).served_customer_ids() == {
        world.customer_a.pk,
        world.customer_b.pk,
    }


def test_reference_numbers_wider_than_the_padding_are_not_cut(world, make_incident):
    if connection.vendor == "postgresql":
        # Sequences live outside the test's transaction: put it back afterwards.
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_value, is_called FROM accord_ref_inc")
            saved = cursor.fetchone()
            cursor.execute("SELECT setval('accord_ref_inc', 123456789)")
    else:
        saved = None
        make_incident()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE core_referencesequence SET last_value = 123456789 WHERE prefix = 'INC'"
            )
    try:
        incident = make_incident()
    finally:
        if saved is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT setval('accord_ref_inc', %s, %s)", saved)
    assert incident.number == "INC123456790"
    assert Incident.objects.get(pk=incident.pk).number == "INC123456790"


def test_priority_computed_by_the_insert_follows_the_edited_matrix(world, make_incident):
    PriorityRule.objects.filter(impact=3, urgency=3).delete()
    with acting_as(world.admin, "test"):
        PriorityRule(impact=3, urgency=3, priority=2).save()
    incident = make_incident(impact=3, urgency=3)
    assert incident.priority == 2
    assert Incident.objects.get(pk=incident.pk).priority == 2
    created = history.for_record(Incident, incident.pk).get(action="create")
    assert created.changes["priority"] == 2
    assert created.changes["number"] == incident.number
    # A cell missing from the matrix falls back to the default matrix.
    PriorityRule.objects.filter(impact=1, urgency=1).delete()
    assert make_incident(impact=1, urgency=1).priority == 1


def test_update_rows_sets_many_rows_in_one_statement(world, make_incident):
    from django.test.utils import CaptureQueriesContext

    from accord.core.rows import update_rows

    a, b, c = (make_incident() for _ in range(3))
    when = timezone.now().replace(microsecond=0)
    with CaptureQueriesContext(connection) as ctx:
        update_rows(
            Incident,
            ["sla_due", "sla_breached"],
            [
                (a.pk, {"sla_due": when, "sla_breached": True}),
                (b.pk, {"sla_due": when + datetime.timedelta(hours=1), "sla_breached": False}),
            ],
        )
    assert len(ctx.captured_queries) == 1
    got = {i.pk: (i.sla_due, i.sla_breached) for i in Incident.objects.all()}
    assert got[a.pk] == (when, True)
    assert got[b.pk] == (when + datetime.timedelta(hours=1), False)
    assert got[c.pk][1] is False and got[c.pk][0].year == 9999  # untouched


def test_any_lookup_matches_the_in_lookup(world, make_incident):
    made = [make_incident() for _ in range(3)]
    wanted = [made[0].pk, made[2].pk, 10**9]
    assert set(Incident.objects.filter(pk__any=wanted)) == set(
        Incident.objects.filter(pk__in=wanted)
    )
    assert set(Incident.objects.filter(pk__any=wanted)) == {made[0], made[2]}
    assert not Incident.objects.filter(pk__any=[]).exists()
    numbers = [made[1].number]
    assert list(Incident.objects.filter(number__any=numbers)) == [made[1]]


@pytest.mark.django_db(transaction=True)
def test_write_behind_writes_in_order_and_hands_back_a_failure(world, make_incident):
    from accord.core.rows import WriteBehind, update_rows

    incident = make_incident()
    due = timezone.now().replace(microsecond=0)
    steps = [due + datetime.timedelta(hours=h) for h in range(5)]
    with WriteBehind(depth=1) as writer:
        assert writer.thread is not None  # no transaction held: a second connection
        for when in steps:
            writer.submit(update_rows, Incident, ["sla_due"], [(incident.pk, {"sla_due": when})])
        writer.drain()
        assert Incident.objects.get(pk=incident.pk).sla_due == steps[-1]

    def broken():
        Incident.objects.filter(pk=incident.pk).update(sla_due=steps[0])
        raise ValueError("no such column")

    with pytest.raises(ValueError, match="no such column"), WriteBehind() as writer:
        writer.submit(broken)
        writer.drain()
    # The failed call's transaction was rolled back.
    assert Incident.objects.get(pk=incident.pk).sla_due == steps[-1]


def test_write_behind_runs_in_line_inside_a_transaction(world, make_incident):
    from accord.core.rows import WriteBehind

    ran = []
    with WriteBehind() as writer:
        writer.submit(ran.append, 1)
        assert writer.thread is None and ran == [1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_transaction", [False, True], ids=["writer-thread", "in-line"])
def test_writes_handed_to_the_writer_from_a_deferred_block_are_made(
    world, make_incident, in_transaction
):
    # A job prepares the next chunk inside deferred() while the writer makes the last
    # one: the writer must make the writes, not prepare them again into the job's list.
    from accord.core import rows

    incident = make_incident()
    when = timezone.now().replace(microsecond=0) + datetime.timedelta(days=3)
    outer = transaction.atomic() if in_transaction else contextlib.nullcontext()
    with outer, rows.WriteBehind() as writer, rows.deferred() as writes:
        writer.call(rows.update_rows, Incident, ["sla_due"], [(incident.pk, {"sla_due": when})])
        assert writes == []
    assert Incident.objects.get(pk=incident.pk).sla_due == when
