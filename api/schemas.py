"""The API's response shapes: the OpenAPI schema is generated from these."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import BeforeValidator, Field


def _iso_text(value: Any) -> Any:
    """Dates and times in query strings as ISO 8601 text only: a bare number is not a date."""
    if (
        not isinstance(value, str | dt.date)
        or (isinstance(value, str) and not value[:4].isdigit())
        or (isinstance(value, str) and len(value) < 10)
    ):
        raise ValueError("expected an ISO 8601 date, e.g. 2026-11-20 (or date and time, 2026-11-20T02:00:00Z)")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_text)]
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_text)]
Stage = Literal["new", "active", "at_risk", "lapsed", "lost", "won_back"]
Level = Literal[1, 2, 3]


class Error(Schema):
    detail: Any = Field(description="Why the call was refused.")


class Metrics(Schema):
    """The 12-month window ending at the run's as-of date, then lifetime figures and dates."""

    revenue: Decimal
    cost: Decimal
    compensation: Decimal
    net_margin: Decimal
    orders: int
    active_months: int
    categories: int
    new_products: int
    complaints: int
    rejected_complaints: int
    compensation_share: Decimal
    median_gap_days: Decimal | None
    prior_revenue: Decimal = Field(description="Revenue in the 12 months before the window.")
    revenue_growth: Decimal | None
    lifetime_revenue: Decimal
    lifetime_net_margin: Decimal
    lifetime_orders: int
    first_order_at: dt.datetime | None
    last_order_at: dt.datetime | None
    tenure_start: dt.date | None
    days_since_last_order: int | None = Field(description="Counted to metrics_as_of.")


class Customer(Schema):
    id: int
    external_id: str
    name: str
    email: str
    company: str
    account_manager: str | None = Field(description="Username of the account manager.")
    tier: Level
    tier_since: dt.datetime | None
    changed_as_of: dt.date = Field(description="As-of date of the last run that changed this customer's record.")
    lifecycle_stage: Stage | None = Field(description="Empty until a first scoring, and for a customer with no order.")
    churn_risk: float | None = Field(description="P(no purchase in the policy's horizon), 0 to 1.")
    churn_risk_as_of: dt.date | None
    metrics: Metrics


class CustomerPage(Schema):
    items: list[Customer]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    metrics_as_of: dt.date | None = Field(description="As-of date of the run in force.")


class TierChange(Schema):
    id: int
    customer_id: int
    external_id: str
    run_id: int
    run_as_of: dt.date
    from_tier: Level | None = Field(description="Null for a customer's first tier.")
    to_tier: Level
    changed_at: dt.datetime
    why: dict[str, Any] = Field(description="The conditions that held and failed, with the values.")


class TierChangePage(Schema):
    items: list[TierChange]
    next_cursor: str | None


class FollowUp(Schema):
    id: int
    customer_id: int
    external_id: str
    kind: str
    priority: str
    tier: int
    status: str
    assignee: str | None
    due_on: dt.date
    lapse_detected_on: dt.date
    last_order_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    cause_category: str
    cause_product: str | None = Field(description="SKU of the product named as the cause.")
    cause_text: str


class FollowUpPage(Schema):
    items: list[FollowUp]
    next_cursor: str | None


class Promotion(Schema):
    id: int
    name: str
    starts_on: dt.date
    ends_on: dt.date
    tiers: list[int]
    lifecycle_stage: str


class Target(Schema):
    id: int
    external_id: str
    name: str
    email: str
    tier: Level
    lifecycle_stage: Stage | None
    churn_risk: float | None


class TargetPage(Schema):
    items: list[Target]
    next_cursor: str | None
    export_log_id: int = Field(description="The export-log entry this pull adds to (as a CSV export is logged).")
