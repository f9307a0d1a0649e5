"""The promotion page: the count per tier, the export action at the top, the CSV columns listed."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from promotions.exports import HEADERS
from promotions.models import Promotion

pytestmark = pytest.mark.django_db

VALID = {"name": "Spring offer", "starts_on": "2026-03-01", "ends_on": "2026-03-31", "tiers": ["2", "3"]}


@pytest.fixture
def marketer(client, make_user):
    user = make_user(role="Marketing")
    client.force_login(user)
    return user


def per_tier(html: str) -> dict[int, int]:
    block = html.split('id="count-by-tier"')[1].split("</ul>")[0]
    return {
        int(level): int(n.replace(",", "")) for level, n in re.findall(r"Tier (\d): <strong>([\d,]+)</strong>", block)
    }


def test_the_live_count_is_broken_down_per_chosen_tier(client, marketer, target):
    for tier in (1, 2, 2, 3):
        target(tier=tier)
    html = client.post(reverse("promotions:preview"), VALID).content.decode()
    assert per_tier(html) == {3: 1, 2: 2}
    assert re.search(r'id="target-count">3<', html)


def test_a_chosen_tier_with_nobody_in_it_is_shown_with_zero(client, marketer, target):
    target(tier=2)
    html = client.post(reverse("promotions:preview"), VALID).content.decode()
    assert per_tier(html) == {3: 0, 2: 1}
    assert "nobody in tier 3 matches" in html


def test_a_saved_promotion_has_its_export_at_the_top_with_the_columns(client, marketer):
    promotion = Promotion.objects.create(name="P", starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2026, 1, 2))
    html = client.get(reverse("promotions:edit", args=[promotion.pk])).content.decode()
    export_url = reverse("promotions:export", args=[promotion.pk])
    assert html.index(export_url) < html.index('id="promotion-form"')  # above the filters, not below
    columns = html.split('class="columns"')[1].split("</p>")[0]
    assert re.findall(r"<code>([a-z_0-9]+)</code>", columns) == list(HEADERS)


def test_an_unsaved_promotion_shows_a_disabled_export_saying_why(client, marketer):
    html = client.get(reverse("promotions:create")).content.decode()
    bar = html.split('id="export-bar"')[1].split("</section>")[0]
    assert re.search(r"<button[^>]*disabled[^>]*>Export CSV</button>", bar)
    assert "Save the promotion to export it" in bar
    assert "/export.csv" not in bar
