"""Churn-risk features of every customer as of a cut-off date: one set-based statement per cut-off.

A customer's features as of day C read only what happened up to the end of C (order lines placed
before C + 1 day 00:00 UTC, tickets opened before then). The label of a training row is "no order
line in the `horizon` days after C". Nothing else in this module looks past C, which is what keeps
the model from learning the future (tests/churn/test_risk_model.py plants future orders to check).

`design_matrix()` turns the raw columns into the model's features, the same for training and
scoring: counts and money log-transformed, the customer's own rhythm (median gap between order
days, silence ÷ median gap), the trend of the last period against the one before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from tiering import sql

# Raw columns of a row, after the customer id (and before the label when there is one).
RAW = ["occasions", "spend", "recency", "tenure", "median_gap", "recent", "before", "tickets", "complaints"]

_FEATURES_SQL = """
WITH days AS (
    SELECT l.customer_id, (l.placed_at AT TIME ZONE 'UTC')::date AS d, SUM(l.amount) AS amount
    FROM customers_orderline l
    WHERE l.placed_at < %(end)s AND {line_sample}
    GROUP BY 1, 2
), gaps AS (
    SELECT customer_id, d, amount, d - LAG(d) OVER (PARTITION BY customer_id ORDER BY d) AS gap FROM days
), per AS (
    SELECT customer_id, COUNT(*) AS occasions, SUM(amount) AS spend, MIN(d) AS first_day, MAX(d) AS last_day,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap,
           COUNT(*) FILTER (WHERE d > %(cut_off)s - %(period)s) AS recent,
           COUNT(*) FILTER (WHERE d > %(cut_off)s - 2 * %(period)s AND d <= %(cut_off)s - %(period)s) AS before
    FROM gaps GROUP BY 1
), tk AS (
    SELECT t.customer_id, COUNT(*) AS tickets, COUNT(*) FILTER (WHERE t.kind = 'complaint') AS complaints
    FROM customers_ticket t
    WHERE t.opened_at < %(end)s AND t.opened_at >= %(end)s - interval '365 days' AND {ticket_sample}
    GROUP BY 1
)
SELECT c.id, COALESCE(p.occasions, 0), COALESCE(p.spend, 0)::float8, %(cut_off)s - p.last_day,
       GREATEST(0, %(cut_off)s - LEAST(COALESCE(c.signed_up_on, p.first_day), COALESCE(p.first_day, c.signed_up_on))),
       p.median_gap, COALESCE(p.recent, 0), COALESCE(p.before, 0), COALESCE(tk.tickets, 0),
       COALESCE(tk.complaints, 0){label}
FROM customers_customer c
LEFT JOIN per p ON p.customer_id = c.id
LEFT JOIN tk ON tk.customer_id = c.id
WHERE {population} AND {customer_sample}
"""

_LABEL = """,
       NOT EXISTS (SELECT 1 FROM customers_orderline f
                   WHERE f.customer_id = c.id AND f.placed_at >= %(end)s AND f.placed_at < %(label_end)s)"""

# Who a cut-off's rows are about: who had bought or signed up by then (training, the backtest),
# or every customer (nightly scoring: every customer gets a risk).
BOUGHT_OR_SIGNED_UP = "(p.customer_id IS NOT NULL OR c.signed_up_on <= %(cut_off)s)"
BOUGHT = "p.customer_id IS NOT NULL"
EVERYONE = "TRUE"


def _sample(column: str) -> str:
    # A fixed pseudo-random share of customers (per 10,000), the same at every cut-off.
    return sql.compose("mod(abs(hashint8({column}::bigint)), 10000) < %(sample)s", column=column)


def features_sql(*, labelled: bool, population: str = BOUGHT_OR_SIGNED_UP, sampled: bool = False) -> str:
    return sql.compose(
        _FEATURES_SQL,
        label=_LABEL if labelled else "",
        population=population,
        line_sample=_sample("l.customer_id") if sampled else "TRUE",
        ticket_sample=_sample("t.customer_id") if sampled else "TRUE",
        customer_sample=_sample("c.id") if sampled else "TRUE",
    )


def features_params(*, cut_off: dt.date, horizon_days: int, period_days: int, sample: int = 10000) -> dict:
    end = dt.datetime.combine(cut_off + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return {
        "cut_off": cut_off,
        "end": end,
        "label_end": end + dt.timedelta(days=horizon_days),
        "period": period_days,
        "sample": sample,
    }


FEATURES = [
    "log_recency",
    "log_frequency",
    "log_avg_spend",
    "log_tenure",
    "log_rate",
    "one_time",
    "never_bought",
    "log_median_gap",
    "log_silence_per_gap",
    "trend",
    "log_recent",
    "log_tickets",
    "log_complaints",
]

LABELS = {
    "log_recency": "days since last order",
    "log_frequency": "order days",
    "log_avg_spend": "spend per order day",
    "log_tenure": "tenure",
    "log_rate": "order days a year",
    "one_time": "a single order day",
    "never_bought": "no order yet",
    "log_median_gap": "usual gap between orders",
    "log_silence_per_gap": "silence ÷ usual gap",
    "trend": "last period vs the one before",
    "log_recent": "order days in the last period",
    "log_tickets": "tickets in 12 months",
    "log_complaints": "complaints in 12 months",
}


@dataclass
class Rows:
    ids: np.ndarray
    raw: np.ndarray  # float, one column per RAW name, NaN where SQL gave NULL
    labels: np.ndarray | None


def rows_from(records: list[tuple], *, labelled: bool) -> Rows:
    width = len(RAW)
    ids = np.fromiter((r[0] for r in records), dtype=np.int64, count=len(records))
    raw = np.array([[np.nan if v is None else float(v) for v in r[1 : width + 1]] for r in records], dtype=float)
    raw = raw.reshape(len(records), width)
    labels = np.array([bool(r[width + 1]) for r in records], dtype=bool) if labelled else None
    return Rows(ids=ids, raw=raw, labels=labels)


def design_matrix(raw: np.ndarray) -> np.ndarray:
    """The model's features (FEATURES order) from the raw columns (RAW order)."""
    col = {name: raw[:, i] for i, name in enumerate(RAW)}
    occasions, tenure = col["occasions"], np.nan_to_num(col["tenure"])
    never = occasions == 0
    recency = np.where(never, tenure, np.nan_to_num(col["recency"]))
    gap = col["median_gap"]
    has_gap = ~np.isnan(gap)
    safe_gap = np.where(has_gap, np.maximum(np.nan_to_num(gap), 1.0), 1.0)
    per_day = np.divide(col["spend"], occasions, out=np.zeros_like(occasions), where=~never)
    return np.column_stack(
        [
            np.log1p(recency),
            np.log1p(occasions),
            np.log1p(np.maximum(per_day, 0)),
            np.log1p(tenure),
            np.log1p(365.0 * occasions / np.maximum(tenure, 30.0)),
            (occasions == 1).astype(float),
            never.astype(float),
            np.where(has_gap, np.log1p(safe_gap), 0.0),
            np.where(has_gap, np.log1p(recency / safe_gap), 0.0),
            np.log1p(col["recent"]) - np.log1p(col["before"]),
            np.log1p(col["recent"]),
            np.log1p(col["tickets"]),
            np.log1p(col["complaints"]),
        ]
    )
