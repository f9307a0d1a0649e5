"""Signals of the tiering app, and the values they carry.

`retier_applied(sender=RetierRun, applied=RetierApplied(...))` is sent by a real (not dry) re-tier
run inside its transaction, after the new tiers are written and before commit: a receiver sees the
new tiers, writes in the same transaction, and an exception it raises rolls the whole run back.
"""

import datetime as dt
from dataclasses import dataclass

from django.dispatch import Signal

retier_applied = Signal()


@dataclass(frozen=True)
class RetierApplied:
    """What a real run hands other apps: its id, its as-of date, and where to find the customers
    it rewrote.

    `changed_table` names a temporary table that lives until the run's transaction ends, one row
    per customer whose stored metrics, tier or grace count the run changed, with at least these
    columns: `customer_id`; `last_order_at` and `old_last_order_at`, `median_gap_days` and
    `old_median_gap_days` (the stored values after and before the run; the old ones NULL for a
    customer the run placed for the first time). `complete` is False when the table cannot be
    trusted to name everyone (no such run: treat every customer as changed).
    """

    run_id: int
    as_of: dt.date
    changed_table: str = "retier_changed"
    complete: bool = True
