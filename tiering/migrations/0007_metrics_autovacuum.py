"""Let autovacuum tidy tiering_customermetrics after a nightly run that rewrote few rows.

A nightly run now rewrites only the rows whose stored values changed (~1% at 1M customers), and
no longer VACUUMs in the run's process for so few (0.8 s at 1M). With the default scale factor
(20%) autovacuum would wait weeks; at 0.5% it runs within a minute of such a night, in the
background, and keeps the visibility map whole for the pages' index-only counts.
"""

from django.db import migrations


def set_thresholds(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE tiering_customermetrics SET (autovacuum_vacuum_scale_factor = 0.005, autovacuum_analyze_scale_factor = 0.02)"
        )


def reset_thresholds(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE tiering_customermetrics RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)"
        )


class Migration(migrations.Migration):
    dependencies = [("tiering", "0006_metrics_day_counts_derived")]
    operations = [migrations.RunPython(set_thresholds, reset_thresholds)]
