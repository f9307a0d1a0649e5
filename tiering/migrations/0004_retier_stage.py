"""The re-tier's staging table, PostgreSQL storage tweaks, and the nightly schedule as data.

- tiering_metricsstage is UNLOGGED on PostgreSQL: scratch rows need no WAL or crash safety.
- tiering_customermetrics gets fillfactor 80 (45 since 0005) so the nightly rewrite of metrics that are not indexed
  (days since last order, tenure) can be a HOT update that leaves the tier-list indexes alone (0005 gives it more room).
- "Nightly re-tier" is a django-celery-beat PeriodicTask at 02:00, editable in the admin.
"""

from django.db import migrations, models


NIGHTLY = "Nightly re-tier"


def storage_tweaks(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE tiering_metricsstage SET UNLOGGED")
    schema_editor.execute("ALTER TABLE tiering_customermetrics SET (fillfactor = 80)")


def create_nightly_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    from django.conf import settings

    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE
    )
    PeriodicTask.objects.get_or_create(
        name=NIGHTLY,
        defaults={
            "task": "tiering.tasks.nightly_retier",
            "crontab": schedule,
            "description": "Re-tier every customer as of today.",
        },
    )


def remove_nightly_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NIGHTLY).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tiering", "0003_default_rules"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="MetricsStage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("run_id", models.BigIntegerField()),
                ("customer_id", models.BigIntegerField()),
                ("as_of", models.DateField()),
                ("revenue", models.DecimalField(decimal_places=2, max_digits=14)),
                ("cost", models.DecimalField(decimal_places=2, max_digits=14)),
                ("compensation", models.DecimalField(decimal_places=2, max_digits=14)),
                ("net_margin", models.DecimalField(decimal_places=2, max_digits=14)),
                ("orders", models.IntegerField()),
                ("active_months", models.IntegerField()),
                ("first_order_at", models.DateTimeField(null=True)),
                ("last_order_at", models.DateTimeField(null=True)),
                ("tenure_days", models.IntegerField()),
                ("days_since_last_order", models.IntegerField(null=True)),
                ("median_gap_days", models.DecimalField(decimal_places=1, max_digits=8, null=True)),
                ("categories", models.IntegerField()),
                ("new_products", models.IntegerField()),
                ("complaints", models.IntegerField()),
                ("rejected_complaints", models.IntegerField()),
                ("compensation_share", models.DecimalField(decimal_places=4, max_digits=10)),
            ],
        ),
        migrations.RunPython(storage_tweaks, migrations.RunPython.noop),
        migrations.RunPython(create_nightly_schedule, remove_nightly_schedule),
    ]
