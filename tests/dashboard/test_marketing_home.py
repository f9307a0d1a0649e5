"""Marketing's home: tier sizes and shares, trends, its promotions and its own exports."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from promotions.models import ExportLog, Promotion
from tiering.models import RetierRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(client, make_user):
    user = make_user(role="Marketing")
    client.force_login(user)
    return user


def test_marketing_lands_on_its_home_with_the_size_and_shares_of_each_tier(client, marketer, make_metrics):
    make_metrics(tier=3, revenue="6000.00", net_margin="3000.00")
    for _ in range(3):
        make_metrics(tier=2, revenue="1000.00", net_margin="300.00")
    make_metrics(tier=1, revenue="100.00", net_margin="-50.00")
    RetierRun.objects.create(as_of="2026-11-01", status="succeeded")

    html = client.get(reverse("home")).content.decode()

    sizes = html.split('id="tier-sizes"')[1].split("</table>")[0]
    rows = re.findall(r'tier-(\d)">\d</span> [^<]+</th><td class="num">(\d+) <span class="muted">· ([\d.]+ %)', sizes)
    assert rows == [("3", "1", "20.0 %"), ("2", "3", "60.0 %"), ("1", "1", "20.0 %")]
    assert "76.9 %" in sizes  # tier 3's share of the positive margin: 3000 / 3900
    assert 'id="trends"' in html
    assert "customer/" not in html  # totals only: marketing never gets a customer link


def test_it_lists_the_promotions_and_only_the_marketers_own_exports(client, marketer, make_user):
    colleague = make_user(role="Marketing")
    promotion = Promotion.objects.create(name="Spring", starts_on=dt.date(2026, 3, 1), ends_on=dt.date(2026, 3, 31))
    ExportLog.objects.create(user=marketer, actor=marketer.username, source="web", promotion=promotion, row_count=4321)
    ExportLog.objects.create(user=colleague, actor=colleague.username, source="web", row_count=8765)

    html = client.get(reverse("dashboard:marketing")).content.decode()

    assert "Spring" in html and reverse("promotions:edit", args=[promotion.pk]) in html
    exports = html.split('id="exports"')[1].split("</table>")[0]
    assert "4,321" in exports and "8,765" not in exports


def test_admins_see_every_export_there(client, make_user):
    mia = make_user(role="Marketing")
    ExportLog.objects.create(user=mia, actor="mia", source="web", row_count=4321)
    ExportLog.objects.create(actor="command line (ops)", source="command", row_count=8765)
    client.force_login(make_user(role="Admin"))
    exports = client.get(reverse("dashboard:marketing")).content.decode().split('id="exports"')[1]
    assert "4,321" in exports and "8,765" in exports


def test_the_page_is_a_fixed_number_of_queries(client, marketer, make_metrics, django_assert_num_queries):
    for tier in (1, 2, 3):
        make_metrics(tier=tier)
    for i in range(12):
        ExportLog.objects.create(user=marketer, actor=marketer.username, source="web", row_count=i)
        Promotion.objects.create(name=f"P{i}", starts_on=dt.date(2026, 3, 1), ends_on=dt.date(2026, 3, 31))
    # 1 session, 2 user, 3 user's permissions, 4 group permissions, 5 tiers, 6 the last succeeded
    # run, 7 totals per tier, 8 promotions, 9 the user's exports, 10-13 the trends (run totals,
    # history moves before them, lapses, win-backs: no finished run, so not cached)
    with django_assert_num_queries(13):
        client.get(reverse("dashboard:marketing"))
