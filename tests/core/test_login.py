"""The sign-in page: what a person sees when they get it wrong, and where they land when right."""

import re

from django.urls import reverse


def input_tag(html: str, name: str) -> str:
    return re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)


def test_an_empty_form_says_each_field_is_required(client, db):
    response = client.post(reverse("login"), {"username": "", "password": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("This field is required.") == 2
    assert 'aria-invalid="true"' in html


def test_a_wrong_password_keeps_the_username_and_moves_focus_to_the_password(client, make_user):
    make_user(username="ada")
    response = client.post(reverse("login"), {"username": "ada", "password": "nope"})
    html = response.content.decode()
    assert "Please enter a correct username and password" in html
    assert 'value="ada"' in input_tag(html, "username")
    assert "autofocus" in input_tag(html, "password")
    assert "autofocus" not in input_tag(html, "username")


def test_signing_in_lands_on_the_page_that_asked_for_it(client, make_user):
    make_user(username="ada", role="Admin")
    next_url = reverse("tiering:runs")
    response = client.post(reverse("login"), {"username": "ada", "password": "pw", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == next_url


def test_the_page_says_why_sign_in_is_needed_only_when_sent_from_another_page(client, db):
    assert "Sign in to see that page." in client.get(reverse("login") + "?next=/tiering/runs/").content.decode()
    assert "Sign in to see that page." not in client.get(reverse("login") + "?next=/").content.decode()
