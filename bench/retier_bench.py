"""Benchmark section: the nightly re-tier against the bare SQL aggregate over the same rows.

`run(ctx) -> dict` is a section of bench/run.py (ctx may carry "as_of"; default: today). Also
runnable alone on whatever DATABASE_URL holds: `python bench/retier_bench.py [--as-of DATE]`.

Figures:
- aggregate_s: the plain per-customer GROUP BY over order lines (all time up to as_of) and over
  tickets (the window), results counted, nothing written: the floor any re-tier is compared with;
- first_run_s: a re-tier where nobody has a tier yet (every customer gets a first TierChange), only
  when the database has no metrics yet;
- retier_s: the nightly case, a re-tier one day after the previous one (metrics, rules, grace,
  history of movers, upsert of what changed, VACUUM ANALYZE);
- ratio = retier_s / aggregate_s (target <= 2); preview_s: the rules preview of the published rule
  set (target < 10 s); peak_rss_mb: the process's peak resident memory (target < 300 MB).
"""

import datetime as dt
import os
import resource
import sys
import time

BARE_AGGREGATE = """
SELECT
  (SELECT COUNT(*) FROM (
      SELECT customer_id, SUM(amount), SUM(cost), COUNT(DISTINCT order_id), MIN(placed_at), MAX(placed_at)
      FROM customers_orderline WHERE placed_at < %(end)s GROUP BY customer_id) lines),
  (SELECT COUNT(*) FROM (
      SELECT customer_id, SUM(compensation), COUNT(*)
      FROM customers_ticket WHERE opened_at >= %(start)s AND opened_at < %(end)s GROUP BY customer_id) tickets)
"""


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def bare_aggregate(as_of: dt.date) -> float:
    from django.db import connection, transaction

    from tiering.metrics import window

    start, end = window(as_of)

    def query():
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL jit = off")
            cursor.execute(BARE_AGGREGATE, {"start": start, "end": end})
            return cursor.fetchone()

    seconds, _ = _timed(query)
    return seconds


def run(ctx=None) -> dict:
    from django.utils import timezone

    from tiering.models import CustomerMetrics, RuleSet
    from tiering.preview import preview_ruleset
    from tiering.services import retier_all

    as_of = (ctx or {}).get("as_of") or timezone.localdate()
    figures = {}
    if not CustomerMetrics.objects.exists():
        figures["first_run_s"], _ = _timed(lambda: retier_all(as_of=as_of - dt.timedelta(days=1), triggered_by="bench"))
    figures["aggregate_s"] = bare_aggregate(as_of)
    figures["retier_s"], run_ = _timed(lambda: retier_all(as_of=as_of, triggered_by="bench"))
    figures["ratio"] = figures["retier_s"] / figures["aggregate_s"]
    figures["moved"] = run_.moved
    ruleset = RuleSet.objects.get(status=RuleSet.Status.PUBLISHED)
    figures["preview_s"], _ = _timed(lambda: preview_ruleset(ruleset=ruleset))
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["customers"] = sum(run_.counts.values())
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    as_of = dt.date.fromisoformat(sys.argv[sys.argv.index("--as-of") + 1]) if "--as-of" in sys.argv else None
    for name, value in run({"as_of": as_of}).items():
        print(f"{name:>14}: {value}")
