"""The main menu: entries by role, gathered under their groups' headings."""

from django.urls import reverse

from accord.core import navigation
from accord.core.policy import scope_for


def bar_for(user):
    out = {}
    for entry in navigation.menu_bar(navigation.menu_for(scope_for(user))):
        out[str(entry.label)] = [str(i.label) for i in getattr(entry, "items", ())]
    return out


def test_staff_see_groups_and_customers_only_their_entries(world):
    staff = bar_for(world.agent_a)
    assert list(staff)[:2] == ["Incidents", "Requests"]
    assert staff["Problems"] == ["Problems", "Known errors", "Incident trends", "Problem reports"]
    assert staff["Changes"][:2] == ["Change requests", "Schedule"]
    assert "Agreements" in staff["Service levels"] and "Calendars" in staff["Service levels"]
    customer = bar_for(world.customer_user_a)
    assert "Problems" not in customer and "Changes" not in customer
    assert customer["Service levels"] == ["Service catalogue", "Agreements"]


def test_a_group_with_one_entry_is_that_entry(world, monkeypatch):
    monkeypatch.setattr(navigation, "_items", dict(navigation._items))
    navigation.register("x_only", "Only one", "home", order=1, group="nowhere-registered")
    navigation.register("y_only", "Lonely", "home", order=2, group="problems")
    bar = navigation.menu_bar(
        [navigation._items["x_only"], navigation._items["y_only"], navigation._items["incidents"]]
    )
    assert [type(e).__name__ for e in bar] == ["MenuItem", "MenuItem", "MenuItem"]


def test_the_page_marks_the_group_and_entry_it_is_in(world, client):
    client.force_login(world.agent_a)
    page = client.get(reverse("problems:known_error_list")).content.decode()
    assert 'class="nav-link dropdown-toggle active"' in page
    assert 'class="dropdown-item active" aria-current="page"' in page
    assert page.count('aria-current="page"') == 1
