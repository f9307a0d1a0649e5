"""The lapse watch: each customer's lapse day under the policy in force (see churn.services._watched).

A lapse deleted or re-dated by hand (the admin, a customer deleted with their lapses, a truncate)
breaks the watch's promise that every lapsed customer is recorded: a trigger forgets the watch's
state, so the next detection rebuilds it and tests everyone, as detection did before the watch.
"""

from django.db import migrations, models

FORGET_WATCH = """
CREATE OR REPLACE FUNCTION churn_forget_lapse_watch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM churn_lapsewatchstate;
    RETURN NULL;
END $$;
"""
EVENTS = {"delete": "DELETE", "redate": "UPDATE OF last_order_at, customer_id", "truncate": "TRUNCATE"}


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FORGET_WATCH)
    for name, event in EVENTS.items():
        schema_editor.execute(
            f"CREATE TRIGGER churn_lapse_forget_watch_{name} AFTER {event} ON churn_lapse"
            " FOR EACH STATEMENT EXECUTE FUNCTION churn_forget_lapse_watch()"
        )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS churn_forget_lapse_watch() CASCADE")


class Migration(migrations.Migration):
    dependencies = [
        ("churn", "0004_queue_order_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="LapseWatchState",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("min_days", models.PositiveIntegerField()),
                ("gap_multiple", models.DecimalField(decimal_places=2, max_digits=4)),
                ("as_of", models.DateField()),
            ],
        ),
        migrations.CreateModel(
            name="LapseWatch",
            fields=[
                ("customer_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("lapses_on", models.DateField(help_text="Empty: no order, so never lapsed.", null=True)),
            ],
            options={
                "indexes": [models.Index(fields=["lapses_on"], name="lapsewatch_lapses_on_idx")],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
