"""Who may open which page: one table, every role.

Add a row for each new page: (url name or path, expected status per role). 302 means "sent to
sign in" and is checked to land on the right login page with ?next= pointing back.
"""

from urllib.parse import quote

import pytest
from django.urls import reverse

ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, "Admin", "Account manager", "Marketing")

EVERYONE = {ANONYMOUS: 302, "Admin": 200, "Account manager": 200, "Marketing": 200}
ADMIN_ONLY = {ANONYMOUS: 302, "Admin": 200, "Account manager": 403, "Marketing": 403}
PUBLIC = {ANONYMOUS: 200, "Admin": 200, "Account manager": 200, "Marketing": 200}
NOT_MARKETING = {ANONYMOUS: 302, "Admin": 200, "Account manager": 200, "Marketing": 403}

PAGES = [
    ("home", EVERYONE),
    ("customers:import", ADMIN_ONLY),
    ("tiering:runs", ADMIN_ONLY),
    # The Django admin sends anyone who is not staff to its own login page.
    ("admin:index", {ANONYMOUS: 302, "Admin": 200, "Account manager": 302, "Marketing": 302}),
    ("dashboard:tier_list", NOT_MARKETING),
    ("/tiers/3/", NOT_MARKETING),
    ("healthz", PUBLIC),
    ("login", PUBLIC),
]

CASES = [pytest.param(page, role, expected[role], id=f"{page} as {role}") for page, expected in PAGES for role in ROLES]


def url_of(page: str) -> str:
    return page if page.startswith("/") else reverse(page)


def login_url_for(path: str) -> str:
    login = reverse("admin:login") if path.startswith(reverse("admin:index")) else reverse("login")
    return f"{login}?next={quote(path)}"


@pytest.fixture
def client_as(client, make_user):
    def sign_in(role: str):
        if role != ANONYMOUS:
            # Admins edit rules in the Django admin, so their accounts are staff accounts.
            client.force_login(make_user(role=role, is_staff=(role == "Admin")))
        return client

    return sign_in


@pytest.mark.django_db
@pytest.mark.parametrize(("page", "role", "expected"), CASES)
def test_each_role_gets_the_intended_answer_on_each_page(client_as, page, role, expected):
    path = url_of(page)
    response = client_as(role).get(path)
    assert response.status_code == expected
    if expected == 302:
        assert response["Location"] == login_url_for(path)


def test_every_role_in_the_table_exists_as_a_group(db):
    from django.contrib.auth.models import Group

    assert set(ROLES) - {ANONYMOUS} <= set(Group.objects.values_list("name", flat=True))
