"""Lapses and win-backs per month count by the runs' as-of dates (dashboard.trends), not by when
detection ran: a lapse's `detected_on` was already the run's as-of date; a win-back gains
`returned_on`, the as-of date of the run that saw the customer order again. The run that saw an
earlier return is not recorded, so those take the day their `returned_at` fell on (the month the
trends counted them in until now)."""

from django.conf import settings
from django.db import migrations, models

FILL_RETURNED_ON = """
    UPDATE churn_lapse SET returned_on = (returned_at AT TIME ZONE %s)::date
     WHERE returned_at IS NOT NULL AND returned_on IS NULL
"""


def fill_returned_on(apps, schema_editor):
    schema_editor.execute(FILL_RETURNED_ON, [settings.TIME_ZONE])


class Migration(migrations.Migration):
    dependencies = [
        ("churn", "0012_queue14_risk_trigger_and_value_at_risk"),
        ("customers", "0006_find14_search_and_sort_indexes"),
        ("tiering", "0025_hist12_backfill_view_permission"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="lapse", name="lapse_returned_idx"),
        migrations.AddField(
            model_name="lapse",
            name="returned_on",
            field=models.DateField(
                blank=True, help_text="The as-of date of the run that saw the customer order again.", null=True
            ),
        ),
        migrations.RunPython(fill_returned_on, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="lapse", index=models.Index(fields=["detected_on"], name="lapse_detected_on_idx")
        ),
        migrations.AddIndex(
            model_name="lapse",
            index=models.Index(
                condition=models.Q(("returned_on__isnull", False)), fields=["returned_on"], name="lapse_returned_on_idx"
            ),
        ),
    ]
