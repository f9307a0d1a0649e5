"""The customer metrics that rules may test, pages may show and the nightly run computes.

Every name here is a column of `CustomerMetrics`. `kind` says how to read and show the value:
money (Decimal, 2 places), count (int), days (int or None when there is no order), ratio
(Decimal share, 0.25 = 25%).
"""

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from django.db import connection, transaction


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    kind: str  # "money" | "count" | "days" | "ratio"
    help: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("revenue", "Revenue", "money", "Total charged on order lines in the window."),
        Metric("cost", "Cost", "money", "Total cost to the business of those lines."),
        Metric(
            "compensation",
            "Compensation",
            "money",
            "Discounts, refunds, credits and free goods given on tickets in the window.",
        ),
        Metric("net_margin", "Net margin", "money", "Revenue − cost − compensation in the window."),
        Metric("orders", "Orders", "count", "Distinct orders placed in the window."),
        Metric(
            "active_months", "Months with an order", "count", "Calendar months in the window with at least one order."
        ),
        Metric(
            "tenure_days",
            "Tenure (days)",
            "days",
            "Days from the first order ever (or sign-up, if earlier) to the as-of date.",
        ),
        Metric(
            "days_since_last_order",
            "Days since last order",
            "days",
            "Days from the last order ever to the as-of date; empty with no order.",
        ),
        Metric(
            "median_gap_days",
            "Typical gap (days)",
            "days",
            "Median days between consecutive orders, all time; empty with fewer than two orders.",
        ),
        Metric("categories", "Categories bought", "count", "Distinct product categories bought in the window."),
        Metric(
            "new_products",
            "New products bought",
            "count",
            "Distinct products bought in the window that launched within the window.",
        ),
        Metric("complaints", "Complaints", "count", "Complaint tickets opened in the window."),
        Metric(
            "rejected_complaints",
            "Rejected complaints",
            "count",
            "Complaints in the window found unfounded (outcome rejected).",
        ),
        Metric(
            "compensation_share",
            "Compensation share",
            "ratio",
            "Compensation ÷ revenue in the window (0 with no revenue and no compensation; 1 with compensation but no revenue).",
        ),
    ]
}

DEFAULT_WINDOW_MONTHS = 12


# --- Computing the metrics, set-based --------------------------------------------------------
#
# Definitions (UTC calendar days throughout; datetimes are stored in UTC):
# - as_of is a date D. The window is the 12 months ending at D, D's whole day included:
#   placed_at/opened_at >= (D - 12 months + 1 day) 00:00 and < (D + 1 day) 00:00.
#   For D = 2026-11-22 that is 2025-11-23 00:00 up to 2026-11-23 00:00 (exclusive).
# - "All time" means everything before (D + 1 day) 00:00: nothing after as_of ever counts, so a
#   run with an as_of in the past reproduces what a run on that day computed.
# - revenue / cost: sums of line amount / cost in the window (a NULL cost counts as 0).
# - compensation: sum over all tickets opened in the window, whatever their kind.
# - net_margin = revenue - cost - compensation.
# - orders: orders placed in the window (counted from the orders table). active_months: distinct calendar months with an order
#   line in the window (up to 13: the window's first month is usually partial).
# - first/last_order_at: earliest/latest order line, all time. tenure_days: D minus the earlier of
#   signed_up_on and the first order's day (0 with neither, never negative).
#   days_since_last_order: D minus the last order's day (NULL with no order).
# - median_gap_days: the median of the gaps in days between consecutive distinct order days,
#   all time (the gap list of 1, 5, 6 is [4, 1] -> 2.5); NULL with fewer than two order days.
# - categories: distinct categories of products bought in the window. new_products: distinct
#   products bought in the window whose launched_on lies within the window's days.
# - complaints / rejected_complaints: complaint tickets opened in the window / of those, the ones
#   with outcome "rejected".
# - compensation_share = compensation / revenue (4 places); 0 with neither, 1 with compensation but
#   no revenue; capped at 999999 so a tiny revenue cannot overflow the column.
#
# How: one INSERT … SELECT per range of customer ids. Order lines are read twice inside it, both
# set-based: all time in the covering index's (customer, placed_at) order with one lag() for the
# gaps (no sort), and the window's lines joined to their products for the window's sums and
# distinct counts. Tickets are read once. Customers come from customers_customer, so a customer
# with no order or ticket still gets a row. The same SQL runs on SQLite except for the few
# dialect pieces below (dates, and the median, which SQLite computes with ROW_NUMBER()).


STAGE_COLUMNS = [
    "run_id", "customer_id", "as_of", "revenue", "cost", "compensation", "net_margin", "orders",
    "active_months", "first_order_at", "last_order_at", "tenure_days", "days_since_last_order",
    "tenure_start", "median_gap_days", "categories", "new_products", "complaints", "rejected_complaints",
    "compensation_share", "next_change_on",
]  # fmt: skip

# The few places where PostgreSQL and SQLite need different SQL.
_DIALECTS = {
    "postgresql": {
        "day": "(({col}) AT TIME ZONE 'UTC')::date",
        "days_between": "(({later}) - ({earlier}))",
        "month": "date_trunc('month', ({col}) AT TIME ZONE 'UTC')",
        "least": "LEAST({a}, {b})",
        "greatest": "GREATEST({a}, {b})",
        "date_param": "CAST(%(as_of)s AS date)",
    },
    "sqlite": {
        "day": "date({col})",
        "days_between": "CAST(julianday({later}) - julianday({earlier}) AS INTEGER)",
        "month": "substr({col}, 1, 7)",
        "least": "min({a}, {b})",
        "greatest": "max({a}, {b})",
        "date_param": "date(%(as_of)s)",
    },
}

# SQLite has no percentile_cont: the median is the mean of the middle one or two ranked gaps.
_HISTORY_SQLITE = """
ranked AS (
    SELECT customer_id, gap, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY gap) AS rn,
           COUNT(*) OVER (PARTITION BY customer_id) AS n
    FROM gaps WHERE gap IS NOT NULL
),
medians AS (
    SELECT customer_id, round(AVG(gap), 1) AS median_gap FROM ranked
    WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY customer_id
),
history AS (
    SELECT g.customer_id, MIN(g.placed_at) AS first_order_at, MAX(g.placed_at) AS last_order_at,
           MAX(m.median_gap) AS median_gap
    FROM gaps g LEFT JOIN medians m ON m.customer_id = g.customer_id GROUP BY g.customer_id
)"""

_LINES_SQLITE = """
gaps AS (
    -- all time up to as_of, lines in the covering index's order (customer, placed_at), no sort:
    -- the day gap to the previous line; lines on the same day as the previous give 0, which
    -- NULLIF drops, so what is left are the gaps between consecutive distinct order days.
    SELECT l.customer_id, l.placed_at,
           NULLIF({gap}, 0) AS gap
    FROM customers_orderline l
    WHERE CUSTOMER_IN_SCOPE(l.customer_id) AND l.placed_at < %(end)s
),
{history},
bought AS (
    -- the window's lines with their products
    -- (only columns of the covering index: an index-only range scan per range of customers)
    SELECT l.customer_id, SUM(l.amount) AS revenue, SUM(COALESCE(l.cost, 0)) AS cost,
           COUNT(DISTINCT {month_l}) AS active_months,
           COUNT(DISTINCT p.category) AS categories,
           COUNT(DISTINCT CASE WHEN p.launched_on >= %(start_day)s AND p.launched_on <= %(as_of)s
                               THEN l.product_id END) AS new_products
    FROM customers_orderline l JOIN customers_product p ON p.id = l.product_id
    WHERE CUSTOMER_IN_SCOPE(l.customer_id) AND l.placed_at >= %(start)s AND l.placed_at < %(end)s
    GROUP BY l.customer_id
)
"""

# PostgreSQL: ONE pass over the customer's order lines, all time, in the covering index's
# (customer, placed_at) order (an index-only scan, no sort): lag() gives each line the previous
# line's time, for the day gaps and for counting months (a line opens a month of the window when
# the previous line is outside the window or in another month: lines come in time order); the
# window's sums are FILTERed aggregates of the same rows, grouped as they stream by. Products
# are looked up in two arrays indexed by product id (category rank, launched in the window),
# built once per statement: a join to products would lose the index order and cost a sort of
# every line (measured per 250,000 customers: 5.7 s for the two passes, see docs/retier.md).
_LINES_POSTGRESQL = """
products AS MATERIALIZED (
    SELECT array_agg(CAST(COALESCE(p.category_rank, 0) AS integer) ORDER BY g.id) AS category_rank,
           array_agg(COALESCE(p.is_new, false) ORDER BY g.id) AS is_new,
           array_agg(CAST(CASE WHEN p.is_new THEN p.new_rank END AS integer) ORDER BY g.id) AS new_rank,
           array_agg(p.newness_changes_on ORDER BY g.id) AS newness_changes_on
    FROM generate_series(1, (SELECT COALESCE(MAX(id), 0) FROM customers_product)) AS g(id)
    LEFT JOIN (SELECT id, dense_rank() OVER (ORDER BY category) AS category_rank,
                      (launched_on >= %(start_day)s AND launched_on <= %(as_of)s) AS is_new,
                      row_number() OVER (PARTITION BY launched_on >= %(start_day)s AND launched_on <= %(as_of)s
                                         ORDER BY id) AS new_rank,
                      CASE WHEN launched_on > %(as_of)s THEN launched_on
                           WHEN launched_on >= %(start_day)s THEN {leave_launch} END AS newness_changes_on
               FROM customers_product) p ON p.id = g.id
),
lines AS (
    -- all time, lines dated after as_of included (only to know when the first of them enters)
    SELECT l.customer_id, l.placed_at, l.amount, l.cost, l.product_id,
           l.placed_at >= %(start)s AND l.placed_at < %(end)s AS w, l.placed_at < %(end)s AS past,
           LAG(l.placed_at) OVER (PARTITION BY l.customer_id ORDER BY l.placed_at) AS prev_at
    FROM customers_orderline l
    WHERE CUSTOMER_IN_SCOPE(l.customer_id)
),
history AS (
    SELECT x.customer_id, MIN(x.placed_at) FILTER (WHERE x.past) AS first_order_at,
           MAX(x.placed_at) FILTER (WHERE x.past) AS last_order_at,
           round(CAST(percentile_cont(0.5) WITHIN GROUP (ORDER BY NULLIF(
               (x.placed_at AT TIME ZONE 'UTC')::date - (x.prev_at AT TIME ZONE 'UTC')::date, 0))
               FILTER (WHERE x.past) AS numeric), 1) AS median_gap,
           SUM(x.amount) FILTER (WHERE x.w) AS revenue, SUM(COALESCE(x.cost, 0)) FILTER (WHERE x.w) AS cost,
           COUNT(*) FILTER (WHERE x.w AND (x.prev_at IS NULL OR x.prev_at < %(start)s
               OR x.prev_at < date_trunc('month', x.placed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')) AS active_months,
           {categories} AS categories,
           {new_products} AS new_products,
           MIN(x.placed_at) FILTER (WHERE x.w) AS first_in_window,
           MIN(x.placed_at) FILTER (WHERE NOT x.past) AS first_after,
           MIN(((SELECT newness_changes_on FROM products))[x.product_id]) FILTER (WHERE x.w) AS product_change
    FROM lines x
    GROUP BY x.customer_id
),
bought AS (SELECT * FROM history)
"""

_METRICS_SQL = """
WITH {targets}{lines},
placed AS (
    -- orders in the window, from the orders' own (customer, placed_at) index; lines carry their
    -- order's placed_at, so these are exactly the orders of the window's lines. Orders dated
    -- after as_of are read only for the date the first of them enters the window.
    SELECT o.customer_id, COUNT(*) FILTER (WHERE o.placed_at < %(end)s) AS orders,
           MIN(o.placed_at) FILTER (WHERE o.placed_at < %(end)s) AS first_in_window,
           MIN(o.placed_at) FILTER (WHERE o.placed_at >= %(end)s) AS first_after
    FROM customers_order o
    WHERE CUSTOMER_IN_SCOPE(o.customer_id) AND o.placed_at >= %(start)s
    GROUP BY o.customer_id
),
tickets AS (
    SELECT t.customer_id, SUM(t.compensation) FILTER (WHERE t.opened_at < %(end)s) AS compensation,
           COUNT(*) FILTER (WHERE t.opened_at < %(end)s AND t.kind = 'complaint') AS complaints,
           COUNT(*) FILTER (WHERE t.opened_at < %(end)s AND t.kind = 'complaint' AND t.outcome = 'rejected') AS rejected,
           MIN(t.opened_at) FILTER (WHERE t.opened_at < %(end)s) AS first_in_window,
           MIN(t.opened_at) FILTER (WHERE t.opened_at >= %(end)s) AS first_after
    FROM customers_ticket t
    WHERE CUSTOMER_IN_SCOPE(t.customer_id) AND t.opened_at >= %(start)s
    GROUP BY t.customer_id
),
joined AS (
    SELECT c.id AS customer_id, c.signed_up_on,
           round(COALESCE(b.revenue, 0), 2) AS revenue, round(COALESCE(b.cost, 0), 2) AS cost,
           round(COALESCE(t.compensation, 0), 2) AS compensation,
           COALESCE(o.orders, 0) AS orders, COALESCE(b.active_months, 0) AS active_months,
           COALESCE(b.categories, 0) AS categories, COALESCE(b.new_products, 0) AS new_products,
           COALESCE(t.complaints, 0) AS complaints, COALESCE(t.rejected, 0) AS rejected,
           h.first_order_at, h.last_order_at, {first_day} AS first_day, {last_day} AS last_day, h.median_gap,
           {next_change} AS next_change_on
    FROM customers_customer c
    LEFT JOIN bought b ON b.customer_id = c.id
    LEFT JOIN placed o ON o.customer_id = c.id
    LEFT JOIN history h ON h.customer_id = c.id
    LEFT JOIN tickets t ON t.customer_id = c.id
    WHERE CUSTOMER_IN_SCOPE(c.id)
)
SELECT %(run_id)s, customer_id, %(as_of)s, revenue, cost, compensation,
       round(revenue - cost - compensation, 2), orders, active_months, first_order_at, last_order_at,
       COALESCE({greatest_tenure}, 0),
       {since_last}, {tenure_start}, median_gap, categories, new_products, complaints, rejected,
       CASE WHEN revenue > 0 THEN {least_share}
            WHEN compensation > 0 THEN 1 ELSE 0 END,
       next_change_on
FROM joined
"""


# --- The day counts, derived where they are read -----------------------------------------------
#
# tenure_days and days_since_last_order grow by one every day for everyone, so CustomerMetrics
# stores the dates they count from (tenure_start, last_order_at) and readers count to the as-of
# date of the run in force. The stage still holds the counts themselves (the rules run over it).

DERIVED_DAYS = ("tenure_days", "days_since_last_order")

# The as-of date of the run whose results CustomerMetrics holds: the newest real run that
# succeeded (a row no run wrote, e.g. in a test, counts to its own as_of).
CURRENT_AS_OF_SQL = (
    "(SELECT r.as_of FROM tiering_retierrun r WHERE r.status = 'succeeded' AND NOT r.dry_run"
    " ORDER BY r.started_at DESC, r.id DESC LIMIT 1)"
)


def derived_days_sql(name: str, *, alias: str = "m", as_of: str | None = None, vendor: str | None = None) -> str:
    """SQL for a derived day count of CustomerMetrics row `alias` as of the SQL date `as_of`
    (default: the run in force, else the row's own as_of). Same values as the stage's."""
    d = _DIALECTS["postgresql" if (vendor or connection.vendor) == "postgresql" else "sqlite"]
    as_of = as_of or f"COALESCE({CURRENT_AS_OF_SQL}, {alias}.as_of)"
    if name == "days_since_last_order":
        return d["days_between"].format(later=as_of, earlier=d["day"].format(col=f"{alias}.last_order_at"))
    if name == "tenure_days":
        since = d["days_between"].format(later=as_of, earlier=f"{alias}.tenure_start")
        return f"COALESCE({d['greatest'].format(a='0', b=since)}, 0)"
    raise ValueError(f"{name} is stored, not derived")


def date_param_sql(param: str = "as_of", vendor: str | None = None) -> str:
    """The named query parameter `param` read as a date, in this database's SQL."""
    d = _DIALECTS["postgresql" if (vendor or connection.vendor) == "postgresql" else "sqlite"]
    return d["date_param"].replace("as_of", param)


def metric_sql(name: str, *, alias: str = "m", as_of: str | None = None) -> str:
    """A metric of CustomerMetrics row `alias` in SQL: its column, or the derived day count."""
    if name in DERIVED_DAYS:
        return derived_days_sql(name, alias=alias, as_of=as_of)
    return f"{alias}.{connection.ops.quote_name(name)}"


def window(as_of: dt.date, months: int = DEFAULT_WINDOW_MONTHS) -> tuple[dt.datetime, dt.datetime]:
    """The window's [start, end) in UTC: `months` months ending with as_of's whole day."""
    start_day = _months_before(as_of, months) + dt.timedelta(days=1)
    midnight = dt.time(0, 0, tzinfo=dt.UTC)
    return dt.datetime.combine(start_day, midnight), dt.datetime.combine(as_of + dt.timedelta(days=1), midnight)


def _months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier (the month's last day when it is shorter: Feb 29 -> Feb 28)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


# PostgreSQL: distinct categories and new products of the window's lines. COUNT(DISTINCT) sorts
# every customer's values apart (0.3 s of 1.0 s for 10,000 customers); when the categories, or
# the products new in the window, are 48 or fewer, each is a bit of a bigint and one bit_or counts
# them without a sort. Products are ranked in the products CTE above.
_DISTINCT_BY_SORT = {
    "categories": "COUNT(DISTINCT ((SELECT category_rank FROM products))[x.product_id]) FILTER (WHERE x.w)",
    "new_products": "COUNT(DISTINCT x.product_id) FILTER (WHERE x.w AND ((SELECT is_new FROM products))[x.product_id])",
}
_DISTINCT_BY_BITS = {
    "categories": "bit_count(CAST(bit_or(CAST(1 AS bigint) << (((SELECT category_rank FROM products))[x.product_id] - 1))"
                  " FILTER (WHERE x.w) AS bit(64)))",
    "new_products": "bit_count(CAST(bit_or(CAST(1 AS bigint) << (((SELECT new_rank FROM products))[x.product_id] - 1))"
                    " FILTER (WHERE x.w AND ((SELECT is_new FROM products))[x.product_id]) AS bit(64)))",
}  # fmt: skip
BITMASK_LIMIT = 48  # headroom: a product added between this count and the statement still fits


def _distinct_counts_sql(as_of: dt.date | None) -> dict[str, str]:
    """How to count each distinct: by bits when what is counted fits a bigint as of `as_of`."""
    if as_of is None:
        return dict(_DISTINCT_BY_SORT)
    start_day = window(as_of)[0].date()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(DISTINCT category), COUNT(*) FILTER (WHERE launched_on >= %s AND launched_on <= %s) FROM customers_product",
            [start_day, as_of],
        )
        counts = dict(zip(["categories", "new_products"], cursor.fetchone()))
    return {name: (_DISTINCT_BY_BITS if n <= BITMASK_LIMIT else _DISTINCT_BY_SORT)[name] for name, n in counts.items()}


def metrics_select_sql(vendor: str | None = None, *, targets: str | None = None, as_of: dt.date | None = None) -> str:
    """The SELECT producing one stage row per customer, columns in STAGE_COLUMNS order: of the
    customers with lo <= id <= hi, or (`targets`, PostgreSQL) of those a SELECT of customer ids names.
    With `as_of` (PostgreSQL), distinct counts that fit take the bitmask road (_distinct_counts_sql)."""
    d = _DIALECTS["postgresql" if (vendor or connection.vendor) == "postgresql" else "sqlite"]
    as_of_date = d["date_param"]
    if d is _DIALECTS["postgresql"]:
        lines = _LINES_POSTGRESQL.replace("{leave_launch}", _leave_sql("launched_on"))
        for name, sql in _distinct_counts_sql(as_of).items():
            lines = lines.replace("{" + name + "}", sql)
        next_change = _next_change_sql(d)
    else:
        lines = _LINES_SQLITE.format(
            month_l=d["month"].format(col="l.placed_at"),
            gap=d["days_between"].format(
                later=d["day"].format(col="l.placed_at"),
                earlier=d["day"].format(col="LAG(l.placed_at) OVER (PARTITION BY l.customer_id ORDER BY l.placed_at)"),
            ),
            history=_HISTORY_SQLITE,
        )
        next_change = "NULL"  # SQLite recomputes everyone every run (no change marks): never read
    sql = _METRICS_SQL.format(
        targets=f"targets AS MATERIALIZED ({targets}),\n" if targets else "",
        lines=lines,
        first_day=d["day"].format(col="h.first_order_at"),
        last_day=d["day"].format(col="h.last_order_at"),
        greatest_tenure=d["greatest"].format(
            a="0",
            b=d["days_between"].format(
                later=as_of_date,
                earlier=d["least"].format(a="COALESCE(signed_up_on, first_day)", b="COALESCE(first_day, signed_up_on)"),
            ),
        ),
        since_last=d["days_between"].format(later=as_of_date, earlier="last_day"),
        tenure_start=d["least"].format(a="COALESCE(signed_up_on, first_day)", b="COALESCE(first_day, signed_up_on)"),
        least_share=d["least"].format(a="round(compensation / revenue, 4)", b="999999"),
        next_change=next_change,
    )
    # Targets as an array: one index descent per customer, in index order (no sort for the window
    # functions), whatever the planner guesses of the targets' count. As `IN (SELECT …)` it once
    # picked a merge join over the whole 10M-line index (2.3 s instead of 0.1 s).
    scope = r"\1 = ANY(ARRAY(SELECT customer_id FROM targets))" if targets else r"\1 BETWEEN %(lo)s AND %(hi)s"
    return re.sub(r"CUSTOMER_IN_SCOPE\(([\w.]+)\)", scope, sql)


def _leave_sql(day: str, months: int = DEFAULT_WINDOW_MONTHS) -> str:
    """PostgreSQL: the first as-of date whose window no longer holds the date `day`.

    The window of D starts the day after D - months (clamped to the month's end, as window()
    does), so it is D = day + months, or the day after that when the addition was clamped
    (2024-02-29 + 12 months = 2025-02-28, whose window still starts on 2024-02-29)."""
    later = f"CAST(({day}) + interval '{months} months' AS date)"
    return f"(CASE WHEN {later} - interval '{months} months' < ({day}) THEN {later} + 1 ELSE {later} END)"


def _next_change_sql(d: dict) -> str:
    """PostgreSQL: the first as-of date after this one on which the customer's metrics change with
    no new data: the earliest line, order or ticket in the window leaves it, the earliest one dated
    after as_of enters it, or a product bought in the window starts or stops counting as new.
    Until then a run may keep the stored metrics (the day counts are derived from dates)."""
    day = lambda col: d["day"].format(col=col)  # noqa: E731
    candidates = [_leave_sql(day("h.first_in_window")), day("h.first_after"), "h.product_change"]
    for alias in ("o", "t"):
        candidates += [_leave_sql(day(f"{alias}.first_in_window")), day(f"{alias}.first_after")]
    return f"LEAST({', '.join(candidates)})"


def metrics_params(*, run_id: int, as_of: dt.date, lo: int, hi: int) -> dict:
    start, end = window(as_of)
    ops = connection.ops
    return {
        "run_id": run_id,
        "as_of": ops.adapt_datefield_value(as_of),
        "start_day": ops.adapt_datefield_value(start.date()),
        "start": ops.adapt_datetimefield_value(start),
        "end": ops.adapt_datetimefield_value(end),
        "lo": lo,
        "hi": hi,
    }


def compute_metrics_range(*, run_id: int, as_of: dt.date, lo: int, hi: int) -> int:
    """Stage the metrics of customers with lo <= id <= hi for run `run_id`; returns the row count.

    One INSERT … SELECT: order lines are read by the covering index (customer, placed_at), tickets
    by theirs. JIT is off for the statement: it costs about a second and buys nothing here.
    """
    return _stage(metrics_select_sql(as_of=as_of), metrics_params(run_id=run_id, as_of=as_of, lo=lo, hi=hi))


def compute_metrics_of(*, run_id: int, as_of: dt.date, targets: str) -> int:
    """Stage the metrics of the customers whose ids the SELECT `targets` gives (PostgreSQL; it may
    use the metrics parameters, e.g. %(run_id)s and %(as_of)s); returns the row count. Each
    customer's lines are read by the covering index, so the cost follows the targets, not the table."""
    return _stage(
        metrics_select_sql(targets=targets, as_of=as_of), metrics_params(run_id=run_id, as_of=as_of, lo=0, hi=0)
    )


def _stage(select: str, params: dict) -> int:
    sql = f"INSERT INTO tiering_metricsstage ({', '.join(STAGE_COLUMNS)}) {select}"
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")  # the window's sorts stay in memory
        cursor.execute(sql, params)
        return cursor.rowcount


def customer_ranges(*, size: int, at_least: int = 1) -> list[tuple[int, int]]:
    """Split the customer ids into ranges of at most `size` ids (and at least `at_least` ranges
    when there are enough ids), each computable on its own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id), MAX(id) FROM customers_customer")
        lo, hi = cursor.fetchone()
    if lo is None:
        return []
    step = max(1, min(size, -(-(hi - lo + 1) // at_least)))
    return [(start, min(start + step - 1, hi)) for start in range(lo, hi + 1, step)]
