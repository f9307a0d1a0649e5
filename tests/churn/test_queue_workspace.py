"""The queue as a workspace: what each row says, its order, and the action bar's bulk changes."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from churn import services
from churn.models import CustomerRisk, FollowUp
from churn.selectors import queue_items
from tests.churn.factories import FollowUpFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ann(client):
    user = UserFactory(role="Account manager", username="ann", first_name="Ann", last_name="Lee")
    client.force_login(user)
    return user


def item(*, value=None, risk=None, last_order=dt.date(2026, 6, 1), **kwargs):
    return FollowUpFactory(
        value_at_risk=None if value is None else Decimal(value),
        risk=risk,
        lapse__last_order_at=dt.datetime.combine(last_order, dt.time(12), tzinfo=dt.UTC),
        **kwargs,
    )


def order_of(html: str, items) -> list[int]:
    """The items in the order the page lists them."""
    return [i.pk for i in sorted(items, key=lambda i: html.index(f'id="follow-up-{i.pk}"'))]


def bulk(client, items, action, **data):
    payload = {"action": action, "item": [i.pk for i in items], "next": "/churn/team/?assignee=", **data}
    payload |= {f"version_{i.pk}": i.version for i in items}
    return client.post(reverse("churn:bulk"), payload, follow=True)


def test_a_row_links_to_the_customer_and_says_why_the_item_is_there(client, ann):
    it = item(
        value="1234.50",
        risk=0.82,
        assignee=ann,
        lapse__customer__name="Acme Corp buyer",
        lapse__customer__email="buyer@acme.example",
        lapse__customer__company="Acme Corp",
    )
    CustomerRisk.objects.create(customer=it.customer, risk=0.82, as_of=dt.date(2026, 11, 20), stage="lapsed")
    html = client.get(reverse("churn:my_queue")).content.decode()
    row = html[html.index(f'id="follow-up-{it.pk}"') :]
    row = row[: row.index("</tr>")]
    assert f'href="{reverse("dashboard:customer", args=[it.customer_id])}">Acme Corp buyer</a>' in row
    assert f'href="{reverse("churn:item", args=[it.pk])}"' in row
    assert "mailto:buyer@acme.example" in row and "Acme Corp" in row
    assert "lapsed" in row and "82.0 %" in row and "1,234.50" in row and "1 Jun 2026" in row
    assert "no flagged suspect" in row


def test_the_queue_sorts_by_value_at_risk_by_default_with_unvalued_items_last(client, ann):
    small, big, unvalued, middle = (
        item(value="100", assignee=ann),
        item(value="5000", assignee=ann),
        item(value=None, assignee=ann),
        item(value="900", assignee=ann),
    )
    html = client.get(reverse("churn:my_queue")).content.decode()
    assert order_of(html, [small, big, unvalued, middle]) == [big.pk, middle.pk, small.pk, unvalued.pk]


def test_the_queue_default_order_is_read_from_an_index_not_sorted(ann):
    """The first page of a queue of every open item must stop after 50 rows. An index covering
    only part of the order (value at risk, id) made the unvalued items (all of them before a risk
    model) read and sorted whole: 0.54 s for the team queue at 1M customers."""
    from churn import policy
    from churn.tables import FollowUpTable

    for value in (None, None, "100", "900"):
        item(value=value)
    table = FollowUpTable(queue_items().filter(status__in=policy.ACTIVE_STATUSES, assignee=None))
    sql, params = table.data.data[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        # A handful of rows: ask whether an index gives the order at all, not what is cheapest here
        # (a sort stays possible when no index gives it, at a prohibitive cost).
        for setting in ("enable_seqscan", "enable_sort", "enable_incremental_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "followup_value_order_idx" in plan and "Sort" not in plan, plan


def test_the_queue_sorts_by_risk_or_last_order_when_asked(client, ann):
    a = item(value="100", risk=0.9, last_order=dt.date(2026, 3, 1), assignee=ann)
    b = item(value="900", risk=0.6, last_order=dt.date(2026, 7, 1), assignee=ann)
    c = item(value="500", risk=0.7, last_order=dt.date(2026, 5, 1), assignee=ann)
    by = lambda sort: order_of(client.get(reverse("churn:my_queue"), {"sort": sort}).content.decode(), [a, b, c])  # noqa: E731
    assert by("-risk") == [a.pk, c.pk, b.pk]
    assert by("-last_order") == [b.pk, c.pk, a.pk]
    assert by("last_order") == [a.pk, c.pk, b.pk]


def test_bulk_claim_takes_the_unassigned_items_and_names_each_refusal(client, ann):
    bob = UserFactory(role="Account manager", username="bob")
    free = [item(assignee=None, lapse__customer__name=f"Free {n}") for n in range(3)]
    bobs = item(assignee=bob, lapse__customer__name="Bob's customer")
    html = bulk(client, [*free, bobs], "claim").content.decode()
    assert "Claimed 3 items: they are in your queue." in html
    assert (
        "1 of 4 not changed — Bob&#x27;s customer: bob works this item: only they or a team lead may claim it." in html
    )
    assert set(FollowUp.objects.filter(assignee=ann).values_list("pk", flat=True)) == {i.pk for i in free}
    bobs.refresh_from_db()
    assert (bobs.assignee, bobs.version) == (bob, 1)


def test_bulk_assign_gives_items_to_an_account_manager(client, ann):
    bob = UserFactory(role="Account manager", username="bob")
    items = [item(assignee=None), item(assignee=ann)]
    html = bulk(client, items, "assign", to_user=bob.pk).content.decode()
    assert "Assigned 2 items to bob." in html
    assert FollowUp.objects.filter(assignee=bob).count() == 2


def test_bulk_assign_without_a_person_changes_nothing_and_says_why(client, ann):
    items = [item(assignee=None)]
    html = bulk(client, items, "assign").content.decode()
    assert "Nothing changed. Assign to: Choose whom to assign the items to." in html
    assert FollowUp.objects.get().assignee is None


def test_bulk_close_as_dismissed_needs_a_reason_and_records_it(client, ann):
    items = [item(assignee=ann), item(assignee=None)]
    html = bulk(client, items, "close", close_to="dismissed").content.decode()
    assert "Nothing changed. Reason: Choose why this item is dismissed." in html
    assert not FollowUp.objects.filter(status="dismissed").exists()

    html = bulk(
        client, items, "close", close_to="dismissed", dismiss_reason="expected_pause", dismiss_text="Budget freeze"
    ).content.decode()
    assert "Closed 2 items as dismissed." in html
    for it in FollowUp.objects.all():
        assert (it.status, it.dismiss_reason, it.dismiss_text) == ("dismissed", "expected_pause", "Budget freeze")
        assert "dismissed: an expected pause (season, project, budget) — Budget freeze" in it.notes
    html = client.get(reverse("churn:my_queue"), {"status": "dismissed"}).content.decode()
    assert "an expected pause (season, project, budget) — Budget freeze" in html


def test_bulk_close_refuses_a_move_an_item_cannot_make_and_a_stale_item(client, ann):
    contacted = item(assignee=ann, status="contacted", lapse__customer__name="Called")
    still_open = item(assignee=ann, lapse__customer__name="Not called yet")
    stale = item(assignee=ann, status="contacted", lapse__customer__name="Changed meanwhile")
    FollowUp.objects.filter(pk=stale.pk).update(version=2, updated_by=ann)
    html = bulk(client, [contacted, still_open, stale], "close", close_to="won_back").content.decode()
    assert "Closed 1 item as won back." in html
    assert "2 of 3 not changed" in html
    assert "Not called yet: Cannot move an item from open to won back. Allowed: contacted, dismissed; " in html
    assert "Changed meanwhile: This item was changed by Ann Lee meanwhile" in html
    assert dict(FollowUp.objects.values_list("pk", "status")) == {
        contacted.pk: "won_back",
        still_open.pk: "open",
        stale.pk: "contacted",
    }


def test_a_failure_half_way_through_a_bulk_change_rolls_every_item_back(ann, monkeypatch):
    items = [item(assignee=None) for _ in range(3)]
    real_claim, calls = services.claim_follow_up, []

    def claim_then_fail(**kwargs):
        calls.append(kwargs["follow_up_id"])
        if len(calls) == 3:
            raise RuntimeError("the database went away")
        return real_claim(**kwargs)

    monkeypatch.setitem(services._BULK_ACTIONS, "claim", claim_then_fail)
    with pytest.raises(RuntimeError):
        services.bulk_change(user=ann, items={i.pk: 1 for i in items}, action="claim")
    assert len(calls) == 3
    assert not FollowUp.objects.filter(assignee__isnull=False).exists()  # the first two were rolled back


def test_marketing_cannot_use_the_action_bar(client):
    client.force_login(UserFactory(role="Marketing"))
    it = item(assignee=None)
    response = client.post(reverse("churn:bulk"), {"action": "claim", "item": [it.pk], f"version_{it.pk}": 1})
    assert response.status_code == 403
    assert FollowUp.objects.get().assignee is None


def test_nothing_ticked_or_a_made_up_list_changes_nothing(client, ann):
    html = client.post(reverse("churn:bulk"), {"action": "claim"}, follow=True).content.decode()
    assert "Nothing changed. Tick at least one item first." in html
    html = client.post(
        reverse("churn:bulk"), {"action": "claim", "item": ["1; DROP"], "version_1; DROP": "1"}, follow=True
    ).content.decode()
    assert "The list of items was malformed" in html


def test_dismissing_a_row_without_a_reason_is_refused_with_a_clear_error(client, ann):
    it = item(assignee=ann)
    url = reverse("churn:change_status", args=[it.pk])
    html = client.post(url, {"to": "dismissed", "version": 1}, **HTMX).content.decode()
    assert "Nothing changed. Reason: Choose why this item is dismissed." in html
    assert '<details class="dismiss-form" open>' in html
    html = client.post(url, {"to": "dismissed", "version": 1, "dismiss_reason": "other"}, **HTMX).content.decode()
    assert "Details: Say in a few words why, when the reason is “other”." in html
    assert FollowUp.objects.get().status == "open"
    with pytest.raises(services.FollowUpError, match="Dismissing needs a reason"):
        services.change_follow_up_status(follow_up_id=it.pk, user=ann, version=1, to_status="dismissed")

    client.post(url, {"to": "dismissed", "version": 1, "dismiss_reason": "unreachable"}, **HTMX)
    it.refresh_from_db()
    assert (it.status, it.dismiss_reason) == ("dismissed", "unreachable")
    page = client.get(reverse("churn:item", args=[it.pk])).content.decode()
    assert "cannot be reached, or asked not to be contacted" in page


def test_the_queue_page_makes_the_same_number_of_queries_for_5_or_40_scored_items_of_two_tiers(
    client, ann, django_assert_num_queries
):
    def count_for(n):
        FollowUp.objects.all().delete()
        for i in range(n):
            it = item(value=str(10 * i), risk=0.5, assignee=ann, tier=3 if i % 2 else 2)
            CustomerRisk.objects.create(customer=it.customer, risk=0.5, as_of=dt.date(2026, 11, 20), stage="lapsed")
        # session, user, user permissions, group permissions, COUNT, the page of items (stage joined),
        # run in force, stored suspect analyses, account managers, products, the menu's open-item count
        with django_assert_num_queries(11):
            html = client.get(reverse("churn:my_queue"), {"per_page": 50}).content.decode()
        assert html.count('class="stage stage-lapsed"') == n

    count_for(5)
    count_for(40)


def test_the_queue_still_sorts_by_tier_from_a_link_or_a_bookmark(client, ann):
    two, three = item(value="900", assignee=ann, tier=2), item(value="100", assignee=ann, tier=3)
    html = client.get(reverse("churn:my_queue"), {"sort": "-tier"}).content.decode()
    assert order_of(html, [two, three]) == [three.pk, two.pk]
    assert "Cannot sort" not in html
