"""Reads of the churn pages: the queue's rows and the insights' aggregates, each a bounded
number of queries whatever the number of items."""

import calendar
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncMonth

from customers.models import OrderLine, Product

from . import policy
from .models import FollowUp, Release

MAX_LOST_LISTED = 200  # lost tier-3 customers listed on the insights page, most recent first


def queue_items() -> QuerySet:
    """Follow-ups with what a queue row shows: the customer (contact details, lifecycle stage), the
    assignee, the silence (last order) and the cause, in one query."""
    return FollowUp.objects.select_related("customer", "customer__churn_risk", "assignee", "lapse", "cause_product")


def lost_by_month(*, field: str) -> list[dict]:
    """Lost tier-2/3 follow-ups counted per month of closing and the given field, one query."""
    return list(
        FollowUp.objects.filter(status=policy.LOST, tier__in=(2, 3))
        .annotate(month=TruncMonth("closed_at"))
        .values("month", "tier", field)
        .annotate(n=Count("id"))
        .order_by("month", "tier", field)
    )


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier (clamped to the month's end)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class LostCustomer:
    follow_up: FollowUp
    window_start: dt.date
    stopped_on: dt.date
    releases: list  # [(product, recurs_in, bought)]
    changes: list  # [(release, recurs_in)]


def releases_before_leaving(
    *, months: int
) -> tuple[list[LostCustomer], list[tuple[Product, int]], list[tuple[Release, int]]]:
    """For each lost tier-3 customer, the products launched and the changes released in the
    `months` before their last order, and how many lost tier-3 customers each one precedes.
    Four queries: the lost items, the products and the changes in the union of their windows,
    and which of those products they bought."""
    lost = list(
        FollowUp.objects.filter(status=policy.LOST, tier=3)
        .select_related("customer", "lapse", "cause_product")
        .order_by("-closed_at", "-id")[:MAX_LOST_LISTED]
    )
    if not lost:
        return [], [], []
    windows = {f.pk: (months_before(f.lapse.last_order_at.date(), months), f.lapse.last_order_at.date()) for f in lost}
    first, last = min(start for start, _ in windows.values()), max(end for _, end in windows.values())
    products = list(
        Product.objects.filter(launched_on__gte=first, launched_on__lte=last).order_by("launched_on", "sku")
    )
    changes = list(
        Release.objects.filter(released_on__gte=first, released_on__lte=last)
        .select_related("product")
        .order_by("released_on", "id")
    )
    bought = set(
        OrderLine.objects.filter(customer__in=[f.customer_id for f in lost], product__in=products)
        .values_list("customer_id", "product_id")
        .distinct()
    )

    def within(f, day):
        return windows[f.pk][0] <= day <= windows[f.pk][1]

    products_of = {f.pk: [p for p in products if within(f, p.launched_on)] for f in lost}
    changes_of = {f.pk: [c for c in changes if within(f, c.released_on)] for f in lost}
    product_count = Counter(p.pk for launched in products_of.values() for p in launched)
    change_count = Counter(c.pk for released in changes_of.values() for c in released)
    rows = [
        LostCustomer(
            follow_up=f,
            window_start=windows[f.pk][0],
            stopped_on=windows[f.pk][1],
            releases=sorted(
                ((p, product_count[p.pk], (f.customer_id, p.pk) in bought) for p in products_of[f.pk]),
                key=lambda r: (-r[1], r[0].sku),
            ),
            changes=sorted(((c, change_count[c.pk]) for c in changes_of[f.pk]), key=lambda r: (-r[1], r[0].title)),
        )
        for f in lost
    ]
    by_product, by_change = {p.pk: p for p in products}, {c.pk: c for c in changes}
    return (
        rows,
        [(by_product[pk], n) for pk, n in product_count.most_common()],
        [(by_change[pk], n) for pk, n in change_count.most_common()],
    )


def chart_series(rows: list[dict], *, field: str, label_of) -> dict:
    """{labels: [month...], datasets: [{label, data}]} for a stacked Chart.js bar chart."""
    months = sorted({r["month"].date() if hasattr(r["month"], "date") else r["month"] for r in rows})
    counts: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        month = r["month"].date() if hasattr(r["month"], "date") else r["month"]
        counts[label_of(r[field])][month] += r["n"]
    return {
        "labels": [m.strftime("%Y-%m") for m in months],
        "datasets": [
            {"label": label, "data": [by_month.get(m, 0) for m in months]} for label, by_month in sorted(counts.items())
        ],
    }


# --- Suspects (churn.suspects) on the pages -------------------------------------------------------

SUSPECTS_LISTED = 50
ITEM_SUSPECTS_LISTED = 10
# The cause an account manager records that names the same thing as a subject of this kind.
CAUSE_OF_KIND = {
    "launch": FollowUp.Cause.NEW_PRODUCT,
    Release.Kind.PRODUCT_CHANGE: FollowUp.Cause.PRODUCT_CHANGE,
    Release.Kind.PRICE: FollowUp.Cause.PRICE,
    Release.Kind.SERVICE: FollowUp.Cause.SERVICE,
    Release.Kind.METHOD_CHANGE: FollowUp.Cause.METHOD_CHANGE,
    Release.Kind.OTHER: FollowUp.Cause.OTHER,
}


def cause_matches(follow_up: FollowUp, row: dict) -> bool:
    """The recorded cause names this subject: its product, or its kind without naming another product."""
    if follow_up.cause_product_id is not None and follow_up.cause_product_id == row["product_id"]:
        return True
    named_other = follow_up.cause_product_id is not None and row["product_id"] is not None
    return follow_up.cause_category == CAUSE_OF_KIND.get(row["kind"]) and not named_other


@dataclass
class CauseComparison:
    recorded: int  # lost tier-3 customers listed with a cause recorded
    matching: int  # ... whose cause names a flagged suspect they were exposed to
    by_suspect: list  # [(row, exposed lost customers, of them naming it)]


def compare_causes(lost: list[LostCustomer], rows: list[dict]) -> CauseComparison:
    """How often the cause recorded for a lost tier-3 customer names a flagged suspect they were
    exposed to. One query (none without flagged suspects)."""
    from .suspects import exposures_of

    flagged = [r for r in rows if r["flagged"]]
    items = [row.follow_up for row in lost if row.follow_up.cause_category]
    exposed = exposures_of([f.customer_id for f in items], flagged)
    exposed_to = {r["key"]: [f for f in items if (r["key"], f.customer_id) in exposed] for r in flagged}
    matching = sum(1 for f in items if any(f in exposed_to[r["key"]] and cause_matches(f, r) for r in flagged))
    by_suspect = [
        (r, len(exposed_to[r["key"]]), sum(cause_matches(f, r) for f in exposed_to[r["key"]])) for r in flagged
    ]
    return CauseComparison(recorded=len(items), matching=matching, by_suspect=by_suspect)


def suspects_of(follow_up: FollowUp, rows: list[dict]) -> list[dict]:
    """The subjects this customer was exposed to, strongest first (the analysis' order). One query."""
    from .suspects import exposures_of

    exposed = {key for key, _ in exposures_of([follow_up.customer_id], rows)}
    return [r for r in rows if r["key"] in exposed][:ITEM_SUSPECTS_LISTED]


def count_suspects(items: list[FollowUp]) -> None:
    """Sets each item's `suspect_count`: how many flagged suspects of its tier's analysis its customer was exposed to.
    Reads only analyses already stored (the nightly task stores them; a queue page never runs one):
    the run in force, the analyses, and the exposures when any suspect is flagged — three queries
    at most, whatever the number of rows."""
    from .suspects import exposures_of, stored

    if not items:
        return
    analyses = stored(tiers={(f.tier,) for f in items})
    flagged = {tiers[0]: [r for r in a.rows if r["flagged"]] for tiers, a in analyses.items()}
    subjects = list({r["key"]: r for rows in flagged.values() for r in rows}.values())
    exposed = exposures_of(list({f.customer_id for f in items}), subjects)
    for f in items:
        f.suspect_count = sum((r["key"], f.customer_id) in exposed for r in flagged.get(f.tier, []))
