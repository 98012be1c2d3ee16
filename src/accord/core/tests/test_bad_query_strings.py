"""List pages answer nonsense query strings with a page (or a 404), never a 500."""

import pytest
from django.urls import reverse

NONSENSE = {
    "queue": "bogus",
    "status": "zzz",
    "priority": "9",
    "customer": "abc",
    "service": "-1",
    "assignee": "9999999999999999999999",
    "created_after": "not-a-date",
    "cursor": "x",
    "sort": "-bogus",
    "q": "\"'*()%_\\",
    "is_major": "maybe",
}

PAGES = [
    "incidents:queue",
    "requests:queue",
    "catalogue:service_list",
    "organizations:customer_list",
    "calendars:calendar_list",
    "slas:agreement_list",
    "slas:compliance",
    "cmdb:ci_list",
    "cmdb:type_list",
    "search",
]


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who", ["admin", "agent_a", "customer_user_a"])
def test_nonsense_parameters_never_fail(client, world, page, who):
    client.force_login(getattr(world, who))
    url = reverse(page)
    for name, value in NONSENSE.items():
        r = client.get(url, {name: value})
        assert r.status_code in (200, 302, 403), (name, r.status_code)
    r = client.get(url, NONSENSE)
    assert r.status_code in (200, 302, 403)
    r = client.get(url, {**NONSENSE, "export": "csv", "queue": "all"})
    assert r.status_code in (200, 302, 403)
