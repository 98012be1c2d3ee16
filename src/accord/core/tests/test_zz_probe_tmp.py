import pytest
from django.urls import reverse
from accord.incidents.models import ServiceRequest


@pytest.mark.django_db
def test_probe(client, world, make_incident):
    req = make_incident(model=ServiceRequest)
    client.force_login(world.admin)
    client.raise_request_exception = False
    for action, data in [("declare_major", {"version": req.version, "major_reason": "x", "major_manager": world.manager_a.pk}), ("major_update", {"body": "x"}), ("communication", {"channel": "email", "audience": "a", "subject": "s", "body": "b"}), ("review", {"summary": "s"}), ("nonexistent", {})]:
        r = client.post(reverse("requests:action", args=[req.pk, action]), data)
        print("ACTION", action, r.status_code)
