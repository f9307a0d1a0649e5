"""Lifecycle stage beside the tier, stored with each customer's churn risk (docs/churn-risk.md).

Decided in this order, the first that holds wins, as of the scoring date A, with the churn
policy's lapse threshold T = max(min_days, gap_multiple × the customer's median gap between order
days) (min_days alone for a single order day) and H its horizon:

- ""        no order yet;
- lost      closed as lost on the queue with no order since that lapse's last order, or silent for
            more than 2 × T: it stays so until they buy again (both hold until then);
- lapsed    silent for more than T (the lapse rule);
- new       a single order day, not lapsed;
- won_back  ordered again after a recorded lapse, the return seen within the last H days: by the
            as-of date of the run that saw it (`Lapse.returned_on`), not when that run executed
            (`returned_at`), so a replayed or backfilled history dates it as the nights would have;
- at_risk   churn risk at or above the policy's risk threshold;
- active    everyone else.
"""

# The stages as (value, label), the model's and the promotion filter's choices (pure: importable
# where the churn app's models are not).
STAGES = [
    ("new", "new"),
    ("active", "active"),
    ("at_risk", "at risk"),
    ("lapsed", "lapsed"),
    ("lost", "lost"),
    ("won_back", "won back"),
]

THRESHOLD = """CASE WHEN s.median_gap IS NOT NULL AND %(gap_multiple)s * s.median_gap > %(min_days)s
                THEN %(gap_multiple)s * s.median_gap ELSE %(min_days)s END"""

STAGE_SQL = f"""CASE
    WHEN s.occasions = 0 THEN ''
    WHEN EXISTS (SELECT 1 FROM churn_followup f JOIN churn_lapse l ON l.id = f.lapse_id
                 WHERE f.customer_id = s.customer_id AND f.status = 'lost'
                   AND (l.last_order_at AT TIME ZONE 'UTC')::date >= s.last_day)
      OR %(as_of)s - s.last_day > 2 * {THRESHOLD} THEN 'lost'
    WHEN %(as_of)s - s.last_day > {THRESHOLD} THEN 'lapsed'
    WHEN s.occasions = 1 THEN 'new'
    WHEN EXISTS (SELECT 1 FROM churn_lapse l WHERE l.customer_id = s.customer_id
                   AND l.returned_on >= %(as_of)s - %(horizon)s AND l.returned_on <= %(as_of)s) THEN 'won_back'
    WHEN s.risk >= %(risk_threshold)s THEN 'at_risk'
    ELSE 'active'
END"""


def stage_params(policy) -> dict:
    return {
        "min_days": policy.min_days,
        "gap_multiple": float(policy.gap_multiple),
        "risk_threshold": policy.risk_threshold,
        "horizon": policy.horizon_days,
    }
