"""The back office (Django admin) where administrators edit settings renders every
registered list and add page, and its writes land in the history with the actor."""

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from accord.core.models import ObjectChange
from accord.incidents.models import PriorityRule


@pytest.mark.django_db
def test_every_back_office_page_renders(client, world):
    world.admin.is_staff = world.admin.is_superuser = True
    world.admin.save()
    client.force_login(world.admin)
    for model in admin.site._registry:
        opts = model._meta
        for view in ("changelist", "add"):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}")
            assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_matrix_edit_in_the_back_office_is_recorded(client, world):
    world.admin.is_staff = world.admin.is_superuser = True
    world.admin.save()
    client.force_login(world.admin)
    rule = PriorityRule.objects.get(impact=3, urgency=3)
    url = reverse("admin:incidents_priorityrule_change", args=[rule.pk])
    r = client.post(url, {"impact": 3, "urgency": 3, "priority": 4})
    assert r.status_code == 302
    assert PriorityRule.lookup(3, 3) == 4
    change = ObjectChange.objects.filter(
        content_type=ContentType.objects.get_for_model(PriorityRule),
        object_id=rule.pk,
        action="update",
    ).latest("id")
    assert change.changes == {"priority": [5, 4]}
    assert change.actor == world.admin and change.via == "web"


@pytest.mark.django_db
def test_back_office_is_for_superusers_only(client, world):
    client.force_login(world.agent_a)
    assert client.get(reverse("admin:index")).status_code == 302
