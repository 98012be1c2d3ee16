import pytest
from django.urls import reverse

from accord.incidents.models import ServiceRequest


@pytest.mark.django_db
def test_link_records_both_ways_and_only_visible(client, world, make_incident):
    inc = make_incident()
    req = make_incident(model=ServiceRequest, short_description="New laptop")
    other = make_incident(customer=world.customer_b, short_description="Beta thing")
    client.force_login(world.agent_a)
    url = reverse("incidents:action", args=[inc.pk, "link"])
    r = client.post(url, {"number": req.number.lower()})
    assert r.status_code == 302
    assert req.number in client.get(inc.get_absolute_url()).content.decode()
    assert inc.number in client.get(req.get_absolute_url()).content.decode()

    # A record of a customer the agent doesn't serve can't be linked or revealed.
    r = client.post(url, {"number": other.number}, HTTP_HX_REQUEST="true")
    assert r.status_code == 400
    assert f"You have no record with the number {other.number}" in r.content.decode()
    assert "Beta thing" not in r.content.decode()

    r = client.post(url, {"number": req.number}, HTTP_HX_REQUEST="true")
    assert r.status_code == 400
    assert "already linked" in r.content.decode()

    r = client.post(url, {"number": "INC9999999"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 400
    assert "You have no record with the number INC9999999" in r.content.decode()
