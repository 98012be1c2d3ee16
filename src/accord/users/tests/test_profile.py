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
