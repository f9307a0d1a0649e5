"""Whose follow-ups a person may change: account managers act on their own and unassigned items;
reassigning, taking over or closing a colleague's needs a team lead (or an admin)."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from churn.models import FollowUp
from churn.services import NotAllowed, change_follow_up_status, claim_follow_up, reassign_follow_up
from tests.churn.factories import FollowUpFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
ACTORS = ["manager", "team lead", "admin"]
WHOSE = ["own", "unassigned", "colleague's"]


def make_actor(kind: str):
    if kind == "admin":
        return UserFactory(role="Admin", username="ada")
    user = UserFactory(role="Account manager", username="ann")
    if kind == "team lead":
        user.groups.add(Group.objects.get(name="Team lead"))
    return user


def make_item(whose: str, actor, **fields) -> FollowUp:
    assignee = {"own": actor, "unassigned": None, "colleague's": _carol()}
    return FollowUpFactory(assignee=assignee[whose], **fields)


def _carol():
    return User.objects.filter(username="carol").first() or UserFactory(role="Account manager", username="carol")


# action: (starting status, POST to, form data, what the item is afterwards when it went through)
ACTIONS = {
    "claim": ("open", "churn:claim", {}, lambda item, actor: item.assignee == actor),
    "reassign": ("open", "churn:reassign", {"to_user": "dan"}, lambda item, actor: item.assignee.username == "dan"),
    "contact": ("open", "churn:change_status", {"to": "contacted"}, lambda item, actor: item.status == "contacted"),
    "close": ("contacted", "churn:change_status", {"to": "won_back"}, lambda item, actor: item.status == "won_back"),
    "dismiss": (
        "open",
        "churn:change_status",
        {"to": "dismissed", "dismiss_reason": "unreachable"},
        lambda item, actor: item.status == "dismissed",
    ),
}


def expected(action: str, whose: str, actor: str) -> str:
    """ "done", "refused" (403: a colleague's item) or "unchanged" (nothing to do: claimed already)."""
    if whose == "colleague's" and actor == "manager":
        return "refused"
    if action == "claim" and whose != "unassigned":
        return "unchanged"  # a claim takes from the team queue only; a lead takes over by reassigning
    return "done"


CASES = [
    pytest.param(a, w, r, expected(a, w, r), id=f"{r} {a}s {w} item") for a in ACTIONS for w in WHOSE for r in ACTORS
]


@pytest.mark.parametrize("action, whose, actor_kind, outcome", CASES)
def test_who_may_change_whose_item(client, action, whose, actor_kind, outcome):
    actor = make_actor(actor_kind)
    dan = UserFactory(role="Account manager", username="dan")
    status, url_name, data, went_through = ACTIONS[action]
    item = make_item(whose, actor, status=status)
    before = (item.assignee_id, item.status, item.version)
    client.force_login(actor)
    data = {**data, "version": item.version} | ({"to_user": dan.pk} if "to_user" in data else {})

    response = client.post(reverse(url_name, args=[item.pk]), data, follow=True)

    item.refresh_from_db()
    if outcome == "done":
        assert response.status_code == 200 and went_through(item, actor)
    elif outcome == "refused":
        assert response.status_code == 403
        assert "carol works this item: only they or a team lead may" in response.content.decode()
        assert (item.assignee_id, item.status, item.version) == before
    else:
        assert response.status_code == 200 and (item.assignee_id, item.status, item.version) == before


@pytest.mark.parametrize(
    "act",
    [
        lambda item, user: claim_follow_up(follow_up_id=item.pk, user=user, version=1),
        lambda item, user: reassign_follow_up(follow_up_id=item.pk, user=user, version=1, to_user=user),
        lambda item, user: change_follow_up_status(
            follow_up_id=item.pk, user=user, version=1, to_status="dismissed", dismiss_reason="unreachable"
        ),
    ],
    ids=["take", "take over by reassigning", "dismiss"],
)
def test_the_services_refuse_a_colleagues_item_whatever_calls_them(act):
    manager = make_actor("manager")
    item = make_item("colleague's", manager)
    with pytest.raises(NotAllowed, match="carol works this item"):
        act(item, manager)
    item.refresh_from_db()
    assert (item.assignee.username, item.status, item.version) == ("carol", "open", 1)


def test_the_services_refuse_anyone_without_the_queue_role():
    item = FollowUpFactory(assignee=None)
    with pytest.raises(NotAllowed, match="does not work the follow-up queue"):
        claim_follow_up(follow_up_id=item.pk, user=UserFactory(role="Marketing"), version=1)


def test_a_team_lead_takes_over_a_colleagues_item_by_reassigning_it_to_themselves(client):
    lead = make_actor("team lead")
    item = make_item("colleague's", lead)
    client.force_login(lead)
    client.post(reverse("churn:reassign", args=[item.pk]), {"version": 1, "to_user": lead.pk}, **HTMX)
    item.refresh_from_db()
    assert item.assignee == lead and "reassigned to ann" in item.notes


def test_with_htmx_a_refusal_shows_its_reason_in_the_row(client):
    manager = make_actor("manager")
    item = make_item("colleague's", manager)
    client.force_login(manager)
    html = client.post(
        reverse("churn:change_status", args=[item.pk]),
        {"to": "dismissed", "version": 1, "dismiss_reason": "unreachable"},
        **HTMX,
    )
    assert 'role="alert">carol works this item: only they or a team lead may close it.' in html.content.decode()
    assert FollowUp.objects.get(pk=item.pk).status == "open"


def row_of(html: str, item) -> str:
    start = html.index(f'id="follow-up-{item.pk}"')
    return html[start : html.index("</tr>", start)]


def test_the_queue_offers_a_manager_no_action_on_a_colleagues_item(client):
    manager = make_actor("manager")
    mine, nobodys, carols = (
        make_item("own", manager),
        make_item("unassigned", manager),
        make_item("colleague's", manager),
    )
    client.force_login(manager)
    html = client.get(reverse("churn:team_queue"), {"assignee": ""}).content.decode()

    for item in (mine, nobodys):  # ticked for the action bar's claim / assign / close, or updated in the row
        assert 'name="item"' in row_of(html, item) and "Dismiss" in row_of(html, item)
    carols_row = row_of(html, carols)
    assert 'name="item"' not in carols_row and "Dismiss" not in carols_row
    assert "only they or a team lead can change it." in carols_row


@pytest.mark.parametrize("actor_kind", ["team lead", "admin"])
def test_the_queue_offers_team_leads_and_admins_every_action_on_a_colleagues_item(client, actor_kind):
    actor = make_actor(actor_kind)
    carols = make_item("colleague's", actor)
    client.force_login(actor)
    row = row_of(client.get(reverse("churn:team_queue"), {"assignee": ""}).content.decode(), carols)
    assert 'name="item"' in row and "Dismiss" in row and "only they or a team lead" not in row


def test_the_team_lead_group_holds_the_lead_permission_and_admins_have_it_too():
    lead, admin, manager = make_actor("team lead"), UserFactory(role="Admin"), UserFactory(role="Account manager")
    assert lead.has_perm("churn.lead_followup") and admin.has_perm("churn.lead_followup")
    assert not manager.has_perm("churn.lead_followup")


@pytest.mark.parametrize("url_name", ["churn:claim", "churn:reassign", "churn:change_status"])
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_a_change_to_a_follow_up_that_does_not_exist_is_not_found(client, url_name, headers):
    manager = make_actor("manager")
    client.force_login(manager)
    data = {"version": 1, "to": "contacted", "to_user": manager.pk}
    assert client.post(reverse(url_name, args=[999999]), data, **headers).status_code == 404
