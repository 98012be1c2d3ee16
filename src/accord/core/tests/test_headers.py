"""Headers every page carries: the Content Security Policy, and for signed-in users
no copy kept by the browser (so "back" shows the record as it is now)."""

from django.urls import reverse


def test_signed_in_pages_are_not_stored(client, world, api_as):
    # Without a user the header is left to the view (the sign-in page sets its own).
    assert "Cache-Control" not in client.get("/static/accord/missing.css")
    client.force_login(world.agent_a)
    page = client.get(reverse("incidents:queue"), {"queue": "all"})
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"] and "private" in page["Cache-Control"]
    assert "default-src 'self'" in page["Content-Security-Policy"]
    api = api_as(world.agent_a).get("/api/incidents/")
    assert api.status_code == 200 and "no-store" in api["Cache-Control"]
