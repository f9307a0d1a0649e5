"""Stop storing the two day counts that grow every day for every customer.

`tenure_days` and `days_since_last_order` changed for everyone every night, so the nightly write
rewrote every row of tiering_customermetrics (9 s and a VACUUM at 1M customers). They are now
derived from stored dates where they are read: `tenure_start` (new: the earlier of sign-up and the
first order's day) and `last_order_at`, against the as-of date of the run in force. The stage keeps
both counts: the rules run over it.
"""

from django.db import migrations, models


def fill_tenure_start(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "UPDATE tiering_customermetrics m SET tenure_start = LEAST(c.signed_up_on, (m.first_order_at AT TIME ZONE 'UTC')::date)"
            " FROM customers_customer c WHERE c.id = m.customer_id"
        )
    else:
        schema_editor.execute(
            "UPDATE tiering_customermetrics SET tenure_start = (SELECT COALESCE(min(c.signed_up_on, date(first_order_at)),"
            " c.signed_up_on, date(first_order_at)) FROM customers_customer c WHERE c.id = tiering_customermetrics.customer_id)"
        )


class Migration(migrations.Migration):
    dependencies = [("tiering", "0005_metrics_fillfactor")]

    operations = [
        migrations.AddField(
            model_name="customermetrics",
            name="tenure_start",
            field=models.DateField(
                blank=True, help_text="The earlier of sign-up and the first order's day.", null=True
            ),
        ),
        migrations.AddField(model_name="metricsstage", name="tenure_start", field=models.DateField(null=True)),
        migrations.RunPython(fill_tenure_start, migrations.RunPython.noop),
        migrations.RemoveField(model_name="customermetrics", name="days_since_last_order"),
        migrations.RemoveField(model_name="customermetrics", name="tenure_days"),
    ]
