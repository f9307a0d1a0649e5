"""Suspects: the launches and releases after which valuable customers stopped buying more often
than those not exposed to them (docs/churn.md, "Suspects").

Set-based: a fixed number of statements whatever the population, each one pass over its table,
aggregated in PostgreSQL; only one 2x2 table per subject (and a few curves) comes to Python.

1. the valuable customers (tier held while still buying in `tiers`) with their first and last
   order's day as of the date and whether the churn policy counts them lapsed then;
2. who was exposed to which launch or targeted release (order lines of the products concerned);
3. per subject date, how many valuable customers were still buying then and how many of those
   stopped in the window after it (counted from one histogram of days, not per subject);
4. the share still buying over time for the top subjects, from the counts of 2 and 3 (no query).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass

from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from customers.models import Product
from tiering import sql
from tiering.models import RetierRun

from . import evidence
from .models import ChurnPolicy, Release, SuspectAnalysis
from .services import LAPSES_ON

WINDOW_DAYS = 180  # stopped buying: last order at most this many days after the subject's date
LAUNCH_EXPOSURE_DAYS = 90  # exposed to a launch: bought the product in its first 90 days on sale
AUDIENCE_LOOKBACK_DAYS = 365  # touched by a release for a product's or category's buyers: bought in the year before
SUBJECT_LOOKBACK_DAYS = 730  # subjects dated in the two years before the window's close
CURVE_SUBJECTS = 3  # the share still buying over time, for this many top suspects
CURVE_STEP_DAYS = 30
LAUNCH = "launch"
EVERYONE = Release.Audience.EVERYONE.value


@dataclass(frozen=True)
class Subject:
    key: str  # "launch:<product id>" or "release:<release id>"
    kind: str  # "launch", or the release's kind
    subject: str  # the product's sku and name, or the release's title
    day: dt.date
    audience: str  # "launch", or the release's audience
    product_id: int | None
    category: str
    detail: str = ""  # for people: "launched", "price change, for buyers of SKU-1 Beans"

    @property
    def exposure_window(self) -> tuple[dt.date, dt.date]:
        """[start, stop) of the purchases that expose a customer."""
        if self.audience == LAUNCH:
            return self.day, self.day + dt.timedelta(days=LAUNCH_EXPOSURE_DAYS)
        return self.day - dt.timedelta(days=AUDIENCE_LOOKBACK_DAYS), self.day

    @property
    def compared_with(self) -> str:
        """Whom the exposed are compared with: a release for everyone has nobody unexposed, so its
        customers are compared with those still buying one window before it."""
        return "the window before" if self.audience == EVERYONE else "not exposed"


def settings_text() -> dict:
    """The analysis' windows and thresholds, for the pages' explanations."""
    return {
        "window_days": WINDOW_DAYS,
        "launch_exposure_days": LAUNCH_EXPOSURE_DAYS,
        "audience_lookback_days": AUDIENCE_LOOKBACK_DAYS,
        "subject_lookback_days": SUBJECT_LOOKBACK_DAYS,
        "min_exposed": evidence.MIN_EXPOSED,
        "min_lapsed": evidence.MIN_LAPSED,
        "fdr_percent": round(evidence.FDR * 100),
    }


def default_as_of() -> dt.date:
    """The as-of date of the run in force (whose metrics the analysis reads), else today."""
    run = RetierRun.objects.in_force().only("as_of").first()
    return run.as_of if run else timezone.localdate()


def tiers_key(tiers) -> str:
    return ",".join(str(t) for t in sorted(set(tiers)))


def subject_range(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The dates of the subjects analysed as of `as_of`: their window has closed, within the lookback."""
    return as_of - dt.timedelta(days=SUBJECT_LOOKBACK_DAYS), as_of - dt.timedelta(days=WINDOW_DAYS)


def subjects_for(as_of: dt.date) -> list[Subject]:
    """Launches and releases whose window has closed by `as_of`, within the lookback. Two queries."""
    first, last = subject_range(as_of)
    launches = Product.objects.filter(launched_on__gte=first, launched_on__lte=last).order_by("launched_on", "sku")
    releases = (
        Release.objects.filter(released_on__gte=first, released_on__lte=last)
        .select_related("product")
        .order_by("released_on", "id")
    )
    return [
        Subject(f"launch:{p.pk}", LAUNCH, f"{p.sku} {p.name}", p.launched_on, LAUNCH, p.pk, "", "launched")
        for p in launches
    ] + [
        Subject(
            f"release:{r.pk}",
            r.kind,
            r.title,
            r.released_on,
            r.audience,
            r.product_id,
            r.category,
            f"{r.get_kind_display()}, for {r.audience_text}",
        )
        for r in releases
    ]


# The valuable customers, as of the date: the tier held while still buying (an unreturned lapse's
# tier_while_active, never below the current tier, as churn.policy.tier_while_active), the last
# order on or before the date (the metrics' own unless it is later than the date) and whether
# the churn policy counts them lapsed on the date (LAPSES_ON: the first day they count as lapsed).
VALUABLE = """
    CREATE TEMP TABLE churn_suspect_customers ON COMMIT DROP AS
    SELECT m.customer_id, (m.first_order_at AT TIME ZONE 'UTC')::date AS first_day,
           (m.last_order_at AT TIME ZONE 'UTC')::date AS last_day, {lapses_on} <= %(as_of)s AS lapsed
      FROM (SELECT m.customer_id, m.first_order_at, m.median_gap_days,
                   CASE WHEN m.last_order_at < %(as_of_end)s THEN m.last_order_at
                        ELSE (SELECT max(o.placed_at) FROM customers_order o
                               WHERE o.customer_id = m.customer_id AND o.placed_at < %(as_of_end)s) END AS last_order_at
              FROM tiering_customermetrics m
              LEFT JOIN (SELECT DISTINCT ON (customer_id) customer_id, tier_while_active
                           FROM churn_lapse WHERE returned_at IS NULL
                          ORDER BY customer_id, last_order_at DESC) l ON l.customer_id = m.customer_id
             WHERE m.first_order_at < %(as_of_end)s AND GREATEST(m.tier, l.tier_while_active) = ANY(%(tiers)s)) m
     WHERE m.last_order_at IS NOT NULL
"""

# The subjects as a table, and the products whose purchase exposes a customer to each (a
# category release: every product of the category), with the window of those purchases.
SUBJECTS = """
    subject AS (
        SELECT * FROM unnest(%(keys)s::text[], %(days)s::date[], %(audiences)s::text[], %(starts)s::timestamptz[],
                             %(stops)s::timestamptz[], %(products)s::bigint[], %(categories)s::text[])
                   AS s(key, day, audience, start_at, stop_at, product_id, category)
    ), exposing AS (
        SELECT s.key, s.product_id, s.start_at, s.stop_at FROM subject s
         WHERE s.audience IN ('launch', 'product_buyers') AND s.product_id IS NOT NULL
        UNION ALL
        SELECT s.key, p.id, s.start_at, s.stop_at FROM subject s JOIN customers_product p ON p.category = s.category
         WHERE s.audience = 'category_buyers'
    )
"""

# Who was exposed to each targeted subject, among the valuable customers still buying on its date.
EXPOSURE = """
    CREATE TEMP TABLE churn_suspect_exposure ON COMMIT DROP AS
    WITH {subjects}
    SELECT DISTINCT x.key, l.customer_id
      FROM exposing x
      JOIN customers_orderline l ON l.product_id = x.product_id AND l.placed_at >= x.start_at AND l.placed_at < x.stop_at
      JOIN subject s ON s.key = x.key
      JOIN churn_suspect_customers c ON c.customer_id = l.customer_id AND c.first_day < s.day AND c.last_day >= s.day
"""

# Exposed customers per subject, how many of them stopped in the window, and how many had stopped
# by each step of the curves ({stopped_by}: one count per step).
EXPOSED_COUNTS = """
    WITH {subjects}
    SELECT e.key, count(*), count(*) FILTER (WHERE c.lapsed AND c.last_day <= s.day + %(window)s), ARRAY[{stopped_by}]
      FROM churn_suspect_exposure e
      JOIN subject s ON s.key = e.key
      JOIN churn_suspect_customers c ON c.customer_id = e.customer_id
     GROUP BY e.key
"""

# On each day D: the valuable customers still buying (first order before D, last on or after D)
# and how many of them stopped within w days (lapsed, last order at most w days after D), for the
# window and each step of the curves. Differences of counts "key day <= D" over one histogram of
# days, so the cost is a few scans of the customers whatever the number of subjects:
#   first < D <= last                 = #{first + 1 <= D} - #{last + 1 <= D}   (last >= first)
#   lapsed, first < D <= last <= D+w  = #{lapsed, greatest(first + 1, last - w) <= D} - #{lapsed, last + 1 <= D}
# The histogram is a UNION ALL of one GROUP BY per key ({histogram}); {sums} adds each key up to D.
COHORTS = """
    WITH hist AS ({histogram})
    SELECT d.day, ARRAY[{sums}]
      FROM unnest(%(days)s::date[]) AS d(day)
      LEFT JOIN hist h ON h.day <= d.day
     GROUP BY d.day
"""
HISTOGRAM_KEY = (
    "SELECT {what} AS what, {day} AS day, count(*) AS n FROM churn_suspect_customers c WHERE {where} GROUP BY 2"
)


# Which of the subjects each of some customers was exposed to, read from their own order lines and
# metrics (the follow-up page, the insights' comparison with recorded causes). One query.
EXPOSURES_OF = """
    WITH {subjects}
    SELECT s.key, m.customer_id
      FROM subject s
      JOIN tiering_customermetrics m ON m.customer_id = ANY(%(customers)s)
           AND (m.first_order_at AT TIME ZONE 'UTC')::date < s.day AND (m.last_order_at AT TIME ZONE 'UTC')::date >= s.day
     WHERE s.audience = 'everyone'
        OR EXISTS (SELECT 1 FROM exposing x
                     JOIN customers_orderline l ON l.product_id = x.product_id AND l.customer_id = m.customer_id
                          AND l.placed_at >= x.start_at AND l.placed_at < x.stop_at
                    WHERE x.key = s.key)
"""


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _subject_params(subjects: list[Subject]) -> dict:
    windows = [s.exposure_window for s in subjects]
    return {
        "keys": [s.key for s in subjects],
        "days": [s.day for s in subjects],
        "audiences": [s.audience for s in subjects],
        "starts": [_midnight(start) for start, _ in windows],
        "stops": [_midnight(stop) for _, stop in windows],
        "products": [s.product_id for s in subjects],
        "categories": [s.category for s in subjects],
    }


@dataclass
class Analysis:
    as_of: dt.date
    tiers: str
    rows: list[dict]
    curves: list[dict]
    seconds: float


def analyse(*, as_of: dt.date, tiers=(3,)) -> Analysis:
    """Rank every subject of the two years before `as_of` by how much more often the valuable
    customers exposed to it stopped buying. Runs in its own transaction (temporary tables)."""
    started = time.monotonic()
    subjects = subjects_for(as_of)
    rows: list[dict] = []
    curves: list[dict] = []
    if subjects:
        with transaction.atomic(), connection.cursor() as cursor:
            # no JIT: compiling costs more than these statements; room to hash the exposure's
            # DISTINCT and the histogram in memory instead of sorting on disk (PostgreSQL's memory,
            # per node, for this transaction only)
            sql.set_local(cursor, jit="off", work_mem="64MB")
            tables, exposed, counts = _tables(cursor, subjects, as_of=as_of, tiers=sorted(set(tiers)))
        rows = _ranked(subjects, tables)
        top = [r for r in rows if r["exposed"] and r["unexposed"]][:CURVE_SUBJECTS]
        curves = _curves(top, {s.key: s for s in subjects}, exposed, counts)
    return Analysis(as_of, tiers_key(tiers), rows, curves, time.monotonic() - started)


STEPS = list(range(0, WINDOW_DAYS + 1, CURVE_STEP_DAYS))  # days after D at which the curves are read


@dataclass(frozen=True)
class Counts:
    """Customers still buying on a day and how many of them stopped within each window."""

    still: int
    stopped: dict  # window in days -> customers


def _windows() -> list[int]:
    """The analysis' window, and "stopped before step t" (last order at most t - 1 days after) per step."""
    return [WINDOW_DAYS] + [t - 1 for t in STEPS if t > 0]


def _tables(cursor, subjects: list[Subject], *, as_of: dt.date, tiers: list[int]) -> tuple[list, dict, dict]:
    """The 2x2 table of each subject, with what the curves need: exposed counts and day counts."""
    policy = ChurnPolicy.current()
    params = {
        "as_of": as_of,
        "as_of_end": _midnight(as_of + dt.timedelta(days=1)),
        "tiers": tiers,
        "min_days": policy.min_days,
        "gap_multiple": policy.gap_multiple,
        "window": WINDOW_DAYS,
        **_subject_params(subjects),
    }
    cursor.execute("DROP TABLE IF EXISTS churn_suspect_customers, churn_suspect_exposure")
    cursor.execute(sql.compose(VALUABLE, lapses_on=LAPSES_ON), params)
    cursor.execute("ANALYZE churn_suspect_customers")
    cursor.execute(sql.compose(EXPOSURE, subjects=SUBJECTS), params)
    stopped_by = sql.join(
        ", ",
        [sql.compose("count(*) FILTER (WHERE c.lapsed AND c.last_day < s.day + {t})", t=sql.literal(t)) for t in STEPS],
    )
    cursor.execute(sql.compose(EXPOSED_COUNTS, subjects=SUBJECTS, stopped_by=stopped_by), params)
    exposed = {key: (n, lapsed, by_step) for key, n, lapsed, by_step in cursor.fetchall()}
    days = {s.day for s in subjects} | {_before(s) for s in subjects if s.audience == EVERYONE}
    counts = _day_counts(cursor, sorted(days))
    return [_table(s, exposed, counts) for s in subjects], exposed, counts


def _before(subject: Subject) -> dt.date:
    return subject.day - dt.timedelta(days=WINDOW_DAYS)


def _day_counts(cursor, days: list[dt.date]) -> dict[dt.date, Counts]:
    windows = _windows()
    keys = [("started", "c.first_day + 1", "TRUE"), ("ended", "c.last_day + 1", "TRUE")]
    keys += [("stopped_before", "c.last_day + 1", "c.lapsed")]
    keys += [
        (f"within {w}", sql.compose("GREATEST(c.first_day + 1, c.last_day - {w})", w=sql.literal(w)), "c.lapsed")
        for w in windows
    ]
    histogram = sql.join(
        " UNION ALL ",
        [sql.compose(HISTOGRAM_KEY, what=sql.literal(what), day=day, where=where) for what, day, where in keys],
    )
    sums = sql.join(
        ", ",
        [
            sql.compose("COALESCE(sum(h.n) FILTER (WHERE h.what = {what}), 0)::bigint", what=sql.literal(what))
            for what, _, _ in keys
        ],
    )
    cursor.execute(sql.compose(COHORTS, histogram=histogram, sums=sums), {"days": days})
    counts = {}
    for day, (started, ended, stopped_before, *within) in cursor.fetchall():
        counts[day] = Counts(started - ended, {w: n - stopped_before for w, n in zip(windows, within, strict=True)})
    return counts


def _table(subject: Subject, exposed: dict, counts: dict) -> evidence.Table:
    on_day = counts[subject.day]
    if subject.audience == EVERYONE:
        before = counts[_before(subject)]
        return evidence.Table(on_day.still, on_day.stopped[WINDOW_DAYS], before.still, before.stopped[WINDOW_DAYS])
    n, lapsed, _ = exposed.get(subject.key, (0, 0, None))
    return evidence.Table(n, lapsed, on_day.still - n, on_day.stopped[WINDOW_DAYS] - lapsed)


def _ranked(subjects: list[Subject], tables: list[evidence.Table]) -> list[dict]:
    rows = [
        asdict(subject)
        | asdict(table)
        | asdict(verdict)
        | {
            "day": subject.day.isoformat(),
            "compared_with": subject.compared_with,
            "rate_exposed": table.rate_exposed,
            "rate_unexposed": table.rate_unexposed,
            "note": evidence.explain(table, verdict),
        }
        for subject, table, verdict in zip(subjects, tables, evidence.verdicts(tables), strict=True)
    ]
    rows.sort(key=lambda r: (not r["flagged"], -(r["low"] or 0), r["p"] if r["p"] is not None else 2, r["subject"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def _curves(top: list[dict], subjects: dict, exposed: dict, counts: dict) -> list[dict]:
    """Share of each group still buying every CURVE_STEP_DAYS after the subject's date, from the
    counts already made: no query."""
    return [_curve(row, subjects[row["key"]], exposed, counts) for row in top]


def _stopped_by_step(on_day: Counts) -> list[int]:
    return [0] + [on_day.stopped[t - 1] for t in STEPS if t > 0]


def _curve(row: dict, subject: Subject, exposed: dict, counts: dict) -> dict:
    on_day = counts[subject.day]
    if subject.audience == EVERYONE:
        before = counts[_before(subject)]
        groups = [(on_day.still, _stopped_by_step(on_day)), (before.still, _stopped_by_step(before))]
    else:
        n, _, by_step = exposed.get(subject.key, (0, 0, [0] * len(STEPS)))
        everyone = _stopped_by_step(on_day)
        groups = [(n, by_step), (on_day.still - n, [all_ - e for all_, e in zip(everyone, by_step, strict=True)])]
    (n_e, stopped_e), (n_c, stopped_c) = groups
    exposed_share = [round(100 * (n_e - s) / n_e, 1) if n_e else None for s in stopped_e]
    compared_share = [round(100 * (n_c - s) / n_c, 1) if n_c else None for s in stopped_c]
    return {
        "key": row["key"],
        "subject": row["subject"],
        "days": STEPS,
        "exposed": exposed_share,
        "compared": compared_share,
        "compared_with": row["compared_with"],
        "table": list(zip(STEPS, exposed_share, compared_share, strict=True)),
    }


# The tier choices of the insights page (and the follow-up pages: tier 3 and tier 2 items), which
# the nightly task refreshes so that no page analyses in a request.
PAGE_TIERS = ((3,), (2, 3), (2,))


def latest(*, tiers=(3,)) -> SuspectAnalysis:
    """The stored analysis as of the run in force, for the tiers, computed and stored when there is
    none made since that run finished (a run after an import changes what the analysis reads, even
    on the same date; imports write products and lines with SQL, past the signals below)."""
    run = RetierRun.objects.in_force().only("as_of", "started_at", "finished_at").first()
    as_of = run.as_of if run else timezone.localdate()
    stored = SuspectAnalysis.objects.filter(as_of=as_of, tiers=tiers_key(tiers))
    if run:
        stored = stored.filter(computed_at__gte=run.finished_at or run.started_at)
    found = stored.first()
    return found if found is not None else refresh(as_of=as_of, tiers=tiers)


def stored(*, tiers: set[tuple[int, ...]]) -> dict[tuple[int, ...], SuspectAnalysis]:
    """The analyses `latest` would return for these tier choices, only those already stored (none is
    computed): two queries."""
    run = RetierRun.objects.in_force().only("as_of", "started_at", "finished_at").first()
    as_of = run.as_of if run else timezone.localdate()
    keys = {tiers_key(t): t for t in tiers}
    found = SuspectAnalysis.objects.filter(as_of=as_of, tiers__in=keys)
    if run:
        found = found.filter(computed_at__gte=run.finished_at or run.started_at)
    newest: dict[tuple[int, ...], SuspectAnalysis] = {}
    for analysis in found.defer("curves").order_by("-computed_at", "-id"):
        newest.setdefault(keys[analysis.tiers], analysis)
    return newest


def refresh(*, as_of: dt.date, tiers=(3,)) -> SuspectAnalysis:
    """Analyse and store the result in place of any earlier one for the same date and tiers."""
    result = analyse(as_of=as_of, tiers=tiers)
    SuspectAnalysis.objects.filter(as_of=as_of, tiers=result.tiers).delete()
    return SuspectAnalysis.objects.create(
        as_of=as_of, tiers=result.tiers, rows=result.rows, curves=result.curves, seconds=result.seconds
    )


def _subject(row: dict) -> Subject:
    """A subject back from a stored row."""
    fields = {name: row.get(name, "") for name in Subject.__dataclass_fields__}
    return Subject(**fields | {"day": dt.date.fromisoformat(row["day"])})


def exposures_of(customer_ids: list[int], rows: list[dict]) -> set[tuple[str, int]]:
    """(subject key, customer id) for each subject in `rows` each customer was exposed to. One query."""
    if not customer_ids or not rows:
        return set()
    subjects = [_subject(r) for r in rows]
    with connection.cursor() as cursor:
        cursor.execute(
            sql.compose(EXPOSURES_OF, subjects=SUBJECTS), {"customers": list(customer_ids), **_subject_params(subjects)}
        )
        return {(key, customer) for key, customer in cursor.fetchall()}


@receiver([post_save, post_delete], sender=Release, dispatch_uid="churn.suspects.forget_on_release")
@receiver([post_save, post_delete], sender=Product, dispatch_uid="churn.suspects.forget_on_product")
def forget_analyses(sender, **kwargs) -> None:
    """A release recorded or changed, a launch date changed: the stored analyses no longer hold."""
    SuspectAnalysis.objects.all().delete()
