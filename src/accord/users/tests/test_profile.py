import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accord.users.models import ApiToken


@pytest.mark.django_db
def test_token_is_shown_once_works_and_can_be_revoked(client, world):
    client.force_login(world.agent_a)
    r = client.post(reverse("profile"), {"name": "laptop script"})
    assert r.status_code == 200
    key = re.search(r'<code id="new-token">([^<]+)</code>', r.content.decode()).group(1)
    token = ApiToken.objects.get(user=world.agent_a)
    assert token.digest != key and key.startswith(token.prefix)
    assert key not in client.get(reverse("profile")).content.decode()

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/incidents/").status_code == 200

    client.post(reverse("profile"), {"revoke": token.pk})
    assert api.get("/api/incidents/").status_code == 401


@pytest.mark.django_db
def test_profile_form_errors_and_time_zone(client, world):
    client.force_login(world.agent_a)
    assert client.post(reverse("profile"), {"name": ""}).status_code == 400
    assert client.post(reverse("profile"), {"time_zone": "Mars/Olympus"}).status_code == 400
    client.post(reverse("profile"), {"time_zone": "Europe/Berlin"})
    world.agent_a.refresh_from_db()
    assert world.agent_a.time_zone == "Europe/Berlin"


@pytest.mark.django_db
def test_another_users_token_cannot_be_revoked(client, world):
    token, _ = ApiToken.issue(world.agent_b, "theirs")
    client.force_login(world.agent_a)
    client.post(reverse("profile"), {"revoke": token.pk})
    assert ApiToken.objects.filter(pk=token.pk).exists()


@pytest.mark.django_db
def test_revoke_with_a_bad_id_is_not_an_error(client, world):
    client.force_login(world.agent_a)
    assert client.post(reverse("profile"), {"revoke": "abc"}).status_code == 302


@pytest.mark.django_db
def test_a_read_only_token_reads_and_changes_nothing(client, world, make_incident):
    incident = make_incident()
    client.force_login(world.agent_a)
    page = client.get(reverse("profile")).content.decode()
    assert 'name="read_only"' in page and 'for="id_read_only"' in page
    r = client.post(reverse("profile"), {"name": "reporting", "read_only": "on"})
    assert r.status_code == 200
    key = re.search(r'<code id="new-token">([^<]+)</code>', r.content.decode()).group(1)
    token = ApiToken.objects.get(user=world.agent_a)
    assert token.read_only
    assert "Read only" in client.get(reverse("profile")).content.decode()

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/incidents/").status_code == 200
    assert api.get(f"/api/incidents/{incident.pk}/").status_code == 200
    assert api.options("/api/incidents/").status_code == 200
    assert api.head("/api/incidents/").status_code == 200
    version = incident.version
    for method, url in (
        ("post", "/api/incidents/"),
        ("patch", f"/api/incidents/{incident.pk}/"),
        ("put", f"/api/incidents/{incident.pk}/"),
        ("delete", f"/api/incidents/{incident.pk}/"),
    ):
        r = getattr(api, method)(url, {"short_description": "Changed"}, format="json")
        assert r.status_code == 403, (method, r.content)
        assert "read only" in r.json()["detail"] and method.upper() in r.json()["detail"]
    incident.refresh_from_db()
    assert incident.version == version and incident.short_description != "Changed"
    # A view with its own permission classes is refused too (the check is the token's).
    r = api.post("/api/cmdb/imports/", {}, format="json")
    assert r.status_code == 403 and "read only" in r.json()["detail"]

    # A token that is not read only still writes.
    _token, writer = ApiToken.issue(world.agent_a, "script")
    api.credentials(HTTP_AUTHORIZATION=f"Token {writer}")
    r = api.patch(
        f"/api/incidents/{incident.pk}/",
        {"short_description": "Changed", "version": version},
        format="json",
    )
    assert r.status_code == 200, r.content
