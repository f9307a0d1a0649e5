"""The metric catalogue: every metric's one home, and the comparisons rules may make on it.

Pure values, no Django: `tiering.metrics` builds the nightly SQL from these definitions,
`tiering.rules` / `tiering.rule_checks` type and check conditions with them, and the models take
their choices from them. Adding a metric is one `Metric` here plus a migration adding its columns
to `CustomerMetrics` and `MetricsStage`.

`kind` says how to read and show a value: money (Decimal, 2 places), count (int), days (int, or
None when there is no order), ratio (Decimal share, 0.25 = 25%).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Literal

Kind = Literal["money", "count", "days", "ratio"]

# SQL over one row of the metrics query's `joined` CTE (tiering.metrics), with the run's as-of
# date as the %(as_of)s parameter. Shared by two metrics' SQL and the stage's tenure_start.
AS_OF_DATE = "CAST(%(as_of)s AS date)"
TENURE_START = "LEAST(COALESCE(signed_up_on, first_day), COALESCE(first_day, signed_up_on))"


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    kind: Kind
    help: str
    sql: str  # its value in the metrics query, over a `joined` row
    whole: bool  # stored and compared as a whole number (an integer column)
    negative: bool = False  # can be below zero
    derived: bool = False  # a day count that grows daily: not stored, counted where read
    most: int | None = None  # the highest value it can take, when the definition bounds it


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("revenue", "Revenue", "money", "Total charged on order lines in the window.", "revenue", whole=False),
        Metric("cost", "Cost", "money", "Total cost to the business of those lines.", "cost", whole=False),
        Metric(
            "compensation",
            "Compensation",
            "money",
            "Discounts, refunds, credits and free goods given on tickets in the window.",
            "compensation",
            whole=False,
        ),
        Metric(
            "net_margin",
            "Net margin",
            "money",
            "Revenue − cost − compensation in the window.",
            "round(revenue - cost - compensation, 2)",
            whole=False,
            negative=True,
        ),
        Metric("orders", "Orders", "count", "Distinct orders placed in the window.", "orders", whole=True),
        Metric(
            "active_months",
            "Months with an order",
            "count",
            "Calendar months in the window with at least one order.",
            "active_months",
            whole=True,
            most=13,  # a 12-month window ending mid-month touches 13 calendar months
        ),
        Metric(
            "tenure_days",
            "Tenure (days)",
            "days",
            "Days from the first order ever (or sign-up, if earlier) to the as-of date.",
            f"COALESCE(GREATEST(0, (({AS_OF_DATE}) - ({TENURE_START}))), 0)",
            whole=True,
            derived=True,
        ),
        Metric(
            "days_since_last_order",
            "Days since last order",
            "days",
            "Days from the last order ever to the as-of date; empty with no order.",
            f"(({AS_OF_DATE}) - (last_day))",
            whole=True,
            derived=True,
        ),
        Metric(
            "median_gap_days",
            "Typical gap (days)",
            "days",
            "Median days between consecutive orders, all time; empty with fewer than two orders.",
            "median_gap",
            whole=False,  # a median of gaps can fall between two days (12.5)
        ),
        Metric(
            "categories",
            "Categories bought",
            "count",
            "Distinct product categories bought in the window.",
            "categories",
            whole=True,
        ),
        Metric(
            "new_products",
            "New products bought",
            "count",
            "Distinct products bought in the window that launched within the window.",
            "new_products",
            whole=True,
        ),
        Metric(
            "complaints", "Complaints", "count", "Complaint tickets opened in the window.", "complaints", whole=True
        ),
        Metric(
            "rejected_complaints",
            "Rejected complaints",
            "count",
            "Complaints in the window found unfounded (outcome rejected).",
            "rejected",
            whole=True,
        ),
        Metric(
            "compensation_share",
            "Compensation share",
            "ratio",
            "Compensation ÷ revenue in the window (0 with no revenue and no compensation; 1 with compensation but no revenue).",
            "CASE WHEN revenue > 0 THEN LEAST(round(compensation / revenue, 4), 999999)"
            " WHEN compensation > 0 THEN 1 ELSE 0 END",
            whole=False,
        ),
        # all time (everything up to as_of's end) and the 12 months before the window
        Metric(
            "lifetime_revenue",
            "Lifetime revenue",
            "money",
            "Total charged on order lines, all time up to the as-of date.",
            "lifetime_revenue",
            whole=False,
        ),
        Metric(
            "lifetime_net_margin",
            "Lifetime net margin",
            "money",
            "Revenue − cost − compensation, all time up to the as-of date.",
            "round(lifetime_revenue - lifetime_cost - lifetime_compensation, 2)",
            whole=False,
            negative=True,
        ),
        Metric(
            "lifetime_orders",
            "Lifetime orders",
            "count",
            "Distinct orders placed, all time up to the as-of date.",
            "lifetime_orders",
            whole=True,
        ),
        Metric(
            "prior_revenue",
            "Revenue, year before",
            "money",
            "Total charged on order lines in the 12 months before the window.",
            "prior_revenue",
            whole=False,
        ),
        Metric(
            "revenue_growth",
            "Spend growth",
            "ratio",
            "Revenue in the window ÷ revenue in the 12 months before it (1.5 = half as much again);"
            " empty with no revenue the year before.",
            "CASE WHEN prior_revenue > 0 THEN LEAST(round(revenue / prior_revenue, 4), 999999) END",
            whole=False,
        ),
    ]
}

# Metrics stored as whole numbers: rules compare them with whole thresholds (an integer-to-numeric
# cast on every row made a scan of a million rows about twice as slow).
INTEGER_METRICS = frozenset(name for name, m in METRICS.items() if m.whole)
DERIVED_DAYS = tuple(name for name, m in METRICS.items() if m.derived)
METRIC_CHOICES = [(m.name, m.label) for m in METRICS.values()]


@dataclass(frozen=True)
class Operator:
    sql: str
    symbol: str  # as people read it
    holds: Callable[[Decimal, Decimal], bool]


# The comparisons a condition may make: the model's choices, the rules (Python and SQL), the
# checks and the why all read this table.
OPERATORS: dict[str, Operator] = {
    "gt": Operator(">", ">", operator.gt),
    "gte": Operator(">=", "≥", operator.ge),
    "lt": Operator("<", "<", operator.lt),
    "lte": Operator("<=", "≤", operator.le),
    "eq": Operator("=", "=", operator.eq),
    "ne": Operator("<>", "≠", operator.ne),
}
OPERATOR_CHOICES = [(op, o.symbol) for op, o in OPERATORS.items()]


@dataclass(frozen=True)
class Population:
    """Whom a relative threshold's percentile is taken over: the customers whose metrics meet
    every (metric, op, value) of `where`."""

    label: str
    where: tuple[tuple[str, str, Decimal], ...] = ()


POPULATIONS: dict[str, Population] = {
    "everyone": Population("all customers"),
    "buyers": Population("customers with an order in the window", (("orders", "gte", Decimal(1)),)),
    "repeat": Population("customers with 2+ orders in the window", (("orders", "gte", Decimal(2)),)),
}
POPULATION_CHOICES = [(key, p.label) for key, p in POPULATIONS.items()]
# A percentile p needs enough customers for the share above it to hold one: n × (1 − p) ≥ 1
# (the 98th percentile of 40 customers would be the top customer alone, not the top 2%), and never
# fewer than MIN_ELIGIBLE. Below that a relative condition compares with its floor alone, and the
# why says so.
MIN_ELIGIBLE = 10


def min_eligible(percentile: Decimal) -> int:
    """The fewest eligible customers a cut at `percentile` (0-100) is taken over."""
    above = (100 - Decimal(percentile)) / 100  # the share above the cut
    return max(MIN_ELIGIBLE, int((1 / above).to_integral_value(rounding=ROUND_CEILING)) if above > 0 else 10**9)


def plain(d: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: Decimal('5000.0000') -> '5000'."""
    text = f"{d:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_currency = {"symbol": "€"}


def set_currency(symbol: str) -> None:
    """The sign money is written with (settings.TIERBOARD_CURRENCY_SYMBOL; set when the app starts)."""
    _currency["symbol"] = symbol


def currency() -> str:
    return _currency["symbol"]


def format_value(metric: str, value: object) -> str:
    """A metric value as people read it: €5,000 / 12.5% / 730 days; "no value" for None."""
    if value is None:
        return "no value"
    d = Decimal(str(value))
    kind = METRICS[metric].kind if metric in METRICS else "count"
    if kind == "ratio":
        return f"{plain(d * 100)}%"
    if kind == "money":
        sign = "\u2212" if d < 0 else ""
        return f"{sign}{currency()}{abs(d):,.2f}".removesuffix(".00")
    text = f"{d:,f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return f"{text} days" if kind == "days" else text
