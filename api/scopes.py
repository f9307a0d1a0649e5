"""What a machine client's token may read, and which webhook events exist: plain values, no ORM."""

READ_CUSTOMERS = "read:customers"
READ_CHANGES = "read:changes"
READ_FOLLOWUPS = "read:followups"
READ_TARGETS = "read:targets"

SCOPES: dict[str, str] = {
    READ_CUSTOMERS: "customers with tier, lifecycle stage, churn risk and 12-month metrics",
    READ_CHANGES: "the tier-change feed (run, from, to, why)",
    READ_FOLLOWUPS: "churn follow-ups",
    READ_TARGETS: "saved promotions and their targets (logged as exports)",
}
SCOPE_CHOICES = [(scope, f"{scope} — {text}") for scope, text in SCOPES.items()]

TIER_CHANGED = "tier.changed"
LAPSE_DETECTED = "lapse.detected"
FOLLOWUP_CLOSED = "followup.closed"

EVENTS: dict[str, str] = {
    TIER_CHANGED: "customers who moved tier in a night's run, in batches",
    LAPSE_DETECTED: "customers a run found lapsed, in batches",
    FOLLOWUP_CLOSED: "follow-ups closed by a person or by the customer's return",
}
EVENT_CHOICES = [(event, f"{event} — {text}") for event, text in EVENTS.items()]


def unknown(values: list[str], known: dict[str, str]) -> list[str]:
    """The values that are not keys of `known`, in their order."""
    return [value for value in values if value not in known]
