"""The churn rules on plain values: no database."""

import datetime as dt
from decimal import Decimal

import pytest

from churn import policy


def lapsed(days, median_gap=None, min_days=90, gap_multiple=Decimal("2.5")):
    return policy.is_lapsed(
        days_since_last_order=days,
        min_days=min_days,
        gap_multiple=gap_multiple,
        median_gap_days=None if median_gap is None else Decimal(median_gap),
    )


def test_a_customer_is_lapsed_only_after_more_than_the_minimum_days():
    assert not lapsed(90, median_gap="10")
    assert lapsed(91, median_gap="10")


def test_a_customer_with_a_long_rhythm_is_judged_by_their_own_gap():
    # median gap 60 days: 2.5 × 60 = 150 > 90
    assert not lapsed(150, median_gap="60")
    assert lapsed(151, median_gap="60")


def test_a_fractional_threshold_is_compared_exactly():
    # 2.5 × 37 = 92.5: day 92 is within, day 93 is past
    assert not lapsed(92, median_gap="37")
    assert lapsed(93, median_gap="37")


def test_a_single_order_customer_uses_the_minimum():
    assert not lapsed(90, median_gap=None)
    assert lapsed(91, median_gap=None)


def test_a_customer_who_never_ordered_never_lapses():
    assert not lapsed(None)


def test_the_threshold_is_the_larger_of_minimum_and_multiple():
    assert policy.lapse_threshold(min_days=90, gap_multiple=Decimal("2.5"), median_gap_days=Decimal("20")) == 90
    assert policy.lapse_threshold(min_days=90, gap_multiple=Decimal("2.5"), median_gap_days=Decimal("40")) == 100


def test_the_tier_while_active_is_never_lowered_by_the_silence():
    assert policy.tier_while_active(tier_at_last_order=3, current_tier=1) == 3
    assert policy.tier_while_active(tier_at_last_order=2, current_tier=3) == 3
    assert policy.tier_while_active(tier_at_last_order=None, current_tier=2) == 2


@pytest.mark.parametrize(
    "start, days, due",
    [
        (dt.date(2026, 11, 20), 2, dt.date(2026, 11, 24)),  # Friday + 2 working days = Tuesday
        (dt.date(2026, 11, 21), 2, dt.date(2026, 11, 24)),  # Saturday: Monday is the first working day
        (dt.date(2026, 11, 18), 2, dt.date(2026, 11, 20)),  # Wednesday → Friday
        (dt.date(2026, 11, 19), 2, dt.date(2026, 11, 23)),  # Thursday → Monday
    ],
)
def test_working_days_skip_the_weekend(start, days, due):
    assert policy.add_working_days(start, days) == due


def test_calendar_days_do_not_skip_the_weekend():
    assert policy.due_on(detected_on=dt.date(2026, 11, 20), due_days=7, working_days=False) == dt.date(2026, 11, 27)


@pytest.mark.parametrize(
    "from_status, to_status",
    [
        ("open", "contacted"),
        ("open", "dismissed"),
        ("contacted", "won_back"),
        ("contacted", "lost"),
        ("contacted", "dismissed"),
    ],
)
def test_the_allowed_moves(from_status, to_status):
    assert policy.can_move(from_status, to_status)


@pytest.mark.parametrize(
    "from_status, to_status",
    [
        ("open", "won_back"),
        ("open", "lost"),
        ("open", "returned"),
        ("open", "open"),
        ("contacted", "open"),
        ("contacted", "returned"),
        ("lost", "contacted"),
        ("won_back", "lost"),
        ("dismissed", "open"),
        ("returned", "contacted"),
        ("open", "bogus"),
    ],
)
def test_every_other_move_is_refused(from_status, to_status):
    assert not policy.can_move(from_status, to_status)
