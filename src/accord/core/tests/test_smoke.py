import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_queue_and_detail_render(client, world, make_incident):
    inc = make_incident()
    client.force_login(world.agent_a)
    r = client.get(reverse("incidents:queue") + "?queue=open")
    assert r.status_code == 200
    assert inc.number in r.content.decode()
    r = client.get(inc.get_absolute_url())
    assert r.status_code == 200
