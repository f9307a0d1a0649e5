"""Per-run tier totals (RunTierTotal), written inside a real run's transaction.

A copy of TierCount, which the trigger on the metrics keeps exact (customers, revenue and net
margin per tier, tiering 0026) and which already holds the run's own writes: a few rows, where
the GROUP BY over the metrics it replaced scanned the whole table (24,000 pages at 1M customers).
Tiers nobody holds are left out, as that GROUP BY left them. The trends on the overview and the
marketing home read these rows (dashboard.trends).
"""

from django.db import connection

from .signals import RetierApplied

TOTALS_SQL = """
INSERT INTO tiering_runtiertotal (run_id, tier, customers, revenue, net_margin)
SELECT %s, tier, customers, revenue, net_margin FROM tiering_tiercount WHERE customers <> 0
ON CONFLICT (run_id, tier) DO UPDATE
   SET customers = EXCLUDED.customers, revenue = EXCLUDED.revenue, net_margin = EXCLUDED.net_margin
"""


def record_tier_totals(*, run_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(TOTALS_SQL, [run_id])


def record_after_retier(sender, *, applied: RetierApplied, **kwargs) -> None:
    record_tier_totals(run_id=applied.run_id)
