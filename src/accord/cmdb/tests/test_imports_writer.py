"""The CI import as the worker runs it: the rows checked on one connection while a
second one writes the chunks before them, all in one transaction. These tests run
outside a test transaction (``transaction=True``), so the import really takes that
path; the shared machinery under it (``core.rows``: the writer, prepared writes, COPY
data, the index lookups) is held to what the ORM would store and read."""

import datetime
import importlib
from contextlib import contextmanager

import pytest
from django.apps import apps as django_apps
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from accord.cmdb import actions, imports, imports_cis
from accord.cmdb.imports import run_import, start_import
from accord.cmdb.models import CIType, ConfigurationItem, GraphEvent
from accord.core import rows
from accord.core.context import acting_as
from accord.core.models import ObjectChange, SearchEntry

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "name,type,status,location,customers,services,external_key,attr:cpu_cores"


@pytest.fixture(autouse=True)
def _small_chunks(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(imports, "CHUNK", 3)  # a few rows make several chunks


@pytest.fixture(autouse=True)
def _starting_types(transactional_db):
    """The CI types the migrations bring (a test before may have emptied the tables)."""
    if not CIType.objects.exists():
        seed = importlib.import_module("accord.cmdb.migrations.0002_starting_types")
        with acting_as(None, "test"):
            seed.create(django_apps, None)


def do_import(user, text, key="external_key"):
    run = start_import(user, SimpleUploadedFile("cis.csv", text.encode()), "cis", key)
    run_import(run.pk)
    run.refresh_from_db()
    return run


def make_ci(world, name, type_key="server", customers=(), **fields):
    with acting_as(world.admin, "test"):
        item = ConfigurationItem(name=name, ci_type=CIType.objects.get(key=type_key), **fields)
        return actions.save_ci(item, customers=list(customers), services=[])


def ci_history():
    return ObjectChange.objects.filter(content_type__model="configurationitem")


# --- the import on two connections -------------------------------------------------------
def test_rows_are_written_by_a_second_connection_in_one_transaction(world, monkeypatch):
    seen, writers = [], []
    publish = imports.publish_progress

    def progress(run_id, processed, total):
        # What this thread's connection sees while the run goes on: nothing yet.
        seen.append(ConfigurationItem.objects.count())
        publish(run_id, processed, total)

    monkeypatch.setattr(imports, "publish_progress", progress)
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 0)
    applying = imports_cis.CIImporter.applying

    @contextmanager
    def watched(importer):
        with applying(importer):
            writers.append(importer.writer.thread is not None)
            yield

    monkeypatch.setattr(imports_cis.CIImporter, "applying", watched)
    lines = [HEADER, "site-a,location,live,,,,loc-a,", "site-b,location,live,,,,loc-b,"]
    lines += [
        f"srv-{i:02d},server,live,site-{'ab'[i % 2]},alpha;beta,Email,k{i:02d},{i}"
        for i in range(10)
    ]
    reloads = GraphEvent.objects.filter(op=GraphEvent.RELOAD)
    before = reloads.count()
    run = do_import(world.admin, "\n".join(lines) + "\n")
    assert run.status == "done", run.errors
    assert writers == [True]  # the writes went to a second connection
    assert (run.created_count, run.updated_count, run.unchanged_count) == (12, 0, 0)
    assert set(seen) == {0}  # nothing was committed before the end
    # Locations named in later chunks than the ones that created them.
    site_a = ConfigurationItem.objects.get(name="site-a")
    assert ConfigurationItem.objects.filter(location=site_a).count() == 5
    item = ConfigurationItem.objects.get(name="srv-03")
    assert item.location.name == "site-b"
    assert item.attributes == {"cpu_cores": 3}
    assert set(item.customers.all()) == {world.customer_a, world.customer_b}
    assert list(item.services.all()) == [world.service]
    change = ci_history().get(object_id=item.pk)
    assert (change.action, change.actor, change.via) == ("create", world.admin, "job:cmdb-import")
    assert change.changes["location"] == item.location_id
    assert change.changes["customers"] == sorted([world.customer_a.pk, world.customer_b.pk])
    assert ci_history().count() == 12
    assert SearchEntry.objects.filter(content_type__model="configurationitem").count() == 12
    assert reloads.count() == before + 1

    # The same file again changes nothing.
    versions = dict(ConfigurationItem.objects.values_list("name", "version"))
    again = do_import(world.admin, "\n".join(lines) + "\n")
    assert again.status == "done", again.errors
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 12)
    assert ci_history().count() == 12
    assert reloads.count() == before + 1
    assert dict(ConfigurationItem.objects.values_list("name", "version")) == versions


def test_an_error_in_a_late_chunk_leaves_nothing_imported(world):
    lines = [HEADER] + [f"srv-{i},server,live,,,,k{i}," for i in range(8)]
    lines.append("srv-last,server,broken,,,,k-last,")
    events = GraphEvent.objects.count()
    run = do_import(world.admin, "\n".join(lines) + "\n")
    assert run.status == "failed"
    assert [(e["line"], e["column"]) for e in run.errors] == [(10, "status")]
    assert not ConfigurationItem.objects.exists()
    assert not ci_history().exists()
    assert not SearchEntry.objects.filter(content_type__model="configurationitem").exists()
    assert GraphEvent.objects.count() == events


def test_a_write_the_database_refuses_rolls_the_whole_file_back(world, monkeypatch):
    calls = []
    run_all = imports_cis.run_all

    def refusing(writes):
        calls.append(len(writes))
        if len(calls) == 2:
            raise IntegrityError("duplicate key value violates unique constraint")
        run_all(writes)

    monkeypatch.setattr(imports_cis, "run_all", refusing)
    lines = [HEADER] + [f"srv-{i},server,live,,,,k{i}," for i in range(9)]
    run = do_import(world.admin, "\n".join(lines) + "\n")
    assert run.status == "failed"
    assert "nothing was saved" in run.errors[0]["message"]
    assert len(calls) >= 2
    assert not ConfigurationItem.objects.exists()
    assert not ci_history().exists()


def test_names_and_keys_a_file_frees_can_be_taken_further_down(world):
    old = make_ci(world, "old-name", external_key="K1")
    keyed = make_ci(world, "keyed", external_key="E1")
    # Renamed in the first chunk; its old name taken by a new CI in a later one.
    text = (
        "name,type,external_key\nnew-name,server,K1\na,server,KA\nb,server,KB\nold-name,server,K2\n"
    )
    run = do_import(world.admin, text)
    assert run.status == "done", run.errors
    assert ConfigurationItem.objects.get(pk=old.pk).name == "new-name"
    assert ConfigurationItem.objects.get(name="old-name").external_key == "K2"
    # By name: an external key cleared in one chunk, given to another CI later on.
    text = "name,type,external_key\nkeyed,server,\nc,server,KC\nd,server,KD\ne,server,E1\n"
    run = do_import(world.admin, text, key="name")
    assert run.status == "done", run.errors
    assert ConfigurationItem.objects.get(pk=keyed.pk).external_key == ""
    assert ConfigurationItem.objects.get(name="e").external_key == "E1"
    # A name still held is refused, as ever.
    run = do_import(world.admin, "name,type,external_key\nnew-name,server,K9\n")
    assert run.status == "failed"
    assert [(e["line"], e["column"]) for e in run.errors] == [(2, "name")]


def test_a_location_renamed_earlier_in_the_file_goes_by_its_new_name(world):
    site = make_ci(world, "site-old", "location", external_key="S1")
    text = (
        "name,type,location,external_key\n"
        "site-new,location,,S1\n"
        "x,server,,KX\n"
        "y,server,,KY\n"
        "srv-1,server,site-new,K1\n"
        "srv-2,server,site-old,K2\n"
    )
    run = do_import(world.admin, text)
    assert run.status == "failed"
    assert [(e["line"], e["column"]) for e in run.errors] == [(6, "location")]
    assert "site-old" in run.errors[0]["message"]
    run = do_import(world.admin, text.replace("site-old,K2", "site-new,K2"))
    assert run.status == "done", run.errors
    assert set(ConfigurationItem.objects.filter(location=site).values_list("name", flat=True)) == {
        "srv-1",
        "srv-2",
    }


def test_a_manager_finds_only_what_they_see_among_the_rows_written_before(world):
    # A location the manager cannot see keeps being unseen after a change by the file;
    # one made earlier in the file is found.
    hidden = make_ci(world, "site-beta", "location", customers=[world.customer_b])
    assert hidden.pk
    text = (
        "name,type,location,customers,external_key\n"
        "site-alpha,location,,alpha,LA\n"
        "p,server,,alpha,KP\n"
        "q,server,,alpha,KQ\n"
        "srv-1,server,site-alpha,alpha,K1\n"
        "srv-2,server,site-beta,alpha,K2\n"
    )
    run = do_import(world.manager_a, text)
    assert run.status == "failed"
    assert [(e["line"], e["column"]) for e in run.errors] == [(6, "location")]
    run = do_import(world.manager_a, text.replace("site-beta,alpha,K2", "site-alpha,alpha,K2"))
    assert run.status == "done", run.errors
    assert ConfigurationItem.objects.get(name="srv-2").location.name == "site-alpha"


def test_a_reference_may_name_by_id_a_ci_written_earlier_in_the_file(world):
    from accord.cmdb.models import AttributeDefinition

    AttributeDefinition.objects.create(
        ci_type=CIType.objects.get(key="application"),
        key="runs_on",
        label="Runs on",
        kind="reference",
        reference_type=CIType.objects.get(key="server"),
    )
    host = make_ci(world, "host-0", external_key="H0")
    text = (
        "name,type,external_key,attr:runs_on\n"
        "host-1,server,H1,\n"
        "a,server,KA,\n"
        "b,server,KB,\n"
        f"app-1,application,A1,{host.pk + 1}\n"
        "app-2,application,A2,host-1\n"
        f"app-3,application,A3,{host.pk}\n"
    )
    run = do_import(world.admin, text)
    assert run.status == "done", run.errors
    host_1 = ConfigurationItem.objects.get(name="host-1")
    assert host_1.pk == host.pk + 1
    attributes = dict(ConfigurationItem.objects.values_list("name", "attributes"))
    assert attributes["app-1"] == {"runs_on": host_1.pk}
    assert attributes["app-2"] == {"runs_on": host_1.pk}
    assert attributes["app-3"] == {"runs_on": host.pk}


# --- the machinery under it ----------------------------------------------------------------
def test_a_writer_in_one_transaction_commits_at_the_end_or_not_at_all(world):
    def add(name):
        with acting_as(None, "test"):
            CIType.objects.create(key=name, name=name)

    def count(prefix):
        return CIType.objects.filter(key__startswith=prefix).count()

    with rows.WriteBehind(one_transaction=True) as writer:
        assert writer.thread is not None
        writer.submit(add, "w-one")
        writer.submit(add, "w-two")
        assert writer.call(count, "w-") == 2  # in the writer's transaction
        assert count("w-") == 0  # not committed yet
    assert count("w-") == 2

    def broken():
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"), rows.WriteBehind(one_transaction=True) as w:
        w.submit(add, "x-one")
        w.submit(broken)
        w.submit(add, "x-two")
    assert count("x-") == 0

    with pytest.raises(KeyError), rows.WriteBehind(one_transaction=True) as writer:
        writer.submit(add, "y-one")
        writer.drain()
        raise KeyError("the caller gave up")
    assert count("y-") == 0
    assert connections["default"].in_atomic_block is False


def test_copy_data_and_multi_row_inserts_store_what_the_orm_reads(world):
    ct = ContentType.objects.get_for_model(ConfigurationItem)
    when = timezone.now().replace(microsecond=654321)
    tricky = [
        "tab\there",
        "line\nbreak\r\nand back\\slash",
        "\\N",
        "quote ' and \" and ünïcödé",
        "",
    ]
    entries = [
        {
            "time": when + datetime.timedelta(seconds=i),
            "content_type_id": ct.pk,
            "object_id": 9000 + i,
            "object_repr": text,
            "action": "create",
            "actor_id": world.admin.pk if i % 2 else None,
            "actor_label": text[:150],
            "via": "rows-test",
            "changes": {"text": text, "n": i, "ok": bool(i % 2), "none": None, "list": [text]},
        }
        for i, text in enumerate(tricky)
    ]
    with rows.deferred() as writes:
        rows.insert_many(ObjectChange, entries)
    assert len(writes) == 1
    assert not ObjectChange.objects.filter(via="rows-test").exists()  # prepared, not made
    with transaction.atomic():
        rows.run_all(writes)
    stored = list(ObjectChange.objects.filter(via="rows-test").order_by("object_id"))
    assert [s.object_repr for s in stored] == tricky
    for entry, row in zip(entries, stored, strict=True):
        assert row.time == entry["time"]
        assert row.actor_id == entry["actor_id"]
        assert row.actor_label == entry["actor_label"]
        assert row.changes == entry["changes"]


def test_values_of_another_type_than_their_column_still_go_in(world):
    # An id given as text: PostgreSQL's binary COPY cannot carry it, its text form can.
    ct = ContentType.objects.get_for_model(ConfigurationItem)
    entry = {
        "time": timezone.now(),
        "content_type_id": str(ct.pk),
        "object_id": "9100",
        "object_repr": "as text",
        "action": "create",
        "actor_id": None,
        "actor_label": "",
        "via": "rows-test",
        "changes": {},
    }
    with transaction.atomic():
        rows.insert_many(ObjectChange, [entry, {**entry, "object_id": 9101}])
    assert sorted(
        ObjectChange.objects.filter(via="rows-test").values_list("object_id", flat=True)
    ) == [
        9100,
        9101,
    ]


def test_matching_finds_rows_by_a_field_in_batches(world, monkeypatch):
    for i in range(5):
        make_ci(world, f"m-{i}", external_key=f"MK{i}" if i else "")
    found = rows.matching(
        ConfigurationItem, "name", ["m-1", "m-3", "nope", "m-1"], ("pk", "name", "external_key")
    )
    assert sorted((n, k) for _pk, n, k in found) == [("m-1", "MK1"), ("m-3", "MK3")]
    keyed = rows.matching(ConfigurationItem, "external_key", ["", "MK2"], ("name",), nonempty=True)
    assert keyed == [("m-2",)]
    assert rows.matching(ConfigurationItem, "external_key", [""], nonempty=True) == []
    assert len(rows.matching(ConfigurationItem, "external_key", ["", "MK2"], nonempty=False)) == 2
    assert rows.matching(ConfigurationItem, "name", []) == []
    if connection.vendor == "sqlite":
        monkeypatch.setattr(rows, "_sqlite_parameter_limit", lambda connection: 2)
    names = [f"m-{i}" for i in range(5)]
    assert sorted(n for (n,) in rows.matching(ConfigurationItem, "name", names, ("name",))) == names
