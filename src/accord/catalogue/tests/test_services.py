import pytest
from django.urls import reverse

from accord.catalogue.models import Service
from accord.core.models import ObjectChange


@pytest.mark.django_db
def test_a_service_cannot_depend_on_itself(client, world, api_as):
    service = world.service
    r = api_as(world.admin).patch(
        f"/api/services/{service.pk}/", {"depends_on": [service.pk], "version": 1}, format="json"
    )
    assert r.status_code == 400
    assert "cannot depend on itself" in str(r.json()["depends_on"])
    client.force_login(world.admin)
    r = client.post(
        reverse("catalogue:service_edit", args=[service.pk]),
        {"name": service.name, "status": "live", "depends_on": [service.pk], "version": 1},
    )
    assert r.status_code == 400
    assert "cannot depend on itself" in r.content.decode()


@pytest.mark.django_db
def test_dependency_change_is_versioned_and_in_the_history(world, api_as):
    client = api_as(world.admin)
    url = f"/api/services/{world.service.pk}/"
    r = client.patch(url, {"depends_on": [world.service_b_only.pk], "version": 1}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["version"] == 2
    # The same stale version again is refused: the set was changed meanwhile.
    r = client.patch(url, {"depends_on": [], "version": 1}, format="json")
    assert r.status_code == 409
    assert list(world.service.depends_on.values_list("pk", flat=True)) == [world.service_b_only.pk]
    change = ObjectChange.objects.filter(object_id=world.service.pk, action="update").latest("id")
    assert change.changes == {"depends_on": [[], [world.service_b_only.pk]]}


@pytest.mark.django_db
def test_customer_catalogue_lists_live_services_of_their_organisation(client, world):
    Service.objects.create(name="Planned thing", status="pipeline").customers.add(world.customer_a)
    client.force_login(world.customer_user_a)
    page = client.get(reverse("catalogue:service_list")).content.decode()
    assert "Email" in page
    assert "Beta ERP" not in page
    assert "Planned thing" not in page
    assert (
        client.get(reverse("catalogue:service_detail", args=[world.service_b_only.pk])).status_code
        == 404
    )
