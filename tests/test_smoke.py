from django.contrib.auth.models import Group


def test_the_three_roles_exist_after_migrate(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {"Admin", "Account manager", "Marketing"}


def test_an_anonymous_visitor_is_sent_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
