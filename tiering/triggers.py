"""The triggers on the metrics: a deleted row marks its customer for the next run (migration 0008,
with customers' function), and TierCount's counts and sums follow every write (migration 0026, which
replaced 0010's counting function and holds the four triggers' SQL). The rules: a rule
set that has been in force, its groups and conditions refuse changes (migration 0013)."""

from core.triggers import Trigger

METRICS = "tiering_customermetrics"

TRIGGERS = (
    *(
        Trigger(f"{METRICS}_mark_{event}", METRICS, "customers_mark_rows", ("tiering", "0008_incremental_metrics"))
        for event in ("delete", "truncate")
    ),
    *(
        Trigger(f"tiering_count_{event}", METRICS, "tiering_count_tiers", ("tiering", "0026_totals10_tier_sums"))
        for event in ("insert", "update", "delete", "truncate")
    ),
    *(
        Trigger(f"{table}_frozen", table, f"{table}_frozen", ("tiering", "0013_published_rules_frozen"))
        for table in ("tiering_ruleset", "tiering_rulegroup", "tiering_condition")
    ),
)
