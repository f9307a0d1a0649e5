"""What an incremental re-tier needs: each metrics row's next-change date (indexed with the id for
the nightly look-up of who is due), and the same column on the stage. The first run after this
migration recomputes everyone (customers 0003 left an "everyone" mark), filling the dates.

The triggers' SQL is frozen here as it was installed (customers 0003 holds the function):
a migration never imports code that can change. tiering/triggers.py declares what must exist."""

from django.db import migrations, models

MARK_DELETED_METRICS = (
    "CREATE TRIGGER tiering_customermetrics_mark_delete AFTER DELETE ON tiering_customermetrics"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
    "CREATE TRIGGER tiering_customermetrics_mark_truncate AFTER TRUNCATE ON tiering_customermetrics"
    " FOR EACH STATEMENT EXECUTE FUNCTION customers_mark_rows()",
)


def mark_deleted_metrics(apps, schema_editor):
    """A metrics row deleted (by hand, or with its customer) marks that customer; truncating the
    table marks everyone: the next run then recomputes them rather than trusting what is gone."""
    if schema_editor.connection.vendor == "postgresql":
        for statement in MARK_DELETED_METRICS:
            schema_editor.execute(statement)


def unmark_deleted_metrics(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for event in ("delete", "truncate"):
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS tiering_customermetrics_mark_{event} ON tiering_customermetrics"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_data_changes"),
        ("tiering", "0007_metrics_autovacuum"),
    ]

    operations = [
        migrations.AddField(
            model_name="customermetrics",
            name="next_change_on",
            field=models.DateField(
                blank=True,
                help_text="The first as-of date on which these metrics change with no new data (a line or ticket leaving the window, one dated later entering it, a product ceasing to be new); empty: never.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="metricsstage",
            name="next_change_on",
            field=models.DateField(null=True),
        ),
        migrations.AddIndex(
            model_name="customermetrics",
            index=models.Index(fields=["next_change_on"], include=["customer"], name="metrics_next_change_idx"),
        ),
        migrations.RunPython(mark_deleted_metrics, unmark_deleted_metrics),
    ]
