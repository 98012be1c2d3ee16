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


@pytest.mark.django_db
def test_demo_banner_shows_only_while_demo_data_is_loaded(client, world):
    from django.core.cache import cache

    from accord.core.models import SiteFlag

    client.force_login(world.agent_a)
    cache.clear()
    assert (
        "Demo data is loaded"
        not in client.get(reverse("incidents:queue") + "?queue=open").content.decode()
    )
    SiteFlag.objects.create(key="demo_data", value="now")
    cache.clear()
    assert (
        "Demo data is loaded"
        in client.get(reverse("incidents:queue") + "?queue=open").content.decode()
    )
    cache.clear()


@pytest.mark.django_db
def test_home_sends_people_to_their_first_menu_entry(client, world):
    assert client.get("/")["Location"] == reverse("login")
    client.force_login(world.customer_user_a)
    assert client.get("/")["Location"] == reverse("incidents:queue")


@pytest.mark.django_db
def test_queue_tab_counts(client, world, make_incident):
    from accord.core.context import acting_as
    from accord.incidents.actions import assign_to_me, transition

    mine = make_incident()
    make_incident()
    done = make_incident()
    make_incident(customer=world.customer_b)
    with acting_as(world.agent_a, "test"):
        assign_to_me(mine, world.agent_a)
        transition(done, world.admin, "resolve", resolution_code="solved", resolution_notes="ok")
    client.force_login(world.agent_a)
    for queue in ("open", "mine", "unassigned"):
        r = client.get(reverse("incidents:queue"), {"queue": queue})
        counts = {q["key"]: q["count"] for q in r.context["queues"]}
        assert counts == {"mine": 1, "team": 1, "unassigned": 1, "open": 2, "all": None}
        assert r.context["total"] == counts[queue]
    r = client.get(reverse("incidents:queue"), {"queue": "open", "priority": "1"})
    assert {q["key"]: q["count"] for q in r.context["queues"]}["open"] == 2
    assert r.context["total"] == 0
