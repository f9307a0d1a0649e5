"""Indexes for the customers whose tier can move with the date alone, and a fuller metrics table.

- tenure_start and the partial "in grace" index let a nightly run find, by index ranges, the
  customers whose tier a day-count rule or a running grace count can move (services._may_move_sql)
  instead of evaluating the rules for every customer.
- fillfactor 90 (45 since 0005): a nightly run now rewrites only the ~1% of rows whose metrics
  changed, and those change indexed columns (next_change_on at least), so the free half of every
  page bought no HOT update any more; it only doubled what each scan of the table reads. Existing
  tables get the new layout as rows are rewritten; `VACUUM FULL tiering_customermetrics` gives it
  at once.
"""

from django.db import migrations, models


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE tiering_customermetrics SET (fillfactor = 90)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE tiering_customermetrics SET (fillfactor = 45)")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_data_changes"),
        ("tiering", "0008_incremental_metrics"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customermetrics",
            index=models.Index(fields=["tenure_start"], name="metrics_tenure_start_idx"),
        ),
        migrations.AddIndex(
            model_name="customermetrics",
            index=models.Index(
                condition=models.Q(("below_runs__gt", 0)), fields=["below_runs"], name="metrics_in_grace_idx"
            ),
        ),
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
