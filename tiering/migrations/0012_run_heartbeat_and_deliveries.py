"""A run's heartbeat, the Celery task that ran it, a note (changed nothing), the interrupted status,
the delivery count of re-tier tasks, and beat's check for dead runs every minute (a PeriodicTask,
editable in the admin like the nightly one)."""

from django.db import migrations, models

CHECK = "Check re-tier runs"


def create_check_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=CHECK,
        defaults={
            "task": "tiering.tasks.reap_interrupted_runs",
            "interval": every_minute,
            "description": "Mark re-tier runs whose worker died as interrupted and email the admins.",
        },
    )


def remove_check_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=CHECK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tiering", "0011_metrics_changed_as_of"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="TaskDelivery",
            fields=[
                ("task_id", models.CharField(max_length=255, primary_key=True, serialize=False)),
                ("deliveries", models.PositiveIntegerField(default=0)),
                ("last_delivered_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.AddField(
            model_name="retierrun",
            name="heartbeat_at",
            field=models.DateTimeField(
                blank=True, help_text="Written every few seconds by the running process (tiering.runs).", null=True
            ),
        ),
        migrations.AddField(
            model_name="retierrun",
            name="note",
            field=models.TextField(blank=True, help_text="What a succeeded run did not do, e.g. changed nothing."),
        ),
        migrations.AddField(
            model_name="retierrun",
            name="task_id",
            field=models.CharField(blank=True, db_index=True, help_text="The Celery task that ran it.", max_length=255),
        ),
        migrations.AlterField(
            model_name="retierrun",
            name="status",
            field=models.CharField(
                choices=[
                    ("running", "Running"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("skipped", "skipped (another run was going)"),
                    ("interrupted", "Interrupted"),
                ],
                default="running",
                max_length=16,
            ),
        ),
        migrations.RunPython(create_check_schedule, remove_check_schedule),
    ]
