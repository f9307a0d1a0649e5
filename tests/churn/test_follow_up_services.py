"""People working follow-ups: moves, claims, reassignments and simultaneous changes."""

import pytest

from churn.models import FollowUp
from churn.services import (
    FollowUpError,
    StaleFollowUp,
    change_follow_up_status,
    claim_follow_up,
    reassign_follow_up,
)
from tests.churn.factories import FollowUpFactory
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

ALL = ["open", "contacted", "won_back", "lost", "dismissed", "returned"]
VALID = {
    ("open", "contacted"),
    ("open", "dismissed"),
    ("contacted", "won_back"),
    ("contacted", "lost"),
    ("contacted", "dismissed"),
}


@pytest.fixture
def manager():
    return UserFactory(role="Account manager", first_name="Ann", last_name="Lee")


def move(item, user, to, **kwargs):
    if to == "lost":
        kwargs.setdefault("cause_category", "price")
    if to == "dismissed":
        kwargs.setdefault("dismiss_reason", "unreachable")
    return change_follow_up_status(follow_up_id=item.pk, user=user, version=item.version, to_status=to, **kwargs)


@pytest.mark.parametrize("from_status, to_status", sorted(VALID))
def test_each_allowed_move_changes_the_status_and_raises_the_version(manager, from_status, to_status):
    item = FollowUpFactory(status=from_status)
    moved = move(item, manager, to_status, note="called them")
    assert (moved.status, moved.version, moved.updated_by) == (to_status, 2, manager)
    assert "called them" in moved.notes


@pytest.mark.parametrize("from_status, to_status", [(f, t) for f in ALL for t in ALL if (f, t) not in VALID])
def test_every_other_move_is_refused_and_changes_nothing(manager, from_status, to_status):
    item = FollowUpFactory(status=from_status)
    with pytest.raises(FollowUpError, match="Cannot move an item from"):
        move(item, manager, to_status, note="should not be kept")
    item.refresh_from_db()
    assert (item.status, item.version, item.notes) == (from_status, 1, "")


def test_closing_an_item_records_when(manager):
    item = move(FollowUpFactory(status="contacted"), manager, "won_back")
    assert item.closed_at is not None


def test_closing_as_lost_keeps_the_cause(manager):
    product = ProductFactory(name="Cloud Sync")
    item = move(
        FollowUpFactory(status="contacted"),
        manager,
        "lost",
        cause_category="new_product",
        cause_product=product,
        cause_text="Hated the new sync",
    )
    assert (item.cause_category, item.cause_product, item.cause_text) == ("new_product", product, "Hated the new sync")


def test_closing_as_lost_without_a_cause_is_refused(manager):
    item = FollowUpFactory(status="contacted")
    with pytest.raises(FollowUpError, match="needs a cause"):
        change_follow_up_status(follow_up_id=item.pk, user=manager, version=1, to_status="lost")
    item.refresh_from_db()
    assert item.status == "contacted"


def test_a_second_change_from_a_stale_form_is_refused_naming_who_changed_it(manager):
    other = UserFactory(role="Account manager", username="bob")
    item = FollowUpFactory(status="open")
    move(item, manager, "contacted", note="first")  # item.version is still 1 in the second person's form
    with pytest.raises(StaleFollowUp, match="changed by Ann Lee meanwhile .* reload"):
        move(item, other, "dismissed", note="second")
    item.refresh_from_db()
    assert (item.status, item.version, item.updated_by) == ("contacted", 2, manager)
    assert "second" not in item.notes


def test_a_stale_change_is_refused_naming_whose_item_it_is_now(manager):
    """An admin gave the item to a colleague while Ann's page still showed it in the team queue."""
    bob = UserFactory(role="Account manager", first_name="Bob", last_name="Baker")
    item = FollowUpFactory(assignee=None)
    reassign_follow_up(follow_up_id=item.pk, user=UserFactory(role="Admin", username="ada"), version=1, to_user=bob)
    with pytest.raises(StaleFollowUp) as refused:
        claim_follow_up(follow_up_id=item.pk, user=manager, version=1)
    assert "changed by ada meanwhile (it is now open and assigned to Bob Baker)" in str(refused.value)


def test_a_stale_change_says_when_the_item_went_back_to_the_team_queue(manager):
    item = FollowUpFactory(assignee=manager)
    FollowUp.objects.filter(pk=item.pk).update(assignee=None, version=2)
    with pytest.raises(StaleFollowUp, match=r"it is now open and in the team queue\)"):
        move(item, manager, "contacted")


def test_the_conditional_update_refuses_a_change_that_slipped_in_after_reading(manager, monkeypatch):
    """Both people read version 1; the other's UPDATE lands between our read and our write."""
    from churn import services

    item = FollowUpFactory(status="open")
    real_load = services._load

    def load_then_someone_else_writes(follow_up_id, version):
        loaded = real_load(follow_up_id, version)
        FollowUp.objects.filter(pk=follow_up_id).update(status="dismissed", version=2, updated_by=manager)
        return loaded

    monkeypatch.setattr(services, "_load", load_then_someone_else_writes)
    with pytest.raises(StaleFollowUp, match="changed by Ann Lee meanwhile"):
        move(item, UserFactory(role="Account manager"), "contacted")
    item.refresh_from_db()
    assert (item.status, item.version) == ("dismissed", 2)


def test_claiming_takes_an_item_from_the_team_queue(manager):
    item = claim_follow_up(follow_up_id=FollowUpFactory(assignee=None).pk, user=manager, version=1)
    assert (item.assignee, item.version) == (manager, 2)


def test_claiming_an_item_someone_already_has_is_refused(manager):
    item = FollowUpFactory(assignee=UserFactory(username="carol"))
    with pytest.raises(FollowUpError, match="carol works this item: only they or a team lead may claim it"):
        claim_follow_up(follow_up_id=item.pk, user=manager, version=1)


def test_two_people_claiming_at_once_one_wins(manager):
    item = FollowUpFactory(assignee=None)
    claim_follow_up(follow_up_id=item.pk, user=manager, version=1)
    with pytest.raises(StaleFollowUp):
        claim_follow_up(follow_up_id=item.pk, user=UserFactory(role="Account manager"), version=1)
    item.refresh_from_db()
    assert item.assignee == manager


def test_reassigning_hands_the_item_to_another_account_manager(manager):
    bob = UserFactory(role="Account manager", username="bob")
    item = reassign_follow_up(follow_up_id=FollowUpFactory(assignee=manager).pk, user=manager, version=1, to_user=bob)
    assert item.assignee == bob
    assert "reassigned to bob" in item.notes


def test_reassigning_to_someone_who_is_not_an_account_manager_is_refused(manager):
    item = FollowUpFactory(assignee=manager)
    with pytest.raises(FollowUpError, match="is not an account manager"):
        reassign_follow_up(follow_up_id=item.pk, user=manager, version=1, to_user=UserFactory(role="Marketing"))
    item.refresh_from_db()
    assert item.assignee == manager


def test_a_closed_item_cannot_be_claimed(manager):
    item = FollowUpFactory(assignee=None, status="lost")
    with pytest.raises(FollowUpError, match="closed"):
        claim_follow_up(follow_up_id=item.pk, user=manager, version=1)
