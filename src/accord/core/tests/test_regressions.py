"""Regression tests for faults found while writing the API, tenancy and fuzzing tests."""

import pytest
from django.urls import reverse

from accord.core.models import RecordLink, SavedFilter
from accord.core.views import RecordListView
from accord.incidents.models import ServiceRequest
from accord.users.testing import api_client_for

_api = api_client_for


@pytest.mark.django_db
def test_stale_many_to_many_only_edit_is_refused(world):
    """A save with no column changes skipped the version check, so a stale edit of a
    service's customers silently replaced the current set."""
    client = _api(world.admin)
    url = f"/api/services/{world.service.pk}/"
    assert client.patch(url, {"description": "x", "version": 1}, format="json").status_code == 200
    r = client.patch(url, {"customers": [world.customer_a.pk], "version": 1}, format="json")
    assert r.status_code == 409
    assert r.json()["code"] == "stale_version"
    assert set(world.service.customers.values_list("pk", flat=True)) == {
        world.customer_a.pk,
        world.customer_b.pk,
    }
    r = client.patch(url, {"customers": [world.customer_a.pk], "version": 2}, format="json")
    assert r.status_code == 200
    assert r.json()["customers"] == [world.customer_a.pk]


@pytest.mark.django_db
def test_stale_many_to_many_only_edit_is_refused_on_the_page(client, world):
    client.force_login(world.admin)
    url = reverse("catalogue:service_edit", args=[world.service.pk])
    both = [world.customer_a.pk, world.customer_b.pk]
    form = {"name": "Email", "status": "live", "support_team": world.team_a.pk}
    r = client.post(url, {**form, "description": "x", "customers": both, "version": 1})
    assert r.status_code == 302
    # Only the customers differ from what is stored, and the version is stale.
    r = client.post(url, {**form, "description": "x", "customers": both[:1], "version": 1})
    assert r.status_code == 409
    assert world.service.customers.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["abc", "1; drop", "²", ""])
def test_deleting_a_saved_filter_with_a_bad_id_is_not_a_server_error(client, world, value):
    SavedFilter.objects.create(user=world.agent_a, list_name="incidents", name="Mine", query="q=1")
    client.force_login(world.agent_a)
    r = client.post(reverse("saved_filter"), {"delete": value, "next": "/incidents/"})
    assert r.status_code == 302
    assert SavedFilter.objects.count() == 1


@pytest.mark.django_db
def test_a_cursor_of_one_sort_is_ignored_by_another(client, world, make_incident, monkeypatch):
    """The cursor did not say which sort it belonged to; reading a date cursor with
    sort=priority compared a priority with a date and failed with a 500."""
    for _ in range(3):
        make_incident()
    monkeypatch.setattr(RecordListView, "page_size", 2)
    client.force_login(world.agent_a)
    url = reverse("incidents:queue")
    r = client.get(url, {"queue": "all", "sort": "created"})
    next_url = r.context["next_url"]
    assert "cursor=" in next_url
    r = client.get(url + next_url)
    assert len(r.context["rows"]) == 1  # the cursor still works for its own sort
    r = client.get(url + next_url.replace("sort=created", "sort=priority"))
    assert r.status_code == 200
    assert len(r.context["rows"]) == 2  # the first page of the other sort


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["auditor", "customer_user_a"])
def test_only_writing_staff_may_link_records(client, world, make_incident, username):
    """Linking writes (a link row and an event on both records), but the action did
    not check the role: the auditor and customer users could link records."""
    inc = make_incident()
    req = make_incident(model=ServiceRequest)
    client.force_login(getattr(world, username))
    r = client.post(reverse("incidents:action", args=[inc.pk, "link"]), {"number": req.number})
    assert r.status_code == 403
    assert not RecordLink.objects.exists()
