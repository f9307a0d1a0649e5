"""The re-tier's entry points, as the rest of the project calls them (the Celery tasks, the Runs
page, `manage.py retier`). The re-tier itself lives in `tiering.retier`."""

from .retier import (  # noqa: F401 (re-exported)
    ALL,
    CHANGED,
    DEAD_RUN_ERROR,
    RETIER_LOCK_KEY,
    RetierError,
    backfill_tiers,
    mark_dead_runs_failed,
    reap_dead_runs,
    retier_all,
    ruleset_for,
    single_flight,
)
