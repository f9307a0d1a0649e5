"""The customer metrics that rules may test, pages may show and the nightly run computes.

Every name here is a column of `CustomerMetrics`. `kind` says how to read and show the value:
money (Decimal, 2 places), count (int), days (int or None when there is no order), ratio
(Decimal share, 0.25 = 25%).
"""

from dataclasses import dataclass


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
        Metric("compensation", "Compensation", "money", "Discounts, refunds, credits and free goods given on tickets in the window."),
        Metric("net_margin", "Net margin", "money", "Revenue − cost − compensation in the window."),
        Metric("orders", "Orders", "count", "Distinct orders placed in the window."),
        Metric("active_months", "Months with an order", "count", "Calendar months in the window with at least one order."),
        Metric("tenure_days", "Tenure (days)", "days", "Days from the first order ever (or sign-up, if earlier) to the as-of date."),
        Metric("days_since_last_order", "Days since last order", "days", "Days from the last order ever to the as-of date; empty with no order."),
        Metric("median_gap_days", "Typical gap (days)", "days", "Median days between consecutive orders, all time; empty with fewer than two orders."),
        Metric("categories", "Categories bought", "count", "Distinct product categories bought in the window."),
        Metric("new_products", "New products bought", "count", "Distinct products bought in the window that launched within the window."),
        Metric("complaints", "Complaints", "count", "Complaint tickets opened in the window."),
        Metric("rejected_complaints", "Rejected complaints", "count", "Complaints in the window found unfounded (outcome rejected)."),
        Metric("compensation_share", "Compensation share", "ratio", "Compensation ÷ revenue in the window (0 with no revenue and no compensation; 1 with compensation but no revenue)."),
    ]
}

DEFAULT_WINDOW_MONTHS = 12
