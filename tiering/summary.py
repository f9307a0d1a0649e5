"""Per-run tier totals (RunTierTotal), written inside a real run's transaction.

One GROUP BY over the metrics the run just applied: a sequential scan of the metrics table,
small beside the run's own metrics aggregate over the order lines. The trends on the overview
and the marketing home read these rows (dashboard.trends).
"""

from django.db import connection

from .signals import RetierApplied

TOTALS_SQL = """
INSERT INTO tiering_runtiertotal (run_id, tier, customers, revenue, net_margin)
SELECT %s, tier, COUNT(*), COALESCE(SUM(revenue), 0), COALESCE(SUM(net_margin), 0)
FROM tiering_customermetrics GROUP BY tier
ON CONFLICT (run_id, tier) DO UPDATE
   SET customers = EXCLUDED.customers, revenue = EXCLUDED.revenue, net_margin = EXCLUDED.net_margin
"""


def record_tier_totals(*, run_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(TOTALS_SQL, [run_id])


def record_after_retier(sender, *, applied: RetierApplied, **kwargs) -> None:
    record_tier_totals(run_id=applied.run_id)
