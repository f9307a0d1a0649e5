"""The churn rules as pure functions of plain values: no ORM, no queries.

The set-based detection in `services.detect_churn` applies the same lapse rule in SQL; the tests
hold both to the same boundaries.
"""

import datetime as dt
from decimal import Decimal

from tiering.tiers import LEVELS

_LOWEST, _LOYAL, _LIFETIME = LEVELS

# Status values of a follow-up and the moves a person may make between them. "returned" is
# set only by the nightly run when the customer orders again.
OPEN, CONTACTED, WON_BACK, LOST, DISMISSED, RETURNED = "open", "contacted", "won_back", "lost", "dismissed", "returned"
ACTIVE_STATUSES = (OPEN, CONTACTED)
# What opens a follow-up (ChurnPolicy.follow_up_trigger): the lapse rule, or the churn risk
# reaching the tier's threshold.
TRIGGER_LAPSE, TRIGGER_RISK = "lapse", "risk"
TRANSITIONS: dict[str, tuple[str, ...]] = {
    OPEN: (CONTACTED, DISMISSED),
    CONTACTED: (WON_BACK, LOST, DISMISSED),
    WON_BACK: (),
    LOST: (),
    DISMISSED: (),
    RETURNED: (),
}


# The follow-up each tier's lapse calls for, until an admin changes it (docs/churn.md):
# tier: (action, priority, due_days, working_days, assign_to_account_manager)
DEFAULT_FOLLOW_UPS: dict[int, tuple[str, str, int, bool, bool]] = {
    _LIFETIME: ("investigate", "high", 2, True, True),
    _LOYAL: ("win_back", "normal", 7, False, False),
    _LOWEST: ("none", "low", 0, False, False),
}


def lapse_threshold(*, min_days: int, gap_multiple: Decimal, median_gap_days: Decimal | None) -> Decimal:
    """Days of silence a customer may have before they count as lapsed.

    A customer who orders every 60 days is not lapsed at day 91; one who ordered once has no
    rhythm of their own, so the minimum applies.
    """
    if median_gap_days is None:
        return Decimal(min_days)
    return max(Decimal(min_days), Decimal(gap_multiple) * Decimal(median_gap_days))


def is_lapsed(
    *, days_since_last_order: int | None, min_days: int, gap_multiple: Decimal, median_gap_days: Decimal | None
) -> bool:
    """Lapsed when the silence is strictly longer than the threshold; never-buyers never lapse."""
    if days_since_last_order is None:
        return False
    threshold = lapse_threshold(min_days=min_days, gap_multiple=gap_multiple, median_gap_days=median_gap_days)
    return Decimal(days_since_last_order) > threshold


# (changed_at, from_tier, to_tier) of one TierChange
Change = tuple[dt.datetime, int | None, int]
HELD_MONTHS = 12


def tier_held_before(changes: list[Change], *, last_order_at: dt.datetime) -> int | None:
    """The highest tier held in the HELD_MONTHS months before the last order (both ends included),
    from the history (nightly and backfilled changes): the tier held as that window opens (the
    latest change at or before its start) and both sides of every change within it. When every
    change came after the last order: the tier held going into the first of them. None: no history.
    The SQL of churn.services.TIER_AT_LAST_ORDER says the same for every newly lapsed customer."""
    start = _months_before(last_order_at, HELD_MONTHS)
    ordered = sorted(changes, key=lambda c: c[0])
    held = [c[2] for c in ordered if c[0] <= start][-1:]
    held += [t for c in ordered if start < c[0] <= last_order_at for t in (c[1], c[2]) if t is not None]
    if held:
        return max(held)
    later = [c for c in ordered if c[0] > last_order_at]
    if later:
        return later[0][1] if later[0][1] is not None else later[0][2]
    return None


def _months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """As PostgreSQL's `moment - interval 'N months'`: the same day N months earlier, clamped to the
    month's last day."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    last_day = (dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month + 1, day=min(moment.day, last_day))


def tier_while_active(*, tier_at_last_order: int | None, current_tier: int) -> int:
    """The tier that decides the response: the highest held while still buying (tier_held_before),
    never lowered by the downgrade the silence caused. An upgrade since (a rule change) is kept: it cannot have
    been caused by the silence."""
    if tier_at_last_order is None:
        return current_tier
    return max(tier_at_last_order, current_tier)


def add_working_days(start: dt.date, days: int) -> dt.date:
    """`days` working days after `start`, skipping Saturdays and Sundays (no holiday calendar)."""
    current = start
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def due_on(*, detected_on: dt.date, due_days: int, working_days: bool) -> dt.date:
    if working_days:
        return add_working_days(detected_on, due_days)
    return detected_on + dt.timedelta(days=due_days)


def can_move(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, ())
