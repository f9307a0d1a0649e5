"""Stage 3, after commit: fresh statistics and VACUUM for the pages' plans."""

from __future__ import annotations

from django.db import connection

from customers import changes

from .. import sql
from ..models import RetierRun
from .apply import FEW_CHANGED, Applied
from .plan import Plan

FULL_VACUUM_SHARE = 0.05  # rewritten rows, as a share of customers, after which a VACUUM also cleans the indexes


def refresh_planner_statistics(plan: Plan, applied: Applied) -> str | None:
    """After a real run: fresh statistics for the pages' plans; VACUUM only outside a transaction.
    Returns what was vacuumed: "full" (indexes too), "heap", or None.

    A nightly run that rewrote few rows (< FEW_CHANGED) moves no statistic worth a fresh ANALYZE
    (0.9 s at 1M customers) and leaves the VACUUM to autovacuum, whose thresholds for the metrics
    table are low enough to run within a minute (migration 0007). Where autovacuum is off, it
    VACUUMs the metrics itself, as the pages' index-only counts need: the heap alone (0.1 s for
    10,000 rewritten rows of 1M), and indexes too (0.6 s) once the rows rewritten since the last
    such VACUUM pass FULL_VACUUM_SHARE of the customers.
    """
    rewritten = applied.rewritten
    with connection.cursor() as cursor:
        if rewritten is not None and rewritten < FEW_CHANGED:
            cursor.execute("SELECT current_setting('autovacuum') = 'on'")
            if cursor.fetchone()[0] or connection.in_atomic_block:
                return None
            customers = max(1, sum(applied.counts.values()))
            full = _rewritten_since_full_vacuum(plan) >= FULL_VACUUM_SHARE * customers
            cursor.execute(
                "VACUUM tiering_customermetrics" if full else "VACUUM (INDEX_CLEANUP OFF) tiering_customermetrics"
            )
            cursor.execute(
                sql.compose("VACUUM {marks}", marks=sql.name(changes.TABLE))
            )  # the marks this run took and deleted
            return "full" if full else "heap"
        if connection.in_atomic_block:
            cursor.execute("ANALYZE tiering_customermetrics, tiering_tierchange")
            return None
        cursor.execute(
            sql.compose(
                "VACUUM (ANALYZE) tiering_customermetrics, tiering_tierchange, {marks}", marks=sql.name(changes.TABLE)
            )
        )
        return "full"


def _rewritten_since_full_vacuum(plan: Plan) -> int:
    """Metrics rows rewritten by the real runs (this one included) since the last one that
    VACUUMed indexes too, as their run records say."""
    runs = RetierRun.objects.in_force().filter(started_at__lte=plan.started_at)
    rewritten = 0
    for progress in runs.values_list("progress", flat=True)[:1000]:
        if (progress or {}).get("vacuum") == "full":
            break
        rewritten += (progress or {}).get("rewritten") or 0
    return rewritten
