import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value,expected",
    [
        ("2000-01-01T00:00:00+16:00", 1),  # an offset PostgreSQL itself would refuse
        ("2000-01-01", 1),
        ("2999-01-01T00:00:00Z", 0),
    ],
)
def test_created_after_accepts_any_iso_offset(world, make_incident, api_as, value, expected):
    make_incident()
    client = api_as(world.admin)
    r = client.get("/api/incidents/", {"created_after": value})
    assert r.status_code == 200
    assert len(r.json()["results"]) == expected


@pytest.mark.django_db
def test_created_after_garbage_is_a_field_error(world, api_as):
    client = api_as(world.admin)
    r = client.get("/api/incidents/", {"created_after": "yesterday"})
    assert r.status_code == 400
    assert "created_after" in r.json()


@pytest.mark.django_db
def test_words_filter_on_queue_and_api(client, world, make_incident, api_as):
    a = make_incident(short_description="Scanner jams")
    make_incident(short_description="Mail down")
    client.force_login(world.agent_a)
    page = client.get("/incidents/", {"queue": "all", "q": "scann"})
    assert [r.number for r in page.context["rows"]] == [a.number]
    by_number = client.get("/incidents/", {"queue": "all", "q": a.number.lower()})
    assert [r.number for r in by_number.context["rows"]] == [a.number]
    api = api_as(world.agent_a)
    assert [r["number"] for r in api.get("/api/incidents/", {"q": "jams"}).json()["results"]] == [
        a.number
    ]
