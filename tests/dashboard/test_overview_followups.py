import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.churn.factories import FollowUpFactory, LapseFactory

pytestmark = pytest.mark.django_db
URL = reverse("home")


def item(*, tier=2, status="open", assignee=None, due_in_days=3):
    lapse = LapseFactory(tier_while_active=tier)
    return FollowUpFactory(
        lapse=lapse, status=status, assignee=assignee, due_on=timezone.localdate() + dt.timedelta(days=due_in_days)
    )


def test_the_figure_card_counts_the_open_follow_ups(as_manager, make_metrics, manager):
    make_metrics(tier=2)
    item(tier=3, assignee=manager)
    item(tier=2, status="contacted")
    item(tier=2, status="lost")  # closed: not counted

    response = as_manager.get(URL)

    assert response.context["followups"]["open"] == 2
    body = response.content.decode()
    card = body[body.index('id="followups-count"') :]
    assert '<div class="value">2</div>' in card[:300]


def test_it_counts_open_items_by_tier_overdue_unassigned_and_mine_with_links_to_the_queue(
    as_manager, make_metrics, manager, make_user
):
    make_metrics(tier=2)
    colleague = make_user("Account manager")
    item(tier=3, assignee=manager, due_in_days=-1)
    item(tier=3, assignee=colleague)
    item(tier=2)
    item(tier=2, due_in_days=-5)
    item(tier=2, status="won_back", due_in_days=-9)  # closed items are never overdue

    response = as_manager.get(URL)

    numbers = response.context["followups"]
    assert [(row["level"], row["n"]) for row in numbers["by_tier"]] == [(3, 2), (2, 2), (1, 0)]
    assert (numbers["overdue"], numbers["team"], numbers["mine"]) == (2, 2, 1)
    body = response.content.decode()
    assert 'href="/churn/team/?assignee=&amp;tier=3" aria-label="2 open in tier 3"' in body
    assert 'href="/churn/team/?assignee=&amp;due=overdue" aria-label="2 overdue"' in body
    assert 'href="/churn/team/" aria-label="2 in the team queue"' in body
    assert 'href="/churn/" aria-label="1 in my queue"' in body


def test_the_queue_links_open_the_items_they_count(as_manager, make_metrics, manager):
    make_metrics(tier=2)
    overdue = item(tier=3, assignee=manager, due_in_days=-1)
    item(tier=2)

    page = as_manager.get("/churn/team/?assignee=&due=overdue").content.decode()

    assert f'id="follow-up-{overdue.pk}"' in page
    assert page.count('class="follow-up') == 1
