import pytest
from rest_framework.test import APIClient

from accord.users.models import ApiToken


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value,expected",
    [
        ("2000-01-01T00:00:00+16:00", 1),  # an offset PostgreSQL itself would refuse
        ("2000-01-01", 1),
        ("2999-01-01T00:00:00Z", 0),
    ],
)
def test_created_after_accepts_any_iso_offset(world, make_incident, value, expected):
    make_incident()
    _, key = ApiToken.issue(world.admin, "t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    r = client.get("/api/incidents/", {"created_after": value})
    assert r.status_code == 200
    assert len(r.json()["results"]) == expected


@pytest.mark.django_db
def test_created_after_garbage_is_a_field_error(world):
    _, key = ApiToken.issue(world.admin, "t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    r = client.get("/api/incidents/", {"created_after": "yesterday"})
    assert r.status_code == 400
    assert "created_after" in r.json()
