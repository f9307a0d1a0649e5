"""A browser walk of the queue's bulk actions: an account manager ticks items from the keyboard and
claims them (one given to a colleague meanwhile: refused, naming its owner), an admin assigns in bulk, a bulk
dismissal needs its reason; a colleague's item has no box to tick and says whose it is."""

import pytest
from playwright.sync_api import expect

from churn import services
from churn.models import FollowUp
from tests.churn.factories import FollowUpFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("restore_migrated_data"),
]
TEAM = ["Alpha Co", "Bravo Co", "Charlie Co", "Delta Co", "Echo Co"]


@pytest.fixture
def people(make_user):
    return {
        "ann": make_user("Account manager", username="ann", first_name="Ann", last_name="Archer"),
        "bob": make_user("Account manager", username="bob", first_name="Bob", last_name="Baker"),
        "ada": make_user("Admin", username="ada"),
    }


@pytest.fixture
def items(people):
    made = {name: FollowUpFactory(assignee=None, lapse__customer__name=name) for name in TEAM}
    made["Foxtrot Co"] = FollowUpFactory(assignee=people["bob"], lapse__customer__name="Foxtrot Co")
    return made


def assignee(item) -> str | None:
    item.refresh_from_db()
    return item.assignee.username if item.assignee else None


def tick(page, *names):
    for name in names:
        page.get_by_label(f"Tick {name}").focus()
        page.keyboard.press("Space")


def test_claim_assign_and_dismiss_in_bulk_with_every_refusal_named(open_page, sign_in, people, items):
    ann = open_page()
    sign_in(ann, "ann")
    ann.get_by_role("link", name="Team queue", exact=True).click()
    expect(ann.locator("table.queue tbody tr")).to_have_count(5)  # the unassigned items, not Bob's
    tick(ann, "Alpha Co", "Bravo Co", "Charlie Co")
    charlie = items["Charlie Co"]
    services.reassign_follow_up(  # meanwhile, an admin gives Charlie Co to Bob
        follow_up_id=charlie.pk, user=people["ada"], version=charlie.version, to_user=people["bob"]
    )
    ann.get_by_role("button", name="Claim").focus()
    ann.keyboard.press("Enter")
    expect(ann.get_by_text("Claimed 2 items: they are in your queue.")).to_be_visible()
    refusal = ann.locator(".message", has_text="1 of 3 not changed")
    expect(refusal).to_contain_text("Charlie Co: This item was changed by ada meanwhile")
    expect(refusal).to_contain_text("it is now open and assigned to Bob Baker")  # whose it is now
    assert [assignee(items[n]) for n in ("Alpha Co", "Bravo Co", "Charlie Co")] == ["ann", "ann", "bob"]
    expect(ann.locator("#nav-open-items")).to_contain_text("2")

    # Bob's items, as Ann sees them: no box to tick, and whose they are
    ann.get_by_label("Assignee").select_option(label="Bob Baker")
    ann.get_by_role("button", name="Filter").click()
    row = ann.locator("tr", has_text="Charlie Co")
    expect(row).to_contain_text("Bob Baker's item: only they or a team lead can change it.")
    expect(row.locator("input.select-item")).to_have_count(0)

    # an admin (a team lead) assigns the rest in bulk, a colleague's item included
    ada = open_page()
    sign_in(ada, "ada")
    ada.goto(ada.base_url + "/churn/team/?assignee=")  # anyone's
    tick(ada, "Delta Co", "Echo Co", "Foxtrot Co")
    ada.get_by_label("Assign to").select_option(label="Ann Archer")
    ada.get_by_role("button", name="Assign").click()
    expect(ada.get_by_text("Assigned 3 items to Ann Archer.")).to_be_visible()
    assert [assignee(items[n]) for n in ("Delta Co", "Echo Co", "Foxtrot Co")] == ["ann", "ann", "ann"]

    # Ann closes two from her queue: dismissing needs a reason
    ann.get_by_role("navigation").get_by_role("link", name="My queue").click()
    expect(ann.locator("table.queue tbody tr")).to_have_count(5)
    tick(ann, "Delta Co", "Echo Co")
    ann.get_by_label("Close as").select_option("dismissed")
    ann.get_by_role("button", name="Close", exact=True).click()
    expect(ann.get_by_text("Nothing changed. Reason: Choose why this item is dismissed.")).to_be_visible()
    assert {items[n].status for n in ("Delta Co", "Echo Co") if not items[n].refresh_from_db()} == {"open"}

    tick(ann, "Delta Co", "Echo Co")  # the page came back with nothing ticked
    ann.get_by_label("Close as").select_option("dismissed")
    ann.get_by_label("Reason (to dismiss)").select_option("expected_pause")
    ann.get_by_label("Details of the reason").fill("Budget year starts in January")
    ann.get_by_role("button", name="Close", exact=True).click()
    expect(ann.get_by_text("Closed 2 items as dismissed.")).to_be_visible()
    expect(ann.locator("table.queue tbody tr")).to_have_count(3)
    for name in ("Delta Co", "Echo Co"):
        item = FollowUp.objects.get(pk=items[name].pk)
        assert (item.status, item.dismiss_reason, item.dismiss_text) == (
            "dismissed",
            "expected_pause",
            "Budget year starts in January",
        )
        assert item.closed_at is not None
