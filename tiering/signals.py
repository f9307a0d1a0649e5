"""Signals of the tiering app.

`retier_applied(sender=RetierRun, run=run, as_of=as_of, rewritten=sql, history_changed=sql)` is
sent by a real (not dry) re-tier run inside its transaction, after the new tiers are written and
before commit: a receiver sees the new tiers, writes in the same transaction, and an exception it
raises rolls the whole run back. `rewritten` is a SELECT of the ids of the customers whose stored
metrics or tier the run changed, and `history_changed` of those among them whose last order or
median gap between orders changed, usable in the receiver's own SQL (None: unknown, e.g.
on SQLite; treat everyone as changed).
"""

from django.dispatch import Signal

retier_applied = Signal()
