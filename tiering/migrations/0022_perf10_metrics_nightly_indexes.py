"""The metrics indexes only the nightly run read: dropped.

A nightly run rewrites ~1.4% of the metrics rows (13,566 of 1,000,000 on the benchmark), and a
rewrite that changes an indexed column adds an entry to every index of the table: a descent of
3 pages each. The indexes on next_change_on (who is due), tenure_start and lifetime_net_margin
(who can move with the date or a moving cut) were read by that run alone, a few hundred pages a
night, and cost ~40,000 pages a night each to keep. One scan of the table (24,000 pages at 1M
customers) answers the same questions. Without next_change_on indexed, a rewrite that changes
no other indexed column (the year before the window moving, a product ceasing to be new) is a
HOT update: no index entry at all.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tiering", "0021_api16_metrics_keyset_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="customermetrics", name="metrics_next_change_idx"),
        migrations.RemoveIndex(model_name="customermetrics", name="metrics_tenure_start_idx"),
        migrations.RemoveIndex(model_name="customermetrics", name="metrics_lifetime_margin_idx"),
    ]
