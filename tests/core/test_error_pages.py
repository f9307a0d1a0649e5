import pytest

pytestmark = pytest.mark.django_db


def test_marketing_opening_a_queue_gets_a_calm_page_with_the_pages_they_may_use(client, make_user):
    client.force_login(make_user("Marketing"))

    response = client.get("/churn/")

    assert response.status_code == 403
    body = response.content.decode()
    assert "This page is not part of your role" in body
    assert "Nothing was changed" in body
    assert 'class="topbar"' in body  # the site's layout, not a bare "403 Forbidden"
    assert 'href="/promotions/"' in body
    assert 'href="/churn/team/"' not in body


def test_a_missing_page_says_so_and_links_home(client, make_user):
    client.force_login(make_user("Account manager"))

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    body = response.content.decode()
    assert "There is nothing at this address" in body
    assert 'href="/tiers/"' in body


def test_a_visitor_at_a_wrong_address_gets_the_designed_page_with_sign_in(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    body = response.content.decode()
    assert "There is nothing at this address" in body and "Sign in" in body


def test_a_server_error_gets_a_calm_page_in_the_sites_layout(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))

    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body and 'class="topbar"' in body
