import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def nav(body: str) -> str:
    return body[body.index('<nav class="nav"') : body.index("</nav>")]


def test_admins_find_their_setup_pages_under_admin_tools(client, make_user):
    client.force_login(make_user("Admin", is_staff=True))

    bar = nav(client.get(reverse("churn:my_queue")).content.decode())

    top, tools = bar.split('<details class="nav-more">')
    assert "Tier lists" in top and "Team queue" in top and "Runs" not in top
    assert "Admin tools</summary>" in tools
    assert all(label in tools for label in ("Tier rules", "Runs", "Import data", "Django admin"))


def test_only_the_page_you_are_on_is_marked_current(client, make_user):
    client.force_login(make_user("Account manager"))

    bar = nav(client.get(reverse("churn:team_queue")).content.decode())

    assert re.findall(r'<a href="([^"]+)" aria-current="page">', bar) == ["/churn/team/"]


def test_account_managers_get_no_admin_tools_menu(client, make_user):
    client.force_login(make_user("Account manager"))
    assert "Admin tools" not in nav(client.get(reverse("home")).content.decode())
