"""Who may see and change the churn queue."""

import pytest
from django.urls import reverse

from churn.models import FollowUp
from tests.churn.factories import FollowUpFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def as_role(client, role):
    user = UserFactory(role=role)
    client.force_login(user)
    return user


@pytest.mark.parametrize("url_name", ["churn:my_queue", "churn:team_queue"])
def test_marketing_cannot_see_the_queue(client, url_name):
    as_role(client, "Marketing")
    assert client.get(reverse(url_name)).status_code == 403


@pytest.mark.parametrize(
    "url_name, data",
    [
        ("churn:change_status", {"to": "contacted", "version": 1}),
        ("churn:claim", {"version": 1}),
        ("churn:reassign", {"version": 1}),
    ],
)
def test_marketing_cannot_change_an_item(client, url_name, data):
    as_role(client, "Marketing")
    item = FollowUpFactory(assignee=None)
    assert client.post(reverse(url_name, args=[item.pk]), data).status_code == 403
    item.refresh_from_db()
    assert (item.status, item.assignee, item.version) == ("open", None, 1)


def test_marketing_may_read_the_insights(client):
    as_role(client, "Marketing")
    assert client.get(reverse("churn:insights")).status_code == 200


@pytest.mark.parametrize("role", ["Account manager", "Admin"])
def test_account_managers_and_admins_see_and_work_the_queue(client, role):
    user = as_role(client, role)
    assert client.get(reverse("churn:my_queue")).status_code == 200
    assert client.get(reverse("churn:team_queue")).status_code == 200
    item = FollowUpFactory(assignee=None)
    client.post(reverse("churn:claim", args=[item.pk]), {"version": 1})
    assert FollowUp.objects.get(pk=item.pk).assignee == user


def test_the_menu_shows_the_queues_to_account_managers_but_not_to_marketing(client):
    as_role(client, "Account manager")
    html = client.get(reverse("home")).content.decode()
    assert "My queue" in html and "Team queue" in html and "Churn insights" in html
    as_role(client, "Marketing")
    html = client.get(reverse("home")).content.decode()
    assert "My queue" not in html and "Churn insights" in html


def test_only_admins_may_edit_the_churn_and_follow_up_policies():
    admin, manager = UserFactory(role="Admin"), UserFactory(role="Account manager")
    for perm in ["churn.change_churnpolicy", "churn.change_followuppolicy"]:
        assert admin.has_perm(perm)
        assert not manager.has_perm(perm)


def test_an_admin_edits_the_churn_policy_in_the_django_admin(client):
    admin = UserFactory(role="Admin", is_staff=True)
    client.force_login(admin)
    response = client.post(
        reverse("admin:churn_churnpolicy_change", args=[1]),
        {
            "min_days": 60,
            "gap_multiple": "3",
            "horizon_days": 90,
            "risk_threshold": "0.5",
            "follow_up_trigger": "lapse",
        },
    )
    assert response.status_code == 302
    from churn.models import ChurnPolicy

    policy = ChurnPolicy.current()
    assert (policy.min_days, str(policy.gap_multiple)) == (60, "3.00")
    assert policy.history.count() >= 1


@pytest.mark.parametrize("model", ["churnpolicy", "followuppolicy", "lapse", "followup", "release"])
def test_the_admin_pages_of_churn_open_for_an_admin(client, model):
    client.force_login(UserFactory(role="Admin", is_staff=True))
    FollowUpFactory()
    assert client.get(reverse(f"admin:churn_{model}_changelist")).status_code == 200


def test_an_admin_edit_of_an_item_raises_its_version_so_open_queue_forms_go_stale(client):
    admin = UserFactory(role="Admin", is_staff=True)
    client.force_login(admin)
    item = FollowUpFactory()
    data = {
        "customer": item.customer_id,
        "lapse": item.lapse_id,
        "kind": "investigate",
        "priority": "normal",
        "tier": 3,
        "status": "open",
        "due_on": "2026-12-01",
        "notes": "",
        "cause_category": "",
        "cause_text": "",
    }
    assert client.post(reverse("admin:churn_followup_change", args=[item.pk]), data).status_code == 302
    item.refresh_from_db()
    assert (item.priority, item.version, item.updated_by) == ("normal", 2, admin)
