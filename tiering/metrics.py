"""Computing the customer metrics, set-based, and reading them back in SQL.

What each metric is lives in `tiering.catalogue` (its kind, range and SQL); this module builds
the nightly statement from those definitions and runs it.
"""

import calendar
import datetime as dt

from django.db import connection, transaction

from . import sql
from .catalogue import DERIVED_DAYS, METRICS, TENURE_START, Metric  # noqa: F401 (METRICS, Metric, DERIVED_DAYS: re-exported)

DEFAULT_WINDOW_MONTHS = 12
PRIOR_MONTHS = 2 * DEFAULT_WINDOW_MONTHS  # the year before the window starts this far back


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
# - lifetime_revenue / lifetime_net_margin / lifetime_orders: the same sums and count all time.
# - prior_revenue: revenue in the 12 months before the window (the window of D with 24 months,
#   minus the window): placed_at >= (D - 24 months + 1 day) 00:00 and < the window's start.
#   revenue_growth = revenue / prior_revenue (4 places, capped as above); NULL with no prior revenue.
#
# How: one INSERT … SELECT per range of customer ids (or per list of targets), in one pass over
# each customer's order lines (see the lines CTE). Tickets and orders are read once. Customers
# come from customers_customer, so a customer with no order or ticket still gets a row.

# What the stage holds besides the metrics: the dates the day counts count from, and when the
# metrics next change with no new data. Each is its SQL over a `joined` row of the statement.
FACTS = {
    "first_order_at": "first_order_at",
    "last_order_at": "last_order_at",
    "tenure_start": TENURE_START,
    "next_change_on": "next_change_on",
}
# The stage's columns, in the order the statement writes them (each SELECT item is aliased).
STAGE_COLUMNS = ["run_id", "customer_id", "as_of", *METRICS, *FACTS]
# The columns a run carries per customer from the stage to CustomerMetrics (the run's as_of first).
RUN_COLUMNS = STAGE_COLUMNS[2:]

# PostgreSQL: ONE pass over the customer's order lines, all time, in the covering index's
# (customer, placed_at) order (an index-only scan, no sort): lag() gives each line the previous
# line's time, for the day gaps and for counting months (a line opens a month of the window when
# the previous line is outside the window or in another month: lines come in time order); the
# window's sums are FILTERed aggregates of the same rows, grouped as they stream by. Products
# are looked up in two arrays indexed by product id (category rank, launched in the window),
# built once per statement: a join to products would lose the index order and cost a sort of
# every line (measured per 250,000 customers: 5.7 s for the two passes, see docs/retier.md).
_LINES = """
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
    -- all time, lines dated after as_of included (only to know when the first of them enters);
    -- w: in the window, past: up to as_of (lifetime), prior: the 12 months before the window
    SELECT l.customer_id, l.placed_at, l.amount, l.cost, l.product_id,
           l.placed_at >= %(start)s AND l.placed_at < %(end)s AS w, l.placed_at < %(end)s AS past,
           l.placed_at >= %(prior_start)s AND l.placed_at < %(start)s AS prior,
           LAG(l.placed_at) OVER (PARTITION BY l.customer_id ORDER BY l.placed_at) AS prev_at
    FROM customers_orderline l
    WHERE {lines_in_scope}
),
history AS (
    SELECT x.customer_id, MIN(x.placed_at) FILTER (WHERE x.past) AS first_order_at,
           MAX(x.placed_at) FILTER (WHERE x.past) AS last_order_at,
           round(CAST(percentile_cont(0.5) WITHIN GROUP (ORDER BY NULLIF(
               (x.placed_at AT TIME ZONE 'UTC')::date - (x.prev_at AT TIME ZONE 'UTC')::date, 0))
               FILTER (WHERE x.past) AS numeric), 1) AS median_gap,
           SUM(x.amount) FILTER (WHERE x.w) AS revenue, SUM(COALESCE(x.cost, 0)) FILTER (WHERE x.w) AS cost,
           SUM(x.amount) FILTER (WHERE x.past) AS lifetime_revenue,
           SUM(COALESCE(x.cost, 0)) FILTER (WHERE x.past) AS lifetime_cost,
           SUM(x.amount) FILTER (WHERE x.prior) AS prior_revenue,
           MIN(x.placed_at) FILTER (WHERE x.prior) AS first_in_prior,
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
    -- orders in the window and all time, from the orders' own (customer, placed_at) index; lines
    -- carry their order's placed_at, so these are exactly the orders of the window's lines. Orders
    -- dated after as_of are read only for the date the first of them enters the window.
    SELECT o.customer_id, COUNT(*) FILTER (WHERE o.placed_at >= %(start)s AND o.placed_at < %(end)s) AS orders,
           COUNT(*) FILTER (WHERE o.placed_at < %(end)s) AS lifetime_orders,
           MIN(o.placed_at) FILTER (WHERE o.placed_at >= %(start)s AND o.placed_at < %(end)s) AS first_in_window,
           MIN(o.placed_at) FILTER (WHERE o.placed_at >= %(end)s) AS first_after
    FROM customers_order o
    WHERE {orders_in_scope}
    GROUP BY o.customer_id
),
tickets AS (
    SELECT t.customer_id, SUM(t.compensation) FILTER (WHERE (t.opened_at >= %(start)s AND t.opened_at < %(end)s)) AS compensation,
           SUM(t.compensation) FILTER (WHERE t.opened_at < %(end)s) AS lifetime_compensation,
           COUNT(*) FILTER (WHERE (t.opened_at >= %(start)s AND t.opened_at < %(end)s) AND t.kind = 'complaint') AS complaints,
           COUNT(*) FILTER (WHERE (t.opened_at >= %(start)s AND t.opened_at < %(end)s) AND t.kind = 'complaint' AND t.outcome = 'rejected') AS rejected,
           MIN(t.opened_at) FILTER (WHERE (t.opened_at >= %(start)s AND t.opened_at < %(end)s)) AS first_in_window,
           MIN(t.opened_at) FILTER (WHERE t.opened_at >= %(end)s) AS first_after
    FROM customers_ticket t
    WHERE {tickets_in_scope}
    GROUP BY t.customer_id
),
joined AS (
    SELECT c.id AS customer_id, c.signed_up_on,
           round(COALESCE(b.revenue, 0), 2) AS revenue, round(COALESCE(b.cost, 0), 2) AS cost,
           round(COALESCE(t.compensation, 0), 2) AS compensation,
           round(COALESCE(b.lifetime_revenue, 0), 2) AS lifetime_revenue,
           round(COALESCE(b.lifetime_cost, 0), 2) AS lifetime_cost,
           round(COALESCE(t.lifetime_compensation, 0), 2) AS lifetime_compensation,
           COALESCE(o.lifetime_orders, 0) AS lifetime_orders, round(COALESCE(b.prior_revenue, 0), 2) AS prior_revenue,
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
    WHERE {customers_in_scope}
)
SELECT {columns}
FROM joined
"""


# --- The day counts, derived where they are read -----------------------------------------------
#
# tenure_days and days_since_last_order grow by one every day for everyone, so CustomerMetrics
# stores the dates they count from (tenure_start, last_order_at) and readers count to the as-of
# date of the run in force. The stage still holds the counts themselves (the rules run over it).

# The as-of date of the run whose results CustomerMetrics holds: the newest real run that
# succeeded (RetierRun.objects.in_force(); a row no run wrote, e.g. in a test, counts to its own
# changed_as_of).
CURRENT_AS_OF_SQL = (
    "(SELECT r.as_of FROM tiering_retierrun r WHERE r.status = 'succeeded' AND NOT r.dry_run"
    " ORDER BY r.started_at DESC, r.id DESC LIMIT 1)"
)


def _day(column: str) -> str:
    """The UTC calendar day of a timestamp column."""
    return sql.compose("(({column}) AT TIME ZONE 'UTC')::date", column=column)


def derived_days_sql(name: str, *, alias: str = "m", as_of: str | None = None) -> str:
    """SQL for a derived day count of CustomerMetrics row `alias` as of the SQL date `as_of`
    (default: the run in force, else the row's own changed_as_of). Same values as the stage's."""
    own = sql.column(alias, "changed_as_of")
    as_of = as_of or sql.compose("COALESCE({in_force}, {own})", in_force=CURRENT_AS_OF_SQL, own=own)
    if name == "days_since_last_order":
        return sql.compose("(({as_of}) - ({day}))", as_of=as_of, day=_day(sql.column(alias, "last_order_at")))
    if name == "tenure_days":
        start = sql.column(alias, "tenure_start")
        return sql.compose("COALESCE(GREATEST(0, (({as_of}) - ({start}))), 0)", as_of=as_of, start=start)
    raise ValueError(f"{name} is stored, not derived")


def date_param_sql(param: str = "as_of") -> str:
    """The named query parameter `param` read as a date."""
    return sql.compose("CAST({param} AS date)", param=sql.placeholder(param))


def metric_sql(name: str, *, alias: str = "m", as_of: str | None = None) -> str:
    """A metric of CustomerMetrics row `alias` in SQL: its column, or the derived day count."""
    if METRICS[name].derived:
        return derived_days_sql(name, alias=alias, as_of=as_of)
    return sql.column(alias, name)


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


# Distinct categories and new products of the window's lines. COUNT(DISTINCT) sorts every
# customer's values apart (0.3 s of 1.0 s for 10,000 customers); when the categories, or the
# products new in the window, are 48 or fewer, each is a bit of a bigint and one bit_or counts
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


def _stage_row_sql() -> str:
    """The statement's SELECT list: one aliased item per stage column, from the catalogue."""
    values = {"run_id": sql.placeholder("run_id"), "customer_id": "customer_id", "as_of": sql.placeholder("as_of")}
    values |= {name: m.sql for name, m in METRICS.items()} | FACTS
    items = (sql.compose("{value} AS {name}", value=values[c], name=sql.name(c)) for c in STAGE_COLUMNS)
    return sql.join(",\n       ", items)


def metrics_select_sql(*, targets: str | None = None, as_of: dt.date | None = None) -> str:
    """The SELECT producing one stage row per customer, columns in STAGE_COLUMNS order: of the
    customers with lo <= id <= hi, or (`targets`) of those a SELECT of customer ids names.
    With `as_of`, distinct counts that fit take the bitmask road (_distinct_counts_sql)."""
    distinct = _distinct_counts_sql(as_of)
    lines = sql.compose(
        _LINES,
        leave_launch=_leave_sql("launched_on"),
        lines_in_scope=_in_scope("l.customer_id", targets),
        categories=distinct["categories"],
        new_products=distinct["new_products"],
    )
    return sql.compose(
        _METRICS_SQL,
        targets=sql.compose("targets AS MATERIALIZED ({targets}),\n", targets=targets) if targets else "",
        lines=lines,
        orders_in_scope=_in_scope("o.customer_id", targets),
        tickets_in_scope=_in_scope("t.customer_id", targets),
        customers_in_scope=_in_scope("c.id", targets),
        first_day=_day("h.first_order_at"),
        last_day=_day("h.last_order_at"),
        next_change=_next_change_sql(),
        columns=_stage_row_sql(),
    )


def _in_scope(column: str, targets: str | None) -> str:
    """Whether `column` is a customer the statement computes. Targets as an array: one index
    descent per customer, in index order (no sort for the window functions), whatever the planner
    guesses of the targets' count. As `IN (SELECT …)` it once picked a merge join over the whole
    10M-line index (2.3 s instead of 0.1 s)."""
    if targets:
        return sql.compose("{column} = ANY(ARRAY(SELECT customer_id FROM targets))", column=column)
    return sql.compose("{column} BETWEEN %(lo)s AND %(hi)s", column=column)


def _leave_sql(day: str, months: int = DEFAULT_WINDOW_MONTHS) -> str:
    """The first as-of date whose window no longer holds the date `day`.

    The window of D starts the day after D - months (clamped to the month's end, as window()
    does), so it is D = day + months, or the day after that when the addition was clamped
    (2024-02-29 + 12 months = 2025-02-28, whose window still starts on 2024-02-29)."""
    interval = sql.literal(f"{months} months")
    later = sql.compose("CAST(({day}) + interval {months} AS date)", day=day, months=interval)
    return sql.compose(
        "(CASE WHEN {later} - interval {months} < ({day}) THEN {later} + 1 ELSE {later} END)",
        later=later,
        months=interval,
        day=day,
    )


def _next_change_sql() -> str:
    """The first as-of date after this one on which the customer's metrics change with no new
    data: the earliest line, order or ticket in the window leaves it, the earliest one dated after
    as_of enters it, or a product bought in the window starts or stops counting as new. Until
    then a run may keep the stored metrics (the day counts are derived from dates)."""
    candidates = [_leave_sql(_day("h.first_in_window")), _day("h.first_after"), "h.product_change"]
    candidates.append(_leave_sql(_day("h.first_in_prior"), PRIOR_MONTHS))  # leaves the year before the window
    for alias in ("o", "t"):
        candidates += [_leave_sql(_day(sql.column(alias, "first_in_window"))), _day(sql.column(alias, "first_after"))]
    return sql.compose("LEAST({candidates})", candidates=sql.join(", ", candidates))


def metrics_params(*, run_id: int, as_of: dt.date, lo: int, hi: int) -> dict:
    start, end = window(as_of)
    prior_start = window(as_of, PRIOR_MONTHS)[0]
    return {
        "run_id": run_id, "as_of": as_of, "start_day": start.date(), "start": start, "end": end,
        "prior_start": prior_start, "lo": lo, "hi": hi,
    }  # fmt: skip


def compute_metrics_range(*, run_id: int, as_of: dt.date, lo: int, hi: int) -> int:
    """Stage the metrics of customers with lo <= id <= hi for run `run_id`; returns the row count.

    One INSERT … SELECT: order lines are read by the covering index (customer, placed_at), tickets
    by theirs. JIT is off for the statement: it costs about a second and buys nothing here.
    """
    return _stage(metrics_select_sql(as_of=as_of), metrics_params(run_id=run_id, as_of=as_of, lo=lo, hi=hi))


def compute_metrics_of(*, run_id: int, as_of: dt.date, targets: str) -> int:
    """Stage the metrics of the customers whose ids the SELECT `targets` gives (it may use the
    metrics parameters, e.g. %(run_id)s and %(as_of)s); returns the row count. Each customer's
    lines are read by the covering index, so the cost follows the targets, not the table."""
    return _stage(
        metrics_select_sql(targets=targets, as_of=as_of), metrics_params(run_id=run_id, as_of=as_of, lo=0, hi=0)
    )


def _stage(select: str, params: dict) -> int:
    statement = sql.compose(
        "INSERT INTO tiering_metricsstage ({columns}) {select}",
        columns=sql.join(", ", map(sql.name, STAGE_COLUMNS)),
        select=select,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        sql.set_local(cursor, jit="off", work_mem="64MB")  # the window's sorts stay in memory
        cursor.execute(statement, params)
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
