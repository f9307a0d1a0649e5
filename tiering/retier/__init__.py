"""The nightly re-tier, as a plan and the stages that read it (docs/retier.md has the picture).

retier_all (run.py)          the entry point: the lock, the run record, the transaction
  build_plan (plan.py)       a frozen Plan: dates, mode, rules snapshot, the run in force
  stage_metrics (stage.py)   the plan's customers' metrics into tiering_metricsstage
  apply_tiers (apply.py)     tiers, history and CustomerMetrics, via retier_changed
  retier_applied             the hand-off to other apps (a RetierApplied value)
  refresh_planner_statistics (vacuum.py)   after commit
backfill_tiers (backfill.py)  the same stages at past month ends: tier history from the loaded orders
"""

from .apply import CHANGED_COLUMNS, COMPARED, STORED
from .backfill import backfill_tiers, ruleset_for
from .lock import DEAD_RUN_ERROR, RETIER_LOCK_KEY, mark_dead_runs_failed, reap_dead_runs, single_flight
from .plan import ALL, CHANGED, Plan, RetierError
from .run import retier_all

__all__ = [
    "ALL",
    "CHANGED",
    "CHANGED_COLUMNS",
    "COMPARED",
    "DEAD_RUN_ERROR",
    "RETIER_LOCK_KEY",
    "STORED",
    "Plan",
    "backfill_tiers",
    "ruleset_for",
    "RetierError",
    "mark_dead_runs_failed",
    "reap_dead_runs",
    "retier_all",
    "single_flight",
]
